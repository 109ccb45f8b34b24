"""Near names: what a user most likely meant by a name that is not one the configuration knows.

Used for every name a user types or a file an agency sends: a flag's value (`--purpose`,
`--rules`, `--allow-missing`) and an extract's file name. Only the configuration's own names are
ever suggested, never anything read from a file's contents.
"""

from __future__ import annotations

import difflib
import re


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def closest(name: str, known: list[str] | tuple[str, ...]) -> str | None:
    """The known name `name` most likely means: a close spelling, or one its words begin with.

    `identfication` → identification; `Police_Extract_Oct2026` → police; `Schools-Census` → schools.
    """
    folded = "_".join(_words(name))
    spelled = difflib.get_close_matches(folded, list(known), n=1, cutoff=0.75)
    if spelled:
        return spelled[0]
    words = _words(name)
    for candidate in known:
        parts = _words(candidate)
        if parts and any(words[i:i + len(parts)] == parts for i in range(len(words))):
            return candidate
    return None


def did_you_mean(name: str, known: list[str] | tuple[str, ...]) -> str:
    """' (did you mean X?)' when a known name is close, else ''."""
    match = closest(name, known)
    return f" (did you mean {match}?)" if match and match != name else ""
