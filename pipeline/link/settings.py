"""Linkage settings from schemas/linkage.yaml, checked on load (errors name the file and key)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from pipeline.contracts import SCHEMAS_DIR, ContractError, _parse, _read_yaml, _Strict
from pipeline.link.candidates import BlockingPass, load_blocking

LINKAGE_PATH = SCHEMAS_DIR / "linkage.yaml"


class Identity(_Strict):
    distinct_tokens: list[str] = Field(default_factory=list)
    one_row_per_person: list[str] = Field(default_factory=list)
    undated_means_adult: list[str] = Field(default_factory=list)
    adult_age: int = Field(16, ge=0, le=30)


class Model(_Strict):
    match_threshold: float = Field(gt=0, lt=1)
    review_threshold: float = Field(gt=0, lt=1)
    cannot_link_below: float = Field(ge=0, lt=1)
    other_flat_is_another_person: bool = True
    follow_moves: int = Field(2, ge=0, le=5)
    name_frequency_cap: float = Field(0.0, ge=0, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> Model:
        if not self.cannot_link_below <= self.review_threshold <= self.match_threshold:
            raise ValueError("expected cannot_link_below <= review_threshold <= match_threshold")
        return self


class Evidence(_Strict):
    weight: float = Field(gt=0)
    date: str | None = None  # a date column, or "academic_term"; none = the extract date


class ClaimUnit(_Strict):
    source: str
    unit_end: str
    claimant: str
    claim_weight: float = Field(gt=0)


class Households(_Strict):
    half_life_days: float = Field(gt=0)
    evidence: dict[str, Evidence]
    claim_unit: ClaimUnit | None = None
    follow_family_from: list[str] = Field(default_factory=list)


class LinkageSettings(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    blocking: list[BlockingPass]
    identity: Identity
    model: Model
    households: Households


class _File(_Strict):
    blocking: list[object]
    identity: Identity
    model: Model
    households: Households
    kind: Literal["linkage"] = "linkage"


def load_linkage(path: Path = LINKAGE_PATH, columns: list[str] | None = None,
                 sources: list[str] | None = None) -> LinkageSettings:
    """All linkage settings; source names are checked against the contracts when given."""
    data = _read_yaml(Path(path))
    parsed = _parse(_File, Path(path), data)
    assert isinstance(parsed, _File)
    if sources is not None:
        named = {
            "identity.distinct_tokens": parsed.identity.distinct_tokens,
            "identity.one_row_per_person": parsed.identity.one_row_per_person,
            "identity.undated_means_adult": parsed.identity.undated_means_adult,
            "households.evidence": list(parsed.households.evidence),
            "households.follow_family_from": parsed.households.follow_family_from,
        }
        if parsed.households.claim_unit:
            named["households.claim_unit.source"] = [parsed.households.claim_unit.source]
        for key, names in named.items():
            unknown = sorted(set(names) - set(sources))
            if unknown:
                raise ContractError(f"{path}: {key}: unknown source(s) {', '.join(unknown)}")
    return LinkageSettings(blocking=load_blocking(Path(path), columns), identity=parsed.identity,
                           model=parsed.model, households=parsed.households)
