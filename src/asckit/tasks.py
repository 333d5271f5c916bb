"""The facts of the DCASE Task 1 protocols asckit runs, in one table: the two 2020 subtasks (1a, 1b)
and the TAU22 protocols of 2024 (data-efficient splits) and 2025 (device-specific models): audio
format, classes, clip length, set sizes, the reference's crop and complexity budget, the frontend
and training splits; the complexity limits of each edition; and the model-input shape rule.

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
    """One protocol's facts (2020: reference/dataset.md; 2024/2025: reference/dcase2025/README.md §1–§3)."""

    name: str
    #: The TAU 2020 dataset of the task, and the version of its development set asckit knows.
    dataset: str
    development_version: str
    sample_rate: int
    channels: int
    clip_seconds: float
    #: Clips of the development set's fold 1: (train, evaluate).
    development_clips: tuple[int, int]
    #: Unique files of the evaluation set, as the official submission validator expects them (None: not
    #: known; 2024's 135,730 is the 2024 validator's figure, unconfirmed as the evaluation set's size).
    evaluation_clips: int | None
    #: The reference's random-crop length in training (frames), None for no crop.
    crop_frames: int | None
    #: Budget on the deployed model files in KB (1024 B); None for no complexity limit.
    budget_kb: float | None
    #: What turns audio into model input: ``logmel`` (2020: librosa-exact log-mel + deltas, stored) or
    #: ``tau22`` (2022–2025: the CPJKU baselines' 32 kHz mel frontend, run in the training step on stored waves).
    frontend: str = "logmel"
    #: The training subsets of the development set in % (2024: the data-efficient splits; 2025: split 25 only).
    train_percentages: tuple[int, ...] = ()
    #: Whether a system may hold a model per recording device, chosen by the device id at inference (2025).
    device_specific: bool = False
    #: The name of the ``COMPLEXITY_LIMITS`` edition a submission of this protocol is checked against.
    complexity_edition: str | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return classes_of(self.name)

    @property
    def input_channels(self) -> int:
        """Model-input channels: static, Δ and ΔΔ of every audio channel (2020); the one log-mel (2022–2025)."""
        return 3 * self.channels if self.frontend == "logmel" else self.channels


TASKS: dict[str, Task] = {
    "1a": Task(
        "1a", dataset="TAU Urban Acoustic Scenes 2020 Mobile", development_version="v2", sample_rate=44100, channels=1, clip_seconds=10.0,
        development_clips=(13965, 2970), evaluation_clips=11880, crop_frames=400, budget_kb=None,
    ),
    "1b": Task(
        "1b", dataset="TAU Urban Acoustic Scenes 2020 3Class", development_version="v1", sample_rate=48000, channels=2, clip_seconds=10.0,
        development_clips=(9185, 4185), evaluation_clips=8640, crop_frames=None, budget_kb=500.0,
        complexity_edition="DCASE 2020 1b",
    ),
    # TAU22: the 2020 Mobile recordings cut into 1 s clips; development fold 1 = split 100 and the
    # dev-test list (reference/dcase2025/README.md §1, §2).
    "2024": Task(
        "2024", dataset="TAU Urban Acoustic Scenes 2022 Mobile", development_version="v1", sample_rate=44100, channels=1,
        clip_seconds=1.0, development_clips=(139620, 29680), evaluation_clips=135730, crop_frames=None, budget_kb=None,
        frontend="tau22", train_percentages=(5, 10, 25, 50, 100), complexity_edition="DCASE 2023-2025",
    ),
    "2025": Task(
        "2025", dataset="TAU Urban Acoustic Scenes 2022 Mobile", development_version="v1", sample_rate=44100, channels=1,
        clip_seconds=1.0, development_clips=(139620, 29680), evaluation_clips=None, crop_frames=None, budget_kb=None,
        frontend="tau22", train_percentages=(25,), device_specific=True, complexity_edition="DCASE 2023-2025",
    ),
}

#: The 2020 subtasks (the log-mel frontend and its stored features).
TASKS_2020: tuple[str, ...] = ("1a", "1b")

#: The TAU22 protocols (1 s clips, the CPJKU frontend on stored 32 kHz waves).
TASKS_TAU22: tuple[str, ...] = ("2024", "2025")


@dataclass(frozen=True)
class ComplexityLimit:
    """One edition's complexity rule for low-complexity systems (None: not limited by it).

    ``max_kb`` is DCASE 2020 Task 1b's size rule (non-zero parameters and BN statistics × bits,
    KB = 1024 B). ``max_params`` is DCASE 2022's (all parameters, zeros included, counted as INT8:
    128 K parameters = 128 KB). ``max_param_bytes`` is DCASE 2023–2025's (Σ numel × bytes of each
    parameter at its own precision, ``model.parameters()`` only, no buffers: the organizers'
    counter; in 2025 per device model). ``max_macs_per_second``: MACs for one second of audio,
    as torchinfo counts them (BatchNorm included) from 2022 on. ``asckit.models.counting.check_limits``
    applies them (reference/dcase2025/README.md §3).
    """

    name: str
    max_kb: float | None = None
    max_params: int | None = None
    max_param_bytes: int | None = None
    max_macs_per_second: float | None = None


COMPLEXITY_LIMITS: tuple[ComplexityLimit, ...] = (
    ComplexityLimit("DCASE 2020 1b", max_kb=500.0),
    ComplexityLimit("DCASE 2022", max_params=128_000, max_macs_per_second=30e6),
    ComplexityLimit("DCASE 2023-2025", max_param_bytes=128_000, max_macs_per_second=30e6),
)


def task_facts(name: str) -> Task:
    """The facts of task '1a', '1b', '2024' or '2025'."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}: use {', '.join(repr(t) for t in TASKS)}")
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
    "TASKS_2020",
    "TASKS_TAU22",
    "Task",
    "macs_input_shape",
    "model_input_shape",
    "stored_to_input_shape",
    "task_facts",
]
