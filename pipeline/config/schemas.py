"""Everything in one `schemas/` folder that describes the extracts: contracts, formats, gateways, settings.

Loaded together because they refer to each other (a contract names a format, a gateway names a
source and its columns) and are checked against each other on load. Linkage settings, rule sets
and OpenLineage settings are read by their own stages, with the same reader (`pipeline.config.files`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from pipeline.config.contracts import Format, SourceContract
from pipeline.config.files import SCHEMAS_DIR, ContractError, Strict, load, parse, read_yaml
from pipeline.config.gateways import Gateway
from pipeline.config.settings import Settings


class Schemas(BaseModel):
    """Everything loaded from one schemas/ folder, checked against itself."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    root: Path
    contracts: dict[str, SourceContract]
    formats: dict[str, Format]
    gateways: dict[str, Gateway]
    settings: Settings


class _Gateways(Strict):
    sources: dict[str, Gateway]


def load_formats(path: Path) -> dict[str, Format]:
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ContractError(f"{path}: expected a mapping of format names")
    return {name: parse(Format, path, spec, (name,)) for name, spec in raw.items()}


def load_contracts(folder: Path, formats: dict[str, Format]) -> dict[str, SourceContract]:
    """Every `<source>.yaml` in `folder`, each named for its source and naming only known formats."""
    contracts: dict[str, SourceContract] = {}
    for path in sorted(folder.glob("*.yaml")):
        contract = parse(SourceContract, path, read_yaml(path))
        if contract.source != path.stem:
            raise ContractError(f"{path}: source: {contract.source!r} does not match the file name")
        for name, col in contract.columns.items():
            if col.format and col.format not in formats:
                raise ContractError(f"{path}: columns.{name}.format: unknown format {col.format!r} "
                                    f"(defined: {', '.join(sorted(formats))})")
        contracts[contract.source] = contract
    if not contracts:
        raise ContractError(f"{folder}: no source contracts found")
    return contracts


def load_gateways(path: Path, contracts: dict[str, SourceContract]) -> dict[str, Gateway]:
    """The declared gateways, each for a known source and letting in only that source's columns."""
    gateways = load(_Gateways, path).sources
    for source, gateway in gateways.items():
        if source not in contracts:
            raise ContractError(f"{path}: sources.{source}: no contract for this source")
        if gateway.allowed_columns == "all":
            continue
        contract = contracts[source]
        for i, col in enumerate(gateway.allowed_columns):
            if col not in contract.columns:
                raise ContractError(f"{path}: sources.{source}.allowed_columns.{i}: "
                                    f"{col!r} is not a column of the {source} contract")
        for needed in (contract.record_id, contract.extract_date):
            if needed not in gateway.allowed_columns:
                raise ContractError(f"{path}: sources.{source}.allowed_columns: must include {needed!r}")
    return gateways


def load_schemas(root: Path = SCHEMAS_DIR) -> Schemas:
    """Load and cross-check contracts, formats, gateways and settings from `root`."""
    root = Path(root)
    formats = load_formats(root / "formats.yaml")
    contracts = load_contracts(root / "sources", formats)
    gateways = load_gateways(root / "gateways.yaml", contracts)
    settings = load(Settings, root / "settings.yaml")
    return Schemas(root=root, contracts=contracts, formats=formats, gateways=gateways, settings=settings)
