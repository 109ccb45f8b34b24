"""Reuse of an earlier run's ingest when a source's file and the rules that read it are unchanged.

A monthly re-run often gets some extracts again unchanged (an agency that had nothing new), and
a failed run is re-run with the same files. Reading, checking and landing a file is most of a
source's ingest time, so a source whose *ingest key* matches one of an earlier completed run is
taken from that run instead of read again: its landed rows (hard-linked when the file system
allows, else copied), its quarantined rows, and the check views that Great Expectations
validates again, so this run's Data Docs and lineage are complete.

The ingest key is the SHA-256 of everything that decides what ingest makes of a file: the file's
own SHA-256, the source's contract, the formats, settings and gateways files, the share of bad
rows that refuses a file, and the code's version. Change any of them and the file is read again.

Where the cache lives, and why there: in each run folder's restricted/ingest_cache/<source>/,
beside the landed rows it serves. The check views and landed rows are identifying; keeping them
in the run folder means they live and are deleted with the run (a council's retention of runs is
the retention of this cache), never in a separate store nor in Prefect's result storage. Earlier
runs are found through the ledger, newest first, and only while their folder is still there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.audit.ledger import latest_entries, read_ledger
from pipeline.audit.lineage import parse_lines, sha256_file
from pipeline.audit.trail import listed_outputs
from pipeline.ingest.checks import CheckSpec
from pipeline.publish import LINEAGE, RESTRICTED

CACHE_DIR = Path(RESTRICTED) / "ingest_cache"
SHAPING_FILES = ("formats.yaml", "settings.yaml", "gateways.yaml")


def views_file(source: str) -> Path:
    """A source's check views in its cache entry, relative to the run folder (what GX validates)."""
    return CACHE_DIR / source / "views.parquet"


def ingest_key(file_sha256: str, source: str, schemas_root: Path, max_bad_share: float | None,
               code_version: str) -> str:
    """The SHA-256 naming one file as ingest would read it under today's rules and code."""
    digest = hashlib.sha256()
    parts = {"file": file_sha256, "source": source, "max_bad_share": max_bad_share, "code": code_version}
    digest.update(json.dumps(parts, sort_keys=True).encode())
    for path in (Path(schemas_root) / "sources" / f"{source}.yaml", *(Path(schemas_root) / f for f in SHAPING_FILES)):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(absent)")
    return digest.hexdigest()


@dataclass
class Cached:
    """What an earlier run's ingest of the same file left: enough to land it and validate it again."""

    folder: Path  # the earlier run's folder
    run_id: str  # that run's id, and its line in the ledger: what names it even once the folder is gone
    ledger_line: int
    record: dict  # its lineage source record
    checks: list[CheckSpec]
    quarantine: pd.DataFrame
    landed: Path


def store(staging: Path, source: str, key: str, checks: list[CheckSpec], views: pd.DataFrame,
          quarantine: pd.DataFrame) -> None:
    """Keep what a later run needs to reuse this source's ingest, inside this run's restricted folder."""
    folder = Path(staging) / CACHE_DIR / source
    folder.mkdir(parents=True, exist_ok=True)
    views.to_parquet(Path(staging) / views_file(source))
    quarantine.to_parquet(folder / "quarantine.parquet", index=False)
    # Plain JSON and Parquet only: a later run reads these from this folder, which it must not trust
    # to carry code (a pickle would run whatever was planted in it).
    (folder / "checks.json").write_text(json.dumps([c.to_json() for c in checks], sort_keys=True), encoding="utf-8")
    (folder / "key").write_text(key, encoding="utf-8")  # written last: an entry with a key is complete


def find(source: str, key: str, ledger: Path | None, landed_name: Path) -> Cached | None:
    """The newest completed run, still on disk, that ingested this source under the same key."""
    if ledger is None or not Path(ledger).is_file():
        return None
    records, _ = read_ledger(ledger)
    for line, entry in sorted(latest_entries(records).values(), key=lambda e: e[0], reverse=True):
        folder = Path(entry["run"])
        entry_dir = folder / CACHE_DIR / source
        try:
            if (entry_dir / "key").read_text(encoding="utf-8") != key or not (folder / landed_name).is_file():
                continue
            trail, _ = parse_lines((folder / LINEAGE).read_text(encoding="utf-8"))  # read once, for both
            record = next((r for r in trail if r.get("event") == "source" and r.get("source") == source), None)
            if record is None or not record.get("used"):
                continue
            kept = [CACHE_DIR / source / n for n in ("quarantine.parquet", "checks.json", "key")]
            if not _unchanged(folder, trail, [landed_name, views_file(source), *kept]):
                continue  # altered since that run recorded it: never taken into this run
            loaded = json.loads((entry_dir / "checks.json").read_text(encoding="utf-8"))
            if not isinstance(loaded, list):
                continue
            checks = [CheckSpec.from_json(c) for c in loaded]
            if not (folder / views_file(source)).is_file():
                continue
            return Cached(folder=folder, run_id=str(entry.get("run_id")), ledger_line=line, record=record,
                          checks=checks, quarantine=pd.read_parquet(entry_dir / "quarantine.parquet"),
                          landed=folder / landed_name)
        except (OSError, ValueError, TypeError, KeyError):
            continue  # a half-deleted, damaged or out-of-date entry is simply not reused
    return None


def carry(earlier: Path, staging: Path, source: str) -> None:
    """Keep a reused entry in this run too (linked), so it outlives the earlier run's folder."""
    src, dst = Path(earlier) / CACHE_DIR / source, Path(staging) / CACHE_DIR / source
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("views.parquet", "quarantine.parquet", "checks.json", "key"):  # key last: the entry is complete
        link_or_copy(src / name, dst / name)


def _unchanged(folder: Path, trail: list[dict], names: list[Path]) -> bool:
    """Whether each file is one the run's lineage lists as an output, with the SHA-256 it recorded."""
    recorded = {name: sha for _, name, sha in listed_outputs(trail)}
    return all(not (folder / name).is_symlink() and recorded.get(Path(name).as_posix()) == sha256_file(folder / name)
               for name in names)


def link_or_copy(src: Path, dst: Path) -> None:
    """The earlier run's landed file in this run: a hard link (no space, instant) where possible."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
