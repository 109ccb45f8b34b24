"""Linkage settings: `schemas/linkage.yaml`, the one reader of it, checked on load.

Blocking passes, within-agency identity, the model's thresholds and household placement, each a
typed model; a mistake fails at start naming the file and key (`linkage.yaml: blocking.3: unknown
column(s) shoe_size`), as every file under schemas/ does (`pipeline.config.files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

from pipeline.config.files import SCHEMAS_DIR, ContractError, Strict, load
from pipeline.link.standardise import OUTPUT_COLUMNS

LINKAGE_FILE = "linkage.yaml"
LINKAGE_PATH = SCHEMAS_DIR / LINKAGE_FILE


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class BlockingPass:
    """Records agreeing exactly on every one of `columns` are compared.

    `max_block` is for a pass whose blocks can grow without bound (names alone): a common name
    shared by hundreds of records gives no evidence to link on, so a block larger than this
    proposes no pairs rather than being compared in full.
    """

    columns: tuple[str, ...] = Field(min_length=1)
    max_block: int | None = Field(None, ge=2)

    @property
    def name(self) -> str:
        """The pass as an analyst reads it in pairs.parquet's `blocking_passes`: its columns, and its block limit.

        Made of what the pass is (linkage.yaml gives passes no names of their own), so a name never goes
        stale when passes are reordered, and it decodes `passes` without opening linkage.yaml.
        """
        limit = f" (blocks of at most {self.max_block})" if self.max_block is not None else ""
        return " + ".join(self.columns) + limit


def _pass_shorthand(value: object) -> object:
    """A pass written as a plain list of columns."""
    return {"columns": value} if isinstance(value, list) else value


class Identity(Strict):
    """What agencies' own person tokens say (see `pipeline.link.identity`)."""

    distinct_tokens: list[str] = Field(default_factory=list)
    one_row_per_person: list[str] = Field(default_factory=list)
    undated_means_adult: list[str] = Field(default_factory=list)
    # An undated record of those sources is of someone at least this old at its extract date: a
    # record of anyone younger cannot be them. Not the programme's "adult" (18, pipeline.criteria).
    undated_min_age: int = Field(16, ge=0, le=30)


class Model(Strict):
    """Decisions on a pair's match probability."""

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


class Evidence(Strict):
    weight: float = Field(gt=0)
    date: str | None = None  # a date column, or "academic_term"; none = the extract date


class ClaimUnit(Strict):
    source: str
    unit_end: str
    claimant: str
    claim_weight: float = Field(gt=0)


class Households(Strict):
    """Where each person lives at the as-of date (see `pipeline.link.households`)."""

    half_life_days: float = Field(gt=0)
    evidence: dict[str, Evidence]
    claim_unit: ClaimUnit | None = None
    follow_family_from: list[str] = Field(default_factory=list)


class Partitions(Strict):
    """How a run on a Dask cluster cuts the linkage work (`pipeline.link.partitioned`); a run in one process
    ignores it. The outputs do not depend on these numbers, only the memory each worker needs does."""

    records_per_partition: int = Field(default=200_000, ge=1)  # standardisation, household votes: rows per task
    blocks_per_worker: int = Field(default=2, ge=1)  # comparison: at least this many partitions a pass, per worker
    records_per_block_partition: int = Field(default=250_000, ge=1)  # ... and no more records than this in one
    households_per_partition: int = Field(default=50_000, ge=1)  # scoring: households per task


class LinkageSettings(Strict):
    """The whole of linkage.yaml."""

    blocking: list[Annotated[BlockingPass, BeforeValidator(_pass_shorthand)]] = Field(min_length=1)
    identity: Identity
    model: Model
    households: Households
    partitions: Partitions = Field(default_factory=Partitions)
    kind: Literal["linkage"] = "linkage"

    def sources_named(self) -> dict[str, list[str]]:
        """Every key that names sources, and the sources it names."""
        named = {
            "identity.distinct_tokens": self.identity.distinct_tokens,
            "identity.one_row_per_person": self.identity.one_row_per_person,
            "identity.undated_means_adult": self.identity.undated_means_adult,
            "households.evidence": list(self.households.evidence),
            "households.follow_family_from": self.households.follow_family_from,
        }
        if self.households.claim_unit:
            named["households.claim_unit.source"] = [self.households.claim_unit.source]
        return named


def load_linkage(path: Path = LINKAGE_PATH, sources: list[str] | None = None) -> LinkageSettings:
    """All linkage settings; blocking columns are checked against the standardised columns, and
    source names against the contracts when `sources` is given."""
    path = Path(path)
    settings = load(LinkageSettings, path)
    for i, block in enumerate(settings.blocking):
        unknown = [c for c in block.columns if c not in OUTPUT_COLUMNS]
        if unknown:
            raise ContractError(f"{path}: blocking.{i}: unknown column(s) {', '.join(unknown)}")
    if sources is not None:
        for key, names in settings.sources_named().items():
            unknown = sorted(set(names) - set(sources))
            if unknown:
                raise ContractError(f"{path}: {key}: unknown source(s) {', '.join(unknown)}")
    return settings
