"""Name tables (data/*.csv) and vectorised sampling of forenames and surnames.

Names are common real-world forenames and surnames, weighted so that frequency falls off
roughly like Zipf's law within each naming tradition: Smith, Jones, Khan and Patel are common
enough that unrelated people collide on name, which is what makes linkage hard.
"""

from __future__ import annotations

import csv
import functools
import pathlib
from dataclasses import dataclass

import numpy as np

DATA = pathlib.Path(__file__).with_name("data")

# Naming traditions (not a statement about anyone's identity): the code indexes these.
GROUPS: tuple[str, ...] = ("WB", "EE", "PK", "IN", "BA", "BC", "ME", "CN")
GROUP_INDEX = {g: i for i, g in enumerate(GROUPS)}

# Share of each tradition among forenames given within a group: e.g. many Black Caribbean and
# Chinese British people have forenames from the British pool.
FORENAME_MIX: dict[str, tuple[tuple[str, float], ...]] = {
    "WB": (("WB", 1.0),),
    "EE": (("EE", 0.9), ("WB", 0.1)),
    "PK": (("PK", 0.97), ("WB", 0.03)),
    "IN": (("IN", 0.9), ("WB", 0.1)),
    "BA": (("BA", 0.75), ("WB", 0.25)),
    "BC": (("BC", 0.45), ("WB", 0.55)),
    "ME": (("ME", 0.95), ("WB", 0.05)),
    "CN": (("CN", 0.6), ("WB", 0.4)),
}

# Polish and East Slavic surnames take a feminine form for women.
_FEMININE_ENDINGS: tuple[tuple[str, str], ...] = (
    ("ski", "ska"),
    ("cki", "cka"),
    ("dzki", "dzka"),
    ("ov", "ova"),
    ("ev", "eva"),
)


def _read(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class NameTables:
    """The loaded tables, as arrays ready for sampling."""

    fore_name: np.ndarray  # object array of forenames
    fore_sex: np.ndarray  # 'M' / 'F'
    fore_group: np.ndarray  # group code index
    fore_weight: np.ndarray  # shape (n, 3): weight by birth era (<1960, 1960-89, 1990+)
    sur_name: np.ndarray
    sur_group: np.ndarray
    sur_female_only: np.ndarray  # bool: Begum, Bibi, Kaur ... used for women only
    sur_weight: np.ndarray
    nicknames: dict[str, tuple[str, ...]]
    variants: dict[str, tuple[str, ...]]  # name -> the other spellings of it
    feminine: dict[str, str]  # masculine surname -> feminine form


@functools.cache
def load_tables() -> NameTables:
    """Read the data files once per process."""
    fore = _read("forenames.csv")
    sur = _read("surnames.csv")
    nick: dict[str, list[str]] = {}
    for r in _read("nicknames.csv"):
        nick.setdefault(r["formal"], []).append(r["nickname"])
    groups: dict[str, list[str]] = {}
    for r in _read("name_variants.csv"):
        groups.setdefault(r["variant_group"], []).append(r["name"])
    variants: dict[str, list[str]] = {}
    for key in sorted(groups):
        members = groups[key]
        for n in members:
            lst = variants.setdefault(n, [])
            lst.extend(m for m in members if m != n and m not in lst)
    feminine: dict[str, str] = {}
    for r in sur:
        if r["group"] == "EE":
            s = r["surname"]
            for masc, fem in _FEMININE_ENDINGS:
                if s.endswith(masc):
                    feminine[s] = s[: -len(masc)] + fem
                    break
    return NameTables(
        fore_name=np.array([r["name"] for r in fore], dtype=object),
        fore_sex=np.array([r["sex"] for r in fore]),
        fore_group=np.array([GROUP_INDEX[r["group"]] for r in fore]),
        fore_weight=np.array([[float(r["w_pre1960"]), float(r["w_1960_1989"]), float(r["w_1990_on"])] for r in fore]),
        sur_name=np.array([r["surname"] for r in sur], dtype=object),
        sur_group=np.array([GROUP_INDEX[r["group"]] for r in sur]),
        sur_female_only=np.array([r["sex"] == "F" for r in sur]),
        sur_weight=np.array([float(r["weight"]) for r in sur]),
        nicknames={k: tuple(v) for k, v in sorted(nick.items())},
        variants={k: tuple(v) for k, v in sorted(variants.items())},
        feminine=feminine,
    )


def birth_era(birth_year: np.ndarray) -> np.ndarray:
    """0: born before 1960, 1: 1960-1989, 2: 1990 on (forename fashions differ by era)."""
    return np.digitize(birth_year, [1960, 1990])


def _mixed_groups(rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
    """The tradition each forename is drawn from, allowing for cross-tradition naming."""
    out = group.copy()
    u = rng.random(group.size)
    for g, mix in FORENAME_MIX.items():
        gi = GROUP_INDEX[g]
        mask = group == gi
        if len(mix) == 1 or not mask.any():
            continue
        edges = np.cumsum([w for _, w in mix])
        choice = np.searchsorted(edges, u[mask] * edges[-1], side="right")
        choice = np.minimum(choice, len(mix) - 1)
        out[mask] = np.array([GROUP_INDEX[c] for c, _ in mix])[choice]
    return out


def sample_forenames(
    rng: np.random.Generator, group: np.ndarray, sex: np.ndarray, birth_year: np.ndarray
) -> np.ndarray:
    """A forename per person, by naming tradition, sex and the fashion of the birth era."""
    t = load_tables()
    pool_group = _mixed_groups(rng, np.asarray(group))
    era = birth_era(np.asarray(birth_year))
    out = np.empty(pool_group.size, dtype=object)
    key = pool_group * 10 + np.where(np.asarray(sex) == "M", 0, 1) * 3 + era
    for k in np.unique(key):
        idx = np.flatnonzero(key == k)
        g, rest = divmod(int(k), 10)
        s, e = divmod(rest, 3)
        cand = np.flatnonzero((t.fore_group == g) & (t.fore_sex == ("M" if s == 0 else "F")))
        w = t.fore_weight[cand, e]
        if w.sum() <= 0:
            w = t.fore_weight[cand].sum(axis=1)
        out[idx] = t.fore_name[cand[rng.choice(cand.size, size=idx.size, p=w / w.sum())]]
    return out


def sample_surnames(rng: np.random.Generator, group: np.ndarray, female_only: np.ndarray | None = None) -> np.ndarray:
    """A surname per entry from its tradition; `female_only` entries draw Begum/Bibi/Kaur-type names."""
    t = load_tables()
    group = np.asarray(group)
    fo = np.zeros(group.size, dtype=bool) if female_only is None else np.asarray(female_only)
    out = np.empty(group.size, dtype=object)
    key = group * 2 + fo
    for k in np.unique(key):
        idx = np.flatnonzero(key == k)
        g, f = divmod(int(k), 2)
        cand = np.flatnonzero((t.sur_group == g) & (t.sur_female_only == bool(f)))
        if cand.size == 0:
            cand = np.flatnonzero((t.sur_group == g) & ~t.sur_female_only)
        w = t.sur_weight[cand]
        out[idx] = t.sur_name[cand[rng.choice(cand.size, size=idx.size, p=w / w.sum())]]
    return out


def has_female_only_surnames(group: np.ndarray) -> np.ndarray:
    """Whether a tradition has women-only surnames (Begum, Bibi, Kaur) in the table."""
    t = load_tables()
    groups_with = np.unique(t.sur_group[t.sur_female_only])
    return np.isin(group, groups_with)


def feminise(surnames: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Polish/East Slavic surnames in their feminine form for women (Kowalski -> Kowalska)."""
    t = load_tables()
    out = np.asarray(surnames, dtype=object).copy()
    if not female.any():
        return out
    sub = out[female]
    mapped = np.array([t.feminine.get(s, s) for s in sub], dtype=object) if sub.size else sub
    out[female] = mapped
    return out
