"""Whether a source may be used: its gateway's purposes, and its agreement in force on the as-of date.

An agreement is in force from its start day to its expiry day, both included.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.config.gateways import Agreement, Gateway
from pipeline.ingest.gateways import agreement_refusal, purpose_refusal

START, EXPIRES = dt.date(2025, 4, 1), dt.date(2028, 3, 31)
GATEWAY = Gateway(statute="Children Act 2004", section="s.10", basis="the council's basis",
                  agreement=Agreement(reference="DSA-TEST-1", start=START, expires=EXPIRES),
                  controller="a controller", purposes=["identification", "support"])
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize(("as_of", "in_force"), [
    (START - DAY, False), (START, True), (START + DAY, True),
    (EXPIRES - DAY, True), (EXPIRES, True), (EXPIRES + DAY, False),
])
def test_an_agreement_is_in_force_from_its_start_day_to_its_expiry_day_inclusive(as_of, in_force):
    assert (agreement_refusal(GATEWAY, as_of) is None) is in_force


def test_a_refusal_before_the_start_says_when_the_agreement_begins():
    reason = agreement_refusal(GATEWAY, START - DAY)
    assert reason == "data-sharing agreement DSA-TEST-1 is not in force until 2025-04-01 (as-of date 2025-03-31)"


def test_a_refusal_after_expiry_names_the_agreement_and_the_day_it_expired():
    reason = agreement_refusal(GATEWAY, EXPIRES + DAY)
    assert reason == "data-sharing agreement DSA-TEST-1 expired on 2028-03-31 (as-of date 2028-04-01)"


def test_a_purpose_the_gateway_does_not_permit_is_refused_naming_what_it_permits():
    assert purpose_refusal(GATEWAY, "support") is None
    reason = purpose_refusal(GATEWAY, "evaluation")
    assert reason is not None and "does not permit the purpose 'evaluation'" in reason
    assert "identification, support" in reason


def test_a_source_without_a_declared_gateway_is_refused():
    assert "no legal gateway is declared" in purpose_refusal(None, "identification")


def test_every_shipped_agreement_starts_before_it_expires_and_names_a_reference(schemas):
    for source, gateway in schemas.gateways.items():
        assert gateway.agreement.start < gateway.agreement.expires, source
        assert gateway.agreement.reference.startswith("DSA-"), source
