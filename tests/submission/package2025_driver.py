"""Drive an installed DCASE 2025 inference package the way the organizers' scripts do, without asckit.

Run by tests/submission/test_dcase2025.py inside a fresh venv where the package is installed
non-editable. It follows what the template's ``test_complexity.py``, ``complexity.py`` and
``evaluate_submission.py`` do (reference/dcase2025/README.md §3 and §5; their facts, not their code):

- import ``<name>.<name>_<index>``; ``load_model()``; ``load_inputs`` on ``resources/dummy.wav`` (looked
  up as ``<name>.resources``) for devices a, b, c, s1–s10; per device ``get_model_for_device``, then
  torchinfo's ``total_mult_adds`` of an fp32 deep copy on that input's shape and Σ numel × bytes of
  ``parameters()`` at their dtype;
- ``resources/test.csv`` (its scene_label dropped) merged with ``DEV/meta.csv`` on filename, ``predict``
  with the ``source_label`` device ids, micro accuracy by scikit-learn's ``accuracy_score``, printed as
  ``Test Accuracy: xx.xx%``;
- ``predict`` on ``EVAL/evaluation_setup/fold1_test.csv`` (``filename``, ``device_id``), softmax, and
  ``output.csv`` (TAB: filename, scene_label, one probability column per class); the state_dict of
  ``load_model().model`` as ``model_state_dict.pt``.

Everything it measured goes to ``OUT/<index>/report.json`` (the dev-test logits too, for the test to score).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.abc
import importlib.resources as pkg_resources
import json
import os
import sys


class _NoAsckit(importlib.abc.MetaPathFinder):
    """The organizers' machine has no asckit: make sure nothing imports it."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "asckit":
            raise ImportError(f"{name}: asckit is not installed where the organizers run the package")
        return None


sys.meta_path.insert(0, _NoAsckit())

import pandas as pd  # noqa: E402 (after the blocker, as everything else)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchinfo  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402

#: The organizers' table of bytes per dtype (complexity.py); any other dtype is an error there.
BYTES = {torch.float32: 4, torch.float16: 2, torch.bfloat16: 2, torch.int8: 1, torch.uint8: 1, torch.int32: 4, torch.qint8: 1, torch.quint8: 1}
DEVICES = ["a", "b", "c"] + [f"s{i}" for i in range(1, 11)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--index", type=int, nargs="+", required=True, help="submissions, each as the scripts drive one")
    parser.add_argument("--dev", required=True)
    parser.add_argument("--eval", required=True)
    parser.add_argument("--out", required=True, help="folder; each submission's files go to OUT/<index>/")
    args = parser.parse_args()
    for index in args.index:  # one process for all: the organizers run one per submission, the same steps
        drive(args.name, index, args.dev, args.eval, os.path.join(args.out, str(index)))


def drive(name: str, index: int, dev: str, eval_dir: str, out: str) -> None:
    """What test_complexity.py and evaluate_submission.py do with submission ``index``; the results in ``out``."""
    args = argparse.Namespace(name=name, index=index, dev=dev, eval=eval_dir, out=out)
    api = importlib.import_module(f"{args.name}.{args.name}_{args.index}")
    report = {"module_file": api.__file__}

    with pkg_resources.path(f"{args.name}.resources", "dummy.wav") as dummy:
        model = api.load_model()
        inputs = api.load_inputs([str(dummy)] * len(DEVICES), DEVICES, model)
    report["complexity"] = {}
    for x, device in zip(inputs, DEVICES):
        submodel = api.get_model_for_device(model, device)
        macs = torchinfo.summary(copy.deepcopy(submodel).float(), input_size=tuple(x.shape), verbose=0).total_mult_adds
        size = sum(p.numel() * BYTES[p.dtype] for p in submodel.parameters())
        report["complexity"][device] = {"MACs": int(macs), "Params": int(size), "shape": list(x.shape)}

    with pkg_resources.path(f"{args.name}.resources", "test.csv") as test_csv:
        test = pd.read_csv(test_csv, sep="\t").drop(columns=["scene_label"], errors="ignore")
    test = test.merge(pd.read_csv(os.path.join(args.dev, "meta.csv"), sep="\t"), on="filename")
    logits, class_order = api.predict(
        file_paths=[os.path.join(args.dev, f) for f in test["filename"]],
        device_ids=test["source_label"].tolist(),
        model_file_path=None,
        use_cuda=torch.cuda.is_available(),
    )
    truth = [class_order.index(label) for label in test["scene_label"]]
    accuracy = accuracy_score(truth, [row.argmax().item() for row in logits])
    print(f"Test Accuracy: {accuracy * 100:.2f}%")
    report.update(printed_accuracy=round(accuracy * 100, 2), class_order=class_order, dev_filenames=test["filename"].tolist(),
                  dev_logits=torch.stack(logits).tolist())

    evaluation = pd.read_csv(os.path.join(args.eval, "evaluation_setup", "fold1_test.csv"), sep="\t")
    eval_logits, eval_order = api.predict(
        file_paths=[os.path.join(args.eval, f) for f in evaluation["filename"]],
        device_ids=evaluation["device_id"].tolist(),
        model_file_path=None,
        use_cuda=torch.cuda.is_available(),
    )
    assert eval_order == class_order
    probs = F.softmax(torch.stack(eval_logits), dim=1)
    output = pd.DataFrame({"filename": evaluation["filename"], "scene_label": [class_order[i] for i in probs.argmax(dim=1)]})
    for i, label in enumerate(class_order):
        output[label] = probs[:, i].tolist()
    os.makedirs(args.out, exist_ok=True)
    output.to_csv(os.path.join(args.out, "output.csv"), sep="\t", index=False)
    torch.save(api.load_model().model.state_dict(), os.path.join(args.out, "model_state_dict.pt"))
    report["asckit_imported"] = any(name.split(".")[0] == "asckit" for name in sys.modules)
    with open(os.path.join(args.out, "report.json"), "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main()
