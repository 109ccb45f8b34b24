"""People and families keep their keys from month to month (`pipeline.link.continuity`).

Each case is one month's change to a family, stated with hand-made keys: last month's people and
households, this month's fresh linkage, and the keys that must come out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.link.continuity import Earlier, carry_households, carry_people

AS_OF = "2026-11-30"


def earlier(links: list[tuple[str, str, str, str]], first_seen: dict[str, str] | None = None,
            history: pd.DataFrame | None = None) -> Earlier:
    """Last month: (source, record id, person key, household key) per record."""
    frame = pd.DataFrame(links, columns=["source", "source_record_id", "person_key", "household_key"])
    if first_seen:
        frame["person_first_seen"] = frame["person_key"].map(first_seen).fillna("2026-10-31")
    households = pd.DataFrame({"household_key": frame["household_key"].unique()})
    households["first_seen"] = "2026-10-31"
    return Earlier(links=frame, households=households, as_of="2026-10-31",
                   history=history if history is not None else pd.DataFrame(
                       columns=["kind", "retired_key", "successor_key", "change", "as_of"]))


def rekey(values: np.ndarray) -> np.ndarray:
    return np.asarray([f"R({v})" for v in values], dtype=object)


def people(records: list[tuple[str, str, str]], before: Earlier) -> dict[str, str]:
    """This month: (source, record id, fresh person key) per record → fresh key: final key."""
    frame = pd.DataFrame(records, columns=["source", "id", "fresh"])
    return carry_people(frame["source"], frame["id"], frame["fresh"].to_numpy(dtype=object), before, AS_OF,
                        rekey).keys


def test_a_person_whose_records_persist_keeps_their_key_whatever_this_run_would_call_them():
    before = earlier([("police", "P1", "Pmum", "H1"), ("health", "G1", "Pmum", "H1")])
    assert people([("police", "P1", "Pfresh"), ("health", "G1", "Pfresh")], before) == {"Pfresh": "Pmum"}


def test_a_split_leaves_the_key_with_the_part_holding_most_earlier_records_and_never_gives_it_twice():
    before = earlier([("police", "P1", "Pa", "H1"), ("health", "G1", "Pa", "H1"), ("schools", "S1", "Pa", "H1")])
    keys = people([("police", "P1", "Px"), ("health", "G1", "Px"), ("schools", "S1", "Py")], before)
    assert keys["Px"] == "Pa" and keys["Py"] != "Pa"


def test_a_merge_keeps_the_older_key_and_records_the_other_as_merged_into_it():
    before = earlier([("police", "P1", "Pold", "H1"), ("health", "G1", "Pnew", "H1"), ("health", "G2", "Pnew", "H1")],
                     first_seen={"Pold": "2026-08-31", "Pnew": "2026-10-31"})
    frame = pd.DataFrame([("police", "P1", "Pm"), ("health", "G1", "Pm"), ("health", "G2", "Pm")],
                         columns=["source", "id", "fresh"])
    carried = carry_people(frame["source"], frame["id"], frame["fresh"].to_numpy(dtype=object), before, AS_OF, rekey)
    assert carried.keys == {"Pm": "Pold"}
    assert carried.history.to_dict("records") == [{"kind": "person", "retired_key": "Pnew", "successor_key": "Pold",
                                                   "change": "merged", "as_of": AS_OF}]


def test_a_new_persons_fresh_key_equal_to_someone_elses_earlier_key_is_derived_again():
    before = earlier([("police", "P1", "Pa", "H1")])
    keys = people([("police", "P1", "Pb"), ("police", "P9", "Pa")], before)  # the newcomer's fresh key is Pa
    assert keys["Pb"] == "Pa" and keys["Pa"] == f"R(Pa\x1f{AS_OF})"


def test_a_retired_key_is_never_given_out_again():
    history = pd.DataFrame([{"kind": "person", "retired_key": "Pgone", "successor_key": "Pa", "change": "merged",
                             "as_of": "2026-09-30"}])
    before = earlier([("police", "P1", "Pa", "H1")], history=history)
    assert people([("police", "P7", "Pgone")], before) == {"Pgone": f"R(Pgone\x1f{AS_OF})"}


def households(members: dict[str, str], before: Earlier) -> dict[str, str]:
    """This month: person key → fresh household key; returns fresh household key → final key."""
    return carry_households(np.asarray(list(members), dtype=object), np.asarray(list(members.values()), dtype=object),
                            before, AS_OF, rekey).keys


FAMILY = earlier([("police", "P1", "Pmum", "Hfam"), ("health", "G1", "Pkid", "Hfam"),
                  ("police", "P2", "Pdad", "Hfam")])


def test_a_family_that_moves_keeps_its_household_key():
    # This run's fresh household key comes from a new address, yet the same three people: the same family.
    assert households({"Pmum": "Hnewplace", "Pkid": "Hnewplace", "Pdad": "Hnewplace"}, FAMILY) == {"Hnewplace": "Hfam"}


def test_a_new_family_in_a_vacated_flat_gets_a_new_key():
    # The fresh key equals the old family's key (same founder hash would be a clash): it is derived again.
    keys = households({"Pstranger": "Hfam", "Pchild": "Hfam"}, FAMILY)
    assert keys["Hfam"] != "Hfam"


def test_a_baby_joining_and_a_partner_leaving_keep_the_familys_key():
    keys = households({"Pmum": "Hx", "Pkid": "Hx", "Pbaby": "Hx", "Pdad": "Hdadsflat"}, FAMILY)
    assert keys["Hx"] == "Hfam" and keys["Hdadsflat"] != "Hfam"


def test_a_household_split_evenly_leaves_the_key_with_the_larger_household():
    before = earlier([("police", "P1", "Pa", "H1"), ("police", "P2", "Pb", "H1")])
    keys = households({"Pa": "Hx", "Pnewpartner": "Hx", "Pb": "Hy"}, before)  # one continuing member each
    assert keys["Hx"] == "H1" and keys["Hy"] != "H1"


def test_a_person_whose_record_ids_were_all_reissued_is_found_by_their_agency_token():
    before = earlier([("health", "G1", "Pmum", "H1"), ("police", "P1", "Pdad", "H1")])
    before = Earlier(links=before.links, households=before.households, history=before.history, as_of=before.as_of,
                     tokens=pd.DataFrame({"source": ["health", "police"], "source_record_id": ["G1", "P1"],
                                          "token_key": ["Tnhs", "Tpnc"]}))
    frame = pd.DataFrame([("health", "G1-new", "Px"), ("police", "P1-new", "Py")], columns=["source", "id", "fresh"])
    carried = carry_people(frame["source"], frame["id"], frame["fresh"].to_numpy(dtype=object), before, AS_OF, rekey,
                           token_key=np.asarray(["Tnhs", None], dtype=object))
    assert carried.keys["Px"] == "Pmum"  # the NHS token, under a new record id
    assert carried.keys["Py"] != "Pdad"  # no id and no token in common: a new person, never someone else's key
