"""Criteria say what they approximate: each criterion of a rule file carries the framework's descriptor
(quoted, or marked as a paraphrase, with its source) and how its indicators approximate it.

A file the product ships (anything under schemas/criteria/) carries all of it, for the eligibility
rule too; a council's own file must carry the descriptor of each criterion, and may leave out the
source and the approximation note.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from pipeline.config import ContractError
from pipeline.criteria.rules import ELIGIBILITY, Framework, load_rule_set
from tests.conftest import REPO

CRITERIA = REPO / "schemas" / "criteria"
SHIPPED = sorted(p for p in CRITERIA.rglob("*.yaml") if p.name != "definitions.yaml")
OFFICIAL_HOSTS = (".gov.uk", "parliament.uk")  # government and Parliament, and councils' own sites


def test_the_product_ships_the_three_frameworks():
    assert {p.stem for p in SHIPPED} >= {"phase1", "phase2", "supporting_families"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(CRITERIA)))
def test_every_shipped_criterion_and_rule_says_what_it_approximates_and_where_the_words_come_from(path, schemas):
    rules = load_rule_set(str(path), schemas.contracts)
    assert rules.shipped
    parts = {name: (c.framework, c.approximation) for name, c in rules.criteria.items()}
    parts[ELIGIBILITY] = (rules.eligibility.framework, rules.eligibility.approximation)
    for name, (framework, approximation) in parts.items():
        assert framework is not None, name
        assert framework.descriptor.strip() and framework.wording in ("quote", "paraphrase"), name
        source = framework.source
        assert source is not None and source.title.strip() and source.year is not None, name
        host = urlparse(source.url).hostname or ""
        assert source.url.startswith("https://") and host.endswith(OFFICIAL_HOSTS), (name, source.url)
        assert len(approximation.split()) >= 8, name  # a note in words, not a placeholder


def test_a_descriptor_is_shown_in_quotation_marks_only_when_it_is_the_sources_own_words():
    quoted = Framework(descriptor="Families diverted from crime", wording="quote")
    restated = Framework(descriptor="an adult on out-of-work benefits", wording="paraphrase")
    assert quoted.words() == "\u201cFamilies diverted from crime\u201d"
    assert restated.words() == "an adult on out-of-work benefits (paraphrase)"


def test_descriptors_not_found_in_the_frameworks_own_words_are_marked_as_paraphrase(schemas):
    # The 2012 framework's text was not found: every phase 1 descriptor restates it and says so.
    phase1 = load_rule_set("phase1", schemas.contracts)
    wordings = {c.framework.wording for c in phase1.criteria.values()} | {phase1.eligibility.framework.wording}
    assert wordings == {"paraphrase"}
    notes = {c.framework.source.note for c in phase1.criteria.values()}
    assert all("not found" in note for note in notes)


# --------------------------------------------------------------------------- a council's own rule file
def council_file(tmp_path: Path, edit, base: str = "phase2") -> Path:
    """A council's copy of a shipped rule file, edited, outside schemas/criteria/."""
    data = yaml.safe_load((CRITERIA / f"{base}.yaml").read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "council.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_council_file_without_a_criterions_framework_descriptor_is_refused_naming_the_criterion(tmp_path, schemas):
    path = council_file(tmp_path, lambda d: d["criteria"]["health"].pop("framework"))
    with pytest.raises(ContractError) as exc:
        load_rule_set(str(path), schemas.contracts)
    message = str(exc.value)
    assert message.startswith(f"{path}: criteria.health.framework: missing: ")
    assert "descriptor" in message and "quote" in message and "paraphrase" in message  # says what to write


def test_a_local_criterion_of_a_council_needs_a_descriptor_too(tmp_path, schemas):
    def local(data: dict) -> None:
        data["criteria"]["secure_housing"] = {"description": "a housing ASB eviction",
                                              "met_by": ["housing_asb_eviction"]}

    with pytest.raises(ContractError, match=r"criteria\.secure_housing\.framework: missing"):
        load_rule_set(str(council_file(tmp_path, local)), schemas.contracts)


def test_a_council_file_may_leave_out_the_source_and_the_approximation_note(tmp_path, schemas):
    def bare(data: dict) -> None:
        for criterion in data["criteria"].values():
            criterion["framework"] = {"descriptor": "as our outcomes plan words it", "wording": "paraphrase"}
            criterion.pop("approximation")
        data["eligibility"].pop("framework")
        data["eligibility"].pop("approximation")

    rules = load_rule_set(str(council_file(tmp_path, bare)), schemas.contracts)
    assert not rules.shipped
    crime = next(a for a in rules.approximations() if a.name == "crime_asb")
    assert (crime.framework, crime.source, crime.approximation) == ("as our outcomes plan words it (paraphrase)", "",
                                                                    "")


@pytest.mark.parametrize("framework, key", [
    ({"descriptor": "Families diverted from crime", "wording": "verbatim"}, "criteria.crime_asb.framework.wording"),
    ({"descriptor": "", "wording": "quote"}, "criteria.crime_asb.framework.descriptor"),
    ({"descriptor": "Families diverted from crime", "wording": "quote",
      "source": {"title": "Supporting Families", "url": "http://example.org/sf"}},
     "criteria.crime_asb.framework.source.url"),
    ({"descriptor": "Families diverted from crime", "wording": "quote", "source": {"url": "https://www.gov.uk/"}},
     "criteria.crime_asb.framework.source.title"),
])
def test_a_malformed_framework_descriptor_is_refused_naming_the_key(tmp_path, schemas, framework, key):
    path = council_file(tmp_path, lambda d: d["criteria"]["crime_asb"].update(framework=framework))
    with pytest.raises(ContractError, match=f"^{path}: {key}: "):
        load_rule_set(str(path), schemas.contracts)


def test_a_files_content_is_checked_before_its_descriptors(tmp_path, schemas):
    def two_faults(data: dict) -> None:
        data["criteria"]["health"].pop("framework")
        data["criteria"]["crime_asb"]["met_by"] = [{"use": "proven_offence", "where": {"outcome": ["JAIL"]}}]

    with pytest.raises(ContractError, match=r"criteria\.crime_asb\.met_by\.0\.where\.outcome: 'JAIL'"):
        load_rule_set(str(council_file(tmp_path, two_faults)), schemas.contracts)


# --------------------------------------------------------------------------- a shipped rule file
def shipped_copy(tmp_path: Path, name: str, edit) -> Path:
    """A copy of schemas/ whose shipped rule file `name` is edited: what a change to the product's own files meets."""
    root = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", root)
    path = root / "criteria" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["criteria"]["children_safe"].pop("approximation"), "criteria.children_safe.approximation: missing"),
    (lambda d: d["criteria"]["children_safe"].update(approximation="  "), "criteria.children_safe.approximation"),
    (lambda d: d["criteria"]["education"]["framework"].pop("source"), "criteria.education.framework.source: "),
    (lambda d: d["criteria"]["education"]["framework"]["source"].pop("url"), "criteria.education.framework.source: "),
    (lambda d: d["criteria"]["education"]["framework"]["source"].pop("year"), "criteria.education.framework.source: "),
    (lambda d: d["eligibility"].pop("framework"), "eligibility.framework: missing"),
    (lambda d: d["eligibility"].pop("approximation"), "eligibility.approximation: missing"),
    (lambda d: d["criteria"]["early_years"].pop("framework"), "criteria.early_years.framework: missing"),
])
def test_a_shipped_rule_file_must_give_every_descriptor_its_source_and_approximation(tmp_path, schemas, edit,
                                                                                      message):
    root = shipped_copy(tmp_path, "supporting_families", edit)
    with pytest.raises(ContractError) as exc:
        load_rule_set("supporting_families", schemas.contracts, root)
    assert str(exc.value).startswith(f"{root / 'criteria' / 'supporting_families.yaml'}: {message}")


def test_the_shipped_files_as_they_are_load_from_a_copy_of_schemas(tmp_path, schemas):
    root = shipped_copy(tmp_path, "phase2", lambda d: None)
    assert load_rule_set("phase2", schemas.contracts, root).shipped


def test_approximations_come_in_the_files_order_after_the_rule_and_number_each_source_once(schemas):
    from pipeline.criteria.rules import numbered_sources

    rules = load_rule_set("phase1", schemas.contracts)
    approximations = rules.approximations()
    assert [a.name for a in approximations] == [ELIGIBILITY, *rules.criteria]
    sources = numbered_sources(approximations)
    assert list(sources.values()) == [1, 2]  # the thresholds' page, then the local filter's
    assert "democracy.havering.gov.uk" in next(iter(sources)) and "devon.gov.uk" in list(sources)[1]
