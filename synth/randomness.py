"""Independent, named random streams so that every stage is reproducible on its own.

Each stage draws from `Generator(PCG64(SeedSequence([seed, stage_hash])))`: adding draws to one
stage does not shift the numbers another stage sees, and nothing depends on time or on the
iteration order of dicts or sets.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """A generator for one named stage of the synthesis, derived from the run seed."""
    stage_key = int.from_bytes(hashlib.sha256(stage.encode("utf-8")).digest()[:8], "big")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), stage_key])))


def pick(rng: np.random.Generator, values: tuple | list, probs: tuple | list, size: int) -> np.ndarray:
    """Vectorised categorical draw with explicit probabilities (normalised here)."""
    p = np.asarray(probs, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=size, p=p / p.sum())]
