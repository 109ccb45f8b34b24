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
