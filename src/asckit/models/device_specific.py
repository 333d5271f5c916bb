"""A model per recording device (DCASE 2025): a general model and a copy of it for each known device.

``DeviceSpecificModel`` holds ``base_model`` and ``device_models`` (an ``nn.ModuleDict`` keyed by
device id), the layout of the CPJKU 2025 baseline's container and of the organizers'
``model_state_dict.pt`` (keys ``base_model.*`` and ``device_models.<dev>.*``), so such a state_dict
loads as it is. Only the devices of ``asckit.labels.KNOWN_DEVICES_2025`` (those of the 2025 training
split) may have their own model; every other device id, and a missing one (None), is classified by
the general model, as the rules and the reference do.

``forward(x, devices)`` runs each device's clips through its model in one batch per model and
returns the logits in input order; the reference runs a mixed batch clip by clip, which gives the
same logits (eval mode) in more calls.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from asckit.core.errors import AsckitError
from asckit.labels import KNOWN_DEVICES_2025


def check_devices(devices: Sequence[str]) -> tuple[str, ...]:
    """``devices`` as a tuple when each is a DCASE 2025 device that may have its own model, once; else a one-line AsckitError."""
    devices = tuple(devices)
    for device in devices:
        if device not in KNOWN_DEVICES_2025:
            raise AsckitError(
                f"device {device!r} cannot have its own model: DCASE 2025 allows one for {', '.join(KNOWN_DEVICES_2025)} "
                "(the devices of its training split); other devices use the general model"
            )
    repeated = sorted({d for d in devices if devices.count(d) > 1})
    if repeated:
        raise AsckitError(f"device {repeated[0]!r} is listed twice; give each device once")
    return devices


class DeviceSpecificModel(nn.Module):
    """A general model (``base_model``) and one model per device (``device_models[device]``).

    Args:
        base_model: the general model; each device model starts as a deep copy of it.
        devices: the devices that get their own model (default: all of ``KNOWN_DEVICES_2025``).
    """

    def __init__(self, base_model: nn.Module, devices: Sequence[str] = KNOWN_DEVICES_2025) -> None:
        super().__init__()
        self.base_model = base_model
        self.device_models = nn.ModuleDict({device: copy.deepcopy(base_model) for device in check_devices(devices)})

    @property
    def devices(self) -> tuple[str, ...]:
        """The devices with a model of their own, in the order they were given."""
        return tuple(self.device_models.keys())

    def for_device(self, device: str | None) -> nn.Module:
        """The model that classifies clips of ``device``: its own, or the general model for an unknown or missing id."""
        if device is not None and device in self.device_models:
            return self.device_models[device]
        return self.base_model

    def forward(self, x: torch.Tensor, devices: Sequence[str | None] | None = None) -> torch.Tensor:
        """Logits of ``x`` (batch first), clip i by the model of ``devices[i]``; ``devices`` None: all by the general model."""
        if devices is None:
            return self.base_model(x)
        if len(devices) != x.shape[0]:
            raise AsckitError(f"{len(devices)} device ids for a batch of {x.shape[0]} clips; give one device id per clip")
        groups: dict[str | None, list[int]] = {}
        for index, device in enumerate(devices):
            key = device if device is not None and device in self.device_models else None
            groups.setdefault(key, []).append(index)
        if len(groups) == 1:
            return self.for_device(next(iter(groups)))(x)
        order = [index for indices in groups.values() for index in indices]
        logits = torch.cat(
            [self.for_device(device)(x[torch.as_tensor(indices, device=x.device)]) for device, indices in groups.items()]
        )
        return logits[torch.as_tensor(order, device=x.device).argsort()]
