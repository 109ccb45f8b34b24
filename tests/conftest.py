"""Shared fixtures. Prefect and GX state stay inside temporary folders, never the user's home."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO.parent / "shared" / "spec"
CORPUS = Path(__file__).resolve().parent / "corpus"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-home-"))


@pytest.fixture(scope="session")
def schemas():
    from pipeline.contracts import load_schemas

    return load_schemas()
