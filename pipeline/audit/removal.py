"""Listing and removing one folder's tree without ever following a symbolic link out of it.

A purge deletes inside a run folder that may have been tampered with: a symbolic link planted in
restricted/ (to someone's documents, to another run) must be removed as a link, never read or followed,
and nothing outside the folder may be touched. Every step goes through file descriptors opened with
O_NOFOLLOW relative to the directory above, so a directory swapped for a link between listing and
removing is refused rather than followed, and only entries listed beforehand (same path, kind, inode,
size and modification time) are removed: what appears or changes in between is left, and said.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["file", "symlink", "other"]
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)


class NotAFolder(Exception):
    """The folder to list is missing, not a directory, or a symbolic link: nothing is listed or removed."""


@dataclass(frozen=True)
class Entry:
    """One thing under the folder: its path (relative to the run folder), kind, and for a file its SHA-256 and size.

    A symbolic link is listed as a link: its target is never read, so it has no hash.
    """

    path: str
    kind: Kind
    sha256: str | None
    bytes: int | None
    stamp: tuple[int, int, int] = field(compare=False, repr=False)  # inode, size, mtime: unchanged since listed

    def record(self) -> dict:
        """As a purge's ledger record lists it (the stamp stays in memory: it means nothing elsewhere)."""
        return {"path": self.path, "kind": self.kind, "sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class Removal:
    """What removing a listing did: the entries removed, and what was left (with why)."""

    removed: tuple[str, ...]
    left: tuple[str, ...]


def _kind(mode: int) -> Kind | None:
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symlink"
    return "file" if stat.S_ISREG(mode) else "other"


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_ino, st.st_size, st.st_mtime_ns


def _open_top(base: Path, name: str) -> tuple[int, int]:
    """File descriptors of `base` and of `name` inside it; NotAFolder when `name` is missing, a file or a link."""
    try:
        base_fd = os.open(base, _DIR)
    except OSError as exc:
        raise NotAFolder(f"{base} cannot be opened as a folder ({exc.strerror})") from None
    try:
        return base_fd, os.open(name, _DIR, dir_fd=base_fd)
    except OSError as exc:
        os.close(base_fd)
        what = "is a symbolic link (not followed)" if os.path.islink(base / name) else f"({exc.strerror})"
        raise NotAFolder(f"{base / name} {what}") from None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _sha256(name: str, dir_fd: int) -> str:
    digest = hashlib.sha256()
    fd = os.open(name, _FILE, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def listing(base: Path, name: str, prefix: str) -> list[Entry]:
    """Every entry other than a directory under `base/name`, sorted by path, each path `prefix`/... .

    `base` is the folder holding the one to list (the run folder for its restricted/, the run folder's
    parent for the whole run) and `prefix` what paths start with ("restricted", or "" for the whole run).
    """
    base_fd, fd = _open_top(Path(base), name)
    try:
        return sorted(_walk(fd, prefix), key=lambda e: e.path)
    finally:
        os.close(fd)
        os.close(base_fd)


def _walk(fd: int, prefix: str) -> list[Entry]:
    found = []
    with os.scandir(fd) as it:
        names = sorted(e.name for e in it)
    for child in names:
        path = _join(prefix, child)
        st = os.stat(child, dir_fd=fd, follow_symlinks=False)
        kind = _kind(st.st_mode)
        if kind is None:
            sub = os.open(child, _DIR, dir_fd=fd)
            try:
                found += _walk(sub, path)
            finally:
                os.close(sub)
        else:
            sha = _sha256(child, fd) if kind == "file" else None
            found.append(Entry(path, kind, sha, st.st_size if kind == "file" else None, _stamp(st)))
    return found


def remove(base: Path, name: str, prefix: str, entries: list[Entry]) -> Removal:
    """Remove the listed entries under `base/name`, then every directory they leave empty, `name` itself last.

    An entry not listed, or changed since (another inode, size or modification time), is left where it
    is, and so is every directory above it: the caller recorded what it lists and nothing else is deleted.
    """
    expected = {e.path: e for e in entries}
    removed: list[str] = []
    left: list[str] = []
    base_fd, fd = _open_top(Path(base), name)
    try:
        _remove_in(fd, prefix, expected, removed, left)
        os.close(fd)
        fd = -1
        if not left:  # else the folder still holds what was left, and says so
            try:
                os.rmdir(name, dir_fd=base_fd)
            except OSError as exc:
                left.append(f"{prefix or name}/ ({exc.strerror})")
    finally:
        if fd >= 0:
            os.close(fd)
        os.close(base_fd)
    return Removal(tuple(removed), tuple(left))


def _remove_in(fd: int, prefix: str, expected: dict[str, Entry], removed: list[str], left: list[str]) -> None:
    with os.scandir(fd) as it:
        names = sorted(e.name for e in it)
    for child in names:
        path = _join(prefix, child)
        try:
            st = os.stat(child, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # gone already
        kind = _kind(st.st_mode)
        if kind is None:
            before = len(left)
            sub = os.open(child, _DIR, dir_fd=fd)
            try:
                _remove_in(sub, path, expected, removed, left)
            finally:
                os.close(sub)
            if len(left) > before:
                continue
            try:
                os.rmdir(child, dir_fd=fd)
            except OSError as exc:
                left.append(f"{path}/ ({exc.strerror})")
            continue
        listed = expected.get(path)
        if listed is None or listed.kind != kind or listed.stamp != _stamp(st):
            left.append(f"{path} (not as listed before the purge was recorded)")
            continue
        try:
            os.unlink(child, dir_fd=fd)  # a link is removed as a link: its target is untouched
        except OSError as exc:
            left.append(f"{path} ({exc.strerror})")
            continue
        removed.append(path)
