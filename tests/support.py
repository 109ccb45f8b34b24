"""Helpers the tests share: reading a run's trails, and finding identifying values in text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


def lineage(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "lineage.jsonl").read_text(encoding="utf-8").splitlines()]


def source_records(run: Path) -> dict[str, dict]:
    return {r["source"]: r for r in lineage(run) if r["event"] == "source"}


def _trie_pattern(words: list[str]) -> str:
    """A regex matching any of `words`, as a trie: one branch per first character, and so on.

    A flat alternation of thousands of words makes the regex engine try each in turn at every
    position of the text; the trie tries a character once. Longer words come first at each branch,
    so a whole word is preferred to its prefix.
    """
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return pattern(trie)


def word_finder(values: set[str]) -> re.Pattern:
    """A regex finding any of `values` as a whole word (a surname "Butt" must not match "Button")."""
    return re.compile("(?<![A-Za-z0-9])(?:" + _trie_pattern(sorted(values)) + ")(?![A-Za-z0-9])")


LONGEST_WORD = 256  # a longer value (a pasted document, a record a stray quote swallowed) is no word to bound


def leaked(values: set[str], text: str) -> list[str]:
    """The values found in `text` as whole words, sorted; a value longer than LONGEST_WORD is looked for as it is
    (the trie of `word_finder` would nest a group per character, past the regex compiler's recursion limit)."""
    words = {v for v in values if len(v) <= LONGEST_WORD}
    found = set(word_finder(words).findall(text)) if words else set()
    return sorted(found | {v for v in values - words if v in text})


def png_pixels(path: Path):
    """The pixels of an 8-bit RGB or RGBA PNG (a browser's screenshot) as a (height, width, channels) array.

    Written here rather than taken from an imaging library the project does not otherwise need:
    zlib and the five PNG row filters, vectorised where a row's filter allows it.
    """
    import struct
    import zlib

    import numpy as np

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, chunks = 8, []
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
        elif kind == b"IDAT":
            chunks.append(body)
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(chunks))
    rows = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        if kind == 0:
            out = line
        elif kind == 1:  # Sub: a running sum per channel
            out = np.cumsum(line.reshape(width, bpp), axis=0).reshape(stride) % 256
        elif kind == 2:  # Up
            out = (line + previous) % 256
        else:  # Average, Paeth: each byte depends on the one decoded before it
            cur, up, src = bytearray(stride), previous.tolist(), line.tolist()
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b = up[x]
                if kind == 3:
                    cur[x] = (src[x] + (a + b) // 2) & 255
                else:
                    c = up[x - bpp] if x >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur[x] = (src[x] + pred) & 255
            out = np.frombuffer(bytes(cur), np.uint8).astype(np.int64)
        rows[y] = out
        previous = out
    return rows.reshape(height, width, bpp)


# --------------------------------------------------------------------------- headless Chromium
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# No network: every host resolves to nothing and every request goes to a closed local port, so a
# page that needs anything from outside renders without it; the net log records each attempt.
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--hide-scrollbars"]
_CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)$", re.M)


@dataclass(frozen=True)
class Visit:
    """What Chromium did with a page: its output (the DOM with --dump-dom), the URLs the page asked the
    network for, and every message on the page's console (with --enable-logging, as Chromium logs them)."""

    output: str
    asked: list[str]
    console: list[str]


def visit(browser: str, page: Path, folder: Path, *action: str) -> Visit:
    """Open `page` in headless Chromium with no network, profile and net log under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    netlog = folder / "netlog.json"
    shutil.rmtree(folder / "profile", ignore_errors=True)
    done = subprocess.run([browser, *QUIET, *OFFLINE, f"--user-data-dir={folder / 'profile'}",
                           f"--log-net-log={netlog}", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=3000", *action, page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    events = json.loads(netlog.read_text(encoding="utf-8"))["events"]
    # The page's requests carry its origin (opaque for a file: "null"); the browser's own background
    # requests ("not an origin") are not the page's doing.
    asked = sorted({e["params"]["url"] for e in events if "url" in e.get("params", {})
                    and e["params"].get("initiator") not in (None, "not an origin")
                    and not e["params"]["url"].startswith("file:")})
    return Visit(done.stdout, asked, _CONSOLE.findall(done.stderr))


def open_page(browser: str, page: Path, folder: Path, *action: str) -> tuple[str, list[str]]:
    """Chromium's output for `page` and the URLs the page itself asked the network for."""
    seen = visit(browser, page, folder, *action)
    return seen.output, seen.asked


def ink(pixels, box: tuple[int, int, int, int]) -> float:
    """The share of pixels in `box` (x, y, width, height) that are not near-white: text, lines, marks."""
    x, y, w, h = box
    area = pixels[y:y + h, x:x + w, :3].astype(int)
    return float((area.min(axis=2) < 235).mean()) if area.size else 0.0


def colour(pixels, box: tuple[int, int, int, int]) -> float:
    """The share of pixels in `box` that are coloured, not white, grey or black: a chart's marks, not its
    labels and axes (which alone would leave ink in the box of a chart that drew no bar)."""
    x, y, w, h = box
    area = pixels[y:y + h, x:x + w, :3].astype(int)
    return float((area.max(axis=2) - area.min(axis=2) > 30).mean()) if area.size else 0.0
