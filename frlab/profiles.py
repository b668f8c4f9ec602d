"""Run profiles: one code path, three sizes.

* ``full``  – GPU, the course's assets and hyper-parameters.
* ``cpu``   – the CPU reference runs stored in ``results/`` (our own base model,
  whole CLS-Books, course hyper-parameters; tens of minutes on 2 cores).
* ``smoke`` – 2-core CPU in minutes: tiny models and data slices; what CI runs.

Select with the environment variable ``FRLAB_PROFILE`` (or pass ``name=``).
Without it: ``full`` when a CUDA GPU is visible, else ``smoke``. ``FRLAB_SEEDS=N`` runs the first N seeds of the
chapters' seed list instead of all three (the main job on a CPU runs one: ``make run``). ``FRLAB_MAX_UPDATES=N``
caps every training run at N updates, applied by the library where the runs start (fairseq ``--max-update`` in
``frlab.fairseq.finetune.run_training``, the ``Trainer``'s ``max_steps`` in ``frlab.hf.finetune.one_device``, Part 4's
steps through :meth:`Profile.capped`), so the chapters' commands stay the same: a rehearsal of a
profile's plumbing at its real sizes (``python -m labtools.full_rehearsal``, ``make gpu-check``), never results.
Capped runs say so in their records and are not judged as the profile's results (:mod:`frlab.plausibility`).

The environment is read in one place, :func:`current`. An entry point resolves the profile once — a notebook
with ``PROFILE = profiles.banner()``, a command line with ``--profile`` — and passes the :class:`Profile` down;
library functions take ``profile`` (a :class:`Profile`, a name, or ``None`` for the active one) and normalise it
with :func:`resolve`. :func:`banner` makes its profile the active one of the process.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass

PROFILES = ("full", "cpu", "smoke")
ENV_VAR = "FRLAB_PROFILE"
SEEDS_VAR = "FRLAB_SEEDS"
MAX_UPDATES_VAR = "FRLAB_MAX_UPDATES"


class ProfileError(ValueError):
    pass


@functools.lru_cache(maxsize=1)
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
    seeds: int | None = None  # run only the first ``seeds`` seeds of each experiment (None: all)
    max_updates: int | None = None  # cap on the updates of every training run (None: as planned)

    @property
    def is_full(self) -> bool:
        return self.name == "full"

    def pick(self, **per_profile):
        """Return the value for this profile: ``profile.pick(full=5, cpu=5, smoke=1)``."""
        if self.name not in per_profile:
            raise ProfileError(f"no value given for profile {self.name!r} (got {sorted(per_profile)})")
        return per_profile[self.name]

    def capped(self, updates: int | None) -> int | None:
        """``updates`` under this profile's step cap: the smaller of the two (the cap when ``updates`` is None or
        not positive, i.e. "until the end of the epochs"); ``updates`` itself without a cap."""
        if self.max_updates is None:
            return updates
        if updates is None or updates <= 0:
            return self.max_updates
        return min(int(updates), self.max_updates)

    def describe(self) -> str:
        dev = self.device
        if dev == "cuda":
            import torch

            dev = f"cuda ({torch.cuda.get_device_name(0)})"
        else:
            dev = f"cpu ({os.cpu_count()} cores, {platform.machine()})"
        seeds = f" | seeds: first {self.seeds} only ({SEEDS_VAR})" if self.seeds else ""
        cap = (
            f" | STEP CAP: at most {self.max_updates} updates per run ({MAX_UPDATES_VAR}; a rehearsal, not results)"
            if self.max_updates
            else ""
        )
        return f"frlab profile: {self.name} | device: {dev}{seeds}{cap}"


_ACTIVE: Profile | None = None


def current(name: str | None = None) -> Profile:
    """The profile named ``name``, else ``FRLAB_PROFILE``, else the default; :class:`ProfileError` on an unknown
    name. The only function that reads the environment."""
    name = name or os.environ.get(ENV_VAR) or ("full" if _cuda_available() else "smoke")
    name = name.strip().lower()
    if name not in PROFILES:
        raise ProfileError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)} (set {ENV_VAR})")
    device = "cuda" if _cuda_available() else "cpu"
    seeds = os.environ.get(SEEDS_VAR, "").strip()
    if seeds and not (seeds.isdigit() and int(seeds) > 0):
        raise ProfileError(f"{SEEDS_VAR} must be a positive number of seeds, not {seeds!r}")
    cap = os.environ.get(MAX_UPDATES_VAR, "").strip()
    if cap and not (cap.isdigit() and int(cap) > 0):
        raise ProfileError(f"{MAX_UPDATES_VAR} must be a positive number of updates, not {cap!r}")
    return Profile(name=name, device=device, seeds=int(seeds) if seeds else None, max_updates=int(cap) if cap else None)


def activate(profile: Profile | None) -> Profile | None:
    """Make ``profile`` the process's active profile (``None``: forget it, the next use resolves again)."""
    global _ACTIVE
    _ACTIVE = profile
    return profile


def resolve(profile: Profile | str | None = None) -> Profile:
    """``profile`` as a :class:`Profile`: itself, the one of that name, or (``None``) the active one."""
    if isinstance(profile, Profile):
        return profile
    if profile is not None:
        return current(profile)
    if _ACTIVE is None or os.environ.get(ENV_VAR, _ACTIVE.name).strip().lower() != _ACTIVE.name:
        return current()  # nothing activated, or the environment was changed since (tests, scripts)
    return _ACTIVE


def banner(name: str | None = None) -> Profile:
    """Resolve the profile once, make it the active one, print it and return it; every notebook calls this first."""
    prof = activate(current(name))
    print(prof.describe())
    return prof
