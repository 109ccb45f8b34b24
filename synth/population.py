"""People and households: composition, ages, sexes, names, family surnames and moves.

Everything is drawn household-type by household-type with array operations: a household is a
run of consecutive people (reference person, partner, grandparents, adult children, dependent
children, sharers), so per-household decisions are made once on arrays of length H and
broadcast to people with `np.repeat`.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import numpy as np

from synth import dates, identifiers, names
from synth.addresses import Dwellings
from synth.config import GROUP_SHARES, HH, HOUSEHOLD_TYPES, SynthConfig

ROLES: tuple[str, ...] = ("HRP", "PARTNER", "GRANDPARENT", "ADULT_CHILD", "CHILD", "SHARER")
HRP, PARTNER, GRANDPARENT, ADULT_CHILD, CHILD, SHARER = range(6)
NO_DATE = np.iinfo("int64").min // 2  # 'never' for move dates


@dataclass
class Population:
    """Households and the people living in them at the extract date (parallel arrays)."""

    ref_day: int
    # households
    hh_id: np.ndarray
    hh_type: np.ndarray
    hh_need: np.ndarray  # 0 none, 1 moderate, 2 high
    hh_dwelling: np.ndarray  # index into Dwellings
    hh_prev_dwelling: np.ndarray  # -1 when the household has not moved
    hh_moved_on: np.ndarray  # day number of the move, NO_DATE if none
    # people
    person_id: np.ndarray
    hh: np.ndarray  # household index
    role: np.ndarray
    sex: np.ndarray  # 'M' / 'F'
    dob: np.ndarray  # day numbers
    group: np.ndarray  # naming tradition index
    forename: np.ndarray
    middle_names: np.ndarray
    surname: np.ndarray
    birth_surname: np.ndarray
    twin_of: np.ndarray  # person index of the twin, -1
    namesake_of: np.ndarray  # person index of the father with the same name, -1
    ids: dict[str, np.ndarray] = field(default_factory=dict)  # agency reference numbers ('' none)

    @property
    def n_people(self) -> int:
        return int(self.person_id.size)

    @property
    def n_households(self) -> int:
        return int(self.hh_id.size)

    @functools.cached_property
    def age_now(self) -> np.ndarray:
        """Age in whole years at the extract date (computed once)."""
        return dates.age_on(self.dob, self.ref_day)

    def age(self, on: int | np.ndarray | None = None) -> np.ndarray:
        """Age in whole years at `on` (default: the extract date)."""
        if on is None:
            return self.age_now
        return dates.age_on(self.dob, on)

    def dwelling_at(self, people: np.ndarray, day: np.ndarray | int) -> np.ndarray:
        """Where each person lived on a day: the previous address before the household moved."""
        h = self.hh[people]
        before = np.asarray(day) < self.hh_moved_on[h]
        return np.where(before & (self.hh_prev_dwelling[h] >= 0), self.hh_prev_dwelling[h], self.hh_dwelling[h])


def _clipped_normal(rng: np.random.Generator, mean: float, sd: float, lo: int, hi: int, n: int) -> np.ndarray:
    return np.clip(np.rint(rng.normal(mean, sd, n)), lo, hi).astype("int64")


def _hrp_age(rng: np.random.Generator, hh_type: np.ndarray) -> np.ndarray:
    """Age of the household reference person, by household type."""
    n = hh_type.size
    age = np.zeros(n, dtype="int64")
    spec = {
        "single_adult": (40, 13, 18, 64),
        "single_pensioner": (76, 7, 65, 100),
        "couple_dependent_children": (38, 7, 20, 62),
        "couple_adult_children": (55, 6, 40, 78),
        "lone_parent_dependent_children": (36, 8, 18, 60),
        "lone_parent_adult_children": (58, 9, 40, 88),
        "multi_generational": (38, 8, 20, 60),
        "shared": (28, 7, 18, 65),
    }
    for name, (m, s, lo, hi) in spec.items():
        mask = hh_type == HH[name]
        age[mask] = _clipped_normal(rng, m, s, lo, hi, int(mask.sum()))
    mask = hh_type == HH["couple"]
    young = rng.random(n) < 0.55
    age[mask & young] = _clipped_normal(rng, 33, 8, 18, 64, int((mask & young).sum()))
    age[mask & ~young] = _clipped_normal(rng, 68, 9, 50, 98, int((mask & ~young).sum()))
    return age


def _dob_from_age(rng: np.random.Generator, age: np.ndarray, ref_day: int) -> np.ndarray:
    """A birth date giving (almost exactly) the requested age at the reference day."""
    return ref_day - np.floor((age + rng.random(age.size)) * 365.2425).astype("int64")


def _cat(*parts: np.ndarray) -> np.ndarray:
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + p
    return out


def build_population(
    rng: np.random.Generator,
    n_households: int,
    dwellings: Dwellings,
    extract_date: dt.date,
    cfg: SynthConfig,
) -> Population:
    """Draw households, their members and where they live (see module docstring)."""
    H = int(n_households)
    ref = dates.day_number(extract_date)
    shares = np.array([s for _, s in HOUSEHOLD_TYPES])
    hh_type = rng.choice(len(HOUSEHOLD_TYPES), size=H, p=shares / shares.sum())
    is_t = {name: hh_type == i for name, i in HH.items()}

    # Need: a latent level that concentrates problems in a minority of households.
    mult = np.array([cfg.need_type_multiplier[name] for name, _ in HOUSEHOLD_TYPES])[hh_type]
    u = rng.random(H)
    hh_need = np.where(u < cfg.need_high * mult, 2, np.where(u < (cfg.need_high + cfg.need_moderate) * mult, 1, 0))

    # Composition.
    couple_t = is_t["couple"] | is_t["couple_dependent_children"] | is_t["couple_adult_children"]
    n_partner = (couple_t | (is_t["multi_generational"] & (rng.random(H) < 0.65))).astype("int64")
    n_dep = np.zeros(H, dtype="int64")
    dep_t = is_t["couple_dependent_children"] | is_t["lone_parent_dependent_children"]
    n_dep[dep_t] = rng.choice([1, 2, 3, 4, 5], size=int(dep_t.sum()), p=[0.45, 0.37, 0.12, 0.045, 0.015])
    mg = is_t["multi_generational"]
    n_dep[mg] = rng.choice([0, 1, 2, 3, 4], size=int(mg.sum()), p=[0.2, 0.3, 0.3, 0.13, 0.07])
    n_adult = np.zeros(H, dtype="int64")
    ad_t = is_t["couple_adult_children"] | is_t["lone_parent_adult_children"]
    n_adult[ad_t] = rng.choice([1, 2, 3], size=int(ad_t.sum()), p=[0.68, 0.26, 0.06])
    n_adult[dep_t] = (rng.random(int(dep_t.sum())) < 0.11).astype("int64")
    n_grand = np.zeros(H, dtype="int64")
    n_grand[mg] = rng.choice([1, 2], size=int(mg.sum()), p=[0.6, 0.4])
    n_share = np.zeros(H, dtype="int64")
    sh = is_t["shared"]
    n_share[sh] = rng.choice([1, 2, 3, 4], size=int(sh.sum()), p=[0.5, 0.3, 0.14, 0.06])

    hrp_age = _hrp_age(rng, hh_type)
    hrp_age = np.where(n_adult > 0, np.maximum(hrp_age, 38 + rng.integers(0, 12, H)), hrp_age)

    size = 1 + n_partner + n_grand + n_adult + n_dep + n_share
    P = int(size.sum())
    hh = np.repeat(np.arange(H), size)
    start = np.cumsum(size) - size
    off = np.arange(P) - start[hh]
    c2 = (1 + n_partner)[hh]
    c3 = c2 + n_grand[hh]
    c4 = c3 + n_adult[hh]
    c5 = c4 + n_dep[hh]
    role = np.select(
        [off == 0, off < c2, off < c3, off < c4, off < c5], [HRP, PARTNER, GRANDPARENT, ADULT_CHILD, CHILD], SHARER
    ).astype("int8")
    t = hh_type[hh]

    # Sex.
    p_f_hrp = np.full(H, 0.5)
    p_f_hrp[is_t["single_adult"]] = 0.48
    p_f_hrp[is_t["single_pensioner"]] = 0.62
    p_f_hrp[is_t["lone_parent_dependent_children"]] = 0.88
    p_f_hrp[is_t["lone_parent_adult_children"]] = 0.84
    p_f_hrp[is_t["shared"]] = 0.45
    hrp_female = rng.random(H) < p_f_hrp
    same_sex_couple = rng.random(H) < 0.03
    partner_female = np.where(same_sex_couple, hrp_female, ~hrp_female)
    female = rng.random(P) < 0.49
    female = np.where(role == HRP, hrp_female[hh], female)
    female = np.where(role == PARTNER, partner_female[hh], female)
    gp_rank = off - c2
    grand_female = np.where(n_grand[hh] == 2, gp_rank == 1, rng.random(P) < 0.7)
    female = np.where(role == GRANDPARENT, grand_female, female)
    female = np.where(role == SHARER, rng.random(P) < 0.5, female)

    # Ages.
    parent_age = hrp_age[hh]
    age = np.zeros(P, dtype="int64")
    age[role == HRP] = hrp_age
    m = role == PARTNER
    age[m] = np.clip(parent_age[m] + np.rint(rng.normal(0, 3.5, int(m.sum()))), 18, 100)
    m = role == GRANDPARENT
    age[m] = np.minimum(parent_age[m] + rng.integers(20, 35, int(m.sum())), 101)
    m = role == ADULT_CHILD
    hi = np.clip(parent_age[m] - 18, 18, 45)
    age[m] = 18 + np.floor(rng.random(int(m.sum())) * (hi - 17)).astype("int64")
    m = role == CHILD
    hi = np.clip(parent_age[m] - 17, 0, 17)
    age[m] = np.floor(rng.random(int(m.sum())) * (hi + 1)).astype("int64")
    m = role == SHARER
    age[m] = _clipped_normal(rng, 29, 8, 18, 75, int(m.sum()))
    dob = _dob_from_age(rng, age, ref)
    # Dependent children must be under 18 at the extract date, adult children 18+.
    dob = np.where((role == CHILD) & (dates.age_on(dob, ref) >= 18), dob + 2, dob)

    # Twins: the first two dependent children share a birth date.
    twin_hh = (n_dep >= 2) & (rng.random(H) < cfg.twins)
    first_child = start + (1 + n_partner + n_grand + n_adult)
    t1, t2 = first_child[twin_hh], first_child[twin_hh] + 1
    dob[t2] = dob[t1]
    same = rng.random(t1.size) < cfg.twins_same_sex
    female[t2[same]] = female[t1[same]]
    twin_of = np.full(P, -1, dtype="int64")
    twin_of[t1], twin_of[t2] = t2, t1
    sex = np.where(female, "F", "M")

    # Naming traditions.
    g_share = np.array(GROUP_SHARES)
    hh_group = rng.choice(len(names.GROUPS), size=H, p=g_share / g_share.sum())
    partner_group = np.where(
        rng.random(H) < 0.88, hh_group, rng.choice(len(names.GROUPS), size=H, p=g_share / g_share.sum())
    )
    group = hh_group[hh].copy()
    group[role == PARTNER] = partner_group[hh][role == PARTNER]
    kid = (role == CHILD) | (role == ADULT_CHILD)
    from_partner = kid & (n_partner[hh] > 0) & (rng.random(P) < 0.5)
    group[from_partner] = partner_group[hh][from_partner]
    m = role == SHARER
    group[m] = rng.choice(len(names.GROUPS), size=int(m.sum()), p=g_share / g_share.sum())
    birth_year = dates.ymd(dob)[0]

    # Forenames (twins always differ) and middle names.
    forename = names.sample_forenames(rng, group, sex, birth_year)
    for _ in range(50):
        clash = t2[forename[t2] == forename[t1]]
        if clash.size == 0:
            break
        forename[clash] = names.sample_forenames(rng, group[clash], sex[clash], birth_year[clash])
    p_mid = np.array([0.65, 0.25, 0.45, 0.3, 0.6, 0.6, 0.2, 0.3])[group]
    has_mid = rng.random(P) < p_mid
    mid1 = names.sample_forenames(rng, group, sex, birth_year)
    mid2 = names.sample_forenames(rng, group, sex, birth_year)
    two = has_mid & (rng.random(P) < 0.12) & (mid2 != mid1) & (mid2 != forename)
    middle = np.where(has_mid & (mid1 != forename), mid1, "").astype(object)
    middle = np.where(two & (middle != ""), _cat(middle, np.full(P, " ", dtype=object), mid2), middle).astype(object)

    # Surnames. S: the family (man's) surname; W: the woman's birth surname.
    S = names.sample_surnames(rng, hh_group)
    woman_group = np.where((n_partner > 0) & ~hrp_female, partner_group, hh_group)
    female_only = names.has_female_only_surnames(woman_group) & (rng.random(H) < 0.3)
    W = names.sample_surnames(rng, woman_group, female_only)
    r = rng.random(H)
    opposite = (n_partner > 0) & ~same_sex_couple
    married = opposite & (rng.random(H) < cfg.married)
    took = married & (r < cfg.took_partner_name) & ~female_only
    dbl = married & ~took & (r < cfg.took_partner_name + cfg.double_barrel_married) & ~female_only & (W != S)
    wife_now = np.where(took, S, np.where(dbl, _cat(W, np.full(H, "-", dtype=object), S), W)).astype(object)
    lone_mother = (
        is_t["lone_parent_dependent_children"] | is_t["lone_parent_adult_children"] | (mg & (n_partner == 0))
    ) & hrp_female
    ever_married = lone_mother & (rng.random(H) < 0.45) & ~female_only
    lone_now = np.where(ever_married, S, W).astype(object)
    # Children's surname: the father's, the mother's or both.
    mode = rng.choice(3, size=H, p=[0.7, 0.15, 0.15])
    mode = np.where(married | ever_married, 0, mode)
    mode = np.where(lone_mother & ~ever_married, rng.choice(3, size=H, p=[0.45, 0.45, 0.10]), mode)
    mother_now = np.where(lone_mother, lone_now, wife_now)
    fm = rng.random(H) < 0.5
    both = np.where(fm, _cat(S, np.full(H, "-", dtype=object), W), _cat(W, np.full(H, "-", dtype=object), S))
    child_s = np.select([mode == 0, mode == 1], [S, mother_now], both).astype(object)
    child_s = np.where(W == S, S, child_s).astype(object)
    same_sex_other = names.sample_surnames(rng, partner_group)

    is_f = sex == "F"
    surname = S[hh].copy()
    birth = S[hh].copy()
    couple_person = ((role == HRP) | (role == PARTNER)) & (n_partner[hh] > 0)
    wife = couple_person & is_f & opposite[hh]
    surname[wife] = wife_now[hh][wife]
    birth[wife] = W[hh][wife]
    ssp = (role == PARTNER) & same_sex_couple[hh]
    surname[ssp] = same_sex_other[hh][ssp]
    birth[ssp] = same_sex_other[hh][ssp]
    lm = (role == HRP) & lone_mother[hh]
    surname[lm] = lone_now[hh][lm]
    birth[lm] = W[hh][lm]
    surname[kid] = child_s[hh][kid]
    birth[kid] = child_s[hh][kid]
    # Grandparents: the paternal or maternal line; the grandmother took the grandfather's name.
    gp = role == GRANDPARENT
    g_line = np.where(rng.random(H) < 0.5, S, W)
    surname[gp] = g_line[hh][gp]
    birth[gp] = g_line[hh][gp]
    gm = gp & is_f & (rng.random(P) < 0.9)
    birth[gm] = names.sample_surnames(rng, group[gm])
    # Sharers are unrelated; single women may keep a former married name.
    m = role == SHARER
    own = names.sample_surnames(rng, group[m])
    surname[m], birth[m] = own, own
    single_f = is_f & (size[hh] == 1) | (is_f & (role == SHARER))
    p_former = np.where(t == HH["single_pensioner"], 0.7, 0.3)
    former = single_f & (age >= 30) & (rng.random(P) < p_former)
    birth[former] = names.sample_surnames(rng, group[former])
    surname = names.feminise(surname, is_f)
    birth = names.feminise(birth, is_f)

    # Father and son with the same forename and surname at one address.
    male_parent = ((role == HRP) | (role == PARTNER)) & ~is_f
    son = kid & ~is_f
    hh_father = np.full(H, -1, dtype="int64")
    idx = np.flatnonzero(male_parent)
    hh_father[hh[idx[::-1]]] = idx[::-1]  # first male parent per household
    hh_son = np.full(H, -1, dtype="int64")
    idx = np.flatnonzero(son)
    hh_son[hh[idx[::-1]]] = idx[::-1]
    ns = (hh_father >= 0) & (hh_son >= 0) & (rng.random(H) < cfg.namesake_son)
    fathers, sons = hh_father[ns], hh_son[ns]
    forename[sons] = forename[fathers]
    surname[sons] = surname[fathers]
    birth[sons] = surname[fathers]
    middle[sons] = np.where(middle[sons] == middle[fathers], "", middle[sons])
    namesake_of = np.full(P, -1, dtype="int64")
    namesake_of[sons] = fathers

    # Where they live: flats lean to singles and sharers, houses to families.
    n_in = int(dwellings.in_area.sum())
    chosen = rng.choice(n_in, size=H, replace=False)
    flat_pref = np.array([0.8, 0.4, 0.5, 0.1, 0.1, 0.4, 0.3, 0.0, 0.8])[hh_type]
    key_dw = dwellings.is_flat[chosen] + rng.random(H) * 1.2
    key_hh = flat_pref + rng.random(H) * 1.2
    hh_dwelling = np.empty(H, dtype="int64")
    hh_dwelling[np.argsort(-key_hh, kind="stable")] = chosen[np.argsort(-key_dw, kind="stable")]
    # Moves in the last two years: from elsewhere in the authority or from outside it.
    mover = rng.random(H) < cfg.mover
    moved_on = np.where(mover, ref - rng.integers(1, 731, H), NO_DATE)
    ext = np.flatnonzero(~dwellings.in_area)
    outside = rng.random(H) < cfg.mover_from_outside
    prev = np.where(outside, ext[rng.integers(0, ext.size, H)], rng.integers(0, n_in, H))
    prev = np.where(prev == hh_dwelling, (prev + 1) % n_in, prev)
    prev = np.where(mover, prev, -1)

    pop = Population(
        ref_day=ref,
        hh_id=identifiers.padded("H", np.arange(1, H + 1), 7),
        hh_type=hh_type,
        hh_need=hh_need,
        hh_dwelling=hh_dwelling,
        hh_prev_dwelling=prev,
        hh_moved_on=moved_on,
        person_id=identifiers.padded("P", np.arange(1, P + 1), 8),
        hh=hh,
        role=role,
        sex=sex.astype(object),
        dob=dob,
        group=group,
        forename=forename,
        middle_names=middle,
        surname=surname,
        birth_surname=birth,
        twin_of=twin_of,
        namesake_of=namesake_of,
    )
    # Everyone has an NHS number; National Insurance numbers are issued at 16.
    pop.ids["nhs_number"] = identifiers.nhs_numbers(rng, P)
    ni = np.full(P, "", dtype=object)
    has_ni = pop.age() >= 16
    ni[has_ni] = identifiers.ni_numbers(rng, int(has_ni.sum()))
    pop.ids["ni_number"] = ni
    return pop
