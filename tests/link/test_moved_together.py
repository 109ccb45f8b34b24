"""A household that moved together is seen from its names: two people at one address each named at another.

A couple's GP registrations stay at the old address, the register lists them at the new one, and no
agency knows both. One name at another address is what a namesake looks like; two people's names
moving between the same two addresses is a household that moved, and the pairs across the two
addresses are then compared as if at one address (`people.moved_together`).
"""

from __future__ import annotations

import numpy as np

from pipeline.link.model import IDENTITY, PLACE_DIFFERENT_AREA, PLACE_WIDTH
from pipeline.link.people import moved_together

SAME_NAME_UNDATED = 3 * (IDENTITY.nb + 1) + IDENTITY.nb  # forename same, birth date unknown
SAME_NAME_OTHER_BIRTH = 3 * (IDENTITY.nb + 1) + 0  # forename same, birth date different
CLOSE_NAME_UNDATED = 2 * (IDENTITY.nb + 1) + IDENTITY.nb  # forename one slip apart (PRYA, PRIYA), undated
SIMILAR_NAME_UNDATED = 1 * (IDENTITY.nb + 1) + IDENTITY.nb  # forename only similar (JW >= 0.80), undated
SAME_SURNAME_ELSEWHERE = 3 * PLACE_WIDTH + PLACE_DIFFERENT_AREA
CLOSE_SURNAME_ELSEWHERE = 2 * PLACE_WIDTH + PLACE_DIFFERENT_AREA  # COOPER, COOPPER
SHARED_PART_SURNAME_ELSEWHERE = 1 * PLACE_WIDTH + PLACE_DIFFERENT_AREA  # COOPER, COOPER PEARCE
OLD, NEW, OTHER = "A:OLD", "A:NEW", "A:OTHER"


def moves(ids, label, pairs, identity, family=None):
    i, j = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    family = np.full(len(pairs), SAME_SURNAME_ELSEWHERE) if family is None else np.array(family)
    return moved_together(np.array(ids, dtype=object), np.array(label), i, j, np.array(identity), family).tolist()


def test_two_people_named_at_both_addresses_make_the_move_known():
    # 0, 1: a couple's GP records at the old address; 2, 3: their register entries at the new one.
    ids, label = [OLD, OLD, NEW, NEW], [0, 1, 2, 3]
    assert moves(ids, label, [(0, 2), (1, 3)], [SAME_NAME_UNDATED] * 2) == [True, True]


def test_a_name_typed_with_one_slip_by_one_agency_still_makes_the_move_known():
    # The GP has PRYA CHOPRA at the old address, the register PRIYA CHOPRA at the new one.
    ids, label = [OLD, OLD, NEW, NEW], [0, 1, 2, 3]
    assert moves(ids, label, [(0, 2), (1, 3)], [SAME_NAME_UNDATED, CLOSE_NAME_UNDATED]) == [True, True]
    family = [SAME_SURNAME_ELSEWHERE, CLOSE_SURNAME_ELSEWHERE]
    assert moves(ids, label, [(0, 2), (1, 3)], [SAME_NAME_UNDATED] * 2, family) == [True, True]


def test_names_only_similar_or_sharing_a_part_do_not_make_a_move():
    ids, label = [OLD, OLD, NEW, NEW], [0, 1, 2, 3]
    assert moves(ids, label, [(0, 2), (1, 3)], [SAME_NAME_UNDATED, SIMILAR_NAME_UNDATED]) == [False, False]
    family = [SAME_SURNAME_ELSEWHERE, SHARED_PART_SURNAME_ELSEWHERE]
    assert moves(ids, label, [(0, 2), (1, 3)], [SAME_NAME_UNDATED] * 2, family) == [False, False]


def test_one_name_at_another_address_is_a_namesake_not_a_move():
    assert moves([OLD, NEW], [0, 1], [(0, 1)], [SAME_NAME_UNDATED]) == [False]


def test_names_whose_birth_dates_disagree_do_not_make_a_move():
    ids, label = [OLD, OLD, NEW, NEW], [0, 1, 2, 3]
    assert moves(ids, label, [(0, 2), (1, 3)], [SAME_NAME_UNDATED, SAME_NAME_OTHER_BIRTH]) == [False, False]


def test_one_person_named_twice_at_each_address_is_still_one_name():
    # 0, 1: one person's two records at the old address; 2, 3: two register entries... of one person's name.
    ids, label = [OLD, OLD, NEW, NEW], [0, 0, 2, 2]
    assert moves(ids, label, [(0, 2), (1, 3)], [SAME_NAME_UNDATED] * 2) == [False, False]


def test_the_move_is_between_those_two_addresses_only():
    ids, label = [OLD, OLD, NEW, NEW, OTHER], [0, 1, 2, 3, 4]
    pairs = [(0, 2), (1, 3), (0, 4)]
    assert moves(ids, label, pairs, [SAME_NAME_UNDATED] * 3) == [True, True, False]


def test_two_families_sharing_names_are_not_a_move_when_one_name_has_two_birth_dates():
    # A LAURA and a GEORGE SMITH at each address; the two LAURAs' GP records give two birth dates.
    ids, label = [OLD, OLD, NEW, NEW, OLD, NEW], [0, 1, 2, 3, 4, 5]
    pairs = [(0, 2), (1, 3), (4, 5)]
    assert moves(ids, label, pairs, [SAME_NAME_UNDATED, SAME_NAME_UNDATED, SAME_NAME_OTHER_BIRTH]) == \
        [False, False, False]
