"""Training from level counts (`link.model`): the histogram a distributed run combines across partitions.

A run on a cluster compares its candidate pairs partition by partition and never holds every
pair's levels on one machine. Each partition counts its pairs per cell (label, identity level,
family level, sex level); the counts add up exactly, and `train` reads nothing else. So the
model cannot depend on how the pairs were split, and it is the model of all the pairs.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from pipeline.link.model import (
    _ONE_CHANGE,
    _ONE_SLIP,
    FAMILY,
    FEATURES,
    IDENTITY,
    LEVELS,
    MISSING,
    PLACE_DIFFERENT_AREA,
    PLACE_WIDTH,
    SAME_PERSON_DETAILS,
    SAME_SURNAME_ADDRESS,
    FSModel,
    LevelCounts,
    _em_one_feature,
    _probability,
    level_counts,
    monotone_forename,
    score,
    train,
    train_pairs,
)

ONE, TWO, UNKNOWN = 1, 0, -1  # a pair's training label: one person, two people, unknown
MOVED = 3 * PLACE_WIDTH + PLACE_DIFFERENT_AREA  # family: same surname, another area
DIFFERENT = 0  # identity or family: nothing in common (level 0)
CLOSE_FORENAME = 2 * (IDENTITY.nb + 1) + 3  # identity: forename level 2 (close), birth-date level 3 (same)


AGREE = {"identity": SAME_PERSON_DETAILS, "family": SAME_SURNAME_ADDRESS, "sex": 1}


def random_pairs(seed: int, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Pairs as a run makes them: matches mostly agree, non-matches mostly differ; some levels missing.

    About 30% of pairs are one person; a third of either kind carry an agency's label.
    """
    rng = np.random.default_rng(seed)
    match = rng.random(n) < 0.3
    levels = pd.DataFrame(index=range(n))
    for f in FEATURES:
        typical = np.where(match, AGREE[f], DIFFERENT)
        values = np.where(rng.random(n) < 0.75, typical, rng.integers(0, len(LEVELS[f]), n))
        values[rng.random(n) < 0.05] = MISSING
        levels[f] = values.astype(np.int8)
    labelled = rng.random(n) < 0.35
    label = np.where(labelled, np.where(match, ONE, TWO), UNKNOWN).astype(np.int8)
    return levels, label


def random_split(seed: int, n: int, k: int) -> list[np.ndarray]:
    """The positions 0..n-1 shuffled and cut into k parts, some of them empty."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    cuts = np.sort(rng.integers(0, n + 1, k - 1))
    cuts[: k // 3] = 0  # the first parts empty, as a partition with no candidate pairs
    return np.split(order, cuts)


def assert_same_model(a: FSModel, b: FSModel) -> None:
    for f in FEATURES:
        np.testing.assert_array_equal(a.m[f], b.m[f])
        np.testing.assert_array_equal(a.u[f], b.u[f])
    assert a.prior == b.prior
    assert a.iterations == b.iterations
    assert a.labelled == b.labelled
    assert a.shares == b.shares


# --------------------------------------------------------------------------- the histogram
def test_each_pair_is_counted_in_the_cell_of_its_label_and_levels_with_missing_a_cell_of_its_own():
    levels = pd.DataFrame({"identity": [SAME_PERSON_DETAILS, SAME_PERSON_DETAILS], "family": [MISSING, MISSING],
                           "sex": [1, 1]}, dtype=np.int8)
    counts = level_counts(levels, np.array([ONE, ONE]))
    assert counts.total == 2
    assert counts.with_label(ONE)[SAME_PERSON_DETAILS + 1, 0, 2] == 2  # index = level + 1: missing is 0
    assert counts.cells[ONE + 1, SAME_PERSON_DETAILS + 1, MISSING + 1, 1 + 1] == 2
    assert counts.with_label(TWO).sum() == counts.with_label(UNKNOWN).sum() == 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 2, 5, 17])
def test_counts_of_a_random_split_combined_are_the_counts_of_all_pairs(seed, k):
    levels, label = random_pairs(seed, 3000)
    parts = random_split(seed, len(label), k)
    assert any(len(p) == 0 for p in parts) or k < 3
    counted = [level_counts(levels.iloc[p], label[p]) for p in parts]
    whole = level_counts(levels, label)
    assert LevelCounts.combine(counted) == whole
    assert LevelCounts.combine(reversed(counted)) == whole  # the order parts arrive in is no matter
    assert sum(counted, LevelCounts.empty()) == whole
    assert sum(c.total for c in counted) == whole.total == len(label)


def test_no_parts_combine_to_no_pairs_and_nothing_changes_a_count_by_being_added_to_it():
    levels, label = random_pairs(0, 100)
    counts = level_counts(levels, label)
    assert LevelCounts.combine([]) == LevelCounts.empty()
    assert LevelCounts.empty().total == 0
    assert counts + LevelCounts.empty() == counts
    assert level_counts(levels.iloc[:0], label[:0]) == LevelCounts.empty()


def test_counts_are_frozen_and_arrive_intact_across_processes():
    """Dask pickles what a worker returns; the counts that arrive are checked and frozen again."""
    levels, label = random_pairs(1, 500)
    counts = level_counts(levels, label)
    with pytest.raises(ValueError):
        counts.cells[0, 0, 0, 0] = 7
    arrived = pickle.loads(pickle.dumps(counts))
    assert arrived == counts
    assert not arrived.cells.flags.writeable


def test_counts_that_cannot_be_counts_of_pairs_are_refused():
    with pytest.raises(ValueError, match="shape"):
        LevelCounts(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="negative"):
        LevelCounts(-np.ones(LevelCounts.SHAPE))


def test_a_label_or_level_out_of_range_is_an_error_not_a_pair_left_out():
    levels, label = random_pairs(2, 10)
    with pytest.raises(ValueError, match="label"):
        level_counts(levels, np.where(np.arange(10) == 3, 2, label))
    wrong = levels.assign(family=levels["family"].where(levels.index != 4, len(LEVELS["family"])))
    with pytest.raises(ValueError, match="family"):
        level_counts(wrong, label)
    with pytest.raises(ValueError, match="labels"):
        level_counts(levels, label[:-1])


# --------------------------------------------------------------------------- training from counts
@pytest.mark.parametrize("min_positive", [1000, 10**9])  # m held to the within-agency shape, or free
@pytest.mark.parametrize("seed", range(3))
def test_a_model_trained_from_combined_counts_is_exactly_the_model_of_all_pairs(seed, min_positive):
    levels, label = random_pairs(seed, 12000)
    assert (label == ONE).sum() >= 1000  # so min_positive=1000 does restrict the one-feature EMs
    whole = train(level_counts(levels, label), min_positive=min_positive)
    for k in (2, 7):
        parts = random_split(seed + 100 * k, len(label), k)
        combined = LevelCounts.combine(level_counts(levels.iloc[p], label[p]) for p in parts)
        assert_same_model(train(combined, min_positive=min_positive), whole)
    assert_same_model(train_pairs(levels, label, min_positive=min_positive), whole)


def hand_made_pairs() -> tuple[pd.DataFrame, np.ndarray]:
    """Thirteen pairs whose counts are written out in `test_m_and_u_are_the_frequencies_of_the_right_pairs`."""
    rows = [  # identity, family, sex, label
        (SAME_PERSON_DETAILS, SAME_SURNAME_ADDRESS, 1, TWO),  # 1  (a father and son of one name)
        (SAME_PERSON_DETAILS, DIFFERENT, 0, TWO),  # 2  (namesakes)
        (DIFFERENT, SAME_SURNAME_ADDRESS, MISSING, TWO),  # 3  (siblings; one record without sex)
        (DIFFERENT, DIFFERENT, 1, TWO),  # 4
        (SAME_PERSON_DETAILS, SAME_SURNAME_ADDRESS, 1, ONE),  # 5
        (SAME_PERSON_DETAILS, SAME_SURNAME_ADDRESS, 1, ONE),  # 6
        (SAME_PERSON_DETAILS, MOVED, 1, ONE),  # 7  (a move within one agency)
        (SAME_PERSON_DETAILS, MOVED, 1, UNKNOWN),  # 8  chosen for family's EM
        (SAME_PERSON_DETAILS, MOVED, MISSING, UNKNOWN),  # 9  chosen too: unknown sex is not different sex
        (SAME_PERSON_DETAILS, DIFFERENT, 0, UNKNOWN),  # 10 not chosen: different sex
        (CLOSE_FORENAME, SAME_SURNAME_ADDRESS, 1, UNKNOWN),  # 11 chosen for identity's EM
        (DIFFERENT, SAME_SURNAME_ADDRESS, 1, UNKNOWN),  # 12 chosen for identity's EM
        (DIFFERENT, DIFFERENT, 1, UNKNOWN),  # 13 chosen for neither
    ]
    frame = pd.DataFrame([r[:3] for r in rows], columns=list(FEATURES)).astype(np.int8)
    return frame, np.array([r[3] for r in rows], dtype=np.int8)


def test_the_hand_made_levels_mean_what_their_names_say():
    assert LEVELS["identity"][CLOSE_FORENAME] == "forename close (JW >= 0.92), birth date same"
    assert LEVELS["identity"][SAME_PERSON_DETAILS] == "forename same or equivalent, birth date same"
    assert LEVELS["family"][MOVED] == "surname same or equivalent, place different area"
    assert LEVELS["family"][SAME_SURNAME_ADDRESS] == "surname same or equivalent, place same address"


@pytest.mark.parametrize("min_positive", [3, 1000])  # 3 one-person pairs: restricted at 3, free at 1000
def test_m_and_u_are_the_frequencies_of_the_right_pairs(min_positive):
    """Each count written out: which pairs enter u, m of sex, and each one-feature EM (pseudo-count 1)."""
    levels, label = hand_made_pairs()
    model = train(level_counts(levels, label), min_positive=min_positive)

    # u: the two-people pairs 1-4; a missing level (pair 3's sex) is in no level.
    np.testing.assert_array_equal(model.u["sex"], np.array([1 + 1, 2 + 1]) / 5)
    u_identity = np.ones(IDENTITY.size)
    u_identity[SAME_PERSON_DETAILS] += 2  # pairs 1, 2
    u_identity[DIFFERENT] += 2  # pairs 3, 4
    np.testing.assert_array_equal(model.u["identity"], IDENTITY.normalise(u_identity))
    u_family = np.ones(FAMILY.size)
    u_family[SAME_SURNAME_ADDRESS] += 2  # pairs 1, 3
    u_family[DIFFERENT] += 2  # pairs 2, 4
    np.testing.assert_array_equal(model.u["family"], FAMILY.normalise(u_family))
    # m of sex: the one-person pairs 5-7.
    np.testing.assert_array_equal(model.m["sex"], np.array([0 + 1, 3 + 1]) / 5)

    restrict = min_positive <= 3
    known_f = {level: FAMILY.known(np.array([level]))[0] for level in (MOVED, SAME_SURNAME_ADDRESS, DIFFERENT)}
    chosen_f = np.zeros(FAMILY.na * FAMILY.nb)
    chosen_f[known_f[MOVED]] = 2  # pairs 8, 9
    u_f = np.ones(FAMILY.na * FAMILY.nb)
    u_f[known_f[SAME_SURNAME_ADDRESS]] += 1  # pair 1: two people with the same forename and birth date
    u_f[known_f[DIFFERENT]] += 1  # pair 2
    base_f = np.ones(FAMILY.na * FAMILY.nb)
    base_f[known_f[SAME_SURNAME_ADDRESS]] += 2  # pairs 5, 6
    base_f[known_f[MOVED]] += 1  # pair 7
    m_f, share_f = _em_one_feature(chosen_f, u_f / u_f.sum(), pseudo_count=1.0,
                                   base=base_f / base_f.sum() if restrict else None,
                                   free=_ONE_CHANGE if restrict else None)
    np.testing.assert_array_equal(model.m["family"], FAMILY.m_from_known(m_f))

    known_i = {level: IDENTITY.known(np.array([level]))[0] for level in (SAME_PERSON_DETAILS, CLOSE_FORENAME,
                                                                          DIFFERENT)}
    chosen_i = np.zeros(IDENTITY.na * IDENTITY.nb)
    chosen_i[known_i[CLOSE_FORENAME]] = 1  # pair 11
    chosen_i[known_i[DIFFERENT]] = 1  # pair 12
    u_i = np.ones(IDENTITY.na * IDENTITY.nb)
    u_i[known_i[SAME_PERSON_DETAILS]] += 1  # pair 1: two people of one household
    u_i[known_i[DIFFERENT]] += 1  # pair 3
    base_i = np.ones(IDENTITY.na * IDENTITY.nb)
    base_i[known_i[SAME_PERSON_DETAILS]] += 3  # pairs 5-7: every one-person pair, moved or not
    m_i, share_i = _em_one_feature(chosen_i, u_i / u_i.sum(), pseudo_count=1.0,
                                   base=base_i / base_i.sum() if restrict else None,
                                   free=_ONE_SLIP if restrict else None)
    # ... then its forename levels put in order at every birth-date level (test_model_order.py).
    np.testing.assert_array_equal(model.m["identity"],
                                  monotone_forename(IDENTITY.m_from_known(m_i), model.u["identity"]))

    assert model.shares == {"family_selection": share_f, "identity_selection": share_i}
    assert model.labelled == {"one_person": 3, "two_people": 4, "unlabelled": 6}


@pytest.mark.parametrize("seed", [7, 8])
def test_the_prior_is_the_fixed_point_of_the_mean_posterior_over_the_unlabelled_pairs(seed):
    """Counted per cell, the prior is still what EM over the unlabelled pairs, one by one, settles on."""
    levels, label = random_pairs(seed, 20000)
    model = train(level_counts(levels, label))
    assert model.iterations < 200  # converged, not stopped
    assert 0.1 < model.prior < 0.9  # not a fixed point at an edge, where every mean is near it
    unlabelled = levels[label == UNKNOWN]
    assert (unlabelled == MISSING).any().any()  # pairs whose missing levels add nothing to their weight
    bf = score(model, unlabelled, with_prior=False)["match_weight"].to_numpy()
    assert abs(float(np.mean(_probability(bf, model.prior))) - model.prior) < 1e-9


# --------------------------------------------------------------------------- nothing to learn from
def test_no_pairs_train_a_model_of_pseudo_counts_alone_with_the_prior_where_its_em_starts():
    model = train(LevelCounts.empty())
    assert model.labelled == {"one_person": 0, "two_people": 0, "unlabelled": 0}
    assert model.prior == 0.1 and model.iterations == 1  # no unlabelled pair to move it
    for f in FEATURES:
        assert np.isfinite(model.weights()[f]).all()
    np.testing.assert_array_equal(model.u["sex"], [0.5, 0.5])
    no_levels = pd.DataFrame({f: np.array([], dtype=np.int8) for f in FEATURES})
    assert_same_model(train_pairs(no_levels, np.array([], dtype=np.int8)), model)


def test_labelled_pairs_only_train_m_and_u_and_leave_the_prior_where_its_em_starts():
    levels, label = random_pairs(3, 4000)
    known = label != UNKNOWN
    model = train(level_counts(levels[known], label[known]))
    assert model.labelled["unlabelled"] == 0
    assert model.labelled["one_person"] + model.labelled["two_people"] == known.sum()
    assert model.prior == 0.1 and model.iterations == 1
    for f in FEATURES:
        assert np.isfinite(model.weights()[f]).all()
