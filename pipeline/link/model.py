"""Fellegi-Sunter match weights, trained so that the model learns people, not households.

Each comparison feature is cut into a few levels (`comparison_levels`). A pair's match weight is
the sum over features of log2(m / u) for the level it falls in, where m is the chance of that
level among pairs of records of one person and u among pairs of two people; a missing value
adds nothing. The prior turns the weight into a probability.

Why not plain EM: on candidate pairs, the biggest natural split is "same household" against
"different household" (same surname, same address), and unsupervised EM finds that split and
merges siblings. Agencies' own person tokens give labels for free: two rows with one token are
one person, two tokens of one agency are two people. u comes from the labelled two-people
pairs, which include exactly the hard ones (twins, siblings, parent and child at one address),
so u knows that a shared surname and address are common among different people. m of each
joint feature is learnt by EM over cross-agency pairs chosen on the *other* feature, and only
for the levels one slip or one life event explains (see `train`): with u held, a free EM still
drifts to calling every surplus a match (measured at 50k households: pairwise precision about
0.97 against 0.998 with the restriction).

Training works on level counts, not on pairs one by one: `level_counts` is the histogram of pairs
over every cell (identity level, family level, sex level, label), a few thousand integers whether
there are a million pairs or a billion, and `train` reads nothing else. Counts are integers, so
the histograms of a cluster's partitions, each counted where its pairs were compared, add up
exactly (`LevelCounts.combine`) to the histogram of all pairs, whatever the split or the order:
the model trained from them is the one trained on every pair gathered on one machine.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

MISSING = -1

# Single comparisons, each cut into ordered levels (level k is index k; higher = more alike).
_FORENAME = ("different", "similar (JW >= 0.80)", "close (JW >= 0.92)", "same or equivalent")
_SURNAME = ("different", "a shared part", "close (JW >= 0.92)", "same or equivalent")
_DOB = ("different", "two of three parts", "day and month swapped", "same")
_PLACE = ("different area", "same sector", "same postcode, other address", "other flat of one building",
          "same address")
# The place levels by name (their index in _PLACE).
PLACE_DIFFERENT_AREA, PLACE_SAME_SECTOR, PLACE_SAME_POSTCODE, PLACE_OTHER_FLAT, PLACE_SAME_ADDRESS = range(len(_PLACE))
# Forename and surname levels that give one name, the same or one slip apart (the top two of both
# scales, laid out alike: _SURNAME has "close" and "same or equivalent" at the same places).
NAME_CLOSE_OR_SAME = (_FORENAME.index("close (JW >= 0.92)"), _FORENAME.index("same or equivalent"))


def _joint(a: tuple[str, ...], b: tuple[str, ...], a_name: str, b_name: str) -> tuple[str, ...]:
    """Labels of a joint feature: every pair of levels, missing (unknown) being a level of its own."""
    a_all, b_all = (*a, "unknown"), (*b, "unknown")
    return tuple(f"{a_name} {x}, {b_name} {y}" for x in a_all for y in b_all)


# The model's features. Comparisons that are correlated among *different* people are joined into
# one feature, so the model learns their combination instead of multiplying them as if independent:
# - identity = forename x date of birth: twins share a birth date but not a forename, so "same birth
#   date, different forename" must be learned as its own level (common among two people, rare
#   among one), not as a strong plus and a weak minus;
# - family = surname x place: a household shares a surname and an address, so "same surname, same
#   address" is weak evidence of one person, while "same surname, other area" (a move) is not strong
#   evidence against.
# Joint features have no missing value: "unknown" is one of their levels, so the electoral
# register's missing birth date is weighed as what it is.
LEVELS: dict[str, tuple[str, ...]] = {
    "identity": _joint(_FORENAME, _DOB, "forename", "birth date"),
    "family": _joint(_SURNAME, _PLACE, "surname", "place"),
    "sex": ("different", "same"),
}
FEATURES = tuple(LEVELS)


def comparison_levels(features: pd.DataFrame) -> pd.DataFrame:
    """Cut the numeric features of `compare_pairs` into the model's levels (int8; -1 = missing)."""
    def cut(values: np.ndarray, conditions: list[np.ndarray], levels: list[int], default: int) -> np.ndarray:
        out = np.select(conditions, levels, default=default).astype(np.int8)
        out[np.isnan(values)] = MISSING
        return out

    def joint(a: np.ndarray, b: np.ndarray, a_levels: int, b_levels: int) -> np.ndarray:
        a = np.where(a < 0, a_levels, a)
        b = np.where(b < 0, b_levels, b)
        return (a * (b_levels + 1) + b).astype(np.int8)

    fj, fe = features["forename_jw"].to_numpy(), features["forename_equiv"].to_numpy()
    sj, se, sp = (features[c].to_numpy() for c in ("surname_jw", "surname_equiv", "surname_part"))
    forename = cut(fj, [(fe == 1) | (fj >= 0.999), fj >= 0.92, fj >= 0.80], [3, 2, 1], 0)
    surname = cut(sj, [(se == 1) | (sj >= 0.999), sj >= 0.92, sp == 1], [3, 2, 1], 0)
    d = features["dob"].to_numpy()
    dob = cut(d, [d == 3, d == 2, d == 1], [3, 2, 1], 0)
    pc, ad, up = (features[c].to_numpy() for c in ("postcode", "address", "uprn"))
    # UPRN decides where both sides hold one; otherwise the parsed address and the postcode.
    place = np.select([up == 1, up == 0, ad == 2, ad == -1, pc == 2, pc == 1],
                      [PLACE_SAME_ADDRESS, PLACE_DIFFERENT_AREA, PLACE_SAME_ADDRESS, PLACE_OTHER_FLAT,
                       PLACE_SAME_POSTCODE, PLACE_SAME_SECTOR], default=PLACE_DIFFERENT_AREA)
    place = np.where(np.isnan(pc) & np.isnan(up), MISSING, place)
    sex = features["sex"].to_numpy()
    out = pd.DataFrame(index=features.index)
    out["identity"] = joint(forename, dob, len(_FORENAME), len(_DOB))
    out["family"] = joint(surname, place, len(_SURNAME), len(_PLACE))
    out["sex"] = cut(sex, [sex == 1], [1], 0)
    return out


TRAINING_LABELS = (-1, 0, 1)  # a pair's training label: unknown, two people, one person


@dataclass(frozen=True, eq=False)
class LevelCounts:
    """How many candidate pairs fall in each cell (label, identity level, family level, sex level).

    This histogram is all `train` reads. `cells[label + 1, identity + 1, family + 1, sex + 1]` is
    the number of pairs with that label and those levels: every value is shifted by one, so index
    0 of a feature's axis is MISSING and index 0 of the label axis is "unknown" (-1).

    Why counts: a distributed run compares its candidate pairs on workers, partition by
    partition, and no machine ever holds every pair's levels. Each partition counts its own pairs
    (`level_counts`) and the parts are added up (`combine`, `+`). Integer counts add exactly and
    in any order, so however the pairs were split, the combined counts, and the model trained
    from them, are those of all pairs taken at once; and the histogram is a few thousand
    integers whether the run has a million pairs or a billion.
    """

    cells: np.ndarray

    SHAPE: ClassVar[tuple[int, ...]] = (len(TRAINING_LABELS), *(len(LEVELS[f]) + 1 for f in FEATURES))

    def __post_init__(self) -> None:
        # A copy, read-only: frozen counts are not a view of an array someone may still change.
        cells = np.array(self.cells, dtype=np.int64)
        if cells.shape != self.SHAPE:
            raise ValueError(f"level counts have shape {self.SHAPE} (label, {', '.join(FEATURES)}), "
                             f"not {cells.shape}")
        if (cells < 0).any():
            raise ValueError("level counts are numbers of pairs: none can be negative")
        cells.setflags(write=False)
        object.__setattr__(self, "cells", cells)

    def __reduce__(self):
        # Counts sent between processes (Dask's workers) are checked and frozen again on arrival.
        return (type(self), (np.asarray(self.cells),))

    @classmethod
    def empty(cls) -> LevelCounts:
        """No pairs: the counts every combination starts from."""
        return cls(np.zeros(cls.SHAPE, dtype=np.int64))

    @classmethod
    def combine(cls, parts: Iterable[LevelCounts]) -> LevelCounts:
        """The counts of all the parts' pairs together (cell by cell sums; no parts: no pairs)."""
        total = np.zeros(cls.SHAPE, dtype=np.int64)
        for part in parts:
            total += part.cells
        return cls(total)

    def __add__(self, other: object) -> LevelCounts:
        if not isinstance(other, LevelCounts):
            return NotImplemented
        return LevelCounts(self.cells + other.cells)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LevelCounts):
            return NotImplemented
        return bool(np.array_equal(self.cells, other.cells))

    __hash__ = None  # type: ignore[assignment]  # equal by value, like the array it holds

    @property
    def total(self) -> int:
        """The number of pairs counted."""
        return int(self.cells.sum())

    def with_label(self, label: int) -> np.ndarray:
        """The (identity, family, sex) histogram of the pairs with this label (index = level + 1)."""
        return self.cells[TRAINING_LABELS.index(label)]


def level_counts(levels: pd.DataFrame, label: np.ndarray) -> LevelCounts:
    """The `LevelCounts` of one set of pairs: one np.bincount over each pair's flat cell index.

    `levels` as `comparison_levels` returns them (-1 missing); `label` per pair 1, 0 or -1 (see
    `train`). A value outside its range is an error here rather than a pair silently left out of
    training.
    """
    label = np.asarray(label)
    if len(label) != len(levels):
        raise ValueError(f"{len(levels)} pairs' levels but {len(label)} labels")
    index = [label.astype(np.int64) + 1, *(levels[f].to_numpy().astype(np.int64) + 1 for f in FEATURES)]
    for name, values, size in zip(("label", *FEATURES), index, LevelCounts.SHAPE, strict=True):
        if len(values) and (values.min() < 0 or values.max() >= size):
            raise ValueError(f"{name}: a value outside -1..{size - 2}")
    flat = np.ravel_multi_index(index, LevelCounts.SHAPE)
    cells = np.bincount(flat, minlength=int(np.prod(LevelCounts.SHAPE)))
    return LevelCounts(cells.reshape(LevelCounts.SHAPE))


@dataclass
class FSModel:
    """Trained m and u per feature level, and the prior share of matches among candidates."""

    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    prior: float
    iterations: int = 0
    labelled: dict[str, int] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)

    def prior_weight(self) -> float:
        """The prior as a weight, log2(prior / (1 - prior)): where every pair's match weight starts."""
        prior = min(max(self.prior, 1e-12), 1 - 1e-12)
        return float(np.log2(prior / (1 - prior)))

    def weights(self) -> dict[str, np.ndarray]:
        """log2(m/u) per feature level: each level's contribution to a pair's match weight."""
        return {f: np.log2(self.m[f] / self.u[f]) for f in self.m}

    def table(self) -> pd.DataFrame:
        """The model as a readable table, one row per feature level (for analysts and the lineage)."""
        w = self.weights()
        rows = [{"feature": f, "level": k, "meaning": LEVELS[f][k], "m": float(self.m[f][k]),
                 "u": float(self.u[f][k]), "weight": float(w[f][k])}
                for f in self.m for k in range(len(LEVELS[f]))]
        return pd.DataFrame(rows)


def _counts(hist: np.ndarray, feature: str) -> np.ndarray:
    """Per level of `feature` (missing left out): the pairs of an (identity, family, sex) histogram there."""
    axis = FEATURES.index(feature)
    return hist.sum(axis=tuple(a for a in range(len(FEATURES)) if a != axis))[1:]


def _smoothed(counts: np.ndarray, pseudo_count: float) -> np.ndarray:
    return counts.astype(np.float64) + pseudo_count


def _em_one_feature(counts: np.ndarray, u: np.ndarray, *, max_iter: int = 1000, tol: float = 1e-10,
                    pseudo_count: float = 1.0, base: np.ndarray | None = None,
                    free: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """m of one feature by EM over a mixture of matches and non-matches whose u is known.

    `counts` are the feature's levels among pairs selected for agreeing strongly on the *other*
    features, so that the feature being estimated played no part in choosing them (as Splink
    estimates each comparison's m on a blocking rule that does not use it).

    With `base` and `free`, m is held to the shape of `base` outside the `free` levels and only
    the free levels (and how much of m they take) are learnt. A free 1-D mixture can explain any
    surplus of the selected pairs over u as "matches"; restricting what EM may learn to the
    levels that are plausible errors (a typo, a day-month swap) stops that.
    """
    m = np.full(len(counts), 1.0 / len(counts)) if base is None else base.copy()
    share = 0.5
    total = counts.sum()
    for _ in range(max_iter):
        post = share * m / (share * m + (1 - share) * u)
        weighted = counts * post
        new_m = (weighted + pseudo_count) / (weighted + pseudo_count).sum()
        if base is not None and free is not None:
            fixed = base * ~free
            new_m = np.where(free, new_m, fixed / fixed.sum() * (1 - new_m[free].sum()))
        new_share = float(weighted.sum() / total) if total else 0.5
        done = np.max(np.abs(new_m - m)) < tol and abs(new_share - share) < tol
        m, share = new_m, new_share
        if done:
            break
    return m, share


class _Joint:
    """Index arithmetic of a joint feature a x b, where each part may be unknown (its last index).

    The levels fall into blocks by what is known: both parts, only a, only b, neither. m and u
    are probabilities *within* a block, because whether a value is missing says which source a
    record came from, not whether two records are one person: a missing birth date on the
    electoral register must neither help nor hurt a link, so "forename same, birth date unknown"
    is weighed by the forename alone.
    """

    def __init__(self, na: int, nb: int):
        self.na, self.nb = na, nb
        self.size = (na + 1) * (nb + 1)
        idx = np.arange(self.size)
        self.a, self.b = idx // (nb + 1), idx % (nb + 1)
        self.block = (self.a == na).astype(int) * 2 + (self.b == nb).astype(int)  # 0 both known, 3 neither

    def known(self, levels: np.ndarray) -> np.ndarray:
        """Per pair, the index within the both-known block (-1 otherwise)."""
        a, b = levels // (self.nb + 1), levels % (self.nb + 1)
        return np.where((a < self.na) & (b < self.nb) & (levels >= 0), a * self.nb + b, -1)

    def known_counts(self, counts: np.ndarray) -> np.ndarray:
        """Counts per level of the joint feature, cut to the both-known block in `known`'s order."""
        return counts.reshape(self.na + 1, self.nb + 1)[:self.na, :self.nb].ravel()

    def normalise(self, counts: np.ndarray, min_count: float = 1000.0) -> np.ndarray:
        """Probabilities within each block; a block with too few pairs borrows the known part's margin."""
        out = np.ones(self.size)
        both = self.block == 0
        grid = np.zeros((self.na, self.nb))
        grid[self.a[both], self.b[both]] = counts[both] / counts[both].sum()
        margins = {1: grid.sum(axis=1)[np.minimum(self.a, self.na - 1)],
                   2: grid.sum(axis=0)[np.minimum(self.b, self.nb - 1)]}
        out[both] = grid[self.a[both], self.b[both]]
        for block in (1, 2):
            sel = self.block == block
            if counts[sel].sum() >= min_count:
                out[sel] = counts[sel] / counts[sel].sum()
            else:
                out[sel] = margins[block][sel]
        return out

    def m_from_known(self, m_known: np.ndarray) -> np.ndarray:
        """Full m: the both-known block as given; a part-unknown block from the known part's margin."""
        grid = m_known.reshape(self.na, self.nb)
        full = np.ones(self.size)
        both = self.block == 0
        full[both] = grid[self.a[both], self.b[both]]
        only_a = self.block == 1
        full[only_a] = grid.sum(axis=1)[self.a[only_a]]
        only_b = self.block == 2
        full[only_b] = grid.sum(axis=0)[self.b[only_b]]
        return full


IDENTITY = _Joint(len(_FORENAME), len(_DOB))
FAMILY = _Joint(len(_SURNAME), len(_PLACE))
SAME_PERSON_DETAILS = 3 * (len(_DOB) + 1) + 3  # identity: forename same, birth date same
PLACE_WIDTH = len(_PLACE) + 1  # family level = surname level * PLACE_WIDTH + place level
SAME_SURNAME_ADDRESS = 3 * PLACE_WIDTH + PLACE_SAME_ADDRESS  # family: surname same, same address
OTHER_FLAT_LEVELS = [s * PLACE_WIDTH + PLACE_OTHER_FLAT for s in range(len(_SURNAME) + 1)]  # family: other flat
# Identity levels (within the both-known block) that one slip between agencies explains: a
# forename spelt a little differently with the birth date right, or the birth date swapped or one
# part off with the forename right. Their m is learnt from cross-agency pairs; the rest of m keeps
# the shape seen within agencies (one token, one person), where a different forename *and* a
# matching birth date (twins) or the same forename and another birth date (father and son) are
# all but absent.
# Family levels one life event explains: a move (same surname, another address) or a change or
# misspelling of surname (another surname, same address). A new surname *and* another area is
# not one of them: that is where namesakes live.
_ONE_CHANGE = np.zeros(len(_SURNAME) * len(_PLACE), dtype=bool)
for _s, _p in ((3, 0), (3, 1), (3, 2), (0, 4), (1, 4), (2, 4)):
    _ONE_CHANGE[_s * len(_PLACE) + _p] = True
_SLIPS = ((1, 3), (2, 3), (3, 1), (3, 2))  # (forename level, birth-date level)
_ONE_SLIP = np.zeros(len(_FORENAME) * len(_DOB), dtype=bool)
for _f, _d in _SLIPS:
    _ONE_SLIP[_f * len(_DOB) + _d] = True
# Identity levels (of pairs' levels) of one person's two records as a duplicate registration leaves them:
# the same forename and birth date, or one slip apart.
ONE_SLIP_APART = np.array([SAME_PERSON_DETAILS, *(_f * (len(_DOB) + 1) + _d for _f, _d in _SLIPS)], dtype=np.int8)


def _pooled_monotone(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """m re-weighted so that m/u never falls from one level to the next (pool adjacent violators).

    Levels whose ratio falls are pooled: each gets the pool's ratio, sum(m) / sum(u), and its m is its
    u times that, so the pool keeps its total m and the probabilities still add up."""
    pools: list[list[int]] = []
    for k in range(len(m)):
        pools.append([k])
        while len(pools) > 1 and m[pools[-2]].sum() / u[pools[-2]].sum() > m[pools[-1]].sum() / u[pools[-1]].sum():
            last = pools.pop()
            pools[-1].extend(last)
    out = m.astype(np.float64).copy()
    for pool in pools:
        out[pool] = u[pool] * (m[pool].sum() / u[pool].sum())
    return out


def monotone_forename(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Identity m such that, at every birth-date level (unknown among them), a forename that agrees
    weighs at least as much as one that nearly agrees, and that at least as much as one that differs.

    Why: among two people at one address whose register record has no birth date, the same forename
    is common (a father and son) and a close one rare (Paul and Paula), so the "close" level's u is
    smaller and its weight can come out above "same": the wrong sibling would win the register
    record. A likelihood ratio that falls as names agree more says nothing true about people; the
    levels that break the order are pooled (`_pooled_monotone`)."""
    out = m.copy()
    for b in range(IDENTITY.nb + 1):
        column = np.flatnonzero((IDENTITY.b == b) & (IDENTITY.a < IDENTITY.na))  # forename levels, in order
        out[column] = _pooled_monotone(m[column], u[column])
    return out


def forename_order_violations(model: FSModel) -> list[str]:
    """Where, at one birth-date level, a forename level weighs less than a lower one (none: an empty list)."""
    w = model.weights()["identity"]
    out = []
    for b in range(IDENTITY.nb + 1):
        column = np.flatnonzero((IDENTITY.b == b) & (IDENTITY.a < IDENTITY.na))
        for lower, higher in itertools.pairwise(column):
            if w[higher] < w[lower] - 1e-12:
                out.append(f"{LEVELS['identity'][higher]} ({w[higher]:.3f}) weighs less than "
                           f"{LEVELS['identity'][lower]} ({w[lower]:.3f})")
    return out


def train(counts: LevelCounts, *, pseudo_count: float = 1.0, min_positive: int = 1000) -> FSModel:
    """Fit m, u and the prior without ever learning "same household" as "same person".

    A pair's label (the label axis of `counts`): 1 one person (same agency token), 0 two people
    (different tokens of an agency trusted to hold no duplicates), -1 unknown.
    - u: level frequencies among the labelled two-people pairs. They come from the same
      blocking passes as every other pair and are full of the hard cases (twins, siblings,
      parents, neighbours, namesakes), so u knows that a shared surname and address are common
      among different people.
    - m of sex: among the labelled one-person pairs.
    - m of family (surname x place): EM over unlabelled pairs whose forename and birth date
      agree, with u taken from labelled two-people pairs that also agree on them (namesakes).
      Movers and married names are learnt here, from cross-agency pairs.
    - m of identity (forename x birth date): EM over unlabelled pairs with the same surname at
      the same address, with u from labelled two-people pairs of one household. Day-month swaps,
      nicknames and typos between agencies are learnt here.
    - the forename levels of identity put in order (`monotone_forename`).
    - prior: EM over the unlabelled pairs with m and u held.
    With fewer than `min_positive` one-person pairs (data without agency tokens, such as FEBRL)
    there is no within-agency shape to hold m to, and the one-feature EMs run unrestricted.

    All of it is read from `counts` alone: each frequency above is a sum over cells of the
    histogram (a selection of pairs by their levels is a mask over cells), and the prior's EM
    takes the mean posterior over the unlabelled pairs as a count-weighted mean over their
    distinct cells, each cell's levels scored once. So the model is the same whether the counts
    were taken on one machine (`train_pairs`) or combined from a cluster's partitions
    (`LevelCounts.combine`): m and u exactly, the prior but for rounding in its mean; and
    training costs the same for a million pairs as for a billion.
    """
    # Each cell's level per feature (-1 missing), one axis each, to be compared as pairs' levels would.
    ide, fam, sex = np.ix_(*(np.arange(-1, len(LEVELS[f])) for f in FEATURES))
    pos, neg, unl = counts.with_label(1), counts.with_label(0), counts.with_label(-1)
    pc = pseudo_count

    def u_joint(joint: _Joint, feature: str) -> np.ndarray:
        return joint.normalise(_smoothed(_counts(neg, feature), pc))

    u_sex = _smoothed(_counts(neg, "sex"), pc)
    u = {"identity": u_joint(IDENTITY, "identity"), "family": u_joint(FAMILY, "family"), "sex": u_sex / u_sex.sum()}
    m_sex = _smoothed(_counts(pos, "sex"), pc)
    m = {"sex": m_sex / m_sex.sum()}

    chosen = unl * ((ide == SAME_PERSON_DETAILS) & (sex != 0))
    u_f = _smoothed(FAMILY.known_counts(_counts(neg * (ide == SAME_PERSON_DETAILS), "family")), pc)
    base = _smoothed(FAMILY.known_counts(_counts(pos, "family")), pc)
    restrict = int(pos.sum()) >= min_positive
    m_f, share_f = _em_one_feature(_smoothed(FAMILY.known_counts(_counts(chosen, "family")), 0.0),
                                   u_f / u_f.sum(), pseudo_count=pc,
                                   base=base / base.sum() if restrict else None,
                                   free=_ONE_CHANGE if restrict else None)
    m["family"] = FAMILY.m_from_known(m_f)

    chosen = unl * ((fam == SAME_SURNAME_ADDRESS) & (sex != 0))
    u_i = _smoothed(IDENTITY.known_counts(_counts(neg * (fam == SAME_SURNAME_ADDRESS), "identity")), pc)
    base = _smoothed(IDENTITY.known_counts(_counts(pos, "identity")), pc)
    m_i, share_i = _em_one_feature(_smoothed(IDENTITY.known_counts(_counts(chosen, "identity")), 0.0),
                                   u_i / u_i.sum(), pseudo_count=pc,
                                   base=base / base.sum() if restrict else None,
                                   free=_ONE_SLIP if restrict else None)
    m["identity"] = monotone_forename(IDENTITY.m_from_known(m_i), u["identity"])

    model = FSModel(m=m, u=u, prior=0.5, labelled={
        "one_person": int(pos.sum()), "two_people": int(neg.sum()), "unlabelled": int(unl.sum())})
    # The unlabelled pairs' distinct cells: their levels (index - 1), and how many pairs each holds.
    cells = np.nonzero(unl)
    weight = unl[cells].astype(np.float64)
    distinct = pd.DataFrame({f: (index - 1).astype(np.int8) for f, index in zip(FEATURES, cells, strict=True)})
    bf = score(model, distinct, with_prior=False)["match_weight"].to_numpy()
    prior, iterations = 0.1, 0
    while iterations < 200:
        iterations += 1
        new = float(weight @ _probability(bf, prior) / weight.sum()) if len(bf) else prior
        if abs(new - prior) < 1e-9:
            break
        prior = new
    model.prior, model.iterations = prior, iterations
    model.shares = {"family_selection": share_f, "identity_selection": share_i}
    return model


def train_pairs(levels: pd.DataFrame, label: np.ndarray, *, pseudo_count: float = 1.0,
                min_positive: int = 1000) -> FSModel:
    """`train` on the counts of these pairs (`level_counts`): for pairs that are all on one machine."""
    return train(level_counts(levels, label), pseudo_count=pseudo_count, min_positive=min_positive)


def _probability(log2_bf: np.ndarray, prior: float) -> np.ndarray:
    prior = min(max(prior, 1e-12), 1 - 1e-12)
    return probability_of(log2_bf + np.log2(prior / (1 - prior)))


def probability_of(weight: np.ndarray) -> np.ndarray:
    """Match probability from a match weight (log2 odds): 1 / (1 + 2^-weight), the weight held to +-60."""
    return 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))


def name_frequency_weight(name: np.ndarray, person_group: np.ndarray, i: np.ndarray, j: np.ndarray,
                          label: np.ndarray, cap: float) -> np.ndarray:
    """Term-frequency adjustment for pairs whose full names agree exactly.

    "Same forename and surname" is the same level for JOHN SMITH and for SHANNON HOWE, yet two
    different people share the second far less often. For pairs with one full name, the weight
    is corrected by log2(typical share of that name among two-people pairs that agree on a name
    / this name's share), capped at +-cap: a rare name adds, a common name takes away. Shares
    count people (agency token groups), not rows, so a person with ten police events does not
    make their name look common.
    """
    present = pd.notna(name)
    frame = pd.DataFrame({"name": name[present], "g": person_group[present]}).drop_duplicates()
    counts = frame.groupby("name").size()
    share = pd.Series(name).map(counts / max(len(frame), 1)).to_numpy(dtype=np.float64)
    agree = present[i] & present[j] & (name[i] == name[j])
    out = np.zeros(len(i))
    negatives = agree & (label == 0)
    if not negatives.any():
        return out
    typical = float(np.exp(np.mean(np.log(share[i[negatives]]))))
    out[agree] = np.clip(np.log2(typical / share[i[agree]]), -cap, cap)
    return out


def score(model: FSModel, levels: pd.DataFrame, *, with_prior: bool = True,
          extra: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Per pair: the prior's weight (`w_prior`, with the prior), each feature's contribution (log2 m/u, 0
    when missing), match weight, probability.

    The match weight is the sum of the w_ columns, added in their order (the prior first), so
    probability = 1 / (1 + 2^-weight): an analyst adds the columns up and sees the weight and the
    probability follow, with nothing left out of the file. `extra` adds named contributions (such
    as the name-frequency adjustment).
    """
    out = pd.DataFrame(index=levels.index)
    total = np.full(len(levels), model.prior_weight() if with_prior else 0.0)
    if with_prior:
        out["w_prior"] = total
    for name, contribution in _contributions(model, levels, extra):
        out[f"w_{name}"] = contribution
        total = total + contribution
    out["match_weight"] = total
    out["match_probability"] = probability_of(total)
    return out


def match_probability(model: FSModel, levels: pd.DataFrame, *, extra: dict[str, np.ndarray] | None = None
                      ) -> np.ndarray:
    """Per pair: `score`'s match_probability (the same sums in the same order), without its table.

    Clustering re-scores every pair after each pass that finds moves and needs only this: the table
    of every contribution is a column of floats per feature over tens of millions of pairs.
    """
    total = np.full(len(levels), model.prior_weight())
    for _, contribution in _contributions(model, levels, extra):
        total = total + contribution
    return probability_of(total)


def _contributions(model: FSModel, levels: pd.DataFrame, extra: dict[str, np.ndarray] | None
                   ) -> Iterator[tuple[str, np.ndarray]]:
    """(name, per-pair log2 m/u) for each feature (0 where its level is missing), then each extra."""
    weights = model.weights()
    for f in FEATURES:
        lv = levels[f].to_numpy()
        yield f, np.where(lv >= 0, weights[f][np.maximum(lv, 0)], 0.0)
    yield from (extra or {}).items()
