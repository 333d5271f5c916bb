"""The training path on a GPU, measured: model speed, input pipeline, end to end, paper-scale hours, DDP.

One prepared script for a short GPU lease (≤ 8 minutes on one GPU; every section has its own time
budget and is guarded, so one failure or overrun never loses the rest of the report). It makes
everything it needs itself (synthetic stores, a small synthetic dataset) and writes a JSON report,
rewritten atomically after every measurement, plus a printed table:

1. ``models``: forward + soft cross-entropy + backward + SGD step, clips/s, of the full-width FCNN,
   fsFCNN, Resnet, Resnet-d, Mobnet and small-FCNN at their training input sizes (1a: the
   400-frame crop; 1b: 461 frames), in fp32, bf16 autocast and bf16 + channels_last, each eager
   and with ``torch.compile``; batch 32 and the largest batch that fits (doubling up to
   ``--max-batch``); peak GPU memory of each.
2. ``pipeline``: the real ``asckit train`` machinery (``asckit.train.run.train``: store → loader →
   deltas, SpecAugment, crop, mixup on the device → step, Lightning and all) on a synthetic store,
   for loader workers × pinned memory × ``data.store_in_memory``, against the model-only rate of
   the same model, batch and precision: ``input_bound_ratio`` = pipeline / model-only (goal ≥ 0.95);
   on CUDA ``host_waits`` counts, per step and source line, the calls that make the host wait for
   the GPU (each stops the host from queueing ahead, whatever the loader does).
3. ``end_to_end``: a small synthetic 1a set (``asckit.data.synth``, 1 s clips), ``asckit features``,
   ``asckit train`` (bf16-mixed) for
   2 epochs, ``--resume`` to 3, ``asckit predict-split`` and ``asckit export --int8 static``.
4. ``paper_scale``: predicted wall time of each reference recipe (epochs × rows of its training
   list; the 1a list with all augmentations is 90,255 rows) and of Table 1's ten trainings, from
   the measured rates.
5. ``ddp``: one epoch of a 2-process DDP run when two or more GPUs are present (else skipped, with
   the reason; the CPU gloo test is tests/test_train_processes.py).

    python benchmarks/gpu.py --out gpu-report.json                     # on a GPU: ≤ 8 minutes
    python benchmarks/gpu.py --device cpu --smoke --out /tmp/smoke.json   # tiny sizes: < 1 minute on a CPU

On the lent GPU machine (its python3 has torch, Lightning and onnxruntime; pydantic, soundfile and
soxr travel as wheels in ``.whl``, see README "GPU"), one line:

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && \
      PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1 python3 benchmarks/gpu.py --out $OUT/gpu-report.json 2>&1 | tee $OUT/gpu.log

Reading the report: ``sections.<name>.status`` is ok / partial (budget ran out; ``skipped`` lists
what) / error (``error`` and ``traceback``) / skipped (``reason``). Rates are clips/s; memory is
peak GB allocated by torch; ``paper_scale`` hours use the eager rate, at batch 32, of what
``trainer.precision: fast`` runs (bf16 + channels_last on a recent GPU; ``hours_compiled`` with
torch.compile) plus the per-step overhead the best pipeline variant added to the FCNN's step.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark modules
import train as train_bench
from models import TRAIN_FRAMES
from timing import clips_per_second, sync

from asckit.core.io_utils import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
#: Models of section 1, by ``asckit.models.REFERENCE_CONFIGS`` label.
MODELS = ("fcnn", "fsfcnn", "resnet", "resnet-d", "mobnet", "small_fcnn")
MODES = ("fp32", "bf16", "bf16+channels_last")
#: What a config's precision and channels_last run as, in section 1's terms.
CONFIG_MODE = {("32-true", False): "fp32", ("bf16-mixed", False): "bf16", ("bf16-mixed", True): "bf16+channels_last"}
#: Device-A clips of the 1a training split (docs/reference-code.md §3.3): the spectrum-correction and
#: reverb-drc lists hold only these; the other kinds hold all fold1_train clips.
TRAIN_DEVICE_A_1A = 10_215
PIPELINE_GOAL = 0.95
#: Pipeline variants: (data.store_in_memory, trainer.num_workers, trainer.pin_memory).
VARIANTS = (("off", 0, True), ("off", 0, False), ("off", 2, True), ("off", 4, True), ("off", 8, True),
            ("host", 0, True), ("device", 0, True), ("auto", 0, "auto"))
SMOKE_VARIANTS = (("off", 0, True), ("off", 1, True), ("host", 0, True), ("device", 0, True))


# ----------------------------------------------------------------------------- the report
class Report:
    """The JSON report, written atomically after every change (so a killed run keeps what it had)."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict = {"sections": {}}
        self.lock = threading.Lock()

    def write(self) -> None:
        with self.lock:
            text = json.dumps(self.data, indent=2, default=str)
        atomic_write_text(self.path, text + "\n")


class Budget:
    """A section's time budget: ``left()`` seconds remain; ``skip(what)`` records what did not run."""

    def __init__(self, section: dict, seconds: float):
        self.section, self.end = section, time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()

    def allows(self, seconds: float, what: str) -> bool:
        if self.left() >= seconds:
            return True
        self.section.setdefault("skipped", []).append(what)
        return False


@contextlib.contextmanager
def section(report: Report, name: str, seconds: float):
    """Run one section under its budget; any exception is recorded in it, never raised."""
    entry = report.data["sections"].setdefault(name, {})
    entry.update(status="running", budget_s=round(seconds, 1))
    report.write()
    start = time.perf_counter()
    budget = Budget(entry, seconds)
    try:
        yield entry, budget
        if entry["status"] == "running":
            entry["status"] = "partial" if entry.get("skipped") else "ok"
    except Exception as exc:
        entry.update(status="error", error=f"{type(exc).__name__}: {exc}"[:2000], traceback=traceback.format_exc()[-4000:])
        print(f"[{name}] error: {type(exc).__name__}: {exc}", flush=True)
    finally:
        entry["wall_s"] = round(time.perf_counter() - start, 2)
        free_memory()
        report.write()


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def peak_gb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


# ----------------------------------------------------------------------------- sizes
def sizes(args: argparse.Namespace) -> dict:
    """Every size the sections use: the paper's on a GPU, tiny ones with ``--smoke``."""
    if args.smoke:
        return {"width": 0.0625, "frames": {"1a": 24, "1b": 24}, "batch": 2, "max_batch": 4, "target_s": 0.0,
                "steps": (1, 1), "warmup": 1, "pipe_clips": 48, "pipe_frames": 56, "pipe_crop": 40, "pipe_mask": 8,
                "pipe_batch": 4, "pipe_skip": 2, "variants": SMOKE_VARIANTS, "compile_models": MODELS[:1], "tool_workers": 1,
                "compile_backend": "eager", "need_s": {"cell": 0.5, "compile": 1, "largest": 1, "variant": 1}}
    return {"width": 1.0, "frames": dict(TRAIN_FRAMES), "batch": 32, "max_batch": args.max_batch, "target_s": 0.4,
            "steps": (5, 60), "warmup": 3, "pipe_clips": args.pipeline_clips, "pipe_frames": 431, "pipe_crop": 400,
            "pipe_mask": 39, "pipe_batch": 32, "pipe_skip": 20, "variants": VARIANTS, "compile_models": MODELS, "tool_workers": None,
            "compile_backend": args.compile_backend,
            "need_s": {"cell": 4, "compile": 25, "largest": 10, "variant": 8}}


#: Shares of the run's time per section; what a section leaves unused goes to the ones after it.
SHARES = {"environment": 0.01, "models": 0.40, "pipeline": 0.28, "end_to_end": 0.17, "paper_scale": 0.01, "ddp": 0.10}


def section_budget(name: str, remaining: list[str], seconds_left: float) -> float:
    """Seconds for section ``name`` out of ``seconds_left``, shared with the ``remaining`` ones after it."""
    return seconds_left * SHARES[name] / sum(SHARES[n] for n in [name, *remaining])


# ----------------------------------------------------------------------------- 0. environment
def environment(entry: dict, device: torch.device, args: argparse.Namespace) -> None:
    from asckit.train.config import Hardware, fast_precision

    accelerator = "gpu" if device.type == "cuda" else "cpu"
    entry.update(
        torch=torch.__version__, python=platform.python_version(), device=str(device), smoke=args.smoke,
        cpu_count=os.cpu_count(), cuda_available=torch.cuda.is_available(),
        gpu_count=torch.cuda.device_count() if torch.cuda.is_available() else 0,
        fast_precision=fast_precision(accelerator), channels_last_auto=device.type == "cuda",
        cuda_capability=Hardware.detect(accelerator).cuda_capability,
        cpu_bf16_flags=sorted(Hardware.detect(accelerator).cpu_flags & {"amx_bf16", "avx512_bf16"}),
    )
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        entry.update(gpu=props.name, capability=f"{props.major}.{props.minor}", gpu_memory_gb=round(props.total_memory / 2**30, 1),
                     multiprocessors=props.multi_processor_count, cudnn=torch.backends.cudnn.version(),
                     bf16_supported=torch.cuda.is_bf16_supported(),
                     # fp32 convolutions run as TF32 when cuDNN allows it (torch's default)
                     cudnn_allow_tf32=torch.backends.cudnn.allow_tf32, matmul_precision=torch.get_float32_matmul_precision())


# ----------------------------------------------------------------------------- 1. model speed
def model_rate(label: str, mode: str, batch: int, compiled: bool, device: torch.device, s: dict) -> dict:
    """Clips/s of forward + loss + backward + SGD step of one reference model on a resident random batch."""
    from asckit.models import ARCHITECTURES, REFERENCE_CONFIGS, build
    from asckit.train.module import soft_cross_entropy

    config = {c.label: c for c in REFERENCE_CONFIGS}[label]
    frames = s["frames"][ARCHITECTURES[config.name].task]
    fmt = torch.channels_last if mode.endswith("channels_last") else torch.contiguous_format
    torch.manual_seed(0)
    model = build(config.name, width=s["width"], **config.params).to(device).train().to(memory_format=fmt)
    x = torch.rand(batch, model.in_channels, 128, frames, device=device).contiguous(memory_format=fmt)
    y = F.one_hot(torch.randint(0, model.num_classes, (batch,), device=device), model.num_classes).float()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if compiled:
        torch._dynamo.reset()
        net = torch.compile(model, backend=s["compile_backend"])
    else:
        net = model
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode.startswith("bf16"))

    def one_step() -> None:
        with autocast:
            loss = soft_cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    reset_peak(device)
    start = time.perf_counter()
    for _ in range(s["warmup"]):
        one_step()
    sync(device)
    warmup_s = time.perf_counter() - start
    steps = timed_steps(one_step, device, s)
    rate = clips_per_second(one_step, steps, 0, batch, device)
    result = {"clips_s": round(rate, 2), "batch": batch, "steps": steps, "peak_gb": peak_gb(device)}
    if compiled:
        result["compile_s"] = round(warmup_s, 2)  # the warm-up steps, compilation included
    return result


def timed_steps(one_step, device: torch.device, s: dict) -> int:
    """How many steps fill about ``target_s`` seconds, from one timed step, within ``s["steps"]``."""
    low, high = s["steps"]
    if not s["target_s"]:
        return low
    start = time.perf_counter()
    one_step()
    sync(device)
    return int(min(high, max(low, s["target_s"] / max(time.perf_counter() - start, 1e-6))))


def largest_batch(label: str, mode: str, device: torch.device, s: dict, budget: Budget) -> dict:
    """The largest batch (doubling from 2 × the base batch up to ``max_batch``) whose step fits, and its rate."""
    best, stopped, batch = None, f"reached --max-batch {s['max_batch']}", 2 * s["batch"]
    while batch <= s["max_batch"]:
        if not budget.allows(s["need_s"]["largest"], f"{label} {mode} batch {batch}"):
            stopped = "section budget"
            break
        try:
            best = model_rate(label, mode, batch, False, device, s)
        except Exception as exc:
            if not is_oom(exc):
                raise
            stopped = f"out of memory at batch {batch}"
            break
        finally:
            free_memory()
        batch *= 2
    return {"mode": mode, "largest": best, "stopped": stopped}


def run_models(entry: dict, budget: Budget, report: Report, device: torch.device, s: dict) -> None:
    entry["models"] = results = {}
    entry["largest_batch"] = {}

    def cell(label: str, mode: str, compiled: bool) -> None:
        key = f"{mode}+compile" if compiled else mode
        if not budget.allows(s["need_s"]["compile" if compiled else "cell"], f"{label} {key}"):
            return
        try:
            results.setdefault(label, {})[key] = model_rate(label, mode, s["batch"], compiled, device, s)
        except Exception as exc:
            results.setdefault(label, {})[key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        free_memory()
        print(f"[models] {label:<11} {key:<27} {results[label][key]}", flush=True)
        report.write()

    for label in MODELS:
        for mode in MODES:
            cell(label, mode, False)
    for label in MODELS:
        if budget.allows(s["need_s"]["largest"], f"{label} largest batch"):
            entry["largest_batch"][label] = largest_batch(label, MODES[-1], device, s, budget)
            print(f"[models] {label:<11} largest batch {entry['largest_batch'][label]}", flush=True)
            report.write()
    # Compiled last (compilation is the slow part), the mode the configs run on a GPU first.
    for mode in reversed(MODES):
        for label in s["compile_models"]:
            cell(label, mode, True)


# ----------------------------------------------------------------------------- 2. pipeline
#: Untimed steps just before the timed ones in which CUDA calls that wait for the GPU are counted.
SYNC_STEPS = 3


class StepTimer:
    """A Lightning callback: clips/s of the training steps after the first ``skip`` of the run.

    On CUDA it also counts, in the ``SYNC_STEPS`` steps before the timed ones, the calls that make
    the host wait for the GPU (``torch.cuda.set_sync_debug_mode``), by source line: each one keeps
    the host from queueing the next step while the GPU works, which no loader setting can fix.
    """

    def __init__(self, skip: int):
        from lightning.pytorch.callbacks import Callback

        timer = self

        class _Timer(Callback):
            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                if pl_module.device.type == "cuda" and timer.seen == timer.skip - SYNC_STEPS:
                    timer.watch_syncs(True)
                if timer.seen == timer.skip:
                    timer.watch_syncs(False)
                    sync(pl_module.device)
                    timer.start = time.perf_counter()

            def on_train_end(self, trainer, pl_module):
                timer.watch_syncs(False)

            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                timer.seen += 1
                if timer.seen > timer.skip:
                    timer.clips += len(batch["y"])
                if batch_idx == trainer.num_training_batches - 1:
                    sync(pl_module.device)
                    timer.end = time.perf_counter()
                    timer.placement = trainer.datamodule.placement

        self.skip, self.seen, self.clips = skip, 0, 0
        self.start = self.end = None
        self.placement = None
        self.syncs: dict | None = None
        self._catcher = None
        self.callback = _Timer()

    def watch_syncs(self, on: bool) -> None:
        """Start / stop recording the synchronising CUDA calls (a no-op where none is recording)."""
        import warnings
        from collections import Counter

        try:  # a diagnostic: its failure must not cost the variant's rate
            if on:
                torch.cuda.set_sync_debug_mode("warn")
                self._catcher = warnings.catch_warnings(record=True)
                self._records = self._catcher.__enter__()
                warnings.simplefilter("always")
            elif self._catcher is not None:
                try:
                    torch.cuda.set_sync_debug_mode(0)
                finally:
                    self._catcher.__exit__(None, None, None)
                    self._catcher = None
                sites = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in self._records
                                if "synchroniz" in str(w.message).lower())
                self.syncs = {"per_step": round(sum(sites.values()) / SYNC_STEPS, 1), "sites": dict(sites.most_common(10))}
        except Exception as exc:
            self.syncs = {"error": f"{type(exc).__name__}: {exc}"[:300]}

    def rate(self) -> float:
        if self.start is None or self.end is None or self.clips == 0:
            raise RuntimeError(f"too few steps to time ({self.seen} run, {self.skip} skipped)")
        return self.clips / (self.end - self.start)


def pipeline_config(name: str, base: Path, root: Path, store: Path, device: torch.device, s: dict, **trainer) -> dict:
    """The raw config of a pipeline run: the full-width (or smoke-width) FCNN, one epoch, the fast precision."""
    return {
        "name": name, "runs_dir": str(base / "runs"), "snapshots": 1,
        "data": {"root": str(root), "store": str(store), "store_in_memory": trainer.pop("store_in_memory", "off")},
        "model": {"name": "fcnn", "width": s["width"]},
        "batch_augment": {"crop_frames": s["pipe_crop"], "time_mask_max": s["pipe_mask"]},
        "optim": {"epochs": 1, "batch_size": s["pipe_batch"]},
        "trainer": {"accelerator": "gpu" if device.type == "cuda" else "cpu", "precision": "fast",
                    "progress_bar": False, **trainer},
    }


def run_pipeline(entry: dict, budget: Budget, report: Report, device: torch.device, s: dict, base: Path) -> None:
    from asckit.train.config import config_from_dict, run_precision
    from asckit.train.run import train

    start = time.perf_counter()
    root, store = train_bench.make_dataset(base / "pipe", s["pipe_clips"], s["pipe_frames"])
    entry.update(store_clips=s["pipe_clips"], store_gb=round((store / "data.f16").stat().st_size / 2**30, 3),
                 store_make_s=round(time.perf_counter() - start, 1), batch=s["pipe_batch"], width=s["width"])
    probe = config_from_dict(pipeline_config("probe", base, root, store, device, s))
    precision = run_precision(probe.trainer)
    mode = CONFIG_MODE.get((precision, device.type == "cuda" and precision == "bf16-mixed"))
    if mode is None:
        raise RuntimeError(f"trainer.precision fast resolved to {precision}, which section 1 does not measure")
    entry.update(precision=precision, mode=mode)
    crop = dict(s, frames={"1a": s["pipe_crop"], "1b": s["pipe_crop"]}, batch=s["pipe_batch"])
    entry["model_only"] = model_rate("fcnn", mode, s["pipe_batch"], False, device, crop)["clips_s"]
    # The same step with the batch work (float32, deltas, SpecAugment, crop, mixup) but no loader.
    bench_mode = {"fp32": "fp32", "bf16": "bf16+channels_last", "bf16+channels_last": "bf16+channels_last"}[mode]
    entry["model_and_batch_work"] = round(train_bench.step_rate(
        "fcnn", s["width"], s["pipe_batch"], s["pipe_frames"], bench_mode, max(s["steps"][0], 3), s["warmup"], device), 2)
    report.write()

    entry["variants"] = rows = []
    for placement, num_workers, pin in s["variants"]:
        label = f"store_in_memory={placement} workers={num_workers} pin_memory={pin}"
        if not budget.allows(s["need_s"]["variant"], label):
            continue
        rows.append(pipeline_run(label, base, root, store, device, s, train, config_from_dict, entry["model_only"],
                                 store_in_memory=placement, num_workers=num_workers, pin_memory=pin))
        print(f"[pipeline] {rows[-1]}", flush=True)
        report.write()
    done = [r for r in rows if "clips_s" in r]
    if done and budget.allows(s["need_s"]["variant"], "best variant, deterministic: false"):
        best = max(done, key=lambda r: r["clips_s"])
        rows.append(pipeline_run(best["label"] + " deterministic=False", base, root, store, device, s, train,
                                 config_from_dict, entry["model_only"], deterministic=False, **best["settings"]))
        print(f"[pipeline] {rows[-1]}", flush=True)
    entry["loader_needs"] = loader_needs(rows)


def pipeline_run(label, base, root, store, device, s, train, config_from_dict, model_only, **trainer) -> dict:
    settings = dict(trainer)
    settings.pop("deterministic", None)
    row = {"label": label, "settings": settings}
    try:
        config = config_from_dict(pipeline_config(f"pipe-{len(list((base / 'runs').glob('pipe-*')))}", base, root, store,
                                                  device, s, **trainer))
        timer = StepTimer(s["pipe_skip"])
        start = time.perf_counter()
        train(config, extra_callbacks=(timer.callback,))
        rate = timer.rate()
        row.update(clips_s=round(rate, 2), input_bound_ratio=round(rate / model_only, 3), placement=timer.placement,
                   run_s=round(time.perf_counter() - start, 1))
        if timer.syncs is not None:
            row["host_waits"] = timer.syncs
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"[:500]
    free_memory()
    return row


def loader_needs(rows: list[dict]) -> str:
    """What the loader needs per GPU to reach the goal, in words, from the measured variants."""
    ok = [r for r in rows if r.get("input_bound_ratio", 0) >= PIPELINE_GOAL]
    if not ok:
        best = max((r for r in rows if "clips_s" in r), key=lambda r: r["clips_s"], default=None)
        return "no variant reached the goal" + (f"; best: {best['label']} at {best['input_bound_ratio']:.0%}" if best else "")
    reading = [r for r in ok if r["settings"]["store_in_memory"] == "off"]
    cheapest = min(reading or ok, key=lambda r: r["settings"]["num_workers"])
    return f"{cheapest['label']} reaches {cheapest['input_bound_ratio']:.0%} of the model-only rate"


# ----------------------------------------------------------------------------- 3. end to end
def run_end_to_end(entry: dict, _budget: Budget, report: Report, device: torch.device, s: dict, base: Path) -> None:
    import yaml

    from asckit.cli import main

    root, store, runs = base / "e2e" / "data", base / "e2e" / "store", base / "e2e" / "runs"
    steps = entry["steps"] = {}

    def step(name: str, argv: list[str]) -> None:
        start = time.perf_counter()
        code = main(argv)
        steps[name] = {"exit": code, "s": round(time.perf_counter() - start, 2)}
        report.write()
        if code != 0:
            raise RuntimeError(f"`asckit {' '.join(argv)}` exited {code}")

    from asckit.data.synth import Preset, TaskSizes, synthesize

    workers = ["--workers", str(s["tool_workers"])] if s["tool_workers"] else []
    # A small 1a set: 10 scenes × 10 locations per split, 50 train segments (4 of them on all devices).
    small = TaskSizes(train_a_only=46, train_paired=4, evaluate=10, train_locations=10, evaluate_locations=10)
    start = time.perf_counter()
    summary = synthesize(root, "1a", Preset("bench", 1.0, small, small, "benchmarks/gpu.py"), seed=0,
                         workers=s["tool_workers"], progress=False)
    steps["synth"] = {"exit": 0, "s": round(time.perf_counter() - start, 2)}
    entry["clips"] = {split: sum(devices.values()) for split, devices in summary["counts"].items()}
    step("features", ["features", str(root), "--out", str(store), "--quiet", *workers])
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    # The example's model; its crop fitted to these 1 s clips (36 frames) and its schedule pinned: cycles end after epochs 0 and 2.
    sets = [f"data.root={root}", f"data.store={store}", f"runs_dir={runs}", f"trainer.accelerator={accelerator}",
            "trainer.precision=bf16-mixed", "optim.epochs=2", "optim.first_cycle=1", "optim.cycle_mult=2",
            "batch_augment.crop_frames=32"]
    argv = ["train", str(REPO / "configs" / "examples" / "fcnn_tiny.yaml")] + [a for x in sets for a in ("--set", x)]
    step("train 2 epochs", argv)
    step("resume to 3 epochs", argv + ["--resume", "--set", "optim.epochs=3"])
    from asckit.deploy.bundle import REPORT_FILE
    from asckit.train.run_dir import RunDir

    run = RunDir(runs / "fcnn_tiny")
    finished = json.loads(run.finished_file.read_text())
    entry.update(finished=finished, checkpoints=sorted(p.name for p in run.checkpoints.iterdir()))
    saved = yaml.safe_load(run.config_file.read_text())["trainer"]
    entry.update(accelerator=saved["accelerator"], precision=saved["precision"])
    step("predict-split", ["predict-split", str(run.path), "--split", "evaluate", "--quiet"])
    with run.predictions("evaluate").open() as handle:
        entry["predicted_clips"] = sum(1 for _ in handle) - 1
    step("export int8 static", ["export", str(run.path), "--int8", "static"])
    parity = json.loads((run.export_dir / REPORT_FILE).read_text()).get("parity", {})
    entry["export"] = {"files": sorted(p.name for p in run.export_dir.iterdir()),
                       "parity_accuracy": {k: parity[k]["accuracy"] for k in ("fp32", "int8") if k in parity}}


# ----------------------------------------------------------------------------- 4. paper scale
def training_rows(task: str, kinds: list[str]) -> int:
    """Rows of a real training list: fold1_train clips per kind (device A only for two kinds)."""
    from asckit.data.download import MANIFEST
    from asckit.features.augmented import DEVICE_A_KINDS

    clips = MANIFEST["tau2020-mobile-dev" if task == "1a" else "tau2020-3class-dev"].expected["fold1_train"]
    return sum(TRAIN_DEVICE_A_1A if kind in DEVICE_A_KINDS else clips for kind in kinds)


def measured_label(config) -> str:
    """The section-1 label of a config's model."""
    name, params = config.model.name, config.model.params
    if name == "resnet":
        return "resnet-d" if params.get("num_filters", 24) == 48 else "resnet"
    return name


def run_paper_scale(entry: dict, sections: dict) -> None:
    import yaml

    from asckit.train.config import load_config

    models = sections.get("models", {}).get("models", {})
    pipe = sections.get("pipeline", {})
    timed = [r for r in pipe.get("variants", []) if "clips_s" in r]
    best = max(timed, key=lambda r: r["clips_s"], default=None)
    batch = pipe.get("batch", 32)
    mode = pipe.get("mode", "bf16+channels_last")  # what `precision: fast` runs on this device
    # What the pipeline adds to every step (loader, batch work, Lightning), measured on the FCNN.
    overhead = max(0.0, batch / best["clips_s"] - batch / pipe["model_only"]) if best else 0.0
    entry.update(overhead_ms_per_step=round(1000 * overhead, 3), overhead_from=best["label"] if best else None,
                 mode=mode, batch=batch,
                 note="hours = epochs × ceil(rows / batch) × (batch / model-only clips/s + the pipeline's overhead per "
                      "step); validation and checkpoints not counted")
    placeholders = ["data.root=.", "data.store=."]

    def predict(config_path: Path, overrides: list[str]) -> dict:
        config = load_config(config_path, placeholders + overrides)
        label = measured_label(config)
        rows = training_rows(config.task, config.data.kinds)
        out = {"model": label, "epochs": config.optim.epochs, "rows": rows}
        cells = models.get(label, {})
        steps = config.optim.epochs * -(-rows // batch)
        for key in (mode, f"{mode}+compile"):
            rate = cells.get(key, {}).get("clips_s")
            if rate:
                out[f"hours{'_compiled' if 'compile' in key else ''}"] = round(steps * (batch / rate + overhead) / 3600, 2)
        return out

    all_kinds = "data.kinds=[original, mix, noise, pitch, speed, spectrum-correction, reverb-drc]"
    recipes = {"fcnn": ("task1a/fcnn.yaml", [all_kinds]), "fsfcnn": ("task1a/fsfcnn.yaml", [all_kinds]),
               "resnet-d": ("task1a/resnet_d.yaml", [all_kinds]), "mobnet": ("task1b/mobnet.yaml", []),
               "small_fcnn": ("task1b/small_fcnn.yaml", [])}
    entry["recipes"] = {label: predict(REPO / "configs" / path, sets) for label, (path, sets) in recipes.items()}
    table1 = yaml.safe_load((REPO / "configs" / "task1a" / "table1.yaml").read_text())
    runs = {}
    for name, spec in table1["models"].items():
        runs[name] = predict(REPO / spec["config"], list(spec.get("set", [])))
    measured = all("hours" in r for r in runs.values())  # else a sum would understate the table
    entry["table1"] = {
        "trainings": runs,
        "hours": round(sum(r["hours"] for r in runs.values()), 1) if measured else None,
        "hours_compiled": round(sum(r.get("hours_compiled", r["hours"]) for r in runs.values()), 1) if measured else None,
    }


# ----------------------------------------------------------------------------- 5. DDP
def run_ddp(entry: dict, budget: Budget, device: torch.device, s: dict, base: Path) -> None:
    import yaml

    from asckit.train.run_dir import RunDir

    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    if gpus < 2:
        entry.update(status="skipped", reason=f"{gpus} GPU(s): a 2-process DDP step needs two "
                                              "(the CPU gloo DDP test is tests/test_train_processes.py)")
        return
    root, store = train_bench.make_dataset(base / "ddp", 64 * s["pipe_batch"], s["pipe_frames"])
    raw = pipeline_config("ddp", base, root, store, device, s, devices=2, strategy="ddp")
    path = base / "ddp.yaml"
    path.write_text(yaml.safe_dump(raw))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "asckit", "train", str(path)], capture_output=True, text=True,
                          timeout=max(10, budget.left() - 5), check=False, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    entry.update(exit=done.returncode, run_s=round(time.perf_counter() - start, 1), processes=2,
                 finished=RunDir(base / "runs" / "ddp").is_finished(), output_tail=(done.stdout + done.stderr)[-1500:])
    if done.returncode != 0:
        raise RuntimeError(f"DDP run exited {done.returncode}")


# ----------------------------------------------------------------------------- table
def print_table(data: dict) -> None:
    sec = data["sections"]
    print("\n== asckit GPU benchmark ==")
    env = sec.get("environment", {})
    print(f"device {env.get('gpu', env.get('device'))}, torch {env.get('torch')}, fast precision {env.get('fast_precision')}")
    for name, entry in sec.items():
        print(f"  {name:<12} {entry.get('status')}  {entry.get('wall_s', '?')} s"
              + (f"  ({entry.get('error') or entry.get('reason')})" if entry.get("status") in ("error", "skipped") else ""))
    models = sec.get("models", {})
    if models.get("models"):
        keys = [*MODES, *(f"{m}+compile" for m in MODES)]
        short = [k.replace("channels_last", "cl").replace("compile", "c") for k in keys]
        print(f"\n(1) model step clips/s at batch {sizes_note(models)} (cl = channels_last, c = torch.compile); "
              "peak GB and the largest batch of bf16+cl")
        print(f"{'model':<12}" + "".join(f"{k:>11}" for k in short) + f"{'peak GB':>9}{'largest':>9}{'clips/s':>9}")
        for label, cells in models["models"].items():
            rates = "".join(f"{cells.get(k, {}).get('clips_s', '-'):>11}" for k in keys)
            peak = cells.get(MODES[-1], {}).get("peak_gb")
            large = (models.get("largest_batch", {}).get(label) or {}).get("largest") or {}
            print(f"{label:<12}{rates}{(f'{peak:.2f}' if peak else '-'):>9}{large.get('batch', '-'):>9}{large.get('clips_s', '-'):>9}")
    pipe = sec.get("pipeline", {})
    if pipe.get("variants"):
        print(f"\n(2) pipeline, FCNN {pipe.get('mode')} batch {pipe.get('batch')}: model-only {pipe.get('model_only')} clips/s, "
              f"with batch work {pipe.get('model_and_batch_work')}")
        for row in pipe["variants"]:
            value = f"{row['clips_s']:>9} clips/s  {row['input_bound_ratio']:.0%}  ({row['placement']})" if "clips_s" in row else row.get("error")
            if "per_step" in row.get("host_waits", {}):
                value += f"  host waits/step {row['host_waits']['per_step']}"
            print(f"  {row['label']:<58} {value}")
        print(f"  loader: {pipe.get('loader_needs')}")
    e2e = sec.get("end_to_end", {})
    if e2e.get("steps"):
        print("\n(3) end to end: " + ", ".join(f"{k} {v['s']} s" for k, v in e2e["steps"].items()))
    paper = sec.get("paper_scale", {})
    if paper.get("recipes"):
        print(f"\n(4) paper scale (pipeline overhead {paper['overhead_ms_per_step']} ms per step): "
              + ", ".join(f"{k} {v.get('hours', '-')} h" for k, v in paper["recipes"].items())
              + f"; Table 1's {len(paper['table1']['trainings'])} trainings {paper['table1']['hours']} h")


def sizes_note(models: dict) -> str:
    for cells in models["models"].values():
        for cell in cells.values():
            if "batch" in cell:
                return str(cell["batch"])
    return "?"


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-report.json"), help="JSON report (rewritten as it goes)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--smoke", action="store_true", help="tiny widths and sizes: every section in seconds")
    parser.add_argument("--limit", type=float, default=None, help="seconds for the whole run (default 470; smoke 55)")
    parser.add_argument("--max-batch", type=int, default=2048, help="upper bound of the largest-batch search")
    parser.add_argument("--pipeline-clips", type=int, default=6144, help="clips of the pipeline's synthetic store")
    parser.add_argument("--compile-backend", default="inductor", help="torch.compile backend (smoke: eager)")
    parser.add_argument("--sections", nargs="+", default=None,
                        choices=("models", "pipeline", "end_to_end", "paper_scale", "ddp"), help="default: all")
    args = parser.parse_args(argv)
    args.limit = args.limit or (55.0 if args.smoke else 470.0)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu.py: --device cuda but torch sees no CUDA device; use --device cpu --smoke", file=sys.stderr)
        return 2
    if args.smoke:
        torch.set_num_threads(1)  # tiny tensors: more threads only contend
    s = sizes(args)
    report = Report(args.out)
    report.data.update(script="benchmarks/gpu.py", argv=sys.argv[1:] if argv is None else argv, limit_s=args.limit,
                       started=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    wanted = ["environment", *(n for n in SHARES if n != "environment" and (args.sections is None or n in args.sections))]
    overall = time.perf_counter()
    deadline = overall + 0.97 * args.limit  # the watchdog ends the run at --limit

    gpus = torch.cuda.device_count() if device.type == "cuda" else 0

    def budget_of(name: str) -> float:
        later = [n for n in wanted[wanted.index(name) + 1 :] if n != "ddp" or gpus >= 2]  # no time kept for a skip
        return section_budget(name, later, deadline - time.perf_counter())

    def watchdog() -> None:
        report.data["aborted"] = f"the whole run reached --limit {args.limit:.0f} s"
        for _ in range(5):  # the main thread may be changing the report right now
            try:
                report.write()
                break
            except RuntimeError:
                time.sleep(0.05)
        print(f"gpu.py: stopped at --limit {args.limit:.0f} s; the report keeps what was measured", flush=True)
        os._exit(3)

    timer = threading.Timer(args.limit, watchdog)
    timer.daemon = True
    timer.start()
    with tempfile.TemporaryDirectory(prefix="asckit-gpu-") as tmp:
        base = Path(tmp)
        with section(report, "environment", budget_of("environment")) as (entry, _):
            environment(entry, device, args)
        for name, run in (
            ("models", lambda e, b: run_models(e, b, report, device, s)),
            ("pipeline", lambda e, b: run_pipeline(e, b, report, device, s, base)),
            ("end_to_end", lambda e, b: run_end_to_end(e, b, report, device, s, base)),
            ("paper_scale", lambda e, b: run_paper_scale(e, report.data["sections"])),
            ("ddp", lambda e, b: run_ddp(e, b, device, s, base)),
        ):
            if name not in wanted:
                continue
            with section(report, name, budget_of(name)) as (entry, budget):
                run(entry, budget)
    timer.cancel()
    report.data["wall_s"] = round(time.perf_counter() - overall, 1)
    report.write()
    print_table(report.data)
    print(f"\nreport: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
