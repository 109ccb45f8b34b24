"""Seconds per step of a stage, for its lineage record: where a run's time goes, without a profiler."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Laps:
    """A stopwatch whose `lap(step)` records the seconds since the last lap (or since it was made)."""

    clock: float = field(default_factory=time.perf_counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(self.seconds.get(step, 0.0) + now - self.clock, 3)
        self.clock = now
