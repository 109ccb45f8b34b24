"""Helpers the tests share: reading a run's trails, and finding identifying values in text."""

from __future__ import annotations

import json
import re
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


def leaked(values: set[str], text: str) -> list[str]:
    """The values found in `text` as whole words, sorted."""
    return sorted(set(word_finder(values).findall(text))) if values else []
