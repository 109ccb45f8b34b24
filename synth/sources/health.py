"""GP-registered population: nearly everyone, one row per registration.

Hard cases made here: registered addresses left out of date after a move (the practice was
never told), and a few people registered twice under two NHS numbers (a temporary
registration never merged) - the agency's own duplicates.
"""

from __future__ import annotations

import numpy as np

from synth import identifiers
from synth.addresses import all_localities
from synth.sources import Context, Extract, finish, fresh_ids

SOURCE = "health"


def practice_codes(rng: np.random.Generator, n_people: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, first index per locality): about one practice per 7,000 residents."""
    n_loc = len(all_localities())
    per_loc = max(1, round(n_people / 7000 / 24))
    nums = identifiers.unique_ints(rng, 1000, 99999, n_loc * per_loc)
    letters = np.array(list("BCDFGHJKLMNPY"))[rng.integers(0, 13, n_loc * per_loc)]
    codes = identifiers.padded(letters, np.sort(nums), 5)
    return codes, np.arange(n_loc) * per_loc


def build(ctx: Context) -> Extract:
    pop, cfg, rng = ctx.pop, ctx.cfg, ctx.rng(SOURCE)
    P, H = pop.n_people, pop.n_households
    age, male = pop.age_now, pop.sex == "M"
    need = pop.hh_need[pop.hh]

    # Who is registered: nearly everyone; young men least often.
    p_reg = np.where((age >= 18) & (age < 35) & male, cfg.gp_registered - 0.05, cfg.gp_registered + 0.01)
    pidx = np.flatnonzero(rng.random(P) < p_reg)
    dup = pidx[rng.random(pidx.size) < cfg.health_duplicate]
    rows = np.concatenate([pidx, dup])
    is_dup = np.concatenate([np.zeros(pidx.size, bool), np.ones(dup.size, bool)])
    n = rows.size

    nhs = pop.ids["nhs_number"][rows].copy()
    nhs[is_dup] = fresh_ids(rng, identifiers.nhs_numbers, int(is_dup.sum()), pop.ids["nhs_number"])

    # Registered address: out of date for many movers (a household tends to move together).
    h = pop.hh[rows]
    prev = pop.hh_prev_dwelling[h]
    moved = prev >= 0
    hh_stale = rng.random(H) < 0.45
    stale = moved & ((hh_stale[h] & (rng.random(n) < 0.9)) | is_dup)
    d = np.where(stale, prev, pop.hh_dwelling[h])

    codes, first = practice_codes(rng, P)
    per_loc = int(first[1] - first[0]) if first.size > 1 else codes.size
    hh_u = rng.random(H)
    practice = codes[first[ctx.dw.locality_id[d]] + np.minimum((hh_u[h] * per_loc).astype(int), per_loc - 1)]

    # Indicators, concentrated in households with need.
    a, ne = age[rows], need[rows]
    adult = a >= 18
    p_mh = np.where(
        adult, np.array([0.035, 0.17, 0.36])[ne], np.where(a >= 12, np.array([0.015, 0.06, 0.12])[ne], 0.004)
    )
    mh = rng.random(n) < p_mh
    p_sm = np.where(a >= 16, np.array([0.01, 0.04, 0.13])[ne], 0.0)
    sm = rng.random(n) < p_sm
    lam = np.where(a < 18, np.array([0.28, 0.5, 1.0])[ne], np.array([0.22, 0.4, 0.8])[ne])
    lam = np.where(a >= 75, lam + 0.3, lam) * rng.gamma(1.5, 1 / 1.5, n)
    ae = rng.poisson(lam)
    mh, sm, ae = mh & ~is_dup, sm & ~is_dup, np.where(is_dup, 0, ae)

    r = ctx.renderer(SOURCE)
    dob, blank = r.dob(rows)
    cols = {
        "nhs_number_token": ctx.tokens(nhs),
        "forename": r.forenames(rows),
        "surname": r.surnames(rows),
        "dob": ctx.fmt(SOURCE, dob, blank),
        "sex": r.sex(rows),
        **r.address_lines(d, rows, 3),
        "postcode": r.postcode(d),
        "gp_practice_code": practice,
        "mental_health": mh.astype(int),
        "substance_misuse": sm.astype(int),
        "ae_attendances_12m": ae,
    }
    flags = dict(r.flags)
    flags["stale_address"] = stale
    flags["agency_duplicate"] = is_dup
    pop.ids["nhs_number_duplicate"] = _dup_map(P, dup, nhs[is_dup])
    order = rng.permutation(n)
    return finish(ctx, SOURCE, cols, rows, order, flags)


def _dup_map(P: int, people: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    out = np.full(P, "", dtype=object)
    out[people] = numbers
    return out
