"""How every file under `schemas/` is read: YAML in, a typed model out, or an error naming file and key.

Councils edit these files by hand, so every reader goes through here: one YAML reader, one strict
model base (unknown keys are refused, so a misspelt key is an error, not a silently ignored line),
and one translation of a validation error into `path: key.path: what is wrong`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

PROJECT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = PROJECT / "schemas"

Model = TypeVar("Model", bound=BaseModel)


class ContractError(ValueError):
    """A file under schemas/ is missing, unreadable or breaks its model; the message names file and key."""


class Strict(BaseModel):
    """The base of every model read from schemas/: unknown keys refused, values frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: Path) -> object:
    """The parsed YAML of `path`; ContractError (naming the file) when it is missing or not YAML."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ContractError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from exc


def mapping(value: object, path: Path, key: str) -> dict:
    """`value` as a mapping (None as an empty one), or ContractError naming file and key."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ContractError(f"{path}: {key}: expected a mapping")
    return value


def validation_error(path: Path, exc: ValidationError, prefix: tuple[str, ...] = ()) -> ContractError:
    """The first problem of a pydantic error as `path: key.path: message (and N more)`.

    pydantic's location also names the validators it went through (`function-after[...]`,
    `tagged-union[...]`); those are not keys a council could find in the file, so they are left out.
    """
    first = exc.errors()[0]
    loc = [str(p) for p in (*prefix, *first["loc"]) if not str(p).startswith(("function-", "tagged-union"))]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return ContractError(f"{path}: {'.'.join(loc) or '(top level)'}: {first['msg']}{more}")


def parse(model: type[Model], path: Path, data: object, prefix: tuple[str, ...] = ()) -> Model:
    """`data` (read from `path`) as `model`; ContractError naming the file and the key at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, exc, prefix) from None


def load(model: type[Model], path: Path) -> Model:
    """Read `path` and parse it as `model`: the whole of a simple schemas/ file in one call."""
    return parse(model, path, read_yaml(path) or {})
