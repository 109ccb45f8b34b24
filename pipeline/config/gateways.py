"""Legal gateways as the council declares them: `schemas/gateways.yaml`.

Per source: the statute and section that allow the sharing, the council's stated basis, the
data-sharing agreement (reference, start, expiry), the controller, the purposes permitted and the
columns the gateway lets in. The product records and enforces these declarations; whether a
source may be used in a run is decided from them in `pipeline.ingest.gateways`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.files import Strict

Purpose = Literal["identification", "support", "evaluation", "statistics"]


class Agreement(Strict):
    reference: str
    start: dt.date
    expires: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Agreement:
        if self.expires < self.start:
            raise ValueError("agreement expires before it starts")
        return self


class Gateway(Strict):
    statute: str
    section: str
    basis: str = Field(min_length=1)
    agreement: Agreement
    controller: str
    purposes: list[Purpose] = Field(min_length=1)
    allowed_columns: Literal["all"] | list[str] = "all"

    @property
    def citation(self) -> str:
        """Statute and the first clause of the section, short enough for one line of output."""
        return f"{self.statute} {self.section.split(';')[0].split(' (')[0]}"

    def record(self) -> dict:
        """The gateway as written into the lineage (no personal data: all declared text)."""
        return {
            "citation": self.citation,
            "statute": self.statute,
            "section": self.section,
            "basis": self.basis,
            "agreement": self.agreement.reference,
            "agreement_start": self.agreement.start.isoformat(),
            "agreement_expires": self.agreement.expires.isoformat(),
            "controller": self.controller,
            "purposes": list(self.purposes),
        }
