"""Police: one row per person per event (offences, anti-social behaviour, domestic abuse), 3 years.

Offending is concentrated in young men and in households with need, with a heavy-tailed
individual propensity (a few prolific offenders). Victims and witnesses appear too. Domestic
abuse is recorded for both partners of a couple (and sometimes a child witness); lone mothers
appear as victims of ex-partners who live elsewhere. The address is the one at the event date,
so events before a move carry the old address. Forces hold some people under two nominals.
"""

from __future__ import annotations

import numpy as np

from synth import dates, identifiers
from synth.population import CHILD, HRP, PARTNER
from synth.randomness import pick
from synth.sources import Context, Extract, finish, fresh_ids

SOURCE = "police"
WINDOW_DAYS = 3 * 365


def _age_base(age: np.ndarray, table: list[tuple[int, float]]) -> np.ndarray:
    bounds = [b for b, _ in table]
    vals = np.array([v for _, v in table] + [table[-1][1]])
    return vals[np.searchsorted(bounds, age, side="right") - 1] * (age >= bounds[0])


def build(ctx: Context) -> Extract:
    pop, cfg, rng = ctx.pop, ctx.cfg, ctx.rng(SOURCE)
    P, H = pop.n_people, pop.n_households
    age, male = pop.age_now, pop.sex == "M"
    need = pop.hh_need[pop.hh]
    start = ctx.ref - WINDOW_DAYS + 1

    pidx_l, day_l, type_l, out_l, role_l = [], [], [], [], []

    def add(people: np.ndarray, days: np.ndarray, etype: str, outcomes: np.ndarray, roles: np.ndarray) -> None:
        pidx_l.append(people)
        day_l.append(days)
        type_l.append(np.full(people.size, etype, dtype=object))
        out_l.append(np.asarray(outcomes, dtype=object))
        role_l.append(np.asarray(roles, dtype=object))

    def draw(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = rng.poisson(lam)
        people = np.repeat(np.arange(P), counts)
        return people, rng.integers(start, ctx.ref + 1, people.size)

    propensity = rng.gamma(0.35, 1 / 0.35, P)
    need_mult = np.array([1.0, 4.0, 12.0])[need]
    # Offences: offenders and suspects.
    lam = _age_base(age, [(10, 0.10), (18, 0.14), (25, 0.10), (35, 0.05), (50, 0.015), (65, 0.003)])
    lam = lam * np.where(male, 1.0, 0.25) * need_mult * propensity
    people, days = draw(lam)
    a_ev = dates.age_on(pop.dob[people], days)
    ok = a_ev >= 10
    people, days, a_ev = people[ok], days[ok], a_ev[ok]
    n = people.size
    suspect = rng.random(n) < 0.4
    youth = a_ev < 18
    adult_out = pick(rng, ["CONVICTION", "CAUTION", "CHARGE", "NFA"], [0.40, 0.15, 0.25, 0.20], n)
    youth_out = pick(
        rng,
        ["YOUTH_CAUTION", "YOUTH_CONDITIONAL_CAUTION", "CONVICTION", "CHARGE", "NFA"],
        [0.25, 0.15, 0.25, 0.2, 0.15],
        n,
    )
    susp_out = pick(rng, ["NFA", "CHARGE"], [0.75, 0.25], n)
    outcome = np.where(suspect, susp_out, np.where(youth, youth_out, adult_out))
    add(people, days, "OFFENCE", outcome, np.where(suspect, "SUSPECT", "OFFENDER"))
    # Victims and witnesses of offences.
    vmult = np.array([1.0, 1.8, 3.0])[need]
    for role, base in (("VICTIM", 0.07), ("WITNESS", 0.025)):
        lam = np.where(age >= 10, base, 0.01) * vmult
        people, days = draw(lam)
        ok = days >= pop.dob[people]
        people, days = people[ok], days[ok]
        add(
            people,
            days,
            "OFFENCE",
            pick(rng, ["NFA", "CHARGE", "CONVICTION", "CAUTION"], [0.55, 0.2, 0.18, 0.07], people.size),
            np.full(people.size, role, dtype=object),
        )
    # Anti-social behaviour.
    lam = (
        _age_base(age, [(10, 0.06), (18, 0.05), (26, 0.02), (40, 0.008)])
        * np.where(male, 1.0, 0.4)
        * need_mult
        * np.sqrt(propensity)
    )
    people, days = draw(lam)
    a_ev = dates.age_on(pop.dob[people], days)
    ok = a_ev >= 10
    people, days, a_ev = people[ok], days[ok], a_ev[ok]
    asb = ["WARNING", "ABC", "CPN", "CBO", "ASB_INJUNCTION", "ASBO", "HOUSING_ASB_EVICTION"]
    asb_p = [0.55, 0.12, 0.08, 0.06, 0.07, 0.01, 0.11]
    out = pick(rng, asb, asb_p, people.size)
    out = np.where((out == "HOUSING_ASB_EVICTION") & (a_ev < 18), "WARNING", out)
    add(people, days, "ASB", out, np.full(people.size, "OFFENDER", dtype=object))
    for role, base in (("VICTIM", 0.03), ("WITNESS", 0.015)):
        lam = np.where(age >= 16, base, 0.0) * vmult
        people, days = draw(lam)
        add(people, days, "ASB", pick(rng, asb, asb_p, people.size), np.full(people.size, role, dtype=object))

    # Domestic abuse within couples (both recorded) and against lone mothers by ex-partners.
    role, h = pop.role, pop.hh
    hrp = np.full(H, -1)
    hrp[h[role == HRP]] = np.flatnonzero(role == HRP)
    partner = np.full(H, -1)
    partner[h[role == PARTNER]] = np.flatnonzero(role == PARTNER)
    child = np.full(H, -1)
    cidx = np.flatnonzero(role == CHILD)
    child[h[cidx[::-1]]] = cidx[::-1]
    couple = (hrp >= 0) & (partner >= 0)
    da_lam = np.array([0.02, 0.12, 0.45])[pop.hh_need] * couple
    counts = rng.poisson(da_lam)
    ev_h = np.repeat(np.arange(H), counts)
    ev_day = rng.integers(start, ctx.ref + 1, ev_h.size)
    a, b = hrp[ev_h], partner[ev_h]
    a_male = pop.sex[a] == "M"
    perp_male = rng.random(ev_h.size) < 0.85
    offender = np.where(a_male == perp_male, a, b)
    victim = np.where(offender == a, b, a)
    add(
        offender,
        ev_day,
        "DOMESTIC_ABUSE",
        np.full(ev_h.size, "RECORDED", dtype=object),
        np.full(ev_h.size, "OFFENDER", dtype=object),
    )
    add(
        victim,
        ev_day,
        "DOMESTIC_ABUSE",
        np.full(ev_h.size, "RECORDED", dtype=object),
        np.full(ev_h.size, "VICTIM", dtype=object),
    )
    wit = (child[ev_h] >= 0) & (rng.random(ev_h.size) < 0.3)
    wit_p, wit_d = child[ev_h][wit], ev_day[wit]
    okw = dates.age_on(pop.dob[wit_p], wit_d) >= 4
    add(
        wit_p[okw],
        wit_d[okw],
        "DOMESTIC_ABUSE",
        np.full(int(okw.sum()), "RECORDED", dtype=object),
        np.full(int(okw.sum()), "WITNESS", dtype=object),
    )
    lone_f = (hrp >= 0) & (partner < 0) & (child >= 0) & (pop.sex[np.maximum(hrp, 0)] == "F")
    counts = rng.poisson(np.array([0.01, 0.07, 0.28])[pop.hh_need] * lone_f)
    ev_h = np.repeat(np.arange(H), counts)
    add(
        hrp[ev_h],
        rng.integers(start, ctx.ref + 1, ev_h.size),
        "DOMESTIC_ABUSE",
        np.full(ev_h.size, "RECORDED", dtype=object),
        np.full(ev_h.size, "VICTIM", dtype=object),
    )

    rows = np.concatenate(pidx_l)
    ev_days = np.concatenate(day_l)
    n = rows.size

    # Nominal numbers: one per person; some people held under a second nominal.
    people_u, first_row, counts = np.unique(rows, return_index=True, return_counts=True)
    nominal_of = np.full(P, "", dtype=object)
    nominal_of[people_u] = identifiers.prefixed_numbers(rng, "PN", 9, people_u.size)
    pop.ids["police_nominal"] = nominal_of
    dup_people = people_u[(counts >= 2) & (rng.random(people_u.size) < cfg.police_duplicate)]
    second = np.full(P, "", dtype=object)
    second[dup_people] = fresh_ids(
        rng, lambda g, k: identifiers.prefixed_numbers(g, "PN", 9, k), dup_people.size, nominal_of[people_u]
    )
    pop.ids["police_nominal_duplicate"] = second
    nominal = nominal_of[rows].copy()
    use2 = (second[rows] != "") & (rng.random(n) < 0.5)
    is_first = np.zeros(n, bool)
    is_first[first_row] = True
    use2 &= ~is_first
    # Make sure each duplicated person really has rows under both numbers.
    has2 = np.zeros(P, bool)
    has2[rows[use2]] = True
    need2 = (second[rows] != "") & ~has2[rows] & ~is_first
    first_need = np.unique(rows[need2], return_index=True)[1]
    use2[np.flatnonzero(need2)[first_need]] = True
    nominal[use2] = second[rows][use2]

    # Address at the event date; a few of no fixed abode.
    d = pop.dwelling_at(rows, ev_days)
    r = ctx.renderer(SOURCE)
    address = r.address_single(d, rows)
    postcode = r.postcode(d)
    nfa = rng.random(n) < 0.01
    address[nfa] = np.where(r.case_masks(rows)[0][nfa], "NO FIXED ABODE", "No fixed abode")
    postcode[nfa] = ""
    stale = d != pop.hh_dwelling[pop.hh[rows]]
    dob, blank = r.dob(rows)
    cols = {
        "nominal_token": ctx.tokens(nominal),
        "surname": r.surnames(rows),
        "forename": r.forenames(rows),
        "dob": ctx.fmt(SOURCE, dob, blank),
        "sex": r.sex(rows),
        "address": address,
        "postcode": postcode,
        "event_date": ctx.fmt(SOURCE, ev_days),
        "event_type": np.concatenate(type_l),
        "outcome": np.concatenate(out_l),
        "role": np.concatenate(role_l),
    }
    flags = dict(r.flags)
    flags["stale_address"] = stale & ~nfa
    flags["agency_duplicate"] = use2
    order = np.lexsort((rng.random(n), ev_days))
    return finish(ctx, SOURCE, cols, rows, order, flags)
