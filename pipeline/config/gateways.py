"""The registry of lawful bases, as the council's information governance team declares it: `schemas/gateways.yaml`.

One entry per source holds the whole lawful basis an IG officer signs: who the controllers are and
which rows each supplies, the legal route of the data into the council (a disclosure power, an
approval, the council's own data, the open or the full electoral register) with a link to the
legislation, the UK GDPR Article 6 basis, the Article 9 or 10 condition with its DPA 2018 Schedule 1
condition and appropriate policy document, the data-sharing agreement, the DPIA, the rows and
columns let in, retention and sign-off. The product records and enforces these declarations; it
never decides lawfulness on its own.

The model reads an entry as written (types and dates checked on load, so a misspelt key or a bad
date names its file and key); `missing()` then says what the entry's own basis requires and it does
not hold. An incomplete entry refuses its source alone, naming the missing items, so one unfinished
entry never stops the other sources.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.files import Strict

Purpose = Literal["identification", "support", "evaluation", "statistics"]

# The legal route of the data into the council. Each kind requires its own items (see `missing`).
Route = Literal[
    "disclosure",      # another controller discloses under a statutory power (e.g. CDA 1998 s.115)
    "dea_s35",         # Digital Economy Act 2017 s.35: also needs the DEA public register entry
    "nhs_s251",        # NHS Act 2006 s.251 approval: granted per application, national data opt-out applies
    "own_data",        # the council's own records reused for its functions: a compatibility assessment
    "open_register",   # the open (edited) electoral register, RPR 2001 reg 93: any purpose
    "full_register",   # the full electoral register: only for a reg 107(4) purpose, signed off
]

# Representation of the People (England and Wales) Regulations 2001 reg 107(4): what a council may
# use the full register for. Family identification is not among them.
REG_107_PURPOSES = {
    "security_law_enforcement_crime_prevention":
        "reg 107(4)(a): a statutory function relating to security, law enforcement and crime prevention",
    "local_poll": "reg 107(4)(aa): a poll under Local Government Act 2003 s.116",
    "statistics": "reg 107(4)(b): statistical purposes, disclosing no elector's name and address",
}


class Citation(Strict):
    """A provision and where to read it (legislation.gov.uk or the official guidance)."""

    text: str = Field(min_length=1)
    url: str = Field(pattern=r"^https://")


class Controller(Strict):
    """A data controller supplying the source, and the rows it supplies (its row scope)."""

    name: str = Field(min_length=1)
    rows: str = Field(min_length=1)


class Agreement(Strict):
    """The data-sharing agreement (or, for the council's own data, its internal protocol)."""

    reference: str
    start: dt.date
    expires: dt.date
    review: dt.date | None = None
    parties: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Agreement:
        if self.expires < self.start:
            raise ValueError("agreement expires before it starts")
        if self.review is not None and not self.start <= self.review <= self.expires:
            raise ValueError("agreement review date must fall between its start and its expiry")
        return self


class Dated(Strict):
    """A document with a reference and a date, due for review on `review` (a DPIA, an assessment)."""

    reference: str = Field(min_length=1)
    date: dt.date
    review: dt.date | None = None


class Approval(Strict):
    """An approval granted per application (e.g. s.251 support through the Confidentiality Advisory Group)."""

    body: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    granted: dt.date
    review: dt.date | None = None


class Schedule1Condition(Strict):
    """A UK GDPR Art 9 or Art 10 condition with the DPA 2018 Schedule 1 condition it relies on.

    DPA 2018 Sch 1 requires an appropriate policy document for the Part 1 para 1 condition, for the
    Part 2 (substantial public interest) conditions (para 5) and for Part 3 para 36, which extends
    the Part 2 conditions to criminal offence data.
    """

    article: Citation
    part: Literal[1, 2, 3]
    paragraph: int = Field(ge=1)
    condition: Citation
    policy_document: str | None = None

    @property
    def needs_policy_document(self) -> bool:
        return self.part == 2 or (self.part, self.paragraph) in {(1, 1), (3, 36)}


class RowRule(Strict):
    """One condition on a contract column a row must meet to be let in (rules are all required)."""

    column: str
    allowed: list[str] | None = Field(default=None, min_length=1)
    excluded: list[str] | None = Field(default=None, min_length=1)
    why: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one(self) -> RowRule:
        if (self.allowed is None) == (self.excluded is None):
            raise ValueError("give exactly one of allowed or excluded")
        return self


class Suppression(Strict):
    """A list of agency tokens whose rows must never come in (opt-outs, objections).

    The list is a file `suppressions/<source>.csv` beside the extracts, one token per line under a
    header naming `column`; it is applied before anything lands and only its counts are recorded.
    """

    column: str
    name: str = Field(min_length=1)
    required: bool = False


class Retention(Strict):
    """How long a run's data from this source is kept, and the rule that says so."""

    identifying_days: int = Field(ge=0)  # the identifying copies under restricted/
    run_days: int = Field(ge=0)          # the whole run folder
    rule: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Retention:
        if self.run_days < self.identifying_days:
            raise ValueError("run_days must be at least identifying_days (identifying data goes first)")
        return self


class SignOff(Strict):
    role: str = Field(min_length=1)
    date: dt.date


class Gateway(Strict):
    """One source's entry in the registry of lawful bases."""

    route: Route
    statute: str
    section: str
    url: str = Field(pattern=r"^https://")
    basis: str = Field(min_length=1)
    agreement: Agreement
    controllers: list[Controller] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    allowed_columns: Literal["all"] | list[str] = "all"
    allowed_rows: Literal["all"] | list[RowRule] = "all"
    special_category: bool = False        # health data (UK GDPR Art 9)
    criminal_offence_data: bool = False   # offences and proceedings (UK GDPR Art 10)
    article_6: Citation | None = None
    article_9: Schedule1Condition | None = None
    article_10: Schedule1Condition | None = None
    dpia: Dated | None = None
    approval: Approval | None = None
    opt_out: Citation | None = None
    dea_register_entry: Citation | None = None
    compatibility_assessment: Dated | None = None
    register_purpose: str | None = None
    suppression: Suppression | None = None
    retention: Retention | None = None
    signed_off: SignOff | None = None
    example: bool = False  # local references (agreement, DPIA, approval, sign-off) are illustrations

    @property
    def citation(self) -> str:
        """Statute and the first clause of the section, short enough for one line of output."""
        return f"{self.statute} {self.section.split(';')[0].split(' (')[0]}"

    @property
    def controller(self) -> str:
        """The controllers' names, one line."""
        return "; ".join(c.name for c in self.controllers)

    def missing(self) -> list[str]:
        """What this entry's own basis requires and the entry does not hold, each named.

        Every entry needs an Art 6 basis, a DPIA, retention and a sign-off; health data an Art 9
        condition and offence data an Art 10 condition, each with its policy document where Schedule 1
        asks for one; an s.251 route its approval and the national data opt-out; DEA s.35 its public
        register entry; the council's own data its compatibility assessment; the full register a
        reg 107(4) purpose.
        """
        out = []
        for name in ("article_6", "dpia", "retention", "signed_off"):
            if getattr(self, name) is None:
                out.append(name)
        for flag, name, what in (("special_category", "article_9", "health data"),
                                 ("criminal_offence_data", "article_10", "criminal offence data")):
            condition = getattr(self, name)
            if getattr(self, flag) and condition is None:
                out.append(f"{name} (the source carries {what})")
            elif condition is not None and condition.needs_policy_document and not condition.policy_document:
                out.append(f"{name}.policy_document (DPA 2018 Sch 1 Part {condition.part} "
                           f"para {condition.paragraph} requires an appropriate policy document)")
        needs = {
            "nhs_s251": [("approval", "s.251 support is granted per application: its reference"),
                         ("opt_out", "the national data opt-out applies to s.251 flows")],
            "dea_s35": [("dea_register_entry", "DEA 2017 s.35 disclosures are entered in the public register")],
            "own_data": [("compatibility_assessment", "reuse of the council's own data (UK GDPR Art 6(4))")],
            "full_register": [("register_purpose", "the full register may be used only for a reg 107(4) purpose")],
        }.get(self.route, [])
        out += [f"{name} ({why})" for name, why in needs if getattr(self, name) is None]
        if self.route == "full_register" and self.register_purpose is not None \
                and self.register_purpose not in REG_107_PURPOSES:
            out.append(f"register_purpose: {self.register_purpose!r} is not a reg 107(4) purpose "
                       f"({', '.join(REG_107_PURPOSES)})")
        return out

    def reviews(self) -> list[tuple[str, dt.date]]:
        """The dates by which a document behind this entry must be reviewed or renewed, named."""
        out = [(f"data-sharing agreement {self.agreement.reference} expires", self.agreement.expires)]
        if self.agreement.review:
            out.append((f"data-sharing agreement {self.agreement.reference} is due for review", self.agreement.review))
        for name, doc in (("DPIA", self.dpia), ("compatibility assessment", self.compatibility_assessment)):
            if doc is not None and doc.review is not None:
                out.append((f"{name} {doc.reference} is due for review", doc.review))
        if self.approval is not None and self.approval.review is not None:
            out.append((f"{self.approval.body} approval {self.approval.reference} is due for review",
                        self.approval.review))
        return out

    def record(self) -> dict:
        """The gateway as written into the lineage (no personal data: all declared text)."""
        def cited(c: Citation | None) -> dict | None:
            return None if c is None else {"text": c.text, "url": c.url}

        def condition(c: Schedule1Condition | None) -> dict | None:
            return None if c is None else {"article": c.article.text, "schedule_1": c.condition.text,
                                           "policy_document": c.policy_document}

        return {
            "citation": self.citation,
            "route": self.route,
            "statute": self.statute,
            "section": self.section,
            "url": self.url,
            "basis": self.basis,
            "agreement": self.agreement.reference,
            "agreement_start": self.agreement.start.isoformat(),
            "agreement_expires": self.agreement.expires.isoformat(),
            "controller": self.controller,
            "purposes": list(self.purposes),
            "article_6": cited(self.article_6),
            "article_9": condition(self.article_9),
            "article_10": condition(self.article_10),
            "dpia": self.dpia.reference if self.dpia else None,
            "approval": self.approval.reference if self.approval else None,
            "register_purpose": self.register_purpose,
            "retention": self.retention.rule if self.retention else None,
            "signed_off": (f"{self.signed_off.role}, {self.signed_off.date.isoformat()}"
                           if self.signed_off else None),
        }
