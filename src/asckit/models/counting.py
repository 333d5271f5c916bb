"""Model complexity as the challenges count it: parameters, stored values, size, parameter bytes, MACs.

Two MAC counters, one per era:

- asckit's own, for the 2020 models: PyTorch's ``torch.utils.flop_counter.FlopCounterMode`` (half
  its FLOPs: it counts 2 per multiply-accumulate of convs and matrix products; BN, ReLU and pooling
  are not counted, as usual). It only needs shapes, so it also runs on models built on the meta
  device.
- torchinfo's ``total_mult_adds`` (``torchinfo_macs``), for the models of the TAU22 protocols
  (2024, 2025): what the organizers' ``complexity.py`` runs (an fp32 deep copy, eval mode, the 1 s
  input). Its conventions are taken as they are, not re-derived: each BatchNorm2d counts as many
  "MACs" as it has parameters (2·C), so the 2024/2025 baseline has 29,419,156 MACs where a counter
  without BN has 29,416,448 (reference/dcase2025 README §3).

Size follows DCASE 2020 Task 1b: non-zero values × bits per value, 1 KB = 1024 bytes (the
500 KB budget is 128,000 float32 values). The values are the parameters plus the BatchNorm
running statistics, which the model needs at inference (Keras' ``count_params`` total).

The later editions (``asckit.tasks.COMPLEXITY_LIMITS``): DCASE 2022 counts every parameter of
the network as one INT8 byte (``params``; BN statistics fold into the convolutions);
DCASE 2023–2025 count parameter memory, Σ numel × bytes over ``model.parameters()`` at the
parameters' own precision, buffers excluded (``parameter_bytes``; the organizers'
``get_model_size_bytes``), in 2025 per device model; so a verdict needs the precision a model is
deployed at, and ``check_limits`` gives one per precision asked (fp16 and int8 by default: the
baselines run fp16, asckit's export int8). Both count MACs for one second of audio.

asckit's 2020 models are fully convolutional with a global average over time, so MACs grow
linearly with the clip: the MACs of one second are those of a clip divided by its seconds
(``macs_per_second``), which avoids counting the 8 frames the delta windows cost at the edges of
a 1 s clip as if they were lost every second. Every figure asckit shows for them (``asckit models``,
``asckit export``, ``reproduce`` tables) counts one clip of ``asckit.tasks.MACS_CLIP_SECONDS`` (10 s:
1a input 3 × 128 × 423, 1b 6 × 128 × 461) and divides by 10, whatever clip length the model was
trained on: counted on a shorter clip, the 8 delta frames and the poolings' remainders weigh more
(the Mobnet-0.75 student: 6.62 M MACs/s on 10 s clips, 6.54 M on the demo set's 4 s, 6.25 M on the
tiny set's 1.5 s). The TAU22 models are counted on their 1 s input, as the organizers count them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from asckit.core.errors import AsckitError
from asckit.tasks import COMPLEXITY_LIMITS, ComplexityLimit

#: Bytes per parameter value by dtype: the table of the organizers' counter (INF25 ``complexity.py``
#: ``get_model_size_bytes``, which also lists int32 and quint8); any other dtype is refused there and here.
BYTES_PER_DTYPE: dict[torch.dtype, int] = {
    torch.float32: 4,
    torch.float16: 2,
    torch.bfloat16: 2,
    torch.int8: 1,
    torch.uint8: 1,
    torch.int32: 4,
    torch.qint8: 1,
    torch.quint8: 1,
}

#: The precisions a model may be deployed at, and the bytes a parameter takes in each.
PRECISION_BYTES: dict[str, int] = {"fp32": 4, "fp16": 2, "int8": 1}

#: The precisions ``check_limits`` judges parameter memory at by default: the baselines' fp16 and asckit's int8.
DEPLOY_PRECISIONS: tuple[str, ...] = ("fp16", "int8")

#: The MAC counters of ``complexity`` (module docstring).
MAC_COUNTERS: tuple[str, ...] = ("asckit", "torchinfo")


@dataclass(frozen=True)
class Complexity:
    """Counts for one model and input shape.

    Attributes:
        params: trainable parameters (Keras' "trainable").
        bn_statistics: BatchNorm running means and variances (Keras' "non-trainable").
        nonzero: non-zero values among both; None when the model lives on the meta device.
        macs: multiply-accumulates for one clip of the given input shape.
        macs_by: the counter of ``macs`` (``MAC_COUNTERS``: "asckit" or "torchinfo").
    """

    params: int
    bn_statistics: int
    nonzero: int | None
    macs: int
    macs_by: str = "asckit"

    @property
    def stored_values(self) -> int:
        """Parameters plus BN statistics: Keras' ``count_params`` total."""
        return self.params + self.bn_statistics

    def size_kb(self, bits: int = 32) -> float:
        """DCASE size in KB (1024 B) at ``bits`` per value, counting non-zero values when known."""
        count = self.stored_values if self.nonzero is None else self.nonzero
        return count * bits / 8 / 1024

    def param_bytes(self, precision: str) -> int:
        """Parameter memory (DCASE 2023–2025) with every parameter stored at ``precision`` ('fp32', 'fp16', 'int8')."""
        return self.params * PRECISION_BYTES[precision]


def _stored_tensors(model: nn.Module) -> list[torch.Tensor]:
    tensors = [p for p in model.parameters() if p.requires_grad]
    for layer in model.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.track_running_stats:
            tensors += [layer.running_mean, layer.running_var]
    return tensors


def count_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass on a zero input of ``input_shape`` (batch included)."""
    param = next(model.parameters())
    example = torch.zeros(tuple(input_shape), dtype=param.dtype, device=param.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def torchinfo_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """torchinfo's ``total_mult_adds`` of ``model`` on an input of ``input_shape`` (batch included),
    counted as the organizers' ``complexity.py`` does: on an fp32 deep copy (``model`` itself is left
    alone), in eval mode. Works on meta-device models too."""
    import torchinfo

    profiled = copy.deepcopy(model).float().eval()
    device = next(profiled.parameters()).device
    summary = torchinfo.summary(profiled, input_size=tuple(input_shape), device=device, mode="eval", verbose=0)
    return int(summary.total_mult_adds)


def parameter_bytes(model: nn.Module, precision: str | None = None) -> int:
    """Σ numel × bytes over ``model.parameters()`` (no buffers), as the organizers count parameter
    memory (DCASE 2023–2025): at each parameter's own dtype (``precision`` None; a dtype outside
    ``BYTES_PER_DTYPE`` is a one-line AsckitError, as the organizers' counter raises), or as if
    every parameter were stored at ``precision`` ('fp32', 'fp16', 'int8').

    torch.ao quantized modules keep packed weights that ``parameters()`` does not list, so this
    counter, like the organizers', sees about 0 B for them: a loophole, not compliance."""
    if precision is not None:
        if precision not in PRECISION_BYTES:
            raise AsckitError(f"unknown precision {precision!r}; use one of: {', '.join(PRECISION_BYTES)}")
        return sum(p.numel() for p in model.parameters()) * PRECISION_BYTES[precision]
    total = 0
    for name, parameter in model.named_parameters():
        if parameter.dtype not in BYTES_PER_DTYPE:
            raise AsckitError(
                f"parameter {name} has dtype {parameter.dtype}, which the DCASE counter does not size; "
                f"convert the model to float32, float16, bfloat16 or an 8-bit type first"
            )
        total += parameter.numel() * BYTES_PER_DTYPE[parameter.dtype]
    return total


def complexity(model: nn.Module, input_shape: Sequence[int], macs_by: str = "asckit") -> Complexity:
    """Parameters, BN statistics, non-zero values and MACs per clip.

    ``input_shape`` is one clip, (channels, mel, frames), or a batch, (batch, channels, mel,
    frames), whose MACs are divided by the batch size. ``macs_by`` picks the counter: "asckit"
    (``count_macs``, the 2020 models' figures) or "torchinfo" (``torchinfo_macs``, the organizers'
    counter of 2022–2025).
    """
    if macs_by not in MAC_COUNTERS:
        raise ValueError(f"unknown MAC counter {macs_by!r}: use {' or '.join(MAC_COUNTERS)}")
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    tensors = _stored_tensors(model)
    statistics = sum(t.numel() for t in tensors) - trainable
    on_meta = any(t.is_meta for t in tensors)
    nonzero = None if on_meta else int(sum(int(torch.count_nonzero(t)) for t in tensors))
    macs = torchinfo_macs(model, shape) if macs_by == "torchinfo" else count_macs(model, shape)
    return Complexity(params=trainable, bn_statistics=statistics, nonzero=nonzero, macs=macs // shape[0], macs_by=macs_by)


def macs_per_second(counts: Complexity, clip_seconds: float) -> float:
    """MACs for one second of audio from the counts of a clip of ``clip_seconds`` (see module docstring)."""
    return counts.macs / clip_seconds


@dataclass(frozen=True)
class LimitCheck:
    """One quantity of a model against one edition's limit."""

    limit: str  # the edition, e.g. "DCASE 2022"
    quantity: str  # "int8 KB", "params", "<precision> param bytes" or "MACs/s"
    value: float
    bound: float
    #: The deploy precision the value was counted at, for parameter bytes; None where it does not matter.
    precision: str | None = None

    @property
    def ok(self) -> bool:
        return self.value <= self.bound

    def describe(self) -> str:
        if self.quantity == "int8 KB":
            shown = "{:,.1f} KB".format
        elif self.quantity == "params":
            shown = "{:,.0f}".format
        elif self.quantity.endswith("param bytes"):
            shown = "{:,.0f} B".format
        else:  # MACs/s
            shown = lambda v: f"{v / 1e6:,.2f} M"  # noqa: E731
        return f"{self.limit} {self.quantity} {shown(self.value)} ≤ {shown(self.bound)}: {'ok' if self.ok else 'OVER'}"


def check_limits(
    counts: Complexity,
    clip_seconds: float,
    limits: Sequence[ComplexityLimit] = COMPLEXITY_LIMITS,
    precisions: Sequence[str] = DEPLOY_PRECISIONS,
) -> list[LimitCheck]:
    """Every limited quantity of ``counts`` (a clip of ``clip_seconds``) against ``limits``.

    The 2020 size rule is checked at 8 bits per value (an int8 model), as the export deploys it;
    2022's parameter count is the int8 byte count by its definition; 2023–2025's parameter memory is
    checked at each of ``precisions`` (the precision a model is deployed at decides it). MACs per
    second are ``counts.macs`` (whichever counter made them) per second of audio.
    """
    unknown = [p for p in precisions if p not in PRECISION_BYTES]
    if unknown:
        raise ValueError(f"unknown precision {unknown[0]!r}: use {', '.join(PRECISION_BYTES)}")
    checks = []
    for limit in limits:
        if limit.max_kb is not None:
            checks.append(LimitCheck(limit.name, "int8 KB", counts.size_kb(8), limit.max_kb))
        if limit.max_params is not None:
            checks.append(LimitCheck(limit.name, "params", counts.params, limit.max_params))
        if limit.max_param_bytes is not None:
            for precision in precisions:
                checks.append(
                    LimitCheck(limit.name, f"{precision} param bytes", counts.param_bytes(precision), limit.max_param_bytes, precision)
                )
        if limit.max_macs_per_second is not None:
            checks.append(LimitCheck(limit.name, "MACs/s", macs_per_second(counts, clip_seconds), limit.max_macs_per_second))
    return checks


def verdicts(checks: Sequence[LimitCheck]) -> dict[str, bool]:
    """Whether each edition's every check is met, in the order of ``checks``; an edition whose
    parameter bytes were checked at several precisions gets one verdict per precision
    ("DCASE 2023-2025 fp16", "DCASE 2023-2025 int8"), each with the edition's other checks."""
    result: dict[str, bool] = {}
    for edition in dict.fromkeys(c.limit for c in checks):
        own = [c for c in checks if c.limit == edition]
        precisions = list(dict.fromkeys(c.precision for c in own if c.precision is not None))
        if not precisions:
            result[edition] = all(c.ok for c in own)
        for precision in precisions:
            result[f"{edition} {precision}"] = all(c.ok for c in own if c.precision in (None, precision))
    return result
