"""School census and attendance: one row per pupil per term, for the last three terms.

Pupils are children of statutory school age in each term's academic year (reception to year
11). Absence, suspensions, permanent exclusions and provision (PRU, alternative provision,
elective home education, not on roll) are drawn per pupil, more often in households with need.
Schools record a preferred forename (Bobby for Robert) beside the legal one.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from synth import dates, identifiers
from synth.addresses import all_localities, load_towns
from synth.names import load_tables
from synth.sources import Context, Extract, finish

SOURCE = "schools"
MAINSTREAM, PRU, AP, EHE, NOR = range(5)
PROVISION = np.array(
    ["MAINSTREAM", "PRU", "ALTERNATIVE_PROVISION", "ELECTIVE_HOME_EDUCATION", "NOT_ON_ROLL"], dtype=object
)


def _school_urns(rng: np.random.Generator, n_primary: np.ndarray, n_secondary: np.ndarray) -> tuple:
    """URNs per locality: about 280 pupils per primary and 1,100 per secondary, plus PRUs/AP."""
    k_p = np.maximum(1, np.ceil(n_primary / 280).astype(int))
    k_s = np.maximum(1, np.ceil(n_secondary / 1100).astype(int))
    total = int(k_p.sum() + k_s.sum() + 5)
    urns = np.sort(identifiers.unique_ints(rng, 100000, 150000, total)).astype(str).astype(object)
    urns = urns[rng.permutation(total)]
    p_first = np.cumsum(k_p) - k_p
    s_first = int(k_p.sum()) + np.cumsum(k_s) - k_s
    special = urns[-5:]
    return urns, k_p, p_first, k_s, s_first, special[:2], special[2:]


def build(ctx: Context) -> Extract:
    pop, rng = ctx.pop, ctx.rng(SOURCE)
    terms = dates.academic_terms(ctx.extract_date, 3)
    P = pop.n_people
    h = pop.hh
    need = pop.hh_need[h]
    # Pupils of each term: age 4-15 on 31 August before the academic year starts.
    in_term = []
    for year, _term, _first, _last in terms:
        y0 = int(year[:4])
        a = dates.age_on(pop.dob, dates.day_number(dt.date(y0, 8, 31)))
        in_term.append((a >= 4) & (a <= 15))
    pupil = np.any(in_term, axis=0)
    pupils = np.flatnonzero(pupil)
    n_p = pupils.size
    upn = np.full(P, "", dtype=object)
    upn[pupils] = identifiers.upns(rng, n_p)
    pop.ids["upn"] = upn

    # Per-pupil traits.
    ne = need[pupils]
    male = pop.sex[pupils] == "M"
    age_now = pop.age_now[pupils]
    secondary_age = age_now >= 11
    beta_a = np.array([1.2, 1.6, 2.0])[ne]
    beta_b = np.array([31.0, 15.0, 9.0])[ne]
    abs_rate = rng.beta(beta_a, beta_b)
    auth_share = rng.beta(np.array([6.0, 5.0, 4.0])[ne], np.array([3.0, 4.0, 5.0])[ne])
    susp_lam = np.array([0.008, 0.05, 0.15])[ne] * np.where(male, 2.5, 1.0) * np.where(secondary_age, 1.0, 0.25)
    susp_lam = susp_lam * rng.gamma(0.5, 2.0, n_p)
    u = rng.random(n_p)
    sec = np.where(secondary_age, 1.0, 0.3)
    p_ehe = np.array([0.008, 0.015, 0.03])[ne]
    p_nor = np.array([0.0005, 0.002, 0.01])[ne]
    p_pru = np.array([0.0015, 0.008, 0.03])[ne] * sec
    p_ap = np.array([0.001, 0.005, 0.02])[ne] * sec
    status = np.select(
        [u < p_ehe, u < p_ehe + p_nor, u < p_ehe + p_nor + p_pru, u < p_ehe + p_nor + p_pru + p_ap],
        [EHE, NOR, PRU, AP],
        MAINSTREAM,
    )
    status_from = rng.integers(0, 3, n_p)
    excluded = np.isin(status, [PRU, AP]) & (rng.random(n_p) < 0.7) & (status_from >= 1)
    extra_excl = (status == MAINSTREAM) & (rng.random(n_p) < np.array([0.0003, 0.002, 0.008])[ne] * sec)

    # Schools: by the locality of the home address, mostly local.
    d_now = pop.hh_dwelling[h[pupils]]
    loc = ctx.dw.locality_id[d_now]
    n_loc = len(all_localities())
    n_prim = np.bincount(loc[~secondary_age], minlength=n_loc)
    n_sec = np.bincount(loc[secondary_age], minlength=n_loc)
    urns, k_p, p_first, k_s, s_first, prus, aps = _school_urns(rng, n_prim, n_sec)
    local = rng.random(n_p) < 0.85
    home_loc = np.where(ctx.dw.in_area[d_now], loc, 0)
    other = rng.integers(0, len(load_towns()[0].localities), n_p)
    sch_loc = np.where(local, home_loc, other)
    u_p, u_s = rng.random(n_p), rng.random(n_p)
    primary_urn = urns[p_first[sch_loc] + np.minimum((u_p * k_p[sch_loc]).astype(int), k_p[sch_loc] - 1)]
    secondary_urn = urns[s_first[sch_loc] + np.minimum((u_s * k_s[sch_loc]).astype(int), k_s[sch_loc] - 1)]
    special_urn = np.where(status == PRU, prus[rng.integers(0, prus.size, n_p)], aps[rng.integers(0, aps.size, n_p)])

    # Address: schools hear of most moves; a few recent movers are still at the old address.
    prev = pop.hh_prev_dwelling[h[pupils]]
    stale_p = (prev >= 0) & ((ctx.ref - pop.hh_moved_on[h[pupils]]) < 240) & (rng.random(n_p) < 0.25)
    d_p = np.where(stale_p, prev, d_now)

    # Preferred forename: a nickname for some, the legal name repeated by some systems.
    t = load_tables()
    legal = pop.forename[pupils]
    nick_u = rng.random(n_p)
    has_nick = np.isin(legal, list(t.nicknames))
    use_nick = has_nick & (nick_u < 0.3)
    preferred = np.full(n_p, "", dtype=object)
    idx = np.flatnonzero(use_nick)
    preferred[idx] = [
        t.nicknames[legal[i]][int(nick_u[i] / 0.3 * len(t.nicknames[legal[i]])) % len(t.nicknames[legal[i]])]
        for i in idx
    ]
    same = ~use_nick & (rng.random(n_p) < 0.02)
    preferred[same] = legal[same]

    # Rows: one per pupil per term.
    parts = []
    for k, (year, term, first, last) in enumerate(terms):
        y0 = int(year[:4])
        sel = np.flatnonzero(in_term[k][pupils])
        a_term = dates.age_on(pop.dob[pupils[sel]], dates.day_number(dt.date(y0, 8, 31)))
        parts.append((k, year, term, first, last, sel, a_term >= 11))
    rows_sel = np.concatenate([p[5] for p in parts])
    term_k = np.concatenate([np.full(p[5].size, p[0]) for p in parts])
    is_sec = np.concatenate([p[6] for p in parts])
    n = rows_sel.size
    full = np.array([2 * dates.school_days(p[3], min(p[4], ctx.extract_date)) for p in parts])
    possible = full[term_k].astype(float)
    joiner = rng.random(n) < 0.05
    possible = np.where(joiner, np.floor(possible * rng.uniform(0.3, 0.95, n)), possible).astype("int64")
    st = np.where(term_k >= status_from[rows_sel], status[rows_sel], MAINSTREAM)
    off_roll = np.isin(st, [EHE, NOR])
    possible = np.where(off_roll, 0, possible)
    rate = np.clip(abs_rate[rows_sel] * rng.gamma(4.0, 0.25, n), 0, 0.95)
    auth = rng.binomial(possible, rate * auth_share[rows_sel])
    unauth = rng.binomial(possible, rate * (1 - auth_share[rows_sel]))
    unauth = np.minimum(unauth, possible - auth)
    susp = np.where(off_roll, 0, rng.poisson(susp_lam[rows_sel]))
    perm = (excluded[rows_sel] & (term_k == status_from[rows_sel] - 1)) | (extra_excl[rows_sel] & (term_k == 2))
    urn = np.where(is_sec, secondary_urn[rows_sel], primary_urn[rows_sel])
    urn = np.where(np.isin(st, [PRU, AP]), special_urn[rows_sel], urn)
    urn = np.where(off_roll, "", urn).astype(object)
    prov = PROVISION[st]
    if extra_excl.any():
        prov = np.where(extra_excl[rows_sel] & (term_k == 2), PROVISION[MAINSTREAM], prov)

    rows = pupils[rows_sel]
    r = ctx.renderer(SOURCE)
    dob, blank = r.dob(rows)
    d_rows = d_p[rows_sel]
    pref = preferred[rows_sel]
    cols = {
        "upn_token": ctx.tokens(upn[rows]),
        "legal_forename": r.forenames(rows, nickname=0.0, titles=False),
        "preferred_forename": r.text_noise(pref, rows, typo_rate=0.0),
        "legal_surname": r.surnames(rows),
        "dob": ctx.fmt(SOURCE, dob, blank),
        "gender": pop.sex[rows],
        **r.address_lines(d_rows, rows, 3),
        "postcode": r.postcode(d_rows),
        "uprn": r.uprn(d_rows),
        "school_urn": urn,
        "academic_year": np.array([p[1] for p in parts], dtype=object)[term_k],
        "term": np.array([p[2] for p in parts], dtype=object)[term_k],
        "sessions_possible": possible,
        "sessions_authorised": np.where(off_roll, 0, auth),
        "sessions_unauthorised": np.where(off_roll, 0, unauth),
        "suspensions": susp,
        "permanent_exclusion": perm.astype(int),
        "provision": prov,
    }
    flags = dict(r.flags)
    flags["nickname"] = flags.get("nickname", np.zeros(n, bool)) | use_nick[rows_sel]
    flags["stale_address"] = stale_p[rows_sel]
    order = np.lexsort((rng.random(n), urn, term_k))
    return finish(ctx, SOURCE, cols, rows, order, flags)
