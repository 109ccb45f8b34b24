"""Data contracts of the agencies' extracts: `schemas/sources/<source>.yaml` and `schemas/formats.yaml`.

A contract lists a source's columns (type, date format, allowed values, format, each column's part
in identifying a person) and its cross-field rules. Ingest's checks, the Great Expectations suites,
linkage's standardisation and the agency-facing extract specification are all generated from
these models, so nothing about a source is written in Python. Models forbid unknown keys and
cross-check references (a rule naming a column the contract lacks), so a broken file fails at
start naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config.files import Strict

Role = Literal[
    "record_id",
    "person_token",
    "unit_token",
    "unit_role",
    "forename",
    "preferred_forename",
    "middle_names",
    "surname",
    "dob",
    "sex",
    "address_line",
    "postcode",
    "uprn",
    "extract_date",
]

class Format(Strict):
    pattern: str
    description: str
    normalise: list[Literal["upper", "remove_spaces"]] = Field(default_factory=list)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        return value


# --------------------------------------------------------------------------- source contracts
class Column(Strict):
    """One column of an extract. `description` is what the column means, written for the agencies:
    it is the "meaning" of the column in the extract specification generated from these contracts
    (docs/extract-specification.md), so the specification and the checks cannot drift apart.
    """

    type: Literal["string", "text", "date", "integer", "flag"]
    required: bool = True
    nullable: bool = True
    allowed: list[str] | None = None
    format: str | None = None
    date_format: str = "%Y-%m-%d"
    min: int | dt.date | None = None
    max: int | dt.date | None = None
    max_length: int | None = Field(None, gt=0)
    not_after: str | None = None
    role: Role | None = None
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if self.type != "date" and (self.not_after or self.date_format != "%Y-%m-%d"):
            raise ValueError("not_after and date_format apply to date columns only")
        if self.type == "date" and any(isinstance(v, int) for v in (self.min, self.max)):
            raise ValueError("min and max of a date column must be dates (YYYY-MM-DD)")
        if self.type == "integer" and any(isinstance(v, dt.date) for v in (self.min, self.max)):
            raise ValueError("min and max of an integer column must be integers")
        if self.type in ("flag", "date", "integer") and (self.allowed or self.format):
            raise ValueError(f"a {self.type} column takes no allowed values or format")
        return self


def human_format(date_format: str) -> str:
    """A date format as people write it: `%d/%m/%Y` -> `DD/MM/YYYY` (rejection reasons, the extract spec)."""
    return date_format.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")


class When(Strict):
    column: str
    equals: str


class UniqueRule(Strict):
    """Later rows repeating a value are rejected; the first is kept."""

    kind: Literal["unique"]
    column: str


class ConstantRule(Strict):
    """Every row carries the file's one value (the most common); others are rejected."""

    kind: Literal["constant"]
    column: str


class NotBeforeRule(Strict):
    """A date may not precede another date of the same row (claim_end >= claim_start)."""

    kind: Literal["not_before"]
    column: str
    other: str


class SumNotAboveRule(Strict):
    """The sum of some integer columns may not exceed another (absences <= sessions possible)."""

    kind: Literal["sum_not_above"]
    columns: list[str] = Field(min_length=1)
    limit: str


class AllowedWhenRule(Strict):
    """A narrower allowed set for a column when another column has a given value."""

    kind: Literal["allowed_when"]
    column: str
    when: When
    allowed: list[str] = Field(min_length=1)


class BlankUnlessRule(Strict):
    """A column that only applies to some rows (uc_work_group for UC claims) must be blank elsewhere."""

    kind: Literal["blank_unless"]
    column: str
    when: When


Rule = Annotated[
    UniqueRule | ConstantRule | NotBeforeRule | SumNotAboveRule | AllowedWhenRule | BlankUnlessRule,
    Field(discriminator="kind"),
]


class SourceContract(Strict):
    source: str
    title: str
    grain: str
    required_source: bool
    columns: dict[str, Column]
    rules: list[Rule] = Field(default_factory=list)
    # Free-text remarks for the agencies that no column or rule expresses (the electoral register
    # carries no dates of birth); printed under the source in the generated extract specification.
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> SourceContract:
        names = set(self.columns)
        roles = [c.role for c in self.columns.values()]
        for role in ("record_id", "extract_date"):
            if roles.count(role) != 1:
                raise ValueError(f"exactly one column must have role {role}")
        for name, col in self.columns.items():
            if col.not_after and col.not_after not in names:
                raise ValueError(f"columns.{name}.not_after names unknown column {col.not_after!r}")
        for i, rule in enumerate(self.rules):
            refs = [getattr(rule, "column", None), getattr(rule, "other", None),
                    getattr(rule, "limit", None), *getattr(rule, "columns", [])]
            when = getattr(rule, "when", None)
            if when is not None:
                refs.append(when.column)
            for ref in refs:
                if ref is not None and ref not in names:
                    raise ValueError(f"rules.{i} ({rule.kind}) names unknown column {ref!r}")
        return self

    @property
    def record_id(self) -> str:
        return next(n for n, c in self.columns.items() if c.role == "record_id")

    @property
    def extract_date(self) -> str:
        return next(n for n, c in self.columns.items() if c.role == "extract_date")

    @property
    def required_columns(self) -> list[str]:
        return [n for n, c in self.columns.items() if c.required]

    def columns_with_role(self, role: Role) -> list[str]:
        return [n for n, c in self.columns.items() if c.role == role]
