"""OpenLineage settings: `schemas/openlineage.yaml` (namespace, job, producer, the lineage server).

A key, if the server needs one, is read from the environment variable the file names
(`api_key_env`), never from the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from pipeline.config.files import SCHEMAS_DIR, ContractError, Strict, parse, read_yaml

CONFIG_PATH = SCHEMAS_DIR / "openlineage.yaml"


class HttpSettings(Strict):
    """The lineage server. Holds the NAME of the key's environment variable, never the key."""

    enabled: bool = False
    url: str | None = Field(None, validate_default=True)
    endpoint: str = "api/v1/lineage"
    api_key_env: str | None = None
    timeout: float = Field(5.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("enabled"):
                raise ValueError("a URL is required when enabled is true")
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("must be the name of an environment variable (never the key itself)")
        return value


class OpenLineageSettings(Strict):
    """What `schemas/openlineage.yaml` declares; `path` is kept so later errors can name the file."""

    namespace: str = Field(min_length=1)
    job: str = Field(min_length=1)
    producer: str
    http: HttpSettings = HttpSettings()
    path: Path = CONFIG_PATH

    @field_validator("producer")
    @classmethod
    def _absolute_uri(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value):
            raise ValueError("must be an absolute URI (e.g. https://... or urn:...)")
        return value


def load_openlineage_config(path: Path = CONFIG_PATH) -> OpenLineageSettings:
    """Read and check the OpenLineage settings; a broken file raises ContractError naming file and key."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ContractError(f"{path}: expected a mapping (namespace, job, producer, http)")
    if "path" in data:
        raise ContractError(f"{path}: path: not a setting of this file")
    return parse(OpenLineageSettings, path, {**data, "path": path})


def http_api_key(settings: OpenLineageSettings) -> str | None:
    """The lineage server's API key, read from the environment variable the file names."""
    name = settings.http.api_key_env
    if not name:
        return None
    key = os.environ.get(name)
    if not key:
        raise ContractError(f"{settings.path}: http.api_key_env: environment variable {name} is not set")
    return key
