"""What changed since the previous month, household by household: `changes.parquet`.

Managers ask who is new this month, who has dropped off, and why. Keys carry over from the
previous run (`pipeline.link.continuity`), so a household of both months is the same family;
each change is one row (`household_key, change, detail`), a household may have several, and
details are counts and criterion names only (pseudonymous, like every published table).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

CHANGES = ("new", "ended", "newly_eligible", "no_longer_eligible", "moved", "joined", "left")
COLUMNS = ["household_key", "change", "detail"]


@dataclass(frozen=True)
class Month:
    """One run's households (household_key, eligible, criteria, address_key) and who lived in each."""

    households: pd.DataFrame
    members: pd.DataFrame  # person_key, household_key (one row a person)


def _members(links: pd.DataFrame) -> pd.DataFrame:
    return links[["person_key", "household_key"]].astype(str).drop_duplicates("person_key")


def month_of(households: pd.DataFrame, links: pd.DataFrame) -> Month:
    return Month(households=households.assign(household_key=households["household_key"].astype(str))
                 .set_index("household_key"), members=_members(links))


def _met(row: pd.Series, criteria: list[str]) -> set[str]:
    return {c for c in criteria if c in row.index and pd.notna(row[c]) and bool(row[c])}


def household_changes(now: Month, before: Month, criteria: list[str], merged: dict[str, str]) -> pd.DataFrame:
    """The changes from `before` to `now`; `merged`: keys retired this run → the key they were merged into."""
    rows: list[tuple[str, str, str]] = []
    keys_now, keys_before = set(now.households.index), set(before.households.index)
    people_now = now.members.groupby("household_key")["person_key"].agg(set)
    people_before = before.members.groupby("household_key")["person_key"].agg(set)
    known = set(before.members["person_key"])  # everyone in a household last month
    for key in sorted(keys_now - keys_before):
        members = people_now.get(key, set())
        rows.append((key, "new", f"{len(members)} members, formed by people from other households" if members & known
                     else f"{len(members)} members, none of them in a household last month"))
    for key in sorted(keys_before - keys_now):
        rows.append((key, "ended", f"merged into {merged[key]}" if key in merged else
                     f"none of its {len(people_before.get(key, ()))} members is in this household now"))
    for key in sorted(keys_now & keys_before):
        a, b = before.households.loc[key], now.households.loc[key]
        met_a, met_b = _met(a, criteria), _met(b, criteria)
        if bool(b["eligible"]) and not bool(a["eligible"]):
            rows.append((key, "newly_eligible", _criteria_change(met_a, met_b)))
        elif bool(a["eligible"]) and not bool(b["eligible"]):
            rows.append((key, "no_longer_eligible", _criteria_change(met_a, met_b)))
        place_a, place_b = a.get("address_key"), b.get("address_key")
        if pd.notna(place_a) and pd.notna(place_b) and place_a != place_b:
            rows.append((key, "moved", "another address this month"))
        joined = people_now.get(key, set()) - people_before.get(key, set())
        left = people_before.get(key, set()) - people_now.get(key, set())
        if joined:
            rows.append((key, "joined", f"{len(joined)} member{'s' if len(joined) != 1 else ''} joined"))
        if left:
            rows.append((key, "left", f"{len(left)} member{'s' if len(left) != 1 else ''} left"))
    frame = pd.DataFrame(rows, columns=COLUMNS).astype("string")
    order = {c: i for i, c in enumerate(CHANGES)}
    return frame.sort_values(["household_key", "change"], key=lambda s: s.map(order) if s.name == "change" else s,
                             kind="stable", ignore_index=True)


def _criteria_change(before: set[str], now: set[str]) -> str:
    gained, lost = sorted(now - before), sorted(before - now)
    parts = ([f"now met: {', '.join(gained)}"] if gained else []) + ([f"no longer met: {', '.join(lost)}"]
                                                                      if lost else [])
    return "; ".join(parts) or "the same criteria met; the rule's threshold changed"


def change_counts(changes: pd.DataFrame) -> dict[str, int]:
    """Rows per kind of change, in CHANGES order (every kind, zero included)."""
    counts = changes["change"].value_counts()
    return {c: int(counts.get(c, 0)) for c in CHANGES}


def paragraph(counts: dict[str, int], since: str) -> str:
    """'Since 2026-09-30: 12 families newly eligible, 3 no longer eligible, 40 moved, ...' in one line."""
    words = {"new": "new households", "ended": "ended", "newly_eligible": "newly eligible",
             "no_longer_eligible": "no longer eligible", "moved": "moved", "joined": "with someone joining",
             "left": "with someone leaving"}
    return f"since the previous run (as of {since}): " + ", ".join(f"{counts[c]:,} {words[c]}" for c in CHANGES)
