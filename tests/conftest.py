"""Shared fixtures. Prefect and GX state stay inside temporary folders, never the user's home."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO.parent / "shared" / "spec"
CORPUS = Path(__file__).resolve().parent / "corpus"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-home-"))
# Every run appends to the cross-run ledger: the tests' runs go to a temporary one, never var/.
os.environ["PIPELINE_LEDGER"] = str(Path(tempfile.mkdtemp(prefix="pipeline-ledger-")) / "ledger.jsonl")
# A fresh random pseudonymisation key per test session, in a file outside the project (never a
# real key, never one written in code): keys are compared only within a session.
_KEY_FILE = Path(tempfile.mkdtemp(prefix="pipeline-key-")) / "pipeline.key"
_KEY_FILE.write_text(secrets.token_hex(32), encoding="utf-8")
os.environ.pop("PIPELINE_KEY", None)
os.environ["PIPELINE_KEY_FILE"] = str(_KEY_FILE)


@pytest.fixture(scope="session")
def schemas():
    from pipeline.config import load_schemas

    return load_schemas()
