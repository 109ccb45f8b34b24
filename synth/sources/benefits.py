"""Benefits (DWP and council): one row per person per claim.

Benefit units are a family (reference person, partner, dependent children) or a single adult
(adult child, sharer, grandparents as a couple). Working-age units with need claim Universal
Credit (with a work group) or a legacy benefit; Council Tax Reduction and Housing Benefit run
alongside; pensioners claim HB/CTR; PIP and Carer's Allowance are personal claims. Some claims
have ended. Claimant, partner and dependants share the claim token; dependants have no NI token.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from synth import dates, identifiers
from synth.population import CHILD, GRANDPARENT, HRP, PARTNER
from synth.randomness import pick
from synth.sources import Context, Extract, finish

SOURCE = "benefits"
UC_START = dates.day_number(dt.date(2016, 1, 1))
UC_GROUPS = ["SEARCHING", "PREPARING", "PLANNING", "NO_WORK_REQUIREMENTS", "WORKING"]


def _units(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(unit key per person, dependent flag): family units, grandparent units, single adults."""
    pop = ctx.pop
    role, h = pop.role, pop.hh
    h_start = np.r_[0, np.flatnonzero(np.diff(h)) + 1]
    off = np.arange(pop.n_people) - h_start[h]
    sub = np.select([np.isin(role, [HRP, PARTNER, CHILD]), role == GRANDPARENT], [0, 1], 2 + off)
    return h.astype("int64") * 64 + sub, role == CHILD


def build(ctx: Context) -> Extract:
    pop, rng = ctx.pop, ctx.rng(SOURCE)
    ref = ctx.ref
    age = pop.age_now
    unit_key, dependant = _units(ctx)
    ukeys, unit = np.unique(unit_key, return_inverse=True)
    U = ukeys.size
    # Unit facts.
    adult_first = np.lexsort((dependant, unit))  # adults before children in each unit
    first_in_unit = np.r_[True, unit[adult_first][1:] != unit[adult_first][:-1]]
    head = np.full(U, -1)
    head[unit[adult_first][first_in_unit]] = adult_first[first_in_unit]
    n_adults = np.bincount(unit, weights=~dependant, minlength=U).astype(int)
    n_kids = np.bincount(unit, weights=dependant, minlength=U).astype(int)
    youngest_kid = np.full(U, 99)
    np.minimum.at(youngest_kid, unit[dependant], age[dependant])
    head_age = age[head]
    need = pop.hh_need[pop.hh[head]]
    working_age = (head_age >= 18) & (head_age < 66)
    pensioner = head_age >= 66
    lone = (n_adults == 1) & (n_kids > 0)
    valid = head_age >= 18

    # Live main claim: UC or a legacy benefit.
    p_uc = np.array([0.045, 0.32, 0.62])[need] * np.where(lone, 1.7, 1.0)
    p_leg = np.array([0.015, 0.05, 0.09])[need]
    u = rng.random(U)
    uc = valid & working_age & (u < p_uc)
    legacy = valid & working_age & ~uc & (u < p_uc + p_leg)
    wg_p = np.where(need[:, None] == 0, [0.2, 0.04, 0.06, 0.15, 0.55], [0.34, 0.06, 0.08, 0.30, 0.22])
    wg = np.array([UC_GROUPS[i] for i in (wg_p.cumsum(1) > rng.random(U)[:, None]).argmax(1)], dtype=object)
    wg = np.where(
        lone & (youngest_kid < 3) & (rng.random(U) < 0.7),
        np.where(youngest_kid < 1, "NO_WORK_REQUIREMENTS", "PLANNING"),
        wg,
    )
    leg_type = pick(rng, ["ESA", "JSA", "IS", "IB", "SDA", "CA"], [0.55, 0.12, 0.18, 0.06, 0.02, 0.07], U)

    claims_unit, claims_type, claims_wg, claims_start, claims_end, claims_people_mode = [], [], [], [], [], []

    def add(
        mask: np.ndarray, types: np.ndarray | str, start: np.ndarray, end: np.ndarray | None, mode: str, wgs=None
    ) -> None:
        idx = np.flatnonzero(mask)
        claims_unit.append(idx)
        claims_type.append(
            np.broadcast_to(np.asarray(types, dtype=object), (U,))[idx]
            if np.ndim(types)
            else np.full(idx.size, types, dtype=object)
        )
        claims_wg.append(wgs[idx] if wgs is not None else np.full(idx.size, "", dtype=object))
        claims_start.append(start[idx])
        claims_end.append(np.full(idx.size, -1) if end is None else end[idx])
        claims_people_mode.append(np.full(idx.size, mode, dtype=object))

    uc_start = np.maximum(UC_START, ref - rng.exponential(700, U).astype(int) - 1)
    add(uc, "UC", uc_start, None, "family", wg)
    leg_start = ref - rng.exponential(1800, U).astype(int) - 30
    leg_mode = np.where(np.isin(leg_type, ["IS"]), "family", "couple")
    add(legacy & (leg_mode == "family"), leg_type, leg_start, None, "family")
    add(legacy & (leg_mode == "couple"), leg_type, leg_start, None, "couple")
    # Council Tax Reduction and Housing Benefit alongside.
    ctr = (
        (uc & (rng.random(U) < 0.65)) | (legacy & (rng.random(U) < 0.8)) | (valid & pensioner & (rng.random(U) < 0.16))
    )
    hb = (legacy & (rng.random(U) < 0.6)) | (valid & pensioner & (rng.random(U) < 0.11)) | (uc & (rng.random(U) < 0.04))
    main_start = np.where(uc, uc_start, np.where(legacy, leg_start, ref - rng.exponential(1500, U).astype(int) - 30))
    add(ctr, "CTR", main_start + rng.integers(0, 60, U), None, "family")
    add(hb, "HB", main_start + rng.integers(0, 60, U), None, "family")
    # Ended claims: people who found work or moved between benefits.
    p_end = np.array([0.07, 0.16, 0.22])[need]
    ended = valid & working_age & (rng.random(U) < p_end)
    e_type = pick(rng, ["UC", "JSA", "ESA", "CTR", "HB"], [0.55, 0.15, 0.1, 0.12, 0.08], U)
    e_start = ref - rng.integers(200, 2600, U)
    e_start = np.where(e_type == "UC", np.maximum(e_start, UC_START), e_start)
    e_end = np.minimum(e_start + rng.integers(30, 900, U), ref - 1)
    e_wg = np.where(e_type == "UC", pick(rng, UC_GROUPS, [0.4, 0.05, 0.05, 0.15, 0.35], U), "")
    e_mode = np.where(np.isin(e_type, ["UC", "CTR", "HB"]), "family", "couple")
    add(ended & (e_mode == "family"), e_type, e_start, e_end, "family", e_wg.astype(object))
    add(ended & (e_mode == "couple"), e_type, e_start, e_end, "couple")

    # Personal claims: PIP and Carer's Allowance.
    adults = np.flatnonzero((age >= 16) & (age < 80) & ~dependant)
    need_a = pop.hh_need[pop.hh[adults]]
    pip = adults[rng.random(adults.size) < np.array([0.045, 0.09, 0.14])[need_a]]
    ca = adults[rng.random(adults.size) < np.array([0.012, 0.03, 0.04])[need_a]]
    ca = ca[(age[ca] >= 16) & (age[ca] < 66)]

    # Expand claims to people; nobody claims before their 18th birthday.
    c_unit = np.concatenate(claims_unit)
    c_type = np.concatenate(claims_type)
    c_wg = np.concatenate(claims_wg)
    c_start = np.concatenate(claims_start)
    c_end = np.concatenate(claims_end)
    c_mode = np.concatenate(claims_people_mode)
    adult_from = pop.dob[head[c_unit]] + 6575
    c_start = np.minimum(np.maximum(c_start, adult_from), ref)
    keep = (c_end < 0) | (c_end > c_start)
    c_unit, c_type, c_wg, c_start, c_end, c_mode = (x[keep] for x in (c_unit, c_type, c_wg, c_start, c_end, c_mode))
    members = pd.DataFrame({"unit": unit, "person": np.arange(pop.n_people), "dep": dependant})
    members = members[members.unit.isin(np.unique(c_unit))]
    claims = pd.DataFrame({"claim": np.arange(c_unit.size), "unit": c_unit, "mode": c_mode})
    m = claims.merge(members, on="unit", how="inner", sort=False)
    m = m[~((m["mode"] == "couple") & m["dep"])].sort_values(["claim", "dep", "person"], kind="stable")
    claim_of = m["claim"].to_numpy()
    person = m["person"].to_numpy()
    dep_row = m["dep"].to_numpy()
    # Claimant: the unit head, or in some couples the partner.
    first = np.r_[True, claim_of[1:] != claim_of[:-1]]
    swap = rng.random(c_unit.size) < 0.3
    pos = np.arange(claim_of.size) - np.repeat(
        np.flatnonzero(first), np.diff(np.r_[np.flatnonzero(first), claim_of.size])
    )
    n_ad = np.bincount(claim_of, weights=~dep_row, minlength=c_unit.size)
    claimant_pos = np.where(swap & (n_ad >= 2), 1, 0)
    role = np.where(dep_row, "DEPENDANT", np.where(pos == claimant_pos[claim_of], "CLAIMANT", "PARTNER")).astype(object)

    # Personal claims.
    p_people = np.concatenate([pip, ca])
    p_type = np.concatenate([np.full(pip.size, "PIP", dtype=object), np.full(ca.size, "CA", dtype=object)])
    p_start = ref - rng.exponential(1200, p_people.size).astype(int) - 10
    p_start = np.minimum(np.maximum(p_start, pop.dob[p_people] + 5844), ref)
    n_claims = c_unit.size + p_people.size
    claim_of = np.concatenate([claim_of, c_unit.size + np.arange(p_people.size)])
    person = np.concatenate([person, p_people])
    role = np.concatenate([role, np.full(p_people.size, "CLAIMANT", dtype=object)])
    all_type = np.concatenate([c_type, p_type])
    all_wg = np.concatenate([c_wg, np.full(p_people.size, "", dtype=object)])
    all_start = np.concatenate([c_start, p_start])
    all_end = np.concatenate([c_end, np.full(p_people.size, -1)])

    claim_ref = identifiers.prefixed_numbers(rng, "CR", 10, n_claims)
    rows = person
    ni = np.where(role == "DEPENDANT", "", pop.ids["ni_number"][rows]).astype(object)
    ni_tok = ctx.tokens(ni)
    ni_tok = np.where(ni == "", "", ni_tok).astype(object)
    # Address: DWP is usually told of a move, not always.
    h = pop.hh[rows]
    prev = pop.hh_prev_dwelling[h]
    stale = (prev >= 0) & (rng.random(pop.n_households)[h] < 0.06)
    d = np.where(stale, prev, pop.hh_dwelling[h])
    r = ctx.renderer(SOURCE)
    dob, blank = r.dob(rows)
    start = all_start[claim_of]
    end = all_end[claim_of]
    cols = {
        "claim_token": ctx.tokens(claim_ref)[claim_of],
        "ni_number_token": ni_tok,
        "role": role,
        "forename": r.forenames(rows),
        "surname": r.surnames(rows),
        "dob": ctx.fmt(SOURCE, dob, blank),
        "sex": r.sex(rows),
        **r.address_lines(d, rows, 3),
        "postcode": r.postcode(d),
        "uprn": r.uprn(d),
        "benefit_type": all_type[claim_of],
        "uc_work_group": all_wg[claim_of],
        "claim_start": ctx.fmt(SOURCE, start),
        "claim_end": ctx.fmt(SOURCE, end, end < 0),
    }
    flags = dict(r.flags)
    flags["stale_address"] = stale
    order = np.lexsort((role_rank(role), claim_of, all_start[claim_of]))
    return finish(ctx, SOURCE, cols, rows, order, flags)


def role_rank(role: np.ndarray) -> np.ndarray:
    return np.select([role == "CLAIMANT", role == "PARTNER"], [0, 1], 2)
