"""Write outputs so that a crash never leaves a half-written folder or file behind.

A run writes into a staging folder beside its output folder and renames it into place only
when everything is written; an existing output folder is replaced only when asked (--force),
and then only after the new one is complete.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

RESTRICTED = "restricted"  # identifying data, readable by its owner alone
LINEAGE = "lineage.jsonl"  # every run folder has its lineage: what tells a run's folder from any other
OPENLINEAGE = "openlineage.jsonl"  # the run's OpenLineage events; like the lineage, sealed by the ledger


class OutputExists(Exception):
    """The output folder is already there and the run was not told to replace it."""


# A run for `out` stages in `.<out name>.partial-<pid>` beside it; this is the one place that knows.
_STAGING_PREFIX, _STAGING_MARK = ".", ".partial-"


def staging_path(out: Path, pid: int) -> Path:
    """The staging folder of the run with process id `pid` that is writing for `out`."""
    return out.parent / f"{_STAGING_PREFIX}{out.name}{_STAGING_MARK}{pid}"


def stagings_of(out: Path) -> list[Path]:
    """Every staging folder, of any run, for `out`."""
    return sorted(out.parent.glob(f"{_STAGING_PREFIX}{out.name}{_STAGING_MARK}*"))


def staged_for(folder: Path) -> tuple[Path, int] | None:
    """The output folder a staging folder is writing for, and its run's process id; None for any other folder."""
    name = folder.name
    if not name.startswith(_STAGING_PREFIX) or _STAGING_MARK not in name:
        return None
    out, _, pid = name[len(_STAGING_PREFIX):].rpartition(_STAGING_MARK)
    return (folder.parent / out, int(pid)) if out and pid.isdigit() else None


def dated_output(root: Path, day: dt.date) -> Path:
    """A new output folder under `root` named for the day of the run: 2026-11-01, then 2026-11-01-2, ...

    A scheduled run never replaces an earlier month's outputs, and a second run on one day gets
    its own folder.
    """
    root = Path(root)
    candidate = root / day.isoformat()
    n = 1
    while candidate.exists() or stagings_of(candidate):
        n += 1
        candidate = root / f"{day.isoformat()}-{n}"
    return candidate


def check_output(out: Path, force: bool) -> None:
    """OutputExists, before anything is written, when `out` cannot become this run's output folder.

    --force replaces an earlier run's folder, and nothing else: not a file, and not a folder of
    other things (a mistyped `--out ~/Documents --force` must not delete someone's documents).
    """
    for parent in [out.parent, *out.parent.parents]:
        if parent.exists() and not parent.is_dir():
            raise OutputExists(f"--out {out}: {parent} is a file, so no folder can be made under it")
    if out.exists() and not out.is_dir():
        raise OutputExists(f"--out {out} is a file; a run writes a folder, so give a folder's path")
    if out.is_dir() and not force:
        raise OutputExists(f"output folder {out} already exists (use --force to replace it)")
    if out.is_dir() and any(out.iterdir()) and not (out / LINEAGE).is_file():
        raise OutputExists(f"--out {out} holds files but no earlier run (no {LINEAGE}); --force replaces only "
                           f"a run's folder, so give a new or empty folder")


def check_apart(out: Path, extracts: Path) -> None:
    """OutputExists when the output folder is, holds or lies inside the extracts folder.

    Publishing replaces the output folder whole (and --force deletes the one it replaces), so an
    output folder that overlaps the extracts would delete or mix in the very files the run reads.
    """
    o, e = Path(out).resolve(), Path(extracts).resolve()
    if o == e:
        raise OutputExists(f"--out {out} is the extracts folder: a run's folder replaces what is there, so give "
                           "another folder")
    if e in o.parents:
        raise OutputExists(f"--out {out} lies inside the extracts folder {extracts}: give a folder outside it")
    if o in e.parents:
        raise OutputExists(f"--out {out} holds the extracts folder {extracts}: give a folder that does not")


_HELD: dict[Path, tuple[int, Path]] = {}  # staging folder -> its output folder's open lock file and path
_HELD_GUARD = threading.Lock()


def lock_path(out: Path) -> Path:
    return Path(out).parent / f".{Path(out).name}.lock"


def _lock(out: Path) -> int:
    """An exclusive lock on `out` for this run, held until it publishes or is discarded.

    Two runs into one output folder at once would both stage, both publish and both be recorded
    as completed, the second silently replacing the first. The second fails here instead, before
    it does any work. The lock is the kernel's (flock): a killed run's lock goes with it. The lock
    file is removed on release, so a lock taken on a file that was removed meanwhile is taken again.
    """
    path = lock_path(out)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise OutputExists(f"another run is writing to {out} now (process {holder}): wait for it to finish, "
                               "or give another --out") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder released and removed it between our open and our lock: again
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _unlock(fd: int, path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # while still held: a waiting run then locks a new file, never this one
    os.close(fd)


def _release(staging: Path) -> None:
    with _HELD_GUARD:
        held = _HELD.pop(Path(staging), None)
    if held is not None:
        _unlock(*held)


def staging_dir(out: Path, force: bool, on_abandoned: Callable[[Path], None] | None = None) -> Path:
    """A fresh staging folder for `out`, on the same file system so the final rename is atomic.

    The run holds `out`'s lock from here until `promote` or `discard`. Staging folders of killed
    runs for `out` are removed first, each shown to `on_abandoned` before it goes (so the run can
    record the killed run in the audit trail).
    """
    out = Path(out)
    check_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = _lock(out)
    try:
        check_output(out, force)  # again under the lock: a run that has just published is seen
        staging = _fresh_staging(out, on_abandoned)
    except BaseException:
        _unlock(fd, lock_path(out))
        raise
    with _HELD_GUARD:
        _HELD[staging] = (fd, lock_path(out))
    return staging


def _fresh_staging(out: Path, on_abandoned: Callable[[Path], None] | None) -> Path:
    remove_abandoned(out, on_abandoned)
    staging = staging_path(out, os.getpid())
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    (staging / RESTRICTED).mkdir()
    os.chmod(staging / RESTRICTED, 0o700)  # before anything is written into it, whatever the umask
    return staging


def make_private(folder: Path) -> None:
    """The folder and everything under it readable by its owner alone: folders 0700, files 0600.

    Set explicitly (chmod is not subject to the umask) once a run's restricted files are written:
    writers inside (pyarrow, pandas, GX's spool, links to an earlier run's files) make files with
    the process's umask, and the folder's own 0700 from its creation keeps others out meanwhile.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned(out: Path, on_abandoned: Callable[[Path], None] | None = None) -> list[Path]:
    """Delete staging folders of earlier runs for `out` whose process is gone (killed runs)."""
    removed = []
    for folder in stagings_of(out):
        staged = staged_for(folder)
        if staged is not None and not _alive(staged[1]):
            if on_abandoned is not None:
                on_abandoned(folder)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def promote(staging: Path, out: Path) -> None:
    """Move the completed staging folder to `out`, replacing an earlier folder only now.

    When the new folder cannot take the earlier one's place, the earlier one is put back before the
    error goes on: a failed promotion leaves `out` as it was.
    """
    out = Path(out)
    try:
        if out.exists():
            retired = out.parent / f".{out.name}.replaced-{os.getpid()}"
            out.rename(retired)
            try:
                staging.rename(out)
            except BaseException:
                retired.rename(out)
                raise
            shutil.rmtree(retired, ignore_errors=True)  # the run is published: a leftover must not fail it
        else:
            staging.rename(out)
    finally:
        _release(staging)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    _release(staging)


@contextlib.contextmanager
def naming(path: Path):
    """An OSError raised while writing `path` names it: pyarrow's (disk full: errno 28) and a file object's
    do not, and "the disk is full" without the path leaves an officer guessing which disk."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno:
            raise OSError(exc.errno, os.strerror(exc.errno), str(path)) from exc
        raise


def write_table(table: pa.Table, path: Path) -> None:
    """Write Parquet via a temporary name, so a reader never sees a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with naming(path):
        pq.write_table(table, tmp)
    tmp.replace(path)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """`write_table` for a pandas frame (its index is not kept)."""
    write_table(_readable_by_pandas(pa.Table.from_pandas(frame, preserve_index=False)), path)


def _readable_by_pandas(table: pa.Table) -> pa.Table:
    """The table with pandas' metadata naming a list column's dtype as `object`.

    A list column (pairs' `blocking_passes`, evidence's `source_record_ids`) is kept as an Arrow list
    in memory so its type holds even when the table is empty; pandas records that dtype as
    'list<item: string>[pyarrow]', which its own reader cannot parse back (pd.read_parquet fails).
    As `object` it reads back as arrays of values, and the Parquet type stays list<string>.
    """
    raw = (table.schema.metadata or {}).get(b"pandas")
    lists = {f.name for f in table.schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)}
    if raw is None or not lists:
        return table
    meta = json.loads(raw)
    for column in meta.get("columns", []):
        if column.get("name") in lists:
            column["numpy_type"] = "object"
    return table.replace_schema_metadata({**table.schema.metadata, b"pandas": json.dumps(meta).encode()})


def write_bytes(data: bytes, path: Path, mode: int = 0o600) -> None:
    """Write a file via a temporary name, like `write_table`; readable by its owner only (it may be restricted)
    unless `mode` says otherwise (0o666: as the umask makes any other output, for a pseudonymous file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with naming(path), os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)
