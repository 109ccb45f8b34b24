"""The full electoral register: adults (and 16-17 year old attainers) at their address, no dob.

Coverage is incomplete (about 86% of eligible adults, fewer among recent movers and young
adults); some recent movers are still listed at their old address. Rows are in register order:
polling district, then address, with elector numbers running within the district.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.addresses import all_localities
from synth.sources import Context, Extract, finish

SOURCE = "electoral_register"
# Share eligible for the local government register, by naming tradition (names.GROUPS order):
# British, Irish and Commonwealth citizens, and EU citizens with settled status.
_ELIGIBLE = np.array([1.0, 0.85, 0.96, 0.9, 0.85, 0.99, 0.8, 0.8])


def polling_districts() -> np.ndarray:
    """A code per locality, e.g. 'AL3' (the letter pair names the ward)."""
    n = len(all_localities())
    return np.array([f"{chr(65 + i // 9)}L{1 + i % 9}" for i in range(n)], dtype=object)


def build(ctx: Context) -> Extract:
    pop, cfg, rng = ctx.pop, ctx.cfg, ctx.rng(SOURCE)
    P = pop.n_people
    age = pop.age_now
    h = pop.hh
    recent = (ctx.ref - pop.hh_moved_on[h]) < 365
    eligible = rng.random(P) < _ELIGIBLE[pop.group]
    p = np.where(age >= 18, cfg.electoral_coverage, np.where(age >= 16, cfg.attainer_coverage, 0.0))
    p = np.where((age >= 18) & (age < 25), p - 0.15, p)
    p = np.where(recent, p * 0.55, p)
    on_register = eligible & (rng.random(P) < p)
    # Recent movers not yet registered at the new address may still be listed at the old one.
    prev = pop.hh_prev_dwelling[h]
    stale = eligible & recent & ~on_register & (age >= 18) & (prev >= 0) & (rng.random(P) < 0.35)
    stale &= ctx.dw.in_area[np.maximum(prev, 0)]
    rows = np.flatnonzero(on_register | stale)
    stale_r = stale[rows]
    d = np.where(stale_r, prev[rows], pop.hh_dwelling[h[rows]])

    # Register order and elector numbers.
    pdist = polling_districts()[ctx.dw.locality_id[d]]
    order = np.lexsort((pop.forename[rows], pop.surname[rows], d, pdist))
    rank = np.empty(rows.size, dtype="int64")
    pd_sorted = pdist[order]
    starts = np.r_[0, np.flatnonzero(pd_sorted[1:] != pd_sorted[:-1]) + 1]
    run = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
    rank[order] = run + 1
    elector = (pd.Series(pdist, dtype=object) + "-" + pd.Series(rank.astype(str), dtype=object)).to_numpy(dtype=object)

    r = ctx.renderer(SOURCE)
    attainer = age[rows] < 18
    cols = {
        "elector_number": elector,
        "forename": r.forenames(rows),
        "middle_names": r.middle_names(rows),
        "surname": r.surnames(rows),
        **r.address_lines(d, rows, 4),
        "postcode": r.postcode(d),
        "uprn": r.uprn(d),
        "attainer_dob": ctx.fmt(SOURCE, pop.dob[rows], ~attainer),
    }
    flags = dict(r.flags)
    flags["stale_address"] = stale_r
    return finish(ctx, SOURCE, cols, rows, order, flags)
