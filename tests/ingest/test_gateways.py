"""Whether a source may be used: its gateway's purposes, and its agreement in force on the processing date.

An agreement is in force from its start day to its expiry day, both included, and must be so on the
day the data is processed, whatever the date of the data; it must also have begun by the data's date.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.config.gateways import Agreement, Controller, Gateway
from pipeline.ingest.gateways import agreement_refusal, lapse_warnings, purpose_refusal, registry_refusal

START, EXPIRES = dt.date(2025, 4, 1), dt.date(2028, 3, 31)
GATEWAY = Gateway(route="disclosure", statute="Children Act 2004", section="s.10",
                  url="https://www.legislation.gov.uk/ukpga/2004/31/section/10", basis="the council's basis",
                  agreement=Agreement(reference="DSA-TEST-1", start=START, expires=EXPIRES),
                  controllers=[Controller(name="a controller", rows="everyone")],
                  purposes=["identification", "support"])
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(("processing", "in_force"), [
    (START - DAY, False), (START, True), (START + DAY, True),
    (EXPIRES - DAY, True), (EXPIRES, True), (EXPIRES + DAY, False),
])
def test_an_agreement_is_in_force_from_its_start_day_to_its_expiry_day_inclusive(processing, in_force):
    assert (agreement_refusal(GATEWAY, processing, min(processing, START)) is None) is in_force


def test_a_refusal_before_the_start_says_when_the_agreement_begins():
    reason = agreement_refusal(GATEWAY, START - DAY, START - DAY)
    assert reason == "data-sharing agreement DSA-TEST-1 is not in force until 2025-04-01 (processing date 2025-03-31)"


def test_an_expired_agreement_stops_the_processing_of_older_extracts_too():
    # Data as of a day inside the agreement, processed the day after it expired: refused.
    reason = agreement_refusal(GATEWAY, EXPIRES + DAY, EXPIRES - 30 * DAY)
    assert reason == "data-sharing agreement DSA-TEST-1 expired on 2028-03-31 (processing date 2028-04-01)"


def test_data_from_before_an_agreement_began_is_not_covered_by_it():
    reason = agreement_refusal(GATEWAY, START + DAY, START - DAY)
    assert reason == ("data-sharing agreement DSA-TEST-1 does not cover data as of 2025-03-31: it starts on "
                      "2025-04-01")


def test_an_agreement_expiring_within_the_warning_days_is_warned_of_and_one_further_off_is_not():
    gateways = {"police": GATEWAY}
    assert lapse_warnings(gateways, ["police"], EXPIRES - 61 * DAY, 60) == []
    assert lapse_warnings(gateways, ["police"], EXPIRES - 60 * DAY, 60) == [
        "police: data-sharing agreement DSA-TEST-1 expires on 2028-03-31, in 60 days: renew it, or the source is "
        "refused from 2028-04-01"]
    assert lapse_warnings(gateways, ["police"], EXPIRES + DAY, 60) == []  # expired: refused, not warned


def test_a_purpose_the_gateway_does_not_permit_is_refused_naming_what_it_permits():
    assert purpose_refusal(GATEWAY, "support") is None
    reason = purpose_refusal(GATEWAY, "evaluation")
    assert reason is not None and "does not permit the purpose 'evaluation'" in reason
    assert "identification, support" in reason


def test_a_source_without_a_declared_gateway_is_refused():
    assert "no legal gateway is declared" in registry_refusal(None, "identification")


def test_every_shipped_agreement_starts_before_it_expires_and_names_a_reference(schemas):
    for source, gateway in schemas.gateways.items():
        assert gateway.agreement.start < gateway.agreement.expires, source
        assert gateway.agreement.reference.startswith("DSA-"), source
