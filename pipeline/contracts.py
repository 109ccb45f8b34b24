"""Typed models over `schemas/`: source contracts, formats, gateways and run settings.

Everything a council may edit lives in YAML under `schemas/`; this module is the one place that
reads it. Models forbid unknown keys and cross-check references (a rule naming a column the
contract lacks, a format that is not defined), so a broken file fails at start with an error
naming the file and the key, not half-way through a run.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"

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
Purpose = Literal["identification", "support", "evaluation", "statistics"]


class ContractError(ValueError):
    """A file under schemas/ is missing, unreadable or breaks its model."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- formats and settings
class Format(_Strict):
    pattern: str
    description: str
    normalise: list[Literal["upper", "remove_spaces"]] = []

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        return value


class Settings(_Strict):
    default_purpose: Purpose = "identification"
    max_bad_share: float = Field(0.2, ge=0, le=1)
    text_max_length: int = Field(200, gt=0)


# --------------------------------------------------------------------------- source contracts
class Column(_Strict):
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


class When(_Strict):
    column: str
    equals: str


class UniqueRule(_Strict):
    """Later rows repeating a value are rejected; the first is kept."""

    kind: Literal["unique"]
    column: str


class ConstantRule(_Strict):
    """Every row carries the file's one value (the most common); others are rejected."""

    kind: Literal["constant"]
    column: str


class NotBeforeRule(_Strict):
    """A date may not precede another date of the same row (claim_end >= claim_start)."""

    kind: Literal["not_before"]
    column: str
    other: str


class SumNotAboveRule(_Strict):
    """The sum of some integer columns may not exceed another (absences <= sessions possible)."""

    kind: Literal["sum_not_above"]
    columns: list[str] = Field(min_length=1)
    limit: str


class AllowedWhenRule(_Strict):
    """A narrower allowed set for a column when another column has a given value."""

    kind: Literal["allowed_when"]
    column: str
    when: When
    allowed: list[str] = Field(min_length=1)


class BlankUnlessRule(_Strict):
    """A column that only applies to some rows (uc_work_group for UC claims) must be blank elsewhere."""

    kind: Literal["blank_unless"]
    column: str
    when: When


Rule = Annotated[
    UniqueRule | ConstantRule | NotBeforeRule | SumNotAboveRule | AllowedWhenRule | BlankUnlessRule,
    Field(discriminator="kind"),
]


class SourceContract(_Strict):
    source: str
    title: str
    grain: str
    required_source: bool
    columns: dict[str, Column]
    rules: list[Rule] = []

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


# --------------------------------------------------------------------------- gateways
class Agreement(_Strict):
    reference: str
    start: dt.date
    expires: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Agreement:
        if self.expires < self.start:
            raise ValueError("agreement expires before it starts")
        return self


class Gateway(_Strict):
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


class Gateways(_Strict):
    sources: dict[str, Gateway]


# --------------------------------------------------------------------------- loading
def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ContractError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from exc


def _parse(model: type[BaseModel], path: Path, data: object, prefix: tuple[str, ...] = ()) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in (*prefix, *first["loc"])) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ContractError(f"{path}: {key}: {first['msg']}{more}") from exc


class Schemas(BaseModel):
    """Everything loaded from one schemas/ folder, checked against itself."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    root: Path
    contracts: dict[str, SourceContract]
    formats: dict[str, Format]
    gateways: dict[str, Gateway]
    settings: Settings


def load_schemas(root: Path = SCHEMAS_DIR) -> Schemas:
    """Load and cross-check contracts, formats, gateways and settings from `root`."""
    root = Path(root)
    formats_path = root / "formats.yaml"
    raw_formats = _read_yaml(formats_path) or {}
    if not isinstance(raw_formats, dict):
        raise ContractError(f"{formats_path}: expected a mapping of format names")
    formats = {name: _parse(Format, formats_path, spec, (name,)) for name, spec in raw_formats.items()}

    contracts: dict[str, SourceContract] = {}
    for path in sorted((root / "sources").glob("*.yaml")):
        contract = _parse(SourceContract, path, _read_yaml(path))
        if contract.source != path.stem:
            raise ContractError(f"{path}: source: {contract.source!r} does not match the file name")
        for name, col in contract.columns.items():
            if col.format and col.format not in formats:
                raise ContractError(
                    f"{path}: columns.{name}.format: unknown format {col.format!r} "
                    f"(defined: {', '.join(sorted(formats))})"
                )
        contracts[contract.source] = contract
    if not contracts:
        raise ContractError(f"{root / 'sources'}: no source contracts found")

    gateways_path = root / "gateways.yaml"
    gateways = _parse(Gateways, gateways_path, _read_yaml(gateways_path)).sources
    for source, gateway in gateways.items():
        if source not in contracts:
            raise ContractError(f"{gateways_path}: sources.{source}: no contract for this source")
        if gateway.allowed_columns != "all":
            contract = contracts[source]
            for i, col in enumerate(gateway.allowed_columns):
                if col not in contract.columns:
                    raise ContractError(
                        f"{gateways_path}: sources.{source}.allowed_columns.{i}: "
                        f"{col!r} is not a column of the {source} contract"
                    )
            for needed in (contract.record_id, contract.extract_date):
                if needed not in gateway.allowed_columns:
                    raise ContractError(
                        f"{gateways_path}: sources.{source}.allowed_columns: must include {needed!r}"
                    )

    settings_path = root / "settings.yaml"
    settings = _parse(Settings, settings_path, _read_yaml(settings_path) or {})
    return Schemas(root=root, contracts=contracts, formats=formats, gateways=gateways,
                   settings=settings)
