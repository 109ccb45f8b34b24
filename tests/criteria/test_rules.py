"""Household criteria: rule files as data, and each indicator at its boundary.

Each case is a handful of hand-made landed rows for people placed in households; the engine
scores them under a shipped rule file. R, the as-of date, is 31 October 2026.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.config import ContractError
from pipeline.criteria.engine import Membership, age_on, months_before, score, terms_text
from pipeline.criteria.rules import RuleSet, load_rule_set
from tests.conftest import REPO

R = dt.date(2026, 10, 31)
ADULT, CHILD = "1980-03-03", "2012-05-05"
DATE_COLUMNS = {"event_date", "claim_start", "claim_end", "start_date", "end_date", "extract_date"}
DEFAULTS = {
    "police": {"event_date": "2026-09-30", "event_type": "OFFENCE", "outcome": "CONVICTION", "role": "OFFENDER"},
    "schools": {"academic_year": "2026/27", "term": "AUTUMN", "sessions_possible": 100, "sessions_authorised": 0,
                "sessions_unauthorised": 0, "suspensions": 0, "permanent_exclusion": False,
                "provision": "MAINSTREAM"},
    "benefits": {"benefit_type": "JSA", "uc_work_group": None, "claim_start": "2025-01-01", "claim_end": None,
                 "role": "CLAIMANT"},
    "health": {"mental_health": False, "substance_misuse": False, "ae_attendances_12m": 0,
               "extract_date": "2026-10-31"},
    "children_social_care": {"category": "CIN", "start_date": "2026-01-01", "end_date": None},
}


class Case:
    """People in households and their source rows; `score` runs a rule set over them."""

    def __init__(self) -> None:
        self.people: dict[str, tuple[str | None, str, bool]] = {}
        self.rows: dict[str, list[dict]] = {s: [] for s in DEFAULTS}
        self.ids = itertools.count(1)

    def person(self, pid: str, dob: str | None, household: str = "H1", undated_adult: bool = False) -> Case:
        self.people[pid] = (dob, household, undated_adult)
        return self

    def row(self, source: str, pid: str, **fields: object) -> Case:
        self.rows[source].append({**DEFAULTS[source], **fields, "source_record_id": f"{source[:3]}{next(self.ids)}",
                                  "_person": pid})
        return self

    def inputs(self, rules: str = "phase2", without: tuple[str, ...] = (), schemas=None,
               withheld: tuple[str, ...] = ()) -> tuple[RuleSet, dict[str, pd.DataFrame], Membership]:
        """What scoring takes: the rule set, the landed rows of each source, and who each row is."""
        frames, links = {}, []
        for source, rows in self.rows.items():
            if source in without:
                continue
            frame = pd.DataFrame(rows, columns=[*DEFAULTS[source], "source_record_id", "_person"])
            for column in DATE_COLUMNS & set(frame.columns):
                frame[column] = pd.to_datetime(frame[column]).dt.date
            for pid, rid in zip(frame["_person"], frame["source_record_id"], strict=True):
                links.append({"source": source, "source_record_id": rid, "person_key": pid,
                              "household_key": self.people[pid][1]})
            frames[source] = frame.drop(columns=["_person", *[c for c in withheld if c in frame.columns]])
        for pid, (_, household, _) in self.people.items():  # everyone is in some source (the register)
            links.append({"source": "electoral_register", "source_record_id": f"er-{pid}", "person_key": pid,
                          "household_key": household})
        people = pd.DataFrame([{"person_key": p, "dob": pd.to_datetime(d), "undated_adult": u}
                               for p, (d, _, u) in self.people.items()])
        return load_rule_set(rules, schemas.contracts), frames, Membership(pd.DataFrame(links), people)

    def score(self, rules: str = "phase2", without: tuple[str, ...] = (), schemas=None,
              withheld: tuple[str, ...] = ()):
        return score(*self.inputs(rules, without, schemas, withheld), R)


def household(result, key: str = "H1") -> dict:
    """One household's row; a criterion not assessed reads None."""
    row = result.households.set_index("household_key").loc[key].to_dict()
    return {k: None if v is pd.NA or v is None else v for k, v in row.items()}


def met(case: Case, criterion: str, rules: str = "phase2", schemas=None) -> object:
    return household(case.score(rules, schemas=schemas))[criterion]


@pytest.fixture
def family():
    return Case().person("mum", ADULT).person("kid", CHILD)


# --------------------------------------------------------------------------- shared definitions
def test_twelve_months_before_is_the_same_day_a_year_earlier_and_29_february_clamps():
    assert months_before(R, 12) == dt.date(2025, 10, 31)
    assert months_before(dt.date(2028, 2, 29), 12) == dt.date(2027, 2, 28)
    assert months_before(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)


def test_age_is_whole_years_and_a_29_february_birthday_comes_on_1_march():
    dob = pd.Series(pd.to_datetime(["2008-10-31", "2008-11-01", "2008-02-29", None]))
    assert age_on(dob, R).tolist()[:3] == [18, 17, 18] and pd.isna(age_on(dob, R).iloc[3])
    leap = pd.Series(pd.to_datetime(["2008-02-29"]))
    assert age_on(leap, dt.date(2026, 2, 28)).tolist() == [17]
    assert age_on(leap, dt.date(2026, 3, 1)).tolist() == [18]


def test_terms_are_named_for_people():
    assert terms_text([2025 * 3, 2025 * 3 + 1, 2025 * 3 + 2]) == "2025/26 autumn to summer"
    assert terms_text([2025 * 3 + 2, 2026 * 3]) == "2025/26 summer to 2026/27 autumn"


# --------------------------------------------------------------------------- police
def test_an_event_exactly_a_year_before_the_as_of_date_is_out_and_a_day_later_is_in(family, schemas):
    assert met(family.row("police", "mum", event_date="2025-10-31"), "crime_asb", schemas=schemas) is False
    assert met(Case().person("mum", ADULT).row("police", "mum", event_date="2025-11-01"), "crime_asb",
               schemas=schemas) is True
    assert met(Case().person("mum", ADULT).row("police", "mum", event_date="2026-10-31"), "crime_asb",
               schemas=schemas) is True
    assert met(Case().person("mum", ADULT).row("police", "mum", event_date="2026-11-01"), "crime_asb",
               schemas=schemas) is False


@pytest.mark.parametrize("event_type, outcome, role, counts", [
    ("OFFENCE", "CONVICTION", "OFFENDER", True),
    ("OFFENCE", "YOUTH_CONDITIONAL_CAUTION", "OFFENDER", True),
    ("OFFENCE", "CHARGE", "OFFENDER", False),
    ("OFFENCE", "NFA", "OFFENDER", False),
    ("OFFENCE", "CONVICTION", "SUSPECT", False),
    ("ASB", "WARNING", "OFFENDER", False),
    ("ASB", "CPN", "OFFENDER", True),
    ("ASB", "HOUSING_ASB_EVICTION", "OFFENDER", True),
])
def test_only_proven_offences_and_asb_interventions_count(family, schemas, event_type, outcome, role, counts):
    case = family.row("police", "mum", event_type=event_type, outcome=outcome, role=role)
    assert met(case, "crime_asb", schemas=schemas) is counts


def test_domestic_abuse_counts_any_role_in_the_last_twelve_months(family, schemas):
    case = family.row("police", "kid", event_type="DOMESTIC_ABUSE", outcome="RECORDED", role="WITNESS")
    assert met(case, "domestic_abuse", schemas=schemas) is True
    assert met(case, "crime_asb", schemas=schemas) is False


def test_phase1_counts_an_offence_by_age_at_the_event_not_at_the_as_of_date(schemas):
    # 17 at the offence on 2026-06-01, 18 by R: counts under phase 1.
    turned_18 = Case().person("son", "2008-09-01").row("police", "son", event_date="2026-06-01")
    assert met(turned_18, "crime_asb", "phase1", schemas) is True
    # 18 at the offence: does not, though phase 2 counts any member's offence.
    adult_offence = Case().person("son", "2008-05-01").row("police", "son", event_date="2026-06-01")
    assert met(adult_offence, "crime_asb", "phase1", schemas) is False
    assert met(adult_offence, "crime_asb", "phase2", schemas) is True
    # An adult's ASB intervention counts under phase 1 whatever the age.
    asb = Case().person("mum", ADULT).row("police", "mum", event_type="ASB", outcome="ABC")
    assert met(asb, "crime_asb", "phase1", schemas) is True


def test_the_evidence_of_an_offence_names_the_row_and_says_why(family, schemas):
    result = family.row("police", "mum", outcome="CAUTION", event_date="2026-03-04").score(schemas=schemas)
    evidence = result.evidence
    assert evidence[["household_key", "criterion", "person_key", "source"]].values.tolist() == [
        ["H1", "crime_asb", "mum", "police"]]
    assert evidence["detail"].iloc[0] == "proven offence: CAUTION on 2026-03-04"
    assert evidence["source_record_id"].iloc[0].startswith("pol")
    assert evidence["indicator"].iloc[0] == "proven_offence"  # the rule that met the criterion, by name
    assert list(evidence["source_record_ids"].iloc[0]) == [evidence["source_record_id"].iloc[0]]


def test_two_events_are_two_facts_and_a_row_meeting_two_indicators_is_named_by_each(family, schemas):
    family.row("police", "mum", outcome="CAUTION", event_date="2026-03-04")
    family.row("police", "mum", outcome="CONVICTION", event_date="2026-05-01")
    evidence = family.score(schemas=schemas).evidence
    assert evidence["detail"].tolist() == ["proven offence: CAUTION on 2026-03-04",
                                           "proven offence: CONVICTION on 2026-05-01"]
    assert evidence["source_record_id"].nunique() == 2
    eviction = Case().person("mum", ADULT).row("police", "mum", event_type="ASB", outcome="HOUSING_ASB_EVICTION")
    named = eviction.score("supporting_families", schemas=schemas).evidence
    assert sorted(zip(named["criterion"], named["indicator"], strict=True)) == [
        ("crime_asb", "asb_intervention"), ("secure_housing", "housing_asb_eviction")]


def test_an_indicator_written_out_in_a_council_file_is_named_for_its_place(tmp_path, schemas):
    text = (REPO / "schemas" / "criteria" / "phase2.yaml").read_text(encoding="utf-8")
    own = tmp_path / "council.yaml"
    own.write_text(text.replace("met_by: [proven_offence, asb_intervention]", """met_by:
      - source: police
        where: {event_type: [OFFENCE]}
        detail: "offence on {event_date}"
      - asb_intervention"""), encoding="utf-8")
    crime = load_rule_set(str(own), schemas.contracts).criteria["crime_asb"]
    assert [i.name for i in crime.met_by] == ["crime_asb.met_by.0", "asb_intervention"]


# --------------------------------------------------------------------------- schools
def test_absence_of_exactly_ten_percent_is_met_and_just_under_is_not(schemas):
    exactly = Case().person("kid", CHILD)
    for term, auth, unauth in (("SPRING", 10, 5), ("SUMMER", 3, 2), ("AUTUMN", 5, 5)):
        year = "2026/27" if term == "AUTUMN" else "2025/26"
        exactly.row("schools", "kid", academic_year=year, term=term, sessions_authorised=auth,
                    sessions_unauthorised=unauth)
    assert met(exactly, "education", schemas=schemas) is True  # 30 of 300
    under = Case().person("kid", CHILD).row("schools", "kid", sessions_possible=1000, sessions_authorised=99)
    assert met(under, "education", schemas=schemas) is False  # 9.9%
    result = exactly.score(schemas=schemas)
    (fact,) = result.evidence.itertuples()  # the total is one fact, stated once for the child
    assert fact.detail == "absence 10.0% of 300 sessions, 2025/26 spring to 2026/27 autumn"
    assert fact.indicator == "absence_10pct"
    assert len(fact.source_record_ids) == 3 and fact.source_record_id == min(fact.source_record_ids)  # every term


def test_only_the_three_most_recent_terms_in_the_extract_count(schemas):
    case = Case().person("kid", CHILD).person("other", CHILD, "H2")
    case.row("schools", "kid", academic_year="2024/25", term="SUMMER", sessions_authorised=100)  # 4th most recent
    for year, term in (("2025/26", "AUTUMN"), ("2025/26", "SPRING"), ("2025/26", "SUMMER")):
        case.row("schools", "kid", academic_year=year, term=term)
        case.row("schools", "other", academic_year=year, term=term, suspensions=1)
    result = case.score(schemas=schemas)
    assert household(result)["education"] is False
    assert household(result, "H2")["education"] is True  # 3 suspensions over the 3 terms
    assert set(result.evidence["detail"]) == {"3 suspensions, 2025/26 autumn to summer"}


def test_phase1_unauthorised_absence_needs_fifteen_percent(schemas):
    at_15 = Case().person("kid", CHILD).row("schools", "kid", sessions_unauthorised=15)
    at_14 = Case().person("kid", CHILD).row("schools", "kid", sessions_unauthorised=14, sessions_authorised=10)
    assert met(at_15, "education", "phase1", schemas) is True
    assert met(at_14, "education", "phase1", schemas) is False
    assert met(at_14, "education", "phase2", schemas) is True  # 24% absence in all


def test_latest_provision_and_permanent_exclusion(schemas):
    moved_back = (Case().person("kid", CHILD)
                  .row("schools", "kid", academic_year="2025/26", term="SUMMER", provision="PRU")
                  .row("schools", "kid", academic_year="2026/27", term="AUTUMN", provision="MAINSTREAM"))
    assert met(moved_back, "education", schemas=schemas) is False
    in_pru = Case().person("kid", CHILD).row("schools", "kid", provision="NOT_ON_ROLL")
    assert met(in_pru, "education", schemas=schemas) is True
    excluded = Case().person("kid", CHILD).row("schools", "kid", permanent_exclusion=True)
    assert met(excluded, "education", schemas=schemas) is True
    home_educated = Case().person("kid", CHILD).row("schools", "kid", provision="ELECTIVE_HOME_EDUCATION")
    assert met(home_educated, "education", schemas=schemas) is False


def test_education_is_about_children_only(schemas):
    adult_pupil = Case().person("sixth_former", "2008-01-01").row("schools", "sixth_former", suspensions=5)
    assert met(adult_pupil, "education", schemas=schemas) is False


# --------------------------------------------------------------------------- benefits
def test_a_claim_ending_on_the_as_of_date_is_not_live_and_one_ending_the_day_after_is(schemas):
    ended = Case().person("mum", ADULT).row("benefits", "mum", claim_end="2026-10-31")
    assert met(ended, "worklessness", schemas=schemas) is False
    ending = Case().person("mum", ADULT).row("benefits", "mum", claim_end="2026-11-01")
    assert met(ending, "worklessness", schemas=schemas) is True
    future = Case().person("mum", ADULT).row("benefits", "mum", claim_start="2026-11-01")
    assert met(future, "worklessness", schemas=schemas) is False


@pytest.mark.parametrize("benefit, group, counts", [
    ("UC", "WORKING", False), ("UC", "SEARCHING", True), ("UC", "NO_WORK_REQUIREMENTS", True),
    ("ESA", None, True), ("PIP", None, False), ("HB", None, False),
])
def test_out_of_work_benefits(schemas, benefit, group, counts):
    case = Case().person("mum", ADULT).row("benefits", "mum", benefit_type=benefit, uc_work_group=group)
    assert met(case, "worklessness", schemas=schemas) is counts


def test_worklessness_is_about_adults_and_the_register_vouches_for_an_undated_adult(schemas):
    child_claim = Case().person("kid", CHILD).row("benefits", "kid", role="DEPENDANT")
    assert met(child_claim, "worklessness", schemas=schemas) is False
    undated = Case().person("dad", None, undated_adult=True).row("benefits", "dad")
    assert met(undated, "worklessness", schemas=schemas) is True
    unknown = Case().person("dad", None).row("benefits", "dad")
    assert met(unknown, "worklessness", schemas=schemas) is False


def test_supporting_families_financial_stability_counts_housing_support(schemas):
    case = Case().person("mum", ADULT).row("benefits", "mum", benefit_type="CTR")
    assert met(case, "financial_stability", "supporting_families", schemas) is True
    assert met(case, "worklessness", "phase2", schemas) is False


# --------------------------------------------------------------------------- social care and health
def test_a_social_care_episode_open_in_the_last_twelve_months(schemas):
    closed_in = Case().person("kid", CHILD).row("children_social_care", "kid", start_date="2024-01-01",
                                               end_date="2025-11-01")
    closed_before = Case().person("kid", CHILD).row("children_social_care", "kid", start_date="2024-01-01",
                                                   end_date="2025-10-31")
    not_started = Case().person("kid", CHILD).row("children_social_care", "kid", start_date="2026-11-01")
    assert met(closed_in, "children_need_help", schemas=schemas) is True
    assert met(closed_before, "children_need_help", schemas=schemas) is False
    assert met(not_started, "children_need_help", schemas=schemas) is False
    early_help = Case().person("kid", CHILD).row("children_social_care", "kid", category="EARLY_HELP")
    assert met(early_help, "children_need_help", schemas=schemas) is True
    assert met(early_help, "children_safe", "supporting_families", schemas) is False


def test_health_flags_and_a_childs_ae_attendances(schemas):
    assert met(Case().person("kid", CHILD).row("health", "kid", ae_attendances_12m=3), "health",
               schemas=schemas) is True
    assert met(Case().person("kid", CHILD).row("health", "kid", ae_attendances_12m=2), "health",
               schemas=schemas) is False
    assert met(Case().person("mum", ADULT).row("health", "mum", ae_attendances_12m=9), "health",
               schemas=schemas) is False
    misuse = Case().person("mum", ADULT).row("health", "mum", substance_misuse=True)
    assert met(misuse, "health", schemas=schemas) is True
    assert met(misuse, "health", "supporting_families", schemas) is False
    assert met(misuse, "substance_use", "supporting_families", schemas) is True


# --------------------------------------------------------------------------- not assessed, families, rules
def test_a_missing_source_leaves_its_criteria_null_not_false(family, schemas):
    family.row("police", "mum").row("benefits", "mum")
    result = household(family.score(without=("children_social_care",), schemas=schemas))
    assert result["children_need_help"] is None
    assert result["crime_asb"] is True and result["worklessness"] is True and result["health"] is False
    assert result["problems"] == 2 and result["eligible"] is True and result["not_assessed"] == 1


def test_a_column_withheld_by_a_gateway_leaves_what_depends_on_it_not_assessed(schemas):
    def case(ae: int) -> dict:
        c = Case().person("kid", CHILD).row("health", "kid", mental_health=True, ae_attendances_12m=ae)
        return household(c.score(schemas=schemas, withheld=("mental_health",)))

    assert case(ae=0)["health"] is None  # the mental health flag was never seen
    assert case(ae=5)["health"] is True  # met through A&E attendances all the same


def test_criteria_not_assessable_from_these_sources_are_always_null(family, schemas):
    result = household(family.score("supporting_families", schemas=schemas))
    assert result["early_years"] is None and result["family_relationships"] is None
    assert result["problems"] == 0


def test_a_household_without_children_is_never_eligible(schemas):
    case = (Case().person("a", ADULT).person("b", "1990-01-01")
            .row("police", "a").row("benefits", "b").row("health", "a", mental_health=True))
    result = household(case.score(schemas=schemas))
    assert result["problems"] == 3 and result["children"] == 0 and result["eligible"] is False


def test_phase2_needs_two_problems_and_evidence_backs_each_met_criterion(family, schemas):
    one = household(Case().person("mum", ADULT).person("kid", CHILD).row("police", "mum").score(schemas=schemas))
    assert one["problems"] == 1 and one["eligible"] is False
    result = family.row("police", "mum").row("health", "kid", ae_attendances_12m=4).score(schemas=schemas)
    assert household(result)["eligible"] is True
    assert set(result.evidence["criterion"]) == {"crime_asb", "health"}
    met_columns = [c for c in ("crime_asb", "health") if household(result)[c] is True]
    assert sorted(met_columns) == sorted(set(result.evidence["criterion"]))


def test_phase1_needs_all_three_or_two_and_the_local_filter(schemas):
    def case() -> Case:
        return (Case().person("mum", ADULT).person("kid", CHILD)
                .row("police", "kid", event_type="ASB", outcome="CBO").row("benefits", "mum"))

    two = household(case().score("phase1", schemas=schemas))
    assert two["problems"] == 2 and two["local_filter"] is False and two["eligible"] is False
    with_filter = household(case().row("health", "mum", mental_health=True).score("phase1", schemas=schemas))
    assert with_filter["local_filter"] is True and with_filter["problems"] == 2 and with_filter["eligible"] is True
    three = household(case().row("schools", "kid", suspensions=3).score("phase1", schemas=schemas))
    assert three["problems"] == 3 and three["eligible"] is True


def test_supporting_families_needs_three_needs(family, schemas):
    family.row("police", "mum").row("benefits", "mum")
    assert household(family.score("supporting_families", schemas=schemas))["eligible"] is False
    family.row("health", "mum", substance_misuse=True)
    assert household(family.score("supporting_families", schemas=schemas))["eligible"] is True


def test_household_columns_follow_the_rule_set(schemas):
    result = Case().person("mum", ADULT).score("phase2", schemas=schemas).households
    assert list(result.columns) == ["household_key", "members", "children", "crime_asb", "education",
                                    "children_need_help", "worklessness", "domestic_abuse", "health", "problems",
                                    "eligible", "rule_set", "as_of", "not_assessed"]
    assert set(result["as_of"]) == {R}  # the date the run judged every window and age on
    assert str(result["crime_asb"].dtype) == "boolean" and result["rule_set"].tolist() == ["phase2"]


# --------------------------------------------------------------------------- rule files as data
def council_copy(tmp_path: Path, edit) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", root)
    path = root / "criteria" / "phase2.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    out = root / "criteria" / "council.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def test_a_council_can_copy_a_rule_file_and_change_a_threshold(tmp_path, schemas):
    def stricter(data: dict) -> None:
        data["criteria"]["education"]["met_by"][0] = {"use": "absence_10pct", "per_person": {"at_least": 0.2}}
        data["eligibility"]["rule"] = {"at_least": 1}

    path = council_copy(tmp_path, stricter)
    rules = load_rule_set(str(path), schemas.contracts)
    assert rules.name == "council"
    case = Case().person("kid", CHILD).row("schools", "kid", sessions_authorised=15)
    assert met(case, "education", "phase2", schemas) is True
    assert met(case, "education", str(path), schemas) is False


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["criteria"]["crime_asb"].update(met_by=["no_such_indicator"]),
     "criteria.crime_asb.met_by.0.use: unknown indicator 'no_such_indicator'"),
    (lambda d: d["criteria"]["crime_asb"].update(met_by=[{"use": "proven_offence", "where": {"outcome": ["JAIL"]}}]),
     "criteria.crime_asb.met_by.0.where.outcome: 'JAIL' is not a value of police.outcome"),
    (lambda d: d["criteria"]["health"].update(met_by=[{"use": "mental_health", "where": {"mood": [1]}}]),
     "criteria.health.met_by.0.where.mood: health has no column 'mood'"),
    (lambda d: d["criteria"]["crime_asb"].update(met_by=[{"use": "proven_offence", "detail": "{victim}"}]),
     "criteria.crime_asb.met_by.0.detail: unknown field {victim}"),
    (lambda d: d["criteria"]["crime_asb"].update(met_by=[{"use": "proven_offence", "window": {"kind": "event",
                                                                                               "date": "event_date",
                                                                                               "months": "twelve"}}]),
     "criteria.crime_asb.met_by.0.window"),
    (lambda d: d["eligibility"].update(rule={"at_least": 2, "of": ["crime", "health"]}),
     "eligibility.rule.of: unknown criterion 'crime'"),
    (lambda d: d.update(criterion={}), "criterion: unknown key"),
    # Range checks: a threshold that can never (or always) be met is a mistake, not a rule.
    (lambda d: d["criteria"]["education"].update(met_by=[{"use": "absence_10pct", "per_person": {"at_least": 15}}]),
     "criteria.education.met_by.0.per_person.ratio.at_least: Value error, a ratio's at_least is a share between 0 "
     "and 1 (write 0.15 for 15%)"),
    (lambda d: d["criteria"]["education"].update(met_by=[{"use": "absence_10pct", "per_person": {"at_least": -0.1}}]),
     "criteria.education.met_by.0.per_person.ratio.at_least: Input should be greater than or equal to 0"),
    (lambda d: d["criteria"]["crime_asb"].update(met_by=[{"use": "proven_offence", "window": {
        "kind": "event", "date": "event_date", "months": 0}}]),
     "criteria.crime_asb.met_by.0.window.event.months: Input should be greater than 0"),
    (lambda d: d["criteria"]["health"].update(met_by=[{"use": "child_ae_3", "where": {
        "ae_attendances_12m": {"at_least": -1}}}]),
     "at_least: Input should be greater than or equal to 0"),
])
def test_a_broken_rule_file_is_refused_naming_the_file_and_key(tmp_path, schemas, edit, message):
    path = council_copy(tmp_path, edit)
    with pytest.raises(ContractError) as exc:
        load_rule_set(str(path), schemas.contracts)
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_an_unknown_rule_set_name_lists_the_shipped_ones(schemas):
    with pytest.raises(ContractError) as exc:
        load_rule_set("phase3", schemas.contracts)
    assert str(exc.value) == ("unknown rule set 'phase3' (--rules): the shipped rule sets are phase1, phase2, "
                              "supporting_families, or give the path of a council's own rule file")


def test_a_rule_file_path_that_does_not_exist_is_named(tmp_path, schemas):
    with pytest.raises(ContractError, match=f"^rule file {tmp_path / 'mine.yaml'} does not exist \\(--rules\\)"):
        load_rule_set(str(tmp_path / "mine.yaml"), schemas.contracts)
