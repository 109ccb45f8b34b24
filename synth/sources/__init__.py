"""One module per agency: who appears in its extract, when and where, and its own fields.

Each module has `build(ctx) -> Extract`. The row order of an extract is the agency's own (by
event date, by register order, at random for the GP list) so that rows of one household are
not adjacent by construction, and `source_record_id` numbers rows in that order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synth import dates, identifiers
from synth.addresses import Dwellings
from synth.config import SynthConfig
from synth.corrupt import PROFILES
from synth.population import Population
from synth.randomness import stage_rng
from synth.render import Renderer
from synth.schema import COLUMNS, DMY_SOURCES, RECORD_ID_PREFIX


@dataclass
class Context:
    """Everything a source needs: the true population, the gazetteer, rates, key and dates."""

    pop: Population
    dw: Dwellings
    cfg: SynthConfig
    seed: int
    extract_date: dt.date
    key: bytes

    @property
    def ref(self) -> int:
        return self.pop.ref_day

    def rng(self, stage: str) -> np.random.Generator:
        return stage_rng(self.seed, stage)

    def renderer(self, source: str) -> Renderer:
        return Renderer(self.pop, self.dw, self.rng(f"{source}/render"), PROFILES[source])

    def fmt(self, source: str, days: np.ndarray, blank: np.ndarray | None = None) -> np.ndarray:
        """Dates as the source writes them (police DD/MM/YYYY, everyone else ISO)."""
        return dates.format_dates(days, "dmy" if source in DMY_SOURCES else "iso", blank)

    def tokens(self, values: np.ndarray) -> np.ndarray:
        return identifiers.tokens(values, self.key)


@dataclass
class Extract:
    """A finished extract: spec columns as text, plus the truth behind each row."""

    source: str
    frame: pd.DataFrame
    pidx: np.ndarray  # person index of each row
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # hard-case row masks


def fresh_ids(rng: np.random.Generator, make, n: int, existing: np.ndarray) -> np.ndarray:
    """`n` new identifiers from `make(rng, k)` that collide with none in `existing`."""
    taken = set(existing.tolist())
    out: list = []
    while len(out) < n:
        for c in make(rng, (n - len(out)) + 16).tolist():
            if c not in taken and len(out) < n:
                taken.add(c)
                out.append(c)
    return np.array(out, dtype=object)


def finish(
    ctx: Context,
    source: str,
    cols: dict[str, np.ndarray],
    pidx: np.ndarray,
    order: np.ndarray,
    flags: dict[str, np.ndarray],
) -> Extract:
    """Put rows in the agency's order, number them and lay out the spec's columns."""
    n = pidx.size
    width = max(7, len(str(n)))
    ids = identifiers.padded(RECORD_ID_PREFIX[source], np.arange(1, n + 1), width)
    data: dict[str, np.ndarray] = {}
    for c in COLUMNS[source]:
        if c == "source_record_id":
            data[c] = ids.astype(object)
        elif c == "extract_date":
            data[c] = np.full(n, ctx.extract_date.isoformat(), dtype=object)
        else:
            v = np.asarray(cols[c])
            data[c] = (v if v.dtype == object else v.astype(str).astype(object))[order]
    extra = set(cols) - set(COLUMNS[source])
    if extra:
        raise KeyError(f"{source}: columns not in the spec: {sorted(extra)}")
    frame = pd.DataFrame(data, columns=list(COLUMNS[source]))
    return Extract(source, frame, pidx[order], {k: v[order] for k, v in sorted(flags.items())})
