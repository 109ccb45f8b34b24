"""The one engine that interprets every rule set: source rows -> evidence -> criteria -> eligibility.

Input is the landed rows of each assessed source, which person and household each row belongs to,
and each person's date of birth. Output is one row per household (members, children, one nullable
boolean per criterion, problems, eligible, the rule set and the as-of date) and one evidence row per
fact behind a met criterion. Nothing here knows a criterion by name: all of that is in the rule file.

A fact is what an indicator says of one person: "proven offence: CAUTION on 2026-03-04" of one police
row, or "absence 15.0% of 326 sessions, 2025/26 spring to 2026/27 autumn" of a child's three term rows
together. Each is stated once per person, criterion and indicator, with every source row it rests on
(`source_record_ids`; `source_record_id` is the first of them), so a total over three terms is one
row, not the same sentence three times, and no source row is lost from the trail.

Three-valued criteria: a criterion is met when any of its indicators finds a row; when none does,
it is "not met" only if every source it depends on was assessed (supplied, accepted, and with
the columns the indicator reads: a gateway may withhold a column), and null ("not assessed")
otherwise. `problems` counts met criteria; the eligibility rule treats null as not met, so a
family is never made eligible by missing data, and `not_assessed` counts what could not be
assessed so nobody reads "no data" as "no problem".

All work is vectorised over rows with pandas; only the evidence text is formatted row by row, and
only for rows that are evidence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from pipeline.criteria.rules import AtLeast, Indicator, RowFilter, Rule, RuleNode, RuleSet

ADULT_AGE = 18
TERM_ORDER = {"AUTUMN": 0, "SPRING": 1, "SUMMER": 2}
EVIDENCE_COLUMNS = ["household_key", "criterion", "person_key", "source", "source_record_id", "detail"]  # the spec's
EVIDENCE_ADDED = ["indicator", "source_record_ids"]  # the rule that met the criterion; every row the fact rests on
FACT = ["household_key", "criterion", "person_key", "source", "detail", "indicator"]  # one evidence row each
# households.parquet's columns besides one per criterion (which stand between members/children and problems)
HOUSEHOLD_FIELDS = ("household_key", "members", "children", "problems", "eligible", "rule_set", "as_of",
                    "not_assessed")
IDENTITY_FIELDS = ("address_key", "first_seen")  # added to households.parquet from linkage: not criteria


@dataclass
class Membership:
    """Who each row is: `links` (source, source_record_id, person_key, household_key) and
    `people` (person_key, dob as datetime64 or NaT, undated_adult: an undated record of an
    adults-only list such as the electoral register)."""

    links: pd.DataFrame
    people: pd.DataFrame


@dataclass
class Scored:
    households: pd.DataFrame
    evidence: pd.DataFrame


# --------------------------------------------------------------------------- dates and ages
def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` months earlier, clamped to the month's end (29 Feb - 12 months = 28 Feb)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def age_on(dob: pd.Series, on: pd.Series | dt.date) -> pd.Series:
    """Whole years from `dob` to `on`; a 29 February birthday is reached on 1 March. NA where unknown."""
    dob = pd.to_datetime(dob)
    if isinstance(on, dt.date):
        on_year, on_md = on.year, on.month * 100 + on.day
    else:
        on = pd.to_datetime(on)
        on_year, on_md = on.dt.year, on.dt.month * 100 + on.dt.day
    before_birthday = on_md < dob.dt.month * 100 + dob.dt.day
    return (on_year - dob.dt.year - before_birthday.astype("Int64")).astype("Int64")


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce")


# --------------------------------------------------------------------------- row selection
def _filter_mask(frame: pd.DataFrame, where: RowFilter) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column, condition in where.items():
        values = frame[column]
        if isinstance(condition, AtLeast):
            mask &= (pd.to_numeric(values, errors="coerce") >= condition.at_least).fillna(False).to_numpy(bool)
        elif pd.api.types.is_bool_dtype(values.dtype) or values.dtype == "boolean":
            wanted = {bool(v) for v in condition}
            mask &= values.isin(list(wanted)).fillna(False).to_numpy(bool)
        else:
            mask &= values.astype("string").isin([str(v) for v in condition]).fillna(False).to_numpy(bool)
    return mask


def _any_filter(frame: pd.DataFrame, filters: list[RowFilter]) -> np.ndarray:
    if not filters:
        return np.ones(len(frame), dtype=bool)
    mask = np.zeros(len(frame), dtype=bool)
    for where in filters:
        mask |= _filter_mask(frame, where)
    return mask


def term_rank(frame: pd.DataFrame) -> pd.Series:
    """An orderable number per school row: start year of the academic year, then AUTUMN < SPRING < SUMMER."""
    year = pd.to_numeric(frame["academic_year"].astype("string").str.slice(0, 4), errors="coerce")
    order = frame["term"].astype("string").str.upper().map(TERM_ORDER)
    return (year * 3 + pd.to_numeric(order, errors="coerce")).astype("Int64")


def _term_name(rank: int) -> tuple[str, str]:
    year, term = divmod(int(rank), 3)
    return f"{year}/{(year + 1) % 100:02d}", next(k for k, v in TERM_ORDER.items() if v == term).lower()


def terms_text(ranks: list[int]) -> str:
    """'2025/26 autumn to summer', or '2025/26 summer to 2026/27 spring' across a year boundary."""
    if not ranks:
        return "no terms"
    (y0, t0), (y1, t1) = _term_name(min(ranks)), _term_name(max(ranks))
    if min(ranks) == max(ranks):
        return f"{y0} {t0}"
    return f"{y0} {t0} to {t1}" if y0 == y1 else f"{y0} {t0} to {y1} {t1}"


@dataclass
class _Context:
    as_of: dt.date
    dob: pd.Series  # indexed by person_key
    undated_adult: pd.Series  # indexed by person_key
    terms: dict[int, list[int]]  # count -> the most recent `count` term ranks in the schools extract


def _member_mask(ind: Indicator, rows: pd.DataFrame, ctx: _Context) -> tuple[np.ndarray, pd.Series | None]:
    member = ind.member
    if member.who == "any":
        return np.ones(len(rows), dtype=bool), None
    dob = rows["person_key"].map(ctx.dob)
    on = _dates(rows[ind.window.date]) if member.age_at == "event" else ctx.as_of  # type: ignore[union-attr]
    age = age_on(dob, on)
    if member.who == "child":
        return (age < ADULT_AGE).fillna(False).to_numpy(bool), age
    undated = rows["person_key"].map(ctx.undated_adult).fillna(False).astype(bool)
    adult = (age >= ADULT_AGE).fillna(False).to_numpy(bool) | (age.isna().to_numpy() & undated.to_numpy())
    return adult, age


def _window_mask(ind: Indicator, rows: pd.DataFrame, ctx: _Context) -> np.ndarray:
    w = ind.window
    if w is None:
        return np.ones(len(rows), dtype=bool)
    as_of = pd.Timestamp(ctx.as_of)
    if w.kind == "event":
        date = _dates(rows[w.date])
        return ((date > pd.Timestamp(months_before(ctx.as_of, w.months))) & (date <= as_of)).to_numpy(bool)
    if w.kind == "episode":
        start, end = _dates(rows[w.start]), _dates(rows[w.end])
        since = pd.Timestamp(months_before(ctx.as_of, w.months))
        return ((start <= as_of) & (end.isna() | (end > since))).to_numpy(bool)
    if w.kind == "live":
        start, end = _dates(rows[w.start]), _dates(rows[w.end])
        return ((start <= as_of) & (end.isna() | (end > as_of))).to_numpy(bool)
    return rows["_term"].isin(ctx.terms[w.count]).fillna(False).to_numpy(bool)


# --------------------------------------------------------------------------- evidence text
def _cell(value: object, blank: str) -> object:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return blank
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return int(value)
    return value


def _details(ind: Indicator, rows: pd.DataFrame, extra: dict[str, pd.Series]) -> list[str]:
    fields = ind.detail_fields()
    open_ended = {ind.window.end} if ind.window is not None and ind.window.kind in ("episode", "live") else set()
    columns = {}
    for f in sorted(fields):
        series = extra[f] if f in extra else rows[f]
        columns[f] = [_cell(v, "open" if f in open_ended else "unknown") for v in series.tolist()]
    return [ind.detail.format(**{f: columns[f][i] for f in columns}) for i in range(len(rows))]


# --------------------------------------------------------------------------- one indicator
def indicator_hits(ind: Indicator, frame: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    """The rows that meet one indicator: person_key, household_key, source_record_id, detail."""
    rows = frame
    keep = _any_filter(rows, ind.filters) & _window_mask(ind, rows, ctx)
    rows = rows[keep]
    member, age = _member_mask(ind, rows, ctx)
    rows = rows[member]
    extra: dict[str, pd.Series] = {}
    if age is not None and ind.member.age_at == "event":
        extra["age_at_event"] = age[member]
    if ind.window is not None and ind.window.kind == "terms":
        extra["terms"] = pd.Series(terms_text(ctx.terms[ind.window.count]), index=rows.index)
    p = ind.per_person
    if p is not None and p.kind in ("sum", "ratio"):
        group = rows.groupby("person_key", sort=False)
        if p.kind == "sum":
            total = rows[p.columns].sum(axis=1).groupby(rows["person_key"], sort=False).sum()
            passed = total[total >= p.at_least]
            extra["total"] = rows["person_key"].map(total)
        else:
            numerator = rows[p.numerator].sum(axis=1).groupby(rows["person_key"], sort=False).sum()
            denominator = group[p.denominator].sum()
            ratio = numerator / denominator.where(denominator > 0)
            passed = ratio[ratio >= p.at_least]
            extra.update(ratio=rows["person_key"].map(ratio), numerator=rows["person_key"].map(numerator),
                         denominator=rows["person_key"].map(denominator))
        extra["rows"] = rows["person_key"].map(group.size())
        chosen = rows["person_key"].isin(passed.index).to_numpy()
        rows = rows[chosen]
        extra = {k: v[chosen] for k, v in extra.items()}
    elif p is not None:  # latest_term: the person's most recent term, any row of it passing the filter
        latest = rows.groupby("person_key", sort=False)["_term"].transform("max")
        chosen = ((rows["_term"] == latest).fillna(False).to_numpy(bool) & _filter_mask(rows, p.where))
        rows = rows[chosen]
        extra = {k: v[chosen] for k, v in extra.items()}
    return pd.DataFrame({
        "person_key": rows["person_key"].to_numpy(object),
        "household_key": rows["household_key"].to_numpy(object),
        "source_record_id": rows["source_record_id"].to_numpy(object),
        "detail": np.array(_details(ind, rows, extra), dtype=object),
    })


# --------------------------------------------------------------------------- the household rule
def counted(node: Rule, problems: list[str]) -> list[str]:
    """The criteria an `at_least` node counts: those it names, else every criterion that is a problem."""
    return node.of or problems


def criteria_met(node: Rule, met: pd.DataFrame, problems: list[str]) -> np.ndarray:
    """Per household, how many of the criteria an `at_least` node counts are met (null counts as not met)."""
    return np.asarray(sum(met[n].fillna(False).to_numpy(int) for n in counted(node, problems)))


def evaluate(node: RuleNode, met: pd.DataFrame, problems: list[str]) -> np.ndarray:
    """One node of the eligibility rule over all households; null criteria count as not met."""
    if isinstance(node, str):
        return met[node].fillna(False).to_numpy(bool)
    assert isinstance(node, Rule)
    if node.at_least is not None:
        return np.asarray(criteria_met(node, met, problems) >= node.at_least)
    children = [evaluate(c, met, problems) for c in (node.all_of or node.any_of or [])]
    return np.logical_and.reduce(children) if node.all_of else np.logical_or.reduce(children)


# --------------------------------------------------------------------------- the whole rule set
def _keyed_rows(frames: dict[str, pd.DataFrame], links: pd.DataFrame, ctx: _Context,
                terms: dict[int, list[int]] | None = None) -> dict[str, pd.DataFrame]:
    """Each source's rows with their person and household; the schools extract's terms noted in `ctx`
    (or `terms`, the whole extract's, when these rows are only some households' of it)."""
    keyed = {}
    for source, frame in frames.items():
        ids = links[links["source"] == source][["source_record_id", "person_key", "household_key"]]
        rows = frame.merge(ids, on="source_record_id", how="inner", validate="one_to_one")
        if "academic_year" in rows.columns and "term" in rows.columns:
            rows["_term"] = term_rank(rows)
            ctx.terms = terms if terms is not None else terms_present(rows["_term"])
        keyed[source] = rows
    return keyed


def terms_present(ranks: pd.Series) -> dict[int, list[int]]:
    """Per count n, the n most recent terms the schools extract holds (its rows' term ranks)."""
    present = sorted(ranks.dropna().unique().tolist(), reverse=True)
    return {n: present[:n] for n in range(1, 13)}


def extract_terms(frames: dict[str, pd.DataFrame], links: pd.DataFrame) -> dict[int, list[int]] | None:
    """The terms of the linked rows of the extract that has terms (schools), as `score` finds them over every
    household: what each partition of households must judge "the last n terms" by."""
    for source, frame in frames.items():
        if "academic_year" in frame.columns and "term" in frame.columns:
            linked = frame[frame["source_record_id"].isin(links.loc[links["source"] == source, "source_record_id"])]
            return terms_present(term_rank(linked))
    return None


def _households(links: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    """One row per household: household_key, members, children (under ADULT_AGE at the as-of date)."""
    person_household = links.drop_duplicates("person_key")[["person_key", "household_key"]]
    ages = age_on(person_household["person_key"].map(ctx.dob), ctx.as_of)
    households = pd.DataFrame({
        "household_key": person_household["household_key"].to_numpy(),
        "child": (ages < ADULT_AGE).fillna(False).to_numpy(int),
    }).groupby("household_key", sort=True).agg(members=("child", "size"), children=("child", "sum"))
    return households.reset_index()


def _criteria(rules: RuleSet, keyed: dict[str, pd.DataFrame], ctx: _Context,
              households: pd.Index) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Per household, each criterion met, not met or null (not assessed); and the evidence rows."""
    evidence_parts = []
    met = pd.DataFrame(index=households)
    for name, criterion in rules.criteria.items():
        usable = [ind for ind in criterion.met_by
                  if ind.source in keyed and ind.columns() <= set(keyed[ind.source].columns)]
        assessed = criterion.assessable and len(usable) == len(criterion.met_by)
        hits = [indicator_hits(ind, keyed[ind.source], ctx).assign(source=ind.source, indicator=ind.name)
                for ind in usable]
        hits = pd.concat(hits, ignore_index=True) if hits else pd.DataFrame(columns=[*EVIDENCE_COLUMNS, "indicator"])
        column = pd.Series(pd.NA if not assessed else False, index=met.index, dtype="boolean")
        if criterion.assessable and len(hits):
            column[column.index.isin(hits["household_key"])] = True
            evidence_parts.append(hits.assign(criterion=name))
        met[name] = column
    return met, evidence_parts


def score(rules: RuleSet, frames: dict[str, pd.DataFrame], membership: Membership, as_of: dt.date,
          terms: dict[int, list[int]] | None = None) -> Scored:
    """Households and evidence under one rule set. `frames` holds the landed rows of the assessed
    sources only: a source that is absent or was refused is simply not there. `terms`: the schools
    extract's terms (`extract_terms`) when these are only some of the households."""
    links = membership.links
    people = membership.people.drop_duplicates("person_key").set_index("person_key")
    ctx = _Context(as_of=as_of, dob=pd.to_datetime(people["dob"]),
                   undated_adult=people.get("undated_adult", pd.Series(False, index=people.index)).astype(bool),
                   terms={})
    keyed = _keyed_rows(frames, links, ctx, terms)
    households = _households(links, ctx)
    met, evidence_parts = _criteria(rules, keyed, ctx, households["household_key"])

    met_counts = [met[c].fillna(False).to_numpy(int) for c in rules.problems]
    problems = np.sum(met_counts, axis=0) if met_counts else np.zeros(len(met), int)
    eligible = evaluate(rules.eligibility.rule, met, rules.problems)
    if rules.eligibility.family_required:
        eligible &= households["children"].to_numpy() > 0
    out = households.copy()
    for name in rules.criteria:
        out[name] = met[name].to_numpy()
        out[name] = out[name].astype("boolean")
    out["problems"] = problems.astype("int64")
    out["eligible"] = eligible.astype(bool)
    out["rule_set"] = pd.array([rules.name] * len(out), dtype="string")
    # The reference date every window, age and "live" claim was judged on, in the table itself: a
    # households.parquet read apart from its run folder (or beside last month's) says which month it is.
    out["as_of"] = pd.Series(pd.arrays.ArrowExtensionArray(pa.array([as_of] * len(out), type=pa.date32())),
                             index=out.index)
    out["not_assessed"] = met.isna().sum(axis=1).to_numpy().astype("int64")
    out["household_key"] = out["household_key"].astype("string")
    out[["members", "children"]] = out[["members", "children"]].astype("int64")

    return Scored(households=out, evidence=facts(evidence_parts))


def facts(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The evidence rows: one per fact (FACT), with the source rows it rests on, sorted as the spec's columns.

    Rows are sorted by fact and record id, and each run of one fact becomes one row whose
    `source_record_ids` is an Arrow list built from offsets (no Python list per fact).
    """
    columns = [*EVIDENCE_COLUMNS, "indicator"]
    rows = pd.concat(parts, ignore_index=True)[columns].drop_duplicates() if parts else \
        pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    rows = rows.astype("string").sort_values([*FACT, "source_record_id"], kind="stable").reset_index(drop=True)
    starts = rows[FACT].ne(rows[FACT].shift()).fillna(True).any(axis=1).to_numpy(bool)  # the first row: shift is NA
    offsets = np.append(np.flatnonzero(starts), len(rows)).astype(np.int32)
    ids = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()),
                                   pa.array(rows["source_record_id"].to_numpy(object), type=pa.string()))
    out = rows[starts].reset_index(drop=True)
    out["source_record_ids"] = pd.Series(pd.arrays.ArrowExtensionArray(ids))
    order = out.sort_values([*EVIDENCE_COLUMNS, "indicator"], kind="stable").index
    return out.loc[order, [*EVIDENCE_COLUMNS, *EVIDENCE_ADDED]].reset_index(drop=True)
