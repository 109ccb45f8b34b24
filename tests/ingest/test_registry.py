"""The registry of lawful bases: each entry holds what its own basis requires, or its source is refused
with every missing item named, so the IG officer knows exactly what to fill in.

The shipped entries are complete, cite the legislation by link, mark their local references as
examples, take the electoral register as the open register and children's social care as the
council's own data.
"""

from __future__ import annotations

import pytest

from pipeline.config.gateways import REG_107_PURPOSES
from pipeline.ingest.gateways import registry_refusal


def entry(schemas, source: str, **changes):
    """A shipped entry with some fields changed (None removes an item)."""
    return schemas.gateways[source].model_copy(update=changes)


def test_every_shipped_entry_is_complete_and_its_source_permitted(schemas):
    for source, gateway in schemas.gateways.items():
        assert gateway.missing() == [], source
        assert registry_refusal(gateway, gateway.purposes[0]) is None, source


def test_every_shipped_entry_links_its_law_to_legislation_or_official_guidance(schemas):
    for source, g in schemas.gateways.items():
        links = [g.url, g.article_6.url] + [c.article.url for c in (g.article_9, g.article_10) if c] \
            + [c.condition.url for c in (g.article_9, g.article_10) if c]
        assert all(u.startswith(("https://www.legislation.gov.uk/", "https://digital.nhs.uk/")) for u in links), source
        assert g.example, f"{source}: its local references must be marked as examples"


def test_the_electoral_register_is_the_open_register_and_social_care_the_councils_own_data(schemas):
    assert schemas.gateways["electoral_register"].route == "open_register"
    assert "reg 93" in schemas.gateways["electoral_register"].section
    csc = schemas.gateways["children_social_care"]
    assert csc.route == "own_data" and csc.compatibility_assessment is not None
    assert "Children Act 1989" in csc.statute and "Digital Economy" not in csc.statute + csc.section


def test_health_under_s251_names_its_approval_and_the_national_data_opt_out(schemas):
    health = schemas.gateways["health"]
    assert health.route == "nhs_s251" and health.approval.body == "Confidentiality Advisory Group"
    assert "national data opt-out" in health.opt_out.text and health.suppression.column == "nhs_number_token"


def test_an_entry_without_the_core_items_is_refused_naming_each(schemas):
    bare = entry(schemas, "schools", article_6=None, dpia=None, retention=None, signed_off=None)
    reason = registry_refusal(bare, "identification")
    assert reason == ("the registry entry (schemas/gateways.yaml) is incomplete: missing article_6; dpia; retention; "
                      "signed_off")


def test_health_data_needs_an_article_9_condition_and_offence_data_an_article_10_condition(schemas):
    assert "article_9 (the source carries health data)" in entry(schemas, "health", article_9=None).missing()
    police = entry(schemas, "police", article_10=None)
    assert "article_10 (the source carries criminal offence data)" in police.missing()


@pytest.mark.parametrize(("part", "paragraph", "needed"), [(2, 6, True), (2, 18, True), (3, 36, True), (1, 1, True),
                                                            (1, 2, False)])
def test_a_schedule_1_condition_that_requires_a_policy_document_is_refused_without_one(schemas, part, paragraph,
                                                                                       needed):
    condition = schemas.gateways["health"].article_9.model_copy(
        update={"part": part, "paragraph": paragraph, "policy_document": None})
    missing = entry(schemas, "health", article_9=condition).missing()
    assert any(m.startswith("article_9.policy_document") for m in missing) is needed
    if needed:
        assert f"DPA 2018 Sch 1 Part {part} para {paragraph} requires an appropriate policy document" in missing[0]


def test_s251_without_its_approval_or_the_opt_out_is_refused(schemas):
    missing = entry(schemas, "health", approval=None, opt_out=None).missing()
    assert missing == ["approval (s.251 support is granted per application: its reference)",
                       "opt_out (the national data opt-out applies to s.251 flows)"]


def test_the_councils_own_data_needs_a_compatibility_assessment(schemas):
    assert entry(schemas, "children_social_care", compatibility_assessment=None).missing() == [
        "compatibility_assessment (reuse of the council's own data (UK GDPR Art 6(4)))"]


def test_a_dea_s35_disclosure_needs_its_public_register_entry(schemas):
    assert entry(schemas, "police", route="dea_s35").missing() == [
        "dea_register_entry (DEA 2017 s.35 disclosures are entered in the public register)"]


def test_the_full_register_is_refused_without_a_reg_107_purpose_and_allowed_with_one(schemas):
    full = entry(schemas, "electoral_register", route="full_register")
    assert full.missing() == ["register_purpose (the full register may be used only for a reg 107(4) purpose)"]
    wrong = entry(schemas, "electoral_register", route="full_register", register_purpose="family_identification")
    assert wrong.missing()[0].startswith("register_purpose: 'family_identification' is not a reg 107(4) purpose")
    named = entry(schemas, "electoral_register", route="full_register",
                  register_purpose="security_law_enforcement_crime_prevention")
    assert named.missing() == [] and "security_law_enforcement_crime_prevention" in REG_107_PURPOSES


def test_the_full_register_is_refused_without_a_sign_off(schemas):
    unsigned = entry(schemas, "electoral_register", route="full_register",
                     register_purpose="security_law_enforcement_crime_prevention", signed_off=None)
    assert unsigned.missing() == ["signed_off"]


def test_the_lineage_records_the_basis_as_declared_text(schemas):
    record = schemas.gateways["police"].record()
    assert record["route"] == "disclosure" and record["article_10"]["schedule_1"].startswith("DPA 2018 Sch 1 Part 3")
    assert record["dpia"] == "DPIA-SF-2025-01" and record["signed_off"] == "SIRO, 2025-03-20"
