"""Whether a source may be used in a run: its gateway's purposes and its agreement's dates.

The product records and enforces what the council's information governance team declared in
schemas/gateways.yaml; it never decides lawfulness itself. A refusal is a plain one-line reason
that names the agreement, so a research officer knows whom to chase.
"""

from __future__ import annotations

import datetime as dt

from pipeline.config.gateways import Gateway


def registry_refusal(gateway: Gateway | None, purpose: str) -> str | None:
    """Why the registry does not let a source into a run for `purpose` at all, or None when it does.

    No entry, an entry missing what its own basis requires (each item named, so the IG officer
    knows what to fill in), or a purpose the gateway does not permit.
    """
    if gateway is None:
        return "no legal gateway is declared for this source in schemas/gateways.yaml"
    missing = gateway.missing()
    if missing:
        return f"the registry entry (schemas/gateways.yaml) is incomplete: missing {'; '.join(missing)}"
    return purpose_refusal(gateway, purpose)


def purpose_refusal(gateway: Gateway, purpose: str) -> str | None:
    """Why a source's gateway does not permit `purpose`, or None when it does."""
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


def review_warnings(gateway: Gateway, processing_date: dt.date, days: int) -> list[str]:
    """The agreement, DPIA, approval or assessment reviews due within `days` of the processing date, or overdue."""
    out = []
    for what, due in gateway.reviews():
        if what.endswith(" expires"):
            continue  # expiry has its own warning (lapse_warnings) and refusal (agreement_refusal)
        left = (due - processing_date).days
        if left < 0:
            overdue = what.replace(" is due for review", " was due for review")
            out.append(f"{overdue} on {due.isoformat()}, {-left} day{'s' if left != -1 else ''} ago: review it")
        elif left <= days:
            out.append(f"{what} on {due.isoformat()}, in {left} day{'s' if left != 1 else ''}")
    return out


def lapse_warnings(gateways: dict[str, Gateway], sources: list[str], processing_date: dt.date,
                   days: int) -> list[str]:
    """One line per source whose agreement expires within `days` of the processing date, and per review due."""
    out = []
    for source in sorted(sources):
        gateway = gateways.get(source)
        if gateway is None:
            continue
        out += [f"{source}: {line}" for line in review_warnings(gateway, processing_date, days)]
        left = lapsing_in(gateway, processing_date, days)
        if left is not None:
            expires = gateway.agreement.expires
            refused_from = (expires + dt.timedelta(days=1)).isoformat()
            out.append(f"{source}: data-sharing agreement {gateway.agreement.reference} expires on "
                       f"{expires.isoformat()}, in {left} day{'s' if left != 1 else ''}: renew it, or the source is "
                       f"refused from {refused_from}")
    return out
