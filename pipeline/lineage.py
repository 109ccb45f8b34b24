"""The run's audit trail: `lineage.jsonl`, one JSON object a line, written as the run goes.

Records carry counts, hashes, gateways and reasons, never a cell's value: the file is for
auditors and must hold no personal data. Keys are sorted so the same facts give the same line.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

from pipeline import __version__


def code_version() -> str:
    """The git commit of the code when run from a checkout, else the package version."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        if out.returncode == 0:
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return __version__


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class LineageWriter:
    """Appends records to a run's lineage file, flushing each so a crash keeps what happened."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write(self, event: str, **fields: Any) -> dict:
        record = {"event": event, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **fields}
        self._fh.write(json.dumps(record, sort_keys=True, default=_default, ensure_ascii=False) + "\n")
        self._fh.flush()
        return record

    def close(self) -> None:
        self._fh.close()

    @staticmethod
    def run_context() -> dict:
        """Who ran what, where: for the run_start record."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return {"code_version": code_version(), "user": user, "host": platform.node(),
                "python": platform.python_version()}


def read_lineage(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
