"""The closer reading of phase 2's crime problem (schemas/criteria/variants/phase2_crime_closer.yaml).

Phase 2 counts any member's proven offence; the 2015 framework's indicators speak of a child who has
committed a proven offence, and of adults in custody or under supervision with parenting
responsibilities. The variant counts a child's proven offence by age on the offence's date
(`child_proven_offence`) and, for adults, a conviction (`adult_conviction`: the police extract
records no custody or supervision, and no one is supervised after a caution). Everything else is
phase 2's, and phase 2 itself is unchanged. R is 31 October 2026.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.criteria.engine import Membership, score
from pipeline.criteria.rules import available_rule_sets, load_rule_set
from tests.conftest import REPO, SAMPLE
from tests.criteria.test_rules import ADULT, CHILD, Case, R, household, met

VARIANT = str(REPO / "schemas" / "criteria" / "variants" / "phase2_crime_closer.yaml")
BIRTHDAY_18 = "2008-06-01"  # 18 on 2026-06-01


def crime(case: Case, rules: str, schemas) -> object:
    return met(case, "crime_asb", rules, schemas)


@pytest.mark.parametrize("dob, event_date, outcome, closer, phase2", [
    (CHILD, "2026-09-30", "YOUTH_CAUTION", True, True),  # a child's proven offence
    (BIRTHDAY_18, "2026-05-31", "CAUTION", True, True),  # 17 at the offence, 18 by R: still a child's offence
    (BIRTHDAY_18, "2026-06-01", "CAUTION", False, True),  # 18 on the day: an adult's caution, no supervision
    (BIRTHDAY_18, "2026-06-01", "CONVICTION", True, True),  # an adult's conviction stands in for supervision
    (ADULT, "2026-09-30", "CAUTION", False, True),
    (ADULT, "2026-09-30", "CONVICTION", True, True),
    (ADULT, "2026-09-30", "CHARGE", False, False),  # not proven under either
    (ADULT, "2025-10-31", "CONVICTION", False, False),  # a year before R: out of the window
])
def test_a_childs_proven_offence_and_an_adults_conviction_count_an_adults_caution_does_not(
        schemas, dob, event_date, outcome, closer, phase2):
    def case() -> Case:
        return Case().person("x", dob).row("police", "x", event_date=event_date, outcome=outcome)

    assert crime(case(), VARIANT, schemas) is closer
    assert crime(case(), "phase2", schemas) is phase2  # phase 2's default reading is unchanged


def test_anti_social_behaviour_interventions_count_for_anyone_as_in_phase_2(schemas):
    adult = Case().person("mum", ADULT).row("police", "mum", event_type="ASB", outcome="CBO")
    child_warned = Case().person("kid", CHILD).row("police", "kid", event_type="ASB", outcome="WARNING")
    assert crime(adult, VARIANT, schemas) is True
    assert crime(child_warned, VARIANT, schemas) is False


def test_a_child_who_was_the_victim_is_not_an_offender(schemas):
    victim = Case().person("kid", CHILD).row("police", "kid", role="VICTIM", outcome="CONVICTION")
    assert crime(victim, VARIANT, schemas) is False


def test_the_evidence_says_which_reading_met_the_criterion_and_at_what_age(schemas):
    case = (Case().person("son", BIRTHDAY_18).person("dad", ADULT)
            .row("police", "son", event_date="2026-05-31", outcome="CAUTION")
            .row("police", "dad", event_date="2026-07-14", outcome="CONVICTION")
            .row("police", "dad", event_date="2026-07-15", outcome="CAUTION"))
    evidence = case.score(VARIANT, schemas=schemas).evidence
    assert sorted(zip(evidence["person_key"], evidence["detail"], strict=True)) == [
        ("dad", "conviction at age 46 on 2026-07-14"),
        ("son", "proven offence at age 17: CAUTION on 2026-05-31")]


def test_a_family_is_eligible_on_the_closer_reading_only_with_two_problems_as_in_phase_2(schemas):
    def family() -> Case:
        return (Case().person("mum", ADULT).person("kid", CHILD)
                .row("police", "mum", outcome="CAUTION").row("benefits", "mum"))

    assert household(family().score("phase2", schemas=schemas))["eligible"] is True
    closer = household(family().score(VARIANT, schemas=schemas))
    assert closer["crime_asb"] is False and closer["problems"] == 1 and closer["eligible"] is False


def test_the_variant_is_phase_2_word_for_word_but_its_crime_criterion(schemas):
    phase2 = load_rule_set("phase2", schemas.contracts)
    closer = load_rule_set(VARIANT, schemas.contracts)
    assert list(closer.criteria) == list(phase2.criteria)
    assert {n: c for n, c in closer.criteria.items() if n != "crime_asb"} == \
        {n: c for n, c in phase2.criteria.items() if n != "crime_asb"}
    assert closer.eligibility == phase2.eligibility
    assert closer.criteria["crime_asb"].framework == phase2.criteria["crime_asb"].framework
    assert closer.criteria["crime_asb"].approximation != phase2.criteria["crime_asb"].approximation


def test_a_childs_proven_offence_is_the_proven_offence_of_the_shared_definitions_judged_by_age_at_the_event(
        schemas):
    (child,) = load_rule_set("phase1", schemas.contracts).criteria["crime_asb"].met_by[:1]
    (offence,) = load_rule_set("phase2", schemas.contracts).criteria["crime_asb"].met_by[:1]
    assert (child.source, child.where, child.window) == (offence.source, offence.where, offence.window)
    assert (child.member.who, child.member.age_at) == ("child", "event")


def test_the_variant_goes_by_its_path_not_among_the_named_rule_sets_and_is_held_to_the_shipped_standard(schemas):
    assert available_rule_sets() == ["phase1", "phase2", "supporting_families"]
    closer = load_rule_set(VARIANT, schemas.contracts)
    assert closer.name == "phase2_crime_closer" and closer.shipped


def test_on_the_sample_the_closer_reading_finds_a_subset_of_phase_2s_crime_and_the_rest_unchanged(
        sample_run, schemas):
    """A child's offence and an adult's conviction are proven offences, so the closer reading can only find
    fewer families than phase 2's any-member reading; here it finds fewer, and no other criterion moves."""
    out = sample_run.out  # its landed rows, with who each row truly is (as the oracle takes them)
    truth = pd.read_csv(SAMPLE / "truth" / "truth.csv", dtype=str)
    people = pd.read_csv(SAMPLE / "truth" / "people.csv", dtype=str)
    membership = Membership(links=truth.rename(columns={"person_id": "person_key", "household_id": "household_key"}),
                            people=pd.DataFrame({"person_key": people["person_id"],
                                                 "dob": pd.to_datetime(people["dob"])}))
    phase2, closer = (load_rule_set(r, schemas.contracts) for r in ("phase2", VARIANT))
    frames = {s: pd.read_parquet(out / "restricted" / "landed" / f"{s}.parquet") for s in phase2.sources}
    wide = score(phase2, frames, membership, R).households.set_index("household_key")
    close = score(closer, frames, membership, R).households.set_index("household_key")
    met_wide, met_close = wide["crime_asb"].fillna(False), close["crime_asb"].fillna(False)
    assert not (met_close & ~met_wide).any()
    assert 0 < met_close.sum() < met_wide.sum()
    others = [c for c in phase2.criteria if c != "crime_asb"]
    assert close[others].equals(wide[others])
