"""Reproducible torch randomness from a scikit-learn ``random_state``.

Library code never seeds torch's global generator. Randomness comes from a
local :class:`torch.Generator`, or, where torch offers no generator argument
(module initialisation), from a forked global state that is restored after
use (:func:`torch.random.fork_rng`).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from sklearn.utils import check_random_state


def torch_seed(random_state) -> int:
    """Draw a 63-bit seed from a ``random_state`` (None, int or RandomState).

    An int always gives the same seed; a RandomState instance advances.
    """
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max)) * 2**31 + int(
        rng.randint(np.iinfo(np.int32).max)
    )


def torch_generator(random_state, device="cpu") -> torch.Generator:
    """Return a :class:`torch.Generator` on ``device`` seeded from ``random_state``.

    Examples
    --------
    >>> g1, g2 = torch_generator(0), torch_generator(0)
    >>> bool(torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2)))
    True
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(torch_seed(random_state))
    return generator


@contextlib.contextmanager
def forked_torch_rng(seed: int | None, device: torch.device | None = None):
    """Run a block under a temporarily seeded global torch RNG.

    The global CPU (and, for a CUDA ``device``, that device's) generator
    state is saved and restored, so the caller's RNG stream is untouched.
    With ``seed=None`` the block runs on the global RNG unchanged.
    """
    if seed is None:
        yield
        return
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        devices = [torch.device(device).index or 0]
    with torch.random.fork_rng(devices=devices):
        seed_forked(seed, devices)
        yield


def seed_forked(seed: int, cuda_devices=()) -> None:
    """Seed torch's CPU generator and the given CUDA devices' generators only.

    Inside :func:`torch.random.fork_rng` (``devices=cuda_devices``): the
    generators it restores afterwards. ``torch.manual_seed`` would also
    reseed every CUDA generator, which ``fork_rng(devices=[])`` does not
    save or restore, so a caller's CUDA stream would be changed for good.
    """
    torch.default_generator.manual_seed(int(seed))
    for index in cuda_devices:
        with torch.cuda.device(index):
            torch.cuda.manual_seed(int(seed))
