"""People and families keep their keys from month to month (`pipeline.link.continuity`).

Each case is one month's change to a family, stated with hand-made keys: last month's people and
households, this month's fresh linkage, and the keys that must come out. The model step's cases
give hand-made records (standardised as a run does) and a model with round-number weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import load_schemas
from pipeline.link.continuity import Carried, Earlier, Matcher, carry_households, carry_people, link_record_columns
from pipeline.link.model import FSModel
from pipeline.link.settings import load_linkage
from pipeline.link.standardise import records_from_landed

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


# --------------------------------------------------------------------------- the third step: the linkage model
def weighed_model() -> FSModel:
    """A model as training makes one, in round numbers (bits): an agreeing birth date or forename counts
    for one person, a differing one against; a shared surname and address count a little (families share them)."""
    forename = {0: -8, 1: -2, 2: 3, 3: 6, 4: 0}  # different, similar, close, same, unknown
    dob = {0: -10, 1: 1, 2: 4, 3: 8, 4: 0}  # different, two of three parts, swapped, same, unknown
    surname = {0: -4, 1: 0, 2: 2, 3: 3, 4: 0}
    place = {0: -1, 1: 0, 2: 1, 3: -6, 4: 3, 5: 0}  # other area, sector, postcode, other flat, same address, unknown
    weights = {"identity": np.array([forename[k // 5] + dob[k % 5] for k in range(25)], dtype=float),
               "family": np.array([surname[k // 6] + place[k % 6] for k in range(30)], dtype=float),
               "sex": np.array([-5.0, 0.5])}
    return FSModel(m={f: np.exp2(w) for f, w in weights.items()}, u={f: np.ones(len(w)) for f, w in weights.items()},
                   prior=0.01)


def standardised(rows: list[tuple[str, dict]]) -> pd.DataFrame:
    """Standardised records, in the order given, from (source, fields) rows of the register and health."""
    contracts = load_schemas().contracts
    base = {"address_line_1": "12 Acorn Road", "postcode": "LS30 1AB", "extract_date": "2026-11-30"}
    frames = []
    for source, fields in rows:
        contract = contracts[source]
        raw = pd.DataFrame([{c: (base | fields).get(c) for c in contract.columns}])
        for column in raw.columns:
            if column in ("dob", "attainer_dob", "extract_date"):
                raw[column] = pd.to_datetime(raw[column])
            else:
                raw[column] = raw[column].astype("string[pyarrow]")
        frames.append(records_from_landed({source: raw}, {source: contract}))
    return pd.concat(frames, ignore_index=True)


ADA_HEALTH = {"forename": "Ada", "surname": "Lovelace", "dob": "1985-12-10", "sex": "F"}
ADA_REGISTER = {"forename": "ADA", "surname": "LOVELACE"}
BOB_HEALTH = {"forename": "Robert", "surname": "Byron", "dob": "1960-01-22", "sex": "M",
              "address_line_1": "4 Elm Close", "postcode": "LS31 2CD"}


def last_month(people_records: list[tuple[str, str, str, dict]]) -> Earlier:
    """Last month: (source, record id, person key, fields) per record; everyone at one household, tokens as given."""
    records = standardised([(s, {"source_record_id": i} | f) for s, i, _, f in people_records])
    records["person_key"] = [p for _, _, p, _ in people_records]
    before = earlier([(s, i, p, "H1") for s, i, p, _ in people_records])
    tokens = pd.DataFrame({"source": [s for s, *_ in people_records], "source_record_id": [i for _, i, *_ in
                                                                                          people_records],
                           "token_key": [f"Told-{i}" for _, i, *_ in people_records]})
    return Earlier(links=before.links, households=before.households, history=before.history, as_of=before.as_of,
                   tokens=tokens, records=records[link_record_columns(load_linkage())])


def this_month(records: list[tuple[str, str, str, dict]], before: Earlier) -> Carried:
    """This month: (source, record id, fresh person key, fields) per record, every agency token new; carried keys."""
    frame = standardised([(s, {"source_record_id": i} | f) for s, i, _, f in records])
    fresh = np.asarray([p for _, _, p, _ in records], dtype=object)
    tokens = np.asarray([f"Tnew-{i}" for _, i, _, _ in records], dtype=object)
    return carry_people(frame["source"], frame["source_record_id"], fresh, before, AS_OF, rekey, tokens,
                        Matcher(frame, weighed_model(), load_linkage()))


ADA_AND_BOB = [("electoral_register", "E1", "Pada", ADA_REGISTER), ("health", "G1", "Pada", ADA_HEALTH),
               ("health", "G2", "Pbob", BOB_HEALTH)]


def test_a_person_whose_record_ids_and_token_were_all_reissued_keeps_their_key_through_the_model():
    # The register renumbered its electors (it has no person token) and health re-issued Ada's ids and token;
    # Bob's health record kept its id.
    carried = this_month([("electoral_register", "E1-new", "Px", ADA_REGISTER), ("health", "G1-new", "Px", ADA_HEALTH),
                          ("health", "G2", "Py", BOB_HEALTH)], last_month(ADA_AND_BOB))
    assert carried.keys == {"Px": "Pada", "Py": "Pbob"}
    assert carried.steps == {"record_id": 1, "agency_token": 0, "linkage_model": 1, "new_key": 0}


def test_someone_on_the_register_alone_keeps_their_key_when_the_register_is_renumbered():
    before = last_month([("electoral_register", "E1", "Pada", ADA_REGISTER)])
    carried = this_month([("electoral_register", "E7", "Px", ADA_REGISTER)], before)
    assert carried.keys == {"Px": "Pada"} and carried.steps["linkage_model"] == 1


def test_a_similar_name_at_the_same_address_with_another_birth_date_does_not_take_the_key():
    # Ada has left; her daughter Adah, new to health, lives at the same address: compared (same address, a
    # forename that sounds the same), but another birth date, and a child cannot be an undated elector.
    adah = {"forename": "Adah", "surname": "Lovelace", "dob": "2012-03-04", "sex": "F"}
    carried = this_month([("health", "G9", "Px", adah)], last_month(ADA_AND_BOB[:2]))
    assert carried.keys["Px"] != "Pada"
    assert carried.steps == {"record_id": 0, "agency_token": 0, "linkage_model": 0, "new_key": 1}


def test_an_earlier_key_is_given_once_to_the_strongest_match_and_the_other_gets_a_new_key():
    # This run left Ada's register record and her health record apart (two people); both resemble last month's
    # Ada, but only the health record agrees on her birth date too: it takes her key.
    carried = this_month([("electoral_register", "E1-new", "Pe", ADA_REGISTER), ("health", "G1-new", "Ph", ADA_HEALTH)],
                         last_month(ADA_AND_BOB[:2]))
    assert carried.keys["Ph"] == "Pada" and carried.keys["Pe"] != "Pada"
    assert carried.steps["linkage_model"] == 1 and carried.steps["new_key"] == 1


def test_two_equally_strong_matches_are_decided_the_same_way_whatever_the_order_of_records():
    twice = [("health", "G1-a", "Pa", ADA_HEALTH), ("health", "G1-b", "Pb", ADA_HEALTH)]
    before = last_month(ADA_AND_BOB[1:2])
    keys = this_month(twice, before).keys
    assert keys["Pa"] == "Pada" and keys["Pb"] != "Pada"  # the tie goes to the smaller fresh key
    assert this_month(twice[::-1], before).keys == keys


def test_the_model_only_looks_at_earlier_people_no_one_else_took():
    # Ada's health record kept its id. Her renumbered register entry was linked this month to a second health
    # record of hers (registered twice), not to the first. Those two resemble Ada more (four matching pairs of
    # records against one), but her key went to the record that kept its id: they are a new person's.
    carried = this_month([("health", "G1", "Px", ADA_HEALTH), ("electoral_register", "E1-new", "Py", ADA_REGISTER),
                          ("health", "G1-dup", "Py", ADA_HEALTH)], last_month(ADA_AND_BOB[:2]))
    assert carried.keys["Px"] == "Pada" and carried.keys["Py"] != "Pada"
    assert carried.steps == {"record_id": 1, "agency_token": 0, "linkage_model": 0, "new_key": 1}


def test_a_person_found_by_record_id_is_not_also_matched_by_the_model_to_another_earlier_person():
    # Last month health held Ada twice (a duplicate registration the run left apart). Her first record kept its id
    # and found her; the model compares only what the other steps left, so the duplicate's key is not merged
    # into hers (key_history says nothing) and goes unclaimed.
    before = last_month([("health", "G1", "Pada", ADA_HEALTH), ("health", "G7", "Pdup", ADA_HEALTH)])
    carried = this_month([("health", "G1", "Px", ADA_HEALTH)], before)
    assert carried.keys == {"Px": "Pada"} and carried.history.empty


def test_without_last_months_linkage_records_only_record_ids_and_tokens_carry_keys():
    before = last_month(ADA_AND_BOB)
    before = Earlier(links=before.links, households=before.households, history=before.history, as_of=before.as_of,
                     tokens=before.tokens)  # a run from before restricted/link_records.parquet
    carried = this_month([("health", "G1-new", "Px", ADA_HEALTH)], before)
    assert carried.keys["Px"] != "Pada" and carried.steps["linkage_model"] == 0


# -- agencies take up a move late: where did the family go? ------------------------------------------------

HOME, NEWFLAT = "Ahome", "Anew"


def at(before: Earlier, places: dict[str, str]) -> Earlier:
    """`before` with each earlier household's address key."""
    households = before.households.assign(address_key=before.households["household_key"].map(places))
    return Earlier(links=before.links, households=households, history=before.history, as_of=before.as_of)


def households_at(members: dict[str, tuple[str, str]], before: Earlier, children: set[str] = frozenset()) -> dict:
    """This month: person key → (fresh household key, address key); returns fresh household key → final key."""
    people = np.asarray(list(members), dtype=object)
    fresh = np.asarray([h for h, _ in members.values()], dtype=object)
    place = np.asarray([a for _, a in members.values()], dtype=object)
    adult = np.asarray([p not in children for p in members])
    return carry_households(people, fresh, before, AS_OF, rekey, place, adult).keys


ADULTS = at(earlier([("health", "G1", "Pmum", "Hfam"), ("health", "G2", "Pdad", "Hfam"),
                     ("health", "G3", "Pgran", "Hfam")]), {"Hfam": HOME})


def test_a_family_still_listed_at_a_flat_strangers_have_moved_into_keeps_its_key_where_part_of_it_went():
    # Mum and dad are still on the GP list at home, where a newcomer now lives; gran's records moved.
    keys = households_at({"Pmum": ("Hold", HOME), "Pdad": ("Hold", HOME), "Pstranger": ("Hold", HOME),
                          "Pgran": ("Hmoved", NEWFLAT)}, ADULTS)
    assert keys["Hmoved"] == "Hfam" and keys["Hold"] != "Hfam"


def test_without_a_stranger_the_part_with_most_of_the_family_keeps_the_key():
    keys = households_at({"Pmum": ("Hold", HOME), "Pdad": ("Hold", HOME), "Pgran": ("Hmoved", NEWFLAT)}, ADULTS)
    assert keys["Hold"] == "Hfam"


def test_a_flat_that_most_of_its_family_left_and_a_stranger_took_gets_a_new_key():
    # One lingering GP record of the old family and a newcomer: not the family any more.
    keys = households_at({"Pgran": ("Hflat", HOME), "Pstranger": ("Hflat", HOME)}, ADULTS)
    assert keys["Hflat"] != "Hfam"


def test_a_new_partner_moving_in_with_the_whole_family_keeps_the_familys_key():
    keys = households_at({"Pmum": ("Hx", HOME), "Pdad": ("Hx", HOME), "Pgran": ("Hx", HOME),
                          "Pnewpartner": ("Hx", HOME)}, ADULTS)
    assert keys["Hx"] == "Hfam"


def test_children_at_a_new_address_show_where_the_family_went():
    before = at(FAMILY, {"Hfam": HOME})  # Pmum, Pkid, Pdad; the school has the new address already
    keys = households_at({"Pmum": ("Hold", HOME), "Pdad": ("Hold", HOME), "Pkid": ("Hschool", NEWFLAT)}, before,
                         children={"Pkid"})
    assert keys["Hschool"] == "Hfam"


def test_a_couple_that_parts_leaves_the_key_with_the_partner_still_at_home():
    before = at(earlier([("police", "P1", "Pa", "H1"), ("police", "P2", "Pb", "H1")]), {"H1": HOME})
    keys = households_at({"Pa": ("Hzz", HOME), "Pb": ("Haa", NEWFLAT)}, before)  # Haa would win on the key order
    assert keys["Hzz"] == "H1" and keys["Haa"] != "H1"


def test_newcomers_who_arrive_together_where_the_old_family_is_still_listed_are_a_household_of_their_own():
    from pipeline.link.continuity import newcomers_apart

    group = newcomers_apart(np.asarray(["Pmum", "Pdad", "Pgran", "Pnew1", "Pnew2"], dtype=object),
                            np.asarray(["U:1"] * 5, dtype=object), ADULTS, np.ones(5, dtype=bool))
    assert group[0] == group[1] == group[2] != group[3] == group[4]
    lone = newcomers_apart(np.asarray(["Pmum", "Pnewpartner"], dtype=object), np.asarray(["U:1"] * 2, dtype=object),
                           ADULTS, np.ones(2, dtype=bool))
    assert lone[0] == lone[1]  # a lone newcomer joins the household: nothing tells a partner from a lodger
    babies = newcomers_apart(np.asarray(["Pmum", "Ptwin1", "Ptwin2"], dtype=object),
                             np.asarray(["U:1"] * 3, dtype=object), ADULTS, np.asarray([True, False, False]))
    assert babies[0] == babies[1] == babies[2]  # newborn twins are not a family arriving


def test_records_that_were_one_person_last_month_are_compared_across_a_move_when_at_two_addresses_now():
    from pipeline.link.model import PLACE_DIFFERENT_AREA, PLACE_OTHER_FLAT, PLACE_WIDTH
    from pipeline.link.people import moved_since_last_month

    # Records 0 (GP, new address) and 1 (register, old address) were one person; 2 is someone else.
    ids = np.asarray(["U:new", "U:old", "U:old", "U:old"], dtype=object)
    before = np.asarray(["Pa", "Pa", "Pb", None], dtype=object)
    i, j = np.array([0, 0, 1, 3]), np.array([1, 2, 2, 1])
    place = np.array([PLACE_DIFFERENT_AREA, PLACE_DIFFERENT_AREA, PLACE_OTHER_FLAT, PLACE_DIFFERENT_AREA])
    family = place + 2 * PLACE_WIDTH  # surname level 2, then the place
    assert moved_since_last_month(ids, before, i, j, family).tolist() == [True, False, False, False]


def test_across_months_a_birth_date_that_differs_beyond_a_typo_or_a_day_month_swap_is_another_person():
    from pipeline.link.continuity import births_disagree

    # A newcomer with a close name in the flat a namesake left (1991-06-03): never given the namesake's key.
    dob = pd.Series(pd.to_datetime(["1991-06-03", "2004-08-24", "1991-06-08", "1991-03-06", "1993-06-03", None]))
    i, j = np.zeros(5, dtype=int), np.arange(1, 6)
    assert births_disagree(dob, i, j).tolist() == [True, False, False, False, False]  # typo, swap, year, unknown


def test_a_newcomer_is_not_given_a_leavers_key_through_the_leavers_undated_register_entry():
    from pipeline.link.continuity import _other_births

    # The model matched the newcomer's GP record with the leaver's register entry (no birth date there);
    # the leaver's GP record, beside it, has another birth date: not one person.
    found = pd.DataFrame({"fresh": ["Pnew", "Pnew"], "previous": ["Pleaver", "Pother"]})
    mine = pd.DataFrame({"person": ["Pnew"], "dob": pd.to_datetime(["2004-08-24"])})
    theirs = pd.DataFrame({"person": ["Pleaver", "Pleaver", "Pother"],
                           "dob": pd.to_datetime([None, "1991-06-03", "2004-08-24"])})
    assert _other_births(found, mine, theirs).tolist() == [True, False]
