"""Whether a source may be used in a run: its gateway's purposes and its agreement's dates.

The product records and enforces what the council's information governance team declared in
schemas/gateways.yaml; it never decides lawfulness itself. A refusal is a plain one-line reason
that names the agreement, so a research officer knows whom to chase.
"""

from __future__ import annotations

import datetime as dt

from pipeline.config.gateways import Gateway


def purpose_refusal(gateway: Gateway | None, purpose: str) -> str | None:
    """Why a source may not be used for `purpose` at all, or None when it may."""
    if gateway is None:
        return "no legal gateway is declared for this source in schemas/gateways.yaml"
    if purpose not in gateway.purposes:
        return (f"gateway ({gateway.citation}) does not permit the "
                f"purpose '{purpose}' (it permits: {', '.join(gateway.purposes)})")
    return None


def agreement_refusal(gateway: Gateway, as_of: dt.date) -> str | None:
    """Why the source's data-sharing agreement is not in force at `as_of`, or None when it is."""
    agreement = gateway.agreement
    if as_of < agreement.start:
        return (f"data-sharing agreement {agreement.reference} is not in force until "
                f"{agreement.start.isoformat()} (as-of date {as_of.isoformat()})")
    if as_of > agreement.expires:
        return (f"data-sharing agreement {agreement.reference} expired on "
                f"{agreement.expires.isoformat()} (as-of date {as_of.isoformat()})")
    return None
