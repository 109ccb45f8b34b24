"""Clustering records into people: strongest links first, never chaining two people into one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.link.cluster import cluster_records, encode_exclusive


def test_a_chain_never_joins_two_tokens_of_an_agency_that_holds_no_duplicates():
    # A - B - C linked strongly; A and C are two pupils (two UPNs): B joins one of them only.
    source = np.array(["schools", "health", "schools"], dtype=object)
    tok = np.array(["upn-a", "nhs-b", "upn-c"], dtype=object)
    links = pd.DataFrame({"i": [0, 1], "j": [1, 2], "p": [0.99, 0.98]})
    label = cluster_records(3, np.arange(3), encode_exclusive(source, tok, {"schools"}), links,
                            pd.DataFrame({"i": [], "j": []}))
    assert label[0] == label[1] != label[2]


def test_two_tokens_of_an_agency_that_holds_duplicates_may_join():
    source = np.array(["health", "police", "health"], dtype=object)
    tok = np.array(["nhs-a", "nominal-b", "nhs-c"], dtype=object)
    links = pd.DataFrame({"i": [0, 1], "j": [1, 2], "p": [0.99, 0.98]})
    label = cluster_records(3, np.arange(3), encode_exclusive(source, tok, {"schools"}), links,
                            pd.DataFrame({"i": [], "j": []}))
    assert label[0] == label[1] == label[2]


def test_a_pair_found_to_be_two_people_is_never_joined_through_a_third_record():
    links = pd.DataFrame({"i": [0, 1], "j": [1, 2], "p": [0.97, 0.99]})
    cannot = pd.DataFrame({"i": [0], "j": [2]})
    label = cluster_records(3, np.arange(3), np.full(3, -1), links, cannot)
    assert label[1] == label[2] != label[0]  # the stronger link wins


def test_records_sharing_an_agency_token_are_one_person_without_any_link():
    groups = np.array([0, 1, 0, 2])
    label = cluster_records(4, groups, np.full(4, -1), pd.DataFrame({"i": [], "j": [], "p": []}),
                            pd.DataFrame({"i": [], "j": []}))
    assert label[0] == label[2] and len({label[0], label[1], label[3]}) == 3


def test_a_cluster_keeps_the_agency_tokens_of_the_smaller_cluster_it_absorbs():
    # Record 0 (register token R1) joins the larger cluster {1, 2}; the joined cluster holds R1, so
    # record 3, another register token (R2) linked to 2, must not join it.
    source = np.array(["electoral_register", "health", "health", "electoral_register"], dtype=object)
    tok = np.array(["r1", "nhs-x", "nhs-x", "r2"], dtype=object)
    groups = np.array([0, 1, 1, 3])
    links = pd.DataFrame({"i": [0, 2], "j": [1, 3], "p": [0.99, 0.9]})
    label = cluster_records(4, groups, encode_exclusive(source, tok, {"electoral_register"}), links,
                            pd.DataFrame({"i": [], "j": []}))
    assert label[0] == label[1] == label[2] != label[3]


# Birth dates as birthdates.birth_numbers gives them.
FATHER, SON, UNDATED = 19710211, 19990923, -1


def test_father_and_son_are_never_joined_through_a_register_record_without_a_birth_date():
    # 0: father's health record, 1: son's school record, 2: the register record that matches both
    # (same name, same address, no birth date). Their own pair is not a link, nor below cannot-link.
    links = pd.DataFrame({"i": [0, 1], "j": [2, 2], "p": [0.90, 0.85]})
    label = cluster_records(3, np.arange(3), np.full(3, -1), links, pd.DataFrame({"i": [], "j": []}),
                            birth=np.array([FATHER, SON, UNDATED]))
    assert label[0] == label[2] != label[1]  # the stronger link wins; the son stays himself


def test_birth_dates_one_slip_apart_are_one_person_joined_through_an_undated_record():
    for other in (19711102, 19710212, 19720211):  # day and month swapped; the day mistyped; the year off
        links = pd.DataFrame({"i": [0, 1], "j": [2, 2], "p": [0.90, 0.85]})
        label = cluster_records(3, np.arange(3), np.full(3, -1), links, pd.DataFrame({"i": [], "j": []}),
                                birth=np.array([FATHER, other, UNDATED]))
        assert label[0] == label[1] == label[2], other


def test_a_token_groups_birth_date_is_the_one_most_of_its_records_give():
    # 0-2: one police nominal, its third event mistyped with another man's date; 3: the father's health
    # record; 4: an undated register record linked to both. The one mistyped event does not make the
    # nominal look like two people, so the health record joins it through the register record.
    groups = np.array([0, 0, 0, 3, 4])
    links = pd.DataFrame({"i": [0, 3], "j": [4, 4], "p": [0.95, 0.90]})
    label = cluster_records(5, groups, np.full(5, -1), links, pd.DataFrame({"i": [], "j": []}),
                            birth=np.array([FATHER, FATHER, SON, FATHER, UNDATED]))
    assert len(set(label.tolist())) == 1


def test_one_noisy_record_of_a_token_group_does_not_make_the_group_two_people_with_a_match():
    from pipeline.link.cluster import two_people_pairs

    # Records 0-2 are one agency token; 3 is another agency's record. 0 and 1 match 3 at 0.999; the
    # noisy record 2 scores 0.001 against 3. Record 5 (its own group) scores 0.001 against 3 and nothing
    # better: the two of them are two people.
    start = np.array([0, 0, 0, 3, 4, 5])
    i, j = np.array([0, 1, 2, 3, 0]), np.array([3, 3, 3, 5, 1])
    p = np.array([0.999, 0.999, 0.001, 0.001, 0.002])
    assert two_people_pairs(start, i, j, p, 0.01).tolist() == [False, False, False, True, False]


def test_of_two_equally_probable_links_the_one_whose_forenames_agree_better_is_taken():
    # 0: Paul's record, 1: Paula's, 2: an undated register record naming Paula; both links at p 0.8,
    # Paul's (forename close, level 2) listed first, Paula's (forename same, level 3) second.
    links = pd.DataFrame({"i": [0, 1], "j": [2, 2], "p": [0.8, 0.8], "alike": [2, 3]})
    label = cluster_records(3, np.arange(3), np.full(3, -1), links, pd.DataFrame({"i": [0], "j": [1]}),
                            birth=np.array([19900314, 19930827, UNDATED]))
    assert label[1] == label[2] != label[0]
