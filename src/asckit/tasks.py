"""The facts of the two DCASE 2020 Task 1 subtasks, in one table: audio format, classes, clip
length, evaluation-set size, the reference's crop and complexity budget; and the model-input
shape rule.

Every module that needs a task's sample rate, channel count, classes or input shape reads it
here (classes themselves are defined in ``asckit.labels``). Pure Python, importable by the
torch-free runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from asckit.labels import classes as classes_of

#: Frames the model input loses to the two 5-point delta passes: static[4:−4], Δ[2:−2], ΔΔ.
DELTA_FRAMES_LOST = 8

#: MACs per second of audio are those of a clip of this length (the TAU clips'), divided by it,
#: whatever clip length a model was trained or deployed on: one model, one figure
#: (``asckit.models.counting``).
MACS_CLIP_SECONDS = 10.0


@dataclass(frozen=True)
class Task:
    """One subtask's facts (reference/dataset.md)."""

    name: str
    #: The TAU 2020 dataset of the task, and the version of its development set asckit knows.
    dataset: str
    development_version: str
    sample_rate: int
    channels: int
    clip_seconds: float
    #: Clips of the development set's fold 1: (train, evaluate).
    development_clips: tuple[int, int]
    #: Unique files of the evaluation set, as the official submission validator expects them.
    evaluation_clips: int
    #: The reference's random-crop length in training (frames), None for no crop.
    crop_frames: int | None
    #: Budget on the deployed model files in KB (1024 B); None for no complexity limit.
    budget_kb: float | None

    @property
    def classes(self) -> tuple[str, ...]:
        return classes_of(self.name)

    @property
    def input_channels(self) -> int:
        """Model-input channels: static, Δ and ΔΔ of every audio channel."""
        return 3 * self.channels


TASKS: dict[str, Task] = {
    "1a": Task(
        "1a", dataset="TAU Urban Acoustic Scenes 2020 Mobile", development_version="v2", sample_rate=44100, channels=1, clip_seconds=10.0,
        development_clips=(13965, 2970), evaluation_clips=11880, crop_frames=400, budget_kb=None,
    ),
    "1b": Task(
        "1b", dataset="TAU Urban Acoustic Scenes 2020 3Class", development_version="v1", sample_rate=48000, channels=2, clip_seconds=10.0,
        development_clips=(9185, 4185), evaluation_clips=8640, crop_frames=None, budget_kb=500.0,
    ),
}


@dataclass(frozen=True)
class ComplexityLimit:
    """One edition's complexity rule for low-complexity systems (None: not limited by it).

    ``max_kb`` is DCASE 2020 Task 1b's size rule (non-zero parameters and BN statistics × bits,
    KB = 1024 B); ``max_params`` and ``max_macs_per_second`` are DCASE 2022–2025 Task 1's (all
    parameters, 128 K, i.e. 128 KB in int8; MACs for one second of audio).
    ``asckit.models.counting.check_limits`` applies them.
    """

    name: str
    max_kb: float | None = None
    max_params: int | None = None
    max_macs_per_second: float | None = None


COMPLEXITY_LIMITS: tuple[ComplexityLimit, ...] = (
    ComplexityLimit("DCASE 2020 1b", max_kb=500.0),
    ComplexityLimit("DCASE 2022-2025", max_params=128_000, max_macs_per_second=30e6),
)


def task_facts(name: str) -> Task:
    """The facts of task '1a' or '1b'."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}: use '1a' or '1b'")
    return TASKS[name]


def model_input_shape(settings, samples: int | None = None) -> tuple[int, int, int]:
    """Model input of one clip, (3·channels, n_mels, frames − 8), for ``settings``
    (``asckit.features.logmel.LogMelSettings``) and a clip of ``samples`` (default: its clip length)."""
    return (3 * settings.channels, settings.n_mels, settings.frames(samples) - DELTA_FRAMES_LOST)


def macs_input_shape(settings) -> tuple[int, int, int]:
    """Model input of the ``MACS_CLIP_SECONDS`` clip on which MACs per second are counted, for ``settings``."""
    return model_input_shape(settings, int(round(MACS_CLIP_SECONDS * settings.sample_rate)))


def stored_to_input_shape(stored_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Model-input shape (…, 3·channels, n_mels, T − 8) of stored static log-mel (…, channels, n_mels, T)."""
    *lead, channels, mels, frames = stored_shape
    return (*lead, 3 * channels, mels, frames - DELTA_FRAMES_LOST)


__all__ = [
    "COMPLEXITY_LIMITS",
    "ComplexityLimit",
    "DELTA_FRAMES_LOST",
    "MACS_CLIP_SECONDS",
    "TASKS",
    "Task",
    "macs_input_shape",
    "model_input_shape",
    "stored_to_input_shape",
    "task_facts",
]
