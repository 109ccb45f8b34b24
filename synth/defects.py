"""Defective rows that real extracts contain and validation must quarantine.

A small share of rows (`defect_rate`) get one defect each: an impossible date (31 February),
a date in the wrong format, a value outside the column's allowed set, absence greater than the
sessions possible, a negative count, an end before its start, or a malformed token. Each is
recorded in truth/defects.csv; the row keeps its truth row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.schema import DMY_SOURCES

Defect = tuple[str, str, object]  # (kind, column, argument)

KINDS: dict[str, tuple[Defect, ...]] = {
    "police": (
        ("impossible_date", "dob", None),
        ("impossible_date", "event_date", None),
        ("wrong_date_format", "event_date", None),
        ("out_of_set", "event_type", "BURGLARY"),
        ("out_of_set", "outcome", "SENT_TO_COURT"),
        ("out_of_set", "role", "INFORMANT"),
        ("out_of_set", "sex", "X"),
        ("bad_token", "nominal_token", None),
    ),
    "schools": (
        ("impossible_date", "dob", None),
        ("wrong_date_format", "dob", None),
        ("out_of_set", "term", "WINTER"),
        ("out_of_set", "provision", "HOME"),
        ("out_of_set", "gender", "X"),
        ("absence_exceeds_possible", "sessions_unauthorised", None),
        ("negative_count", "suspensions", None),
        ("bad_token", "upn_token", None),
    ),
    "health": (
        ("impossible_date", "dob", None),
        ("wrong_date_format", "dob", None),
        ("out_of_set", "sex", "X"),
        ("out_of_set", "mental_health", "2"),
        ("negative_count", "ae_attendances_12m", None),
        ("bad_token", "nhs_number_token", None),
    ),
    "electoral_register": (
        ("impossible_date", "attainer_dob", None),
        ("wrong_date_format", "attainer_dob", None),
        ("not_numeric", "uprn", "UNKNOWN"),
    ),
    "benefits": (
        ("impossible_date", "claim_start", None),
        ("wrong_date_format", "dob", None),
        ("out_of_set", "benefit_type", "PC"),
        ("out_of_set", "role", "APPOINTEE"),
        ("out_of_set", "uc_work_group", "INTENSIVE"),
        ("end_before_start", "claim_end", "claim_start"),
        ("bad_token", "ni_number_token", None),
    ),
    "children_social_care": (
        ("impossible_date", "start_date", None),
        ("wrong_date_format", "dob", None),
        ("out_of_set", "category", "CHILD_IN_CARE"),
        ("end_before_start", "end_date", "start_date"),
        ("bad_token", "child_token", None),
    ),
}


def _year(value: str) -> int:
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) == 8:
        y = int(digits[:4]) if value[:4].isdigit() else int(digits[4:])
        return y if 1900 <= y <= 2100 else 2019
    return 2019


def _bad(kind: str, source: str, row: pd.Series, col: str, arg: object, r: float) -> str:
    v = str(row[col])
    dmy = source in DMY_SOURCES
    if kind == "impossible_date":
        y, d = _year(v), 30 + int(r * 2)
        return f"{d}/02/{y}" if dmy else f"{y}-02-{d}"
    if kind == "wrong_date_format":
        if v and dmy:
            return f"{v[6:10]}-{v[3:5]}-{v[0:2]}"
        if v:
            return f"{v[8:10]}/{v[5:7]}/{v[0:4]}"
        return "2009-1-7" if not dmy else "7/1/09"
    if kind in ("out_of_set", "not_numeric"):
        return str(arg)
    if kind == "absence_exceeds_possible":
        return str(int(row["sessions_possible"] or 0) - int(row["sessions_authorised"] or 0) + 3 + int(r * 20))
    if kind == "negative_count":
        return "-1"
    if kind == "end_before_start":
        start = np.datetime64(str(row[arg]))
        return str(start - np.timedelta64(10 + int(r * 200), "D"))
    if kind == "bad_token":
        return v.upper() if (v and r < 0.5) else (v[:-1] if v else "not-a-token")
    raise ValueError(kind)


def inject(source: str, frame: pd.DataFrame, rate: float, rng: np.random.Generator) -> pd.DataFrame:
    """Corrupt about `rate` of the rows in place; return (source, source_record_id, kind)."""
    n = len(frame)
    k = int(rng.binomial(n, rate)) if n and rate > 0 else 0
    kinds = KINDS[source]
    rows = np.sort(rng.choice(n, size=k, replace=False)) if k else np.array([], dtype=int)
    pick = rng.integers(0, len(kinds), k)
    rs = rng.random(k)
    out_kind: list[str] = []
    for i, j, r in zip(rows, pick, rs, strict=True):
        kind, col, arg = kinds[j]
        if kind == "end_before_start" and not str(frame.iat[i, frame.columns.get_loc(arg)]):
            kind, col, arg = "out_of_set", "role" if source == "benefits" else "category", "UNKNOWN"
        c = frame.columns.get_loc(col)
        frame.iat[i, c] = _bad(kind, source, frame.iloc[i], col, arg, float(r))
        out_kind.append(kind)
    return pd.DataFrame(
        {
            "source": source,
            "source_record_id": frame["source_record_id"].to_numpy()[rows] if k else np.array([], dtype=object),
            "kind": np.array(out_kind, dtype=object),
        }
    )
