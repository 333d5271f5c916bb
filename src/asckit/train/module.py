"""The LightningModule of a training run: batch → model input → augmentation → loss → SGD step.

Its one job: everything that happens to a batch on the training device. A batch of stored static
log-mel (float16, already scaled to [0, 1] per clip by the features module) becomes model input
here: float32, then deltas with ``asckit.features.add_deltas``, giving exactly what
``asckit.features.extract`` gives for the same clip up to float16 storage error. Training batches
are then augmented with ``asckit.train.batch_augment`` on one-hot targets (SpecAugment → crop →
channel swap → mixup, as the config switches them); validation sees the full-length,
unaugmented input.

Loss: cross-entropy on soft targets; with ``distill.teacher`` (knowledge distillation, beyond
the paper) ``λ·CE(labels, student) + (1 − λ)·τ²·KL(teacher_τ ‖ softmax(student/τ))``
(:func:`distillation_loss`; the KL averaged per sample, or over samples and classes as the CP-JKU
code with ``distill.kl_reduction: batch_and_classes``), where ``teacher_τ = softmax(log(teacher)/τ)`` are the teacher's
probabilities at temperature τ (:func:`tempered`). The teacher block rides beside the one-hot
labels through the batch augmentation, so mixup mixes it with the same λ as the inputs and labels.
Optimizer: SGD with momentum, no Nesterov, by default with
Keras' update (``optim.sgd: keras``, ``asckit.train.optim.KerasSGD``; ``torch`` for
``torch.optim.SGD``, which differs after every lr change); L2 as the reference's Keras
``kernel_regularizer`` on the ``resnet_layer`` convs only (``PreActConv`` in
``asckit.models.blocks``), as coupled ``weight_decay = 2·wd`` on exactly those kernels in
either optimizer (see ``asckit.train.config``). Schedule: ``asckit.train.schedule.warm_restart_scheduler``, stepped
after every optimizer step.

TAU22 runs (task 2024/2025) store waves instead: ``asckit.train.wave_input.WaveInput`` makes their
log-mel in the step (DIR, roll, frequency masking, Freq-MixStyle as the CPJKU baselines order them), and
they train with AdamW and a warm-up + cosine schedule stepped per batch (``optim.optimizer: adamw``,
``optim.schedule: cosine``); the rest of the step is shared.

Randomness is reseeded at the first batch of every epoch from ``(seed, epoch, rank)``: the
augmentation generator and torch's global generator (dropout). So an epoch redone from its
starting checkpoint after a crash is the same epoch, bit for bit on CPU.

BatchNorm running statistics start as plain means of the batches seen and turn into the
reference's moving average (Keras momentum 0.99) after 100 steps (``model.bn_warmup``, on by
default; see :func:`warm_up_batch_norm_statistics`). Long runs end with the reference's
statistics; short ones are no longer evaluated with the initial variance 1 on delta channels
whose real variance is about 1e-3.

Logged: ``train/loss`` and ``lr`` per step; ``train/loss_epoch``, ``train/acc_epoch`` per epoch
(accuracy against the larger share of each mixed target); with a validation split ``val/loss``,
``val/acc`` (all clips), ``val/acc/<device group>`` (mean of its devices, as the paper's Table 1)
and ``val/acc/device_<d>``.
"""

from __future__ import annotations

import time
import typing

import lightning as L
import torch
import torch.nn.functional as F

from asckit import labels as label_defs
from asckit.core.errors import AsckitError
from asckit.features import add_deltas
from asckit.models import build
from asckit.models.blocks import PreActConv
from asckit.train import batch_augment
from asckit.train.config import KlReduction, TrainConfig
from asckit.train.datamodule import AUGMENT, DROPOUT, seed_for
from asckit.train.optim import KerasSGD
from asckit.train.schedule import cosine_with_warmup, warm_restart_scheduler


def model_input(static: torch.Tensor) -> torch.Tensor:
    """Stored static log-mel (B, ch, 128, T), any float dtype → model input (B, 3·ch, 128, T − 8), float32."""
    return add_deltas(static.float())


def warmup_steps(optim, total_steps: int) -> int:
    """The warm-up of a cosine run of ``total_steps`` optimizer steps: ``optim.warmup_fraction`` of them
    when set (a scaled-down run keeps the reference's share), else ``optim.warmup_steps``."""
    return round(optim.warmup_fraction * total_steps) if optim.warmup_fraction is not None else optim.warmup_steps


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy against probability targets (Keras categorical_crossentropy), in float32."""
    return -(targets.float() * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def tempered(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Probabilities at temperature τ: softmax(log p / τ), what softmax(logits / τ) is for the
    logits behind ``p``. Zero probabilities are floored at the float32 tiny value first."""
    logp = probs.float().clamp_min(torch.finfo(torch.float32).tiny).log()
    return torch.softmax(logp / temperature, dim=1)


#: How :func:`distillation_loss` averages the KL term (``distill.kl_reduction``, ``asckit.train.config``).
KL_REDUCTIONS: tuple[str, ...] = typing.get_args(KlReduction)


def distillation_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    teacher: torch.Tensor,
    temperature: float,
    label_weight: float,
    kl_reduction: str = "batchmean",
) -> torch.Tensor:
    """``λ·CE(labels, logits) + (1 − λ)·τ²·KL(teacher ‖ softmax(logits/τ))``, batch mean, float32.

    ``labels`` are (mixed) one-hot targets, ``teacher`` the (mixed) teacher probabilities already at
    temperature τ (:func:`tempered`). τ² keeps the KL gradients on the scale of the CE's (Hinton
    et al. 2015). KL is computed with ``F.kl_div``, which treats 0·log 0 as 0.

    ``kl_reduction``: ``batchmean`` (the default) averages the per-sample KL over the batch;
    ``batch_and_classes`` is the CP-JKU code's ``KLDivLoss(log_target=True, reduction="none")(...)
    .mean()`` [CP23 run_training.py], a mean over the batch and the K classes, i.e. the batchmean KL
    divided by K: with 10 classes it weights distillation 10× less against the labels.
    """
    if kl_reduction not in KL_REDUCTIONS:
        raise ValueError(f"distillation_loss: kl_reduction={kl_reduction!r}; use {' or '.join(KL_REDUCTIONS)}")
    hard = soft_cross_entropy(logits, labels)
    log_student = F.log_softmax(logits.float() / temperature, dim=1)
    if kl_reduction == "batchmean":
        kl = F.kl_div(log_student, teacher.float(), reduction="batchmean")
    else:  # reduction="mean" would warn that it divides by the classes too: that is the point here
        kl = F.kl_div(log_student, teacher.float(), reduction="none").mean()
    return label_weight * hard + (1.0 - label_weight) * temperature**2 * kl


def l2_kernels(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The kernels the reference regularised: those of its ``resnet_layer`` (asckit ``PreActConv``)."""
    return [m.conv.weight for m in model.modules() if isinstance(m, PreActConv)]


def warm_up_batch_norm_statistics(model: torch.nn.Module) -> None:
    """Let each BatchNorm's running statistics start as a plain average of the batches seen so far.

    Sets the momentum of every BatchNorm to ``max(m, 1/(t + 1))``, ``t`` its batches tracked and
    ``m`` the momentum it was built with (Keras' 0.99 decay, i.e. 0.01). After ``1/m`` steps this
    is the reference's moving average; before, it is an unbiased mean instead of one still
    dominated by the initial mean 0 and variance 1. That matters for the delta channels, whose
    variance (about 1e-3) the initial variance would mask for some 700 steps, so a short run
    would be evaluated with badly scaled inputs. ``t`` is saved in checkpoints, so this resumes.

    A layer is marked settled once ``1/(t + 1) ≤ m`` (``t`` only grows, so it stays so) and is not
    read again: reading ``t`` is a host-device synchronisation on a GPU, which every step would pay.
    """
    for layer in model.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) and layer.track_running_stats:
            if getattr(layer, "_asckit_settled", False):
                continue
            if not hasattr(layer, "_asckit_momentum"):
                layer._asckit_momentum = layer.momentum
            average = 1.0 / (int(layer.num_batches_tracked) + 1)
            layer.momentum = max(layer._asckit_momentum, average)
            layer._asckit_settled = average <= layer._asckit_momentum


def augment_settings(config: TrainConfig) -> batch_augment.BatchAugment:
    a = config.batch_augment
    return batch_augment.BatchAugment(
        spec_augment=bool(a.spec_augment),
        crop_frames=a.crop_frames,
        channel_swap=bool(a.channel_swap),
        mixup_alpha=a.mixup_alpha or None,
        freq_mask_max=a.freq_mask_max,
        time_mask_max=a.time_mask_max,
        freq_mixstyle_p=a.freq_mixstyle.p if a.freq_mixstyle else 0.0,
        freq_mixstyle_alpha=a.freq_mixstyle.alpha if a.freq_mixstyle else 0.3,
        freq_mixstyle_form=a.freq_mixstyle.form if a.freq_mixstyle else "sample",
    )


class SceneLightningModule(L.LightningModule):
    """A scene classifier being trained: ``self.model`` is the bare ``asckit.models`` network.

    ``steps_per_epoch`` is asked of the datamodule when the optimizer is made, because it
    depends on the number of processes.
    """

    def __init__(self, config: TrainConfig, in_channels: int):
        super().__init__()
        self.config = config
        self.model = build(
            config.model.name,
            num_classes=config.num_classes,
            in_channels=in_channels,
            width=config.model.width,
            **config.model.params,
        )
        self.augment = augment_settings(config)
        self.wave_input = None
        if config.is_tau22:
            from asckit.train.wave_input import WaveInput

            self.wave_input = WaveInput(config)
            # Its augmentations ran on the waves and the mel already; mixup, if asked for, stays for apply().
            self.augment = batch_augment.BatchAugment(
                spec_augment=False, crop_frames=None, channel_swap=False, mixup_alpha=config.batch_augment.mixup_alpha or None
            )
        self.generator = torch.Generator()
        self.channels_last = False
        self._val_sums: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------ setup
    def on_fit_start(self) -> None:
        wanted = self.config.trainer.channels_last
        self.channels_last = self.device.type == "cuda" if wanted == "auto" else bool(wanted)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)

    def configure_optimizers(self):
        o = self.config.optim
        steps = self.trainer.datamodule.steps_per_epoch(self.trainer.world_size)
        if o.optimizer == "adamw":
            # The 2024/2025 baselines: torch's AdamW, decoupled weight decay on every parameter.
            optimizer = torch.optim.AdamW(self.model.parameters(), lr=o.lr_max, weight_decay=o.weight_decay)
        else:
            optimizer = self._sgd(o)
        if o.schedule == "cosine":
            total = steps * o.epochs
            scheduler = cosine_with_warmup(optimizer, o.lr_max, warmup_steps(o, total), total)
        else:
            scheduler = warm_restart_scheduler(
                optimizer, steps, o.lr_max, o.lr_min, o.first_cycle, o.cycle_mult, o.keras_decay
            )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}

    def _sgd(self, o):
        decayed = l2_kernels(self.model) if o.weight_decay else []
        decayed_ids = {id(p) for p in decayed}
        rest = [p for p in self.model.parameters() if id(p) not in decayed_ids]
        groups = [{"params": rest, "weight_decay": 0.0}]
        if decayed:
            # Keras adds wd·Σw² to the loss: gradient 2·wd·w, which SGD's coupled weight_decay adds.
            groups.append({"params": decayed, "weight_decay": 2.0 * o.weight_decay})
        if o.sgd == "keras":  # the reference's update: lr folded into the velocity (asckit.train.optim)
            return KerasSGD(groups, lr=o.lr_max, momentum=o.momentum)
        return torch.optim.SGD(groups, lr=o.lr_max, momentum=o.momentum, nesterov=False)

    # ------------------------------------------------------------ training
    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        if self.config.model.bn_warmup:
            warm_up_batch_norm_statistics(self.model)
        # Seeded at the epoch's first batch, not in on_train_epoch_start: Lightning skips that hook
        # for the first epoch after resuming from a checkpoint written at an epoch's end.
        if batch_idx == 0:
            seed, epoch, rank = self.config.seed, self.current_epoch, self.global_rank
            torch.manual_seed(seed_for(seed, epoch, rank, DROPOUT))  # dropout (and CUDA generators)
            self.generator.manual_seed(seed_for(seed, epoch, rank, AUGMENT))

    def _to_memory_format(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self._to_memory_format(x))

    def training_input(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The batch's model input before ``batch_augment.apply``: deltas of stored log-mel, or a TAU22
        run's augmented log-mel of its waves."""
        if self.wave_input is not None:
            return self.wave_input.for_training(batch["x"], batch["device"], self.generator)
        return model_input(batch["x"])

    def evaluation_input(self, stored: torch.Tensor) -> torch.Tensor:
        """Unaugmented model input of stored rows (log-mel or waves)."""
        return self.wave_input.for_evaluation(stored) if self.wave_input is not None else model_input(stored)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x = self.training_input(batch)
        y = F.one_hot(batch["y"], self.config.num_classes).float()
        distill = self.config.distill
        if distill.teacher is None:
            x, y = batch_augment.apply(x, y, self.augment, self.generator)
            logits = self(x)
            loss = soft_cross_entropy(logits, y)
        else:
            if "teacher" not in batch:
                raise RuntimeError("distill.teacher is set but the batch has no teacher targets")  # a datamodule bug
            k = self.config.num_classes
            targets = torch.cat([y, tempered(batch["teacher"], distill.temperature)], dim=1)
            x, targets = batch_augment.apply(x, targets, self.augment, self.generator)
            y, teacher = targets[:, :k], targets[:, k:]
            logits = self(x)
            loss = distillation_loss(logits, y, teacher, distill.temperature, distill.label_weight, distill.kl_reduction)
        if not torch.isfinite(loss):  # stop: a run that trained on NaN must never be marked finished
            raise AsckitError(
                f"epoch {self.current_epoch}, batch {batch_idx}: the training loss is {loss.item()}; the run stops "
                f"unfinished. Check the features (`asckit features` refuses NaN audio) and optim.lr_max"
            )
        size = x.shape[0]
        hits = (logits.argmax(dim=1) == y.argmax(dim=1)).float().mean()
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=size)
        # Epoch values are reduced across processes once, at the epoch's end.
        self.log("train/loss_epoch", loss, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        self.log("train/acc_epoch", hits, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=True, on_epoch=False, prog_bar=True, batch_size=size)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if batch_idx == self.trainer.num_training_batches - 1:
            self._share_buffers_from_rank_zero()
        if self.config.debug.step_delay:
            time.sleep(self.config.debug.step_delay)

    def _share_buffers_from_rank_zero(self) -> None:
        """Make BatchNorm statistics equal on all ranks before validation and checkpoints.

        DDP already copies rank 0's buffers to every rank at the start of each training forward;
        after the epoch's last forward each rank has updated its copy with its own batch.
        """
        if self.trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            for buffer in self.model.buffers():
                torch.distributed.broadcast(buffer, src=0)

    # ------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        n = len(label_defs.ALL_DEVICES) + 1  # last slot: clips of unknown device
        zeros = lambda: torch.zeros(n, dtype=torch.float64, device=self.device)  # noqa: E731
        self._val_sums = {"correct": zeros(), "count": zeros(), "loss": zeros()}

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits = self(self.evaluation_input(batch["x"]))
        losses = F.cross_entropy(logits.float(), batch["y"], reduction="none").double()
        correct = (logits.argmax(dim=1) == batch["y"]).double()
        slot = torch.where(batch["device"] < 0, len(label_defs.ALL_DEVICES), batch["device"])
        for name, values in (("correct", correct), ("count", torch.ones_like(correct)), ("loss", losses)):
            self._val_sums[name].index_add_(0, slot, values)

    def on_validation_epoch_end(self) -> None:
        sums = {k: self.trainer.strategy.reduce(v, reduce_op="sum") for k, v in self._val_sums.items()}
        total = sums["count"].sum()
        if total == 0:
            return
        metrics = {"val/loss": sums["loss"].sum() / total, "val/acc": sums["correct"].sum() / total}
        per_device = {}
        for i, device in enumerate(label_defs.ALL_DEVICES):
            if sums["count"][i] > 0:
                per_device[device] = sums["correct"][i] / sums["count"][i]
                metrics[f"val/acc/device_{device}"] = per_device[device]
        for group, members in label_defs.device_groups(self.config.task).items():
            present = [per_device[d] for d in members if d in per_device]
            if present:
                metrics[f"val/acc/{group}"] = torch.stack(present).mean()
        # Already summed over processes; sync_dist only averages identical values (and keeps Lightning quiet).
        self.log_dict({k: v.float() for k, v in metrics.items()}, sync_dist=True)
        self.log("val_acc", metrics["val/acc"].float(), prog_bar=True, logger=False, sync_dist=True)


__all__ = [
    "KL_REDUCTIONS",
    "SceneLightningModule",
    "augment_settings",
    "distillation_loss",
    "l2_kernels",
    "model_input",
    "soft_cross_entropy",
    "tempered",
    "warm_up_batch_norm_statistics",
]
