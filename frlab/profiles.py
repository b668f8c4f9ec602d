"""Run profiles: one code path, three sizes.

* ``full``  – GPU, the course's assets and hyper-parameters.
* ``cpu``   – the CPU reference runs stored in ``results/`` (our own base model,
  whole CLS-Books, course hyper-parameters; tens of minutes on 2 cores).
* ``smoke`` – 2-core CPU in minutes: tiny models and data slices; what CI runs.

Select with the environment variable ``FRLAB_PROFILE`` (or pass ``name=``).
Without it: ``full`` when a CUDA GPU is visible, else ``smoke``.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

PROFILES = ("full", "cpu", "smoke")
ENV_VAR = "FRLAB_PROFILE"


class ProfileError(ValueError):
    pass


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is part of the stack
        return False
    return torch.cuda.is_available()


@dataclass(frozen=True)
class Profile:
    name: str
    device: str

    @property
    def is_full(self) -> bool:
        return self.name == "full"

    def pick(self, **per_profile):
        """Return the value for this profile: ``profile.pick(full=5, cpu=5, smoke=1)``."""
        if self.name not in per_profile:
            raise ProfileError(f"no value given for profile {self.name!r} (got {sorted(per_profile)})")
        return per_profile[self.name]

    def describe(self) -> str:
        dev = self.device
        if dev == "cuda":
            import torch

            dev = f"cuda ({torch.cuda.get_device_name(0)})"
        else:
            dev = f"cpu ({os.cpu_count()} cores, {platform.machine()})"
        return f"frlab profile: {self.name} | device: {dev}"


def current(name: str | None = None) -> Profile:
    """The active profile; raises :class:`ProfileError` on an unknown name."""
    name = name or os.environ.get(ENV_VAR) or ("full" if _cuda_available() else "smoke")
    name = name.strip().lower()
    if name not in PROFILES:
        raise ProfileError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)} (set {ENV_VAR})")
    device = "cuda" if _cuda_available() else "cpu"
    return Profile(name=name, device=device)


def banner(name: str | None = None) -> Profile:
    """Print and return the active profile; every notebook calls this first."""
    prof = current(name)
    print(prof.describe())
    return prof
