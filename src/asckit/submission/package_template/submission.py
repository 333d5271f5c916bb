"""One submission of this DCASE 2025 Task 1 inference package: the four functions the organizers'
``test_complexity.py`` and ``evaluate_submission.py`` call.

Written by ``asckit package`` (asckit's ``submission/package_template/submission.py``, copied as it
is under the submission's label). Its weights are ``ckpts/<label>.pt`` with ``ckpts/<label>.json``;
its code is ``_inference`` (that module's docstring says how inputs are read, which model classifies
which device, and in which precision it is stored and computed).
"""

from __future__ import annotations

from . import _inference

#: This submission's label, the module's own name: it names the checkpoint files.
LABEL = __name__.rsplit(".", 1)[-1]


def load_model(model_file_path=None):
    """This submission's model (``.model``: the ``nn.Module`` whose state_dict the organizers save);
    ``model_file_path``: another state_dict of the same model instead of the packaged one."""
    return _inference.load_model(LABEL, model_file_path)


def load_inputs(file_paths, device_ids, model):
    """One float32 log-mel tensor (1, 1, 256, 65) per file, in order."""
    return _inference.load_inputs(file_paths, device_ids, model)


def get_model_for_device(model, device_id):
    """The ``nn.Module`` that classifies clips of ``device_id``: its own model, or the general one."""
    return _inference.get_model_for_device(model, device_id)


def predict(file_paths, device_ids, model_file_path=None, use_cuda=True, batch_size=64):
    """(logits, class_order): one float32 [10] logit tensor per file, in input order, and the class names."""
    return _inference.predict(file_paths, device_ids, load_model(model_file_path), use_cuda=use_cuda, batch_size=batch_size)
