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


def agreement_refusal(gateway: Gateway, processing_date: dt.date, as_of: dt.date) -> str | None:
    """Why the source's data-sharing agreement does not allow this run, or None when it does.

    The agreement must be in force on the processing date, the day the data is processed (an
    expired agreement stops the processing of older extracts too), and cover the data's as-of date.
    """
    agreement = gateway.agreement
    if processing_date < agreement.start:
        return (f"data-sharing agreement {agreement.reference} is not in force until "
                f"{agreement.start.isoformat()} (processing date {processing_date.isoformat()})")
    if processing_date > agreement.expires:
        return (f"data-sharing agreement {agreement.reference} expired on "
                f"{agreement.expires.isoformat()} (processing date {processing_date.isoformat()})")
    if as_of < agreement.start:
        return (f"data-sharing agreement {agreement.reference} does not cover data as of {as_of.isoformat()}: it "
                f"starts on {agreement.start.isoformat()}")
    return None


def lapsing_in(gateway: Gateway, processing_date: dt.date, days: int) -> int | None:
    """Days left on an agreement in force that expires within `days` of the processing date, else None."""
    left = (gateway.agreement.expires - processing_date).days
    return left if gateway.agreement.start <= processing_date and 0 <= left <= days else None


def lapse_warnings(gateways: dict[str, Gateway], sources: list[str], processing_date: dt.date,
                   days: int) -> list[str]:
    """One line per source whose agreement expires within `days` of the processing date."""
    out = []
    for source in sorted(sources):
        gateway = gateways.get(source)
        left = lapsing_in(gateway, processing_date, days) if gateway is not None else None
        if left is not None:
            expires = gateway.agreement.expires
            refused_from = (expires + dt.timedelta(days=1)).isoformat()
            out.append(f"{source}: data-sharing agreement {gateway.agreement.reference} expires on "
                       f"{expires.isoformat()}, in {left} day{'s' if left != 1 else ''}: renew it, or the source is "
                       f"refused from {refused_from}")
    return out
