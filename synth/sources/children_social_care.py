"""Children's social care: one row per child per episode (CIN, CP, LAC, early help).

Episodes are opened for a household's children together (siblings usually share a plan), far
more often where there is need; some are still open at the extract date, others have closed.
"""

from __future__ import annotations

import numpy as np

from synth import identifiers
from synth.population import CHILD
from synth.randomness import pick
from synth.sources import Context, Extract, finish

SOURCE = "children_social_care"
CATEGORIES = ["EARLY_HELP", "CIN", "CP", "LAC"]
MEAN_DAYS = {"EARLY_HELP": 200, "CIN": 300, "CP": 330, "LAC": 600}


def build(ctx: Context) -> Extract:
    pop, rng = ctx.pop, ctx.rng(SOURCE)
    H = pop.n_households
    ref = ctx.ref
    kids = np.flatnonzero(pop.role == CHILD)
    n_kids = np.bincount(pop.hh[kids], minlength=H)
    p = np.array([0.014, 0.10, 0.36])[pop.hh_need] * (n_kids > 0)
    n_ep = rng.poisson(p * 1.2) * (rng.random(H) < p * 2.5).astype(int)
    n_ep = np.where((n_ep == 0) & (rng.random(H) < p), 1, n_ep)
    ep_h = np.repeat(np.arange(H), n_ep)
    E = ep_h.size
    cat = pick(rng, CATEGORIES, [0.42, 0.34, 0.15, 0.09], E)
    start = ref - rng.integers(1, 3 * 365, E)
    dur = np.array([MEAN_DAYS[c] for c in cat]) * rng.gamma(2.0, 0.5, E)
    end = start + dur.astype(int)
    open_ = end >= ref
    end = np.where(open_, -1, end)
    # Children of the household in each episode: each with probability 0.75, at least one.
    kid_rows = kids[np.argsort(pop.hh[kids], kind="stable")]
    kh = pop.hh[kid_rows]
    first = np.searchsorted(kh, np.arange(H))
    counts = n_kids[ep_h]
    ep_of = np.repeat(np.arange(E), counts)
    within = np.arange(ep_of.size) - np.repeat(np.cumsum(counts) - counts, counts)
    child = kid_rows[first[ep_h][ep_of] + within]
    take = rng.random(ep_of.size) < 0.75
    lead = within == rng.integers(0, np.maximum(counts, 1))[ep_of]
    take = (take | lead) & (pop.dob[child] <= start[ep_of])
    ep_of, child = ep_of[take], child[take]

    child_ids = np.full(pop.n_people, "", dtype=object)
    uc = np.unique(child)
    child_ids[uc] = identifiers.prefixed_numbers(rng, "CH", 7, uc.size)
    pop.ids["la_child_id"] = child_ids
    rows = child
    n = rows.size
    h = pop.hh[rows]
    # Social care records the current address; a few families who moved are still at the old one.
    prev = pop.hh_prev_dwelling[h]
    stale = (prev >= 0) & (rng.random(H)[h] < 0.1)
    d = np.where(stale, prev, pop.hh_dwelling[h])
    r = ctx.renderer(SOURCE)
    dob, blank = r.dob(rows)
    cols = {
        "child_token": ctx.tokens(child_ids[rows]),
        "forename": r.forenames(rows, titles=False),
        "surname": r.surnames(rows),
        "dob": ctx.fmt(SOURCE, dob, blank),
        "sex": r.sex(rows),
        **r.address_lines(d, rows, 2),
        "postcode": r.postcode(d),
        "uprn": r.uprn(d),
        "category": cat[ep_of],
        "start_date": ctx.fmt(SOURCE, start[ep_of]),
        "end_date": ctx.fmt(SOURCE, np.maximum(end[ep_of], 0), end[ep_of] < 0),
    }
    flags = dict(r.flags)
    flags["stale_address"] = stale
    order = np.lexsort((rng.random(n), start[ep_of]))
    return finish(ctx, SOURCE, cols, rows, order, flags)
