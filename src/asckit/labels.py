"""Scene classes, super-classes, devices and device groups: the one source of truth.

Every module that needs a class order, the 10 → 3 map or a device group imports it from here.
Class orders are the DCASE output-column orders (alphabetical, as pandas category codes in the
reference code), so column ``k`` of a probability matrix always means ``SCENES_10[k]``.
"""

from __future__ import annotations

#: Task 1a classes in the DCASE column order.
SCENES_10: tuple[str, ...] = (
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
)

#: Task 1b classes (the 3 super-classes) in the DCASE column order.
SCENES_3: tuple[str, ...] = ("indoor", "outdoor", "transportation")

#: Super-class of each 10-class scene (reference/dataset.md §1.5).
SUPERCLASS: dict[str, str] = {
    "airport": "indoor",
    "bus": "transportation",
    "metro": "transportation",
    "metro_station": "indoor",
    "park": "outdoor",
    "public_square": "outdoor",
    "shopping_mall": "indoor",
    "street_pedestrian": "outdoor",
    "street_traffic": "outdoor",
    "tram": "transportation",
}

#: The 10 → 3 map as column indices: MAP_10_TO_3[k] is the 3-class column of 10-class column k.
#: Equals the reference's [0, 2, 2, 0, 1, 1, 0, 1, 1, 2].
MAP_10_TO_3: tuple[int, ...] = tuple(SCENES_3.index(SUPERCLASS[s]) for s in SCENES_10)

#: Known recording devices: dev set a, b, c, s1–s6; eval set adds d and s7–s11.
DEVICES: tuple[str, ...] = ("a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6")
EVAL_ONLY_DEVICES: tuple[str, ...] = ("d", "s7", "s8", "s9", "s10", "s11")
ALL_DEVICES: tuple[str, ...] = DEVICES + EVAL_ONLY_DEVICES

#: Device groups as the columns of the paper's Table 1.
DEVICE_GROUPS: dict[str, tuple[str, ...]] = {
    "A": ("a",),
    "B&C": ("b", "c"),
    "s1-s3": ("s1", "s2", "s3"),
    "s4-s6": ("s4", "s5", "s6"),
}


#: The device groups of the DCASE 2022–2025 tables (TAU22's development set: the same nine devices).
TAU22_DEVICE_GROUPS: dict[str, tuple[str, ...]] = {
    "real": ("a", "b", "c"),
    "seen": ("s1", "s2", "s3"),
    "unseen": ("s4", "s5", "s6"),
}

#: The devices with training clips in TAU22's splits, i.e. those a DCASE 2025 system may have a
#: device-specific model for ("known"); every other device id, the test set's s4–s6 and the
#: evaluation set's new ones included, is "unknown" and gets the general model.
KNOWN_DEVICES_2025: tuple[str, ...] = ("a", "b", "c", "s1", "s2", "s3")

#: The tasks with the ten scene classes: 2020 Task 1a and the TAU22 protocols of 2024 and 2025.
TEN_CLASS_TASKS: tuple[str, ...] = ("1a", "2024", "2025")


def classes(task: str) -> tuple[str, ...]:
    """Class names, in column order, for ``task`` '1a', '2024', '2025' (10 scenes) or '1b' (3 super-classes)."""
    if task in TEN_CLASS_TASKS:
        return SCENES_10
    if task == "1b":
        return SCENES_3
    raise ValueError(f"unknown task {task!r}: use '1a', '1b', '2024' or '2025'")


def device_groups(task: str) -> dict[str, tuple[str, ...]]:
    """The device groups a table of ``task`` reports: Table 1's for 2020, real/seen/unseen for 2024/2025."""
    return TAU22_DEVICE_GROUPS if task in ("2024", "2025") else DEVICE_GROUPS


def is_known_device(device: str | None) -> bool:
    """Whether a DCASE 2025 system may have a device-specific model for ``device`` (:data:`KNOWN_DEVICES_2025`)."""
    return device in KNOWN_DEVICES_2025


def to_superclass(scene: str) -> str:
    """Map a 10-class scene label (or an already 3-class label) to its super-class."""
    if scene in SUPERCLASS:
        return SUPERCLASS[scene]
    if scene in SCENES_3:
        return scene
    raise ValueError(f"unknown scene label {scene!r}")


def device_group(device: str) -> str | None:
    """Table-1 group of a device ('A', 'B&C', 's1-s3', 's4-s6'), or None for devices in no group."""
    for group, members in DEVICE_GROUPS.items():
        if device in members:
            return group
    return None
