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


def _model_names(cls: type = Strict) -> set[str]:
    return {cls.__name__}.union(*(_model_names(c) for c in cls.__subclasses__()))


def _key_parts(loc: tuple) -> list[str]:
    """The parts of a pydantic location a council could find in the file.

    pydantic's location also names the validators and union members it went through
    (`function-after[...]`, `tagged-union[...]`, `list[union[str,int]]`, `AtLeast`); those are left out.
    """
    models = _model_names()
    return [str(p) for p in loc
            if not str(p).startswith(("function-", "tagged-union")) and "[" not in str(p) and str(p) not in models]


def validation_error(path: Path, exc: ValidationError, prefix: tuple[str, ...] = ()) -> ContractError:
    """The most telling problem of a pydantic error as `path: key.path: message (and N more)`.

    A value that fits no member of a union (a list of values, or `{at_least: N}`) gets an error for
    each member; the one that is not a mere type mismatch ("should be a valid list") says what is
    wrong with the value the council wrote, so it is shown first.
    """
    errors = exc.errors()
    first = next((e for e in errors if not e["type"].endswith("_type")), errors[0])
    loc = _key_parts((*prefix, *first["loc"]))
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
