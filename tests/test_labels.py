from asckit import labels


def test_class_orders_are_the_dcase_column_orders():
    assert labels.SCENES_10 == tuple(sorted(labels.SCENES_10))  # alphabetical, as the reference's category codes
    assert len(labels.SCENES_10) == 10
    assert labels.SCENES_3 == ("indoor", "outdoor", "transportation")


def test_map_10_to_3_equals_the_reference():
    assert list(labels.MAP_10_TO_3) == [0, 2, 2, 0, 1, 1, 0, 1, 1, 2]
    for scene, index in zip(labels.SCENES_10, labels.MAP_10_TO_3):
        assert labels.SCENES_3[index] == labels.to_superclass(scene)


def test_device_groups_cover_the_dev_devices_once():
    members = [d for group in labels.DEVICE_GROUPS.values() for d in group]
    assert sorted(members) == sorted(labels.DEVICES)
    assert labels.device_group("s5") == "s4-s6"
    assert labels.device_group("d") is None


def test_classes_by_task_and_errors():
    assert labels.classes("1a") == labels.SCENES_10
    assert labels.classes("1b") == labels.SCENES_3
    import pytest

    with pytest.raises(ValueError):
        labels.classes("2a")
    with pytest.raises(ValueError):
        labels.to_superclass("beach")



def test_the_tau22_groups_cover_the_nine_devices_and_2025_knows_the_six_of_the_splits():
    from asckit.labels import DEVICES, KNOWN_DEVICES_2025, TAU22_DEVICE_GROUPS, device_groups, is_known_device

    assert sorted(d for members in TAU22_DEVICE_GROUPS.values() for d in members) == sorted(DEVICES)
    assert device_groups("2025") is TAU22_DEVICE_GROUPS and device_groups("1a") is not TAU22_DEVICE_GROUPS
    assert KNOWN_DEVICES_2025 == TAU22_DEVICE_GROUPS["real"] + TAU22_DEVICE_GROUPS["seen"]
    assert is_known_device("s2") and not is_known_device("s4") and not is_known_device(None)
