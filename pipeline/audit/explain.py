"""`audit explain`: why one household is or is not eligible, criterion by criterion, with its evidence
rows and the files and gateways they came from. The rule is put in words by `pipeline.criteria.explain`,
from the same semantics that scored it. Each criterion, and the rule, is shown with the framework's
descriptor it stands for and how its indicators approximate it (from the rule file), so a reader
takes "crime_asb met" for what the data showed, not for the framework's whole description of the need."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.audit.ledger import LINEAGE
from pipeline.audit.lineage import sha256_file
from pipeline.audit.trail import AuditUsage, first, listed_outputs, output_status, read_trail, run_records
from pipeline.config import ContractError, load_schemas
from pipeline.criteria.engine import HOUSEHOLD_FIELDS, IDENTITY_FIELDS
from pipeline.criteria.explain import plural, verdict
from pipeline.criteria.rules import ELIGIBILITY, Approximation, RuleSet, load_rule_set, numbered_sources

HOUSEHOLD_KEY = re.compile(r"H[0-9a-f]{8,64}")


def _rule_set(params: dict) -> tuple[RuleSet | None, str]:
    """Today's copy of the run's rule set when its file can still be read, and a note when it differs from the run's."""
    path = Path(str(params.get("rules_file")))
    if not path.is_file():
        return None, f"the rule file {path} is gone: criteria are shown without descriptions or framework descriptors"
    note = "" if sha256_file(path) == params.get("rules_sha256") else \
        f"the rule file {path} has changed since the run: descriptions and the rule are today's"
    try:
        return load_rule_set(str(path), load_schemas().contracts), note
    except ContractError as exc:
        return None, f"the rule file cannot be read today ({exc})"


def _met(value: object) -> bool | None:
    return None if pd.isna(value) else bool(value)


def _verdict_line(row: pd.Series, criteria: list[str], rules: RuleSet | None) -> str:
    """Eligible or not (as the run recorded), the rule in words with this household's counts, and which
    part fails; a note when today's rule would decide otherwise."""
    eligible = bool(row["eligible"])
    word = "eligible" if eligible else "not eligible"
    if rules is None:
        return f"{word}: {int(row['problems'])} of {len(criteria)} criteria met (the rule set's file is unavailable)"
    today = verdict(rules, {c: _met(row[c]) for c in criteria}, int(row["children"]))
    text = f"{word}: {today.why}"
    if not eligible and today.failing:
        text += "; fails because: " + "; ".join(today.failing)
    if eligible != today.eligible:
        text += " (the outcome recorded by the run differs from today's rule: see the note below)"
    return text


def not_assessed_reason(criterion: str, rules: RuleSet | None, sources: dict[str, dict]) -> str:
    """Why a criterion is null: declared unassessable, or its sources absent or refused, or columns withheld."""
    if rules is None or criterion not in rules.criteria:
        return "not assessed"
    c = rules.criteria[criterion]
    if not c.assessable:
        return "not assessed: the rule set declares it cannot be assessed from these sources"
    reasons = [f"{s} {'absent' if sources.get(s, {}).get('file') is None else 'refused'}: "
               f"{sources.get(s, {}).get('reason') or 'not offered to the run'}"
               for s in c.sources if not sources.get(s, {}).get("used")]
    withheld = [f"{s}: the gateway withheld {', '.join(sources[s]['columns_dropped_by_gateway'])}"
                for s in c.sources if sources.get(s, {}).get("columns_dropped_by_gateway")]
    return "not assessed: " + ("; ".join(reasons + withheld) or "its sources could not assess it")


def _evidence_line(e: pd.Series, sources: dict[str, dict]) -> str:
    """One fact: the source rows it rests on (all of them: a total over three terms names three), its words,
    the indicator that found it, and the file and gateway the rows came under."""
    r = sources.get(str(e["source"]), {})
    gateway = r.get("gateway") or {}
    file = Path(str(r.get("file"))).name if r.get("file") else "no file"
    sha = (r.get("sha256") or "")[:12]
    ids = e.get("source_record_ids")  # absent from runs before evidence stated each fact once
    rows = ", ".join(map(str, ids)) if ids is not None and len(ids) else str(e["source_record_id"])
    by = f" ({e['indicator']})" if pd.notna(e.get("indicator")) else ""
    return (f"      {e['source']} {rows}: {e['detail']}{by}   [{file}, SHA-256 {sha}…; "
            f"gateway {gateway.get('citation', 'none')}, {gateway.get('agreement', 'no agreement')}]")


def _household(run_dir: Path, key: str) -> tuple[pd.Series, pd.DataFrame, list[str]]:
    """The household's row, its evidence rows and the criterion columns, from the pseudonymous outputs only."""
    if not HOUSEHOLD_KEY.fullmatch(key):
        raise AuditUsage("not a household key (keys look like H followed by hexadecimal digits)")
    households = run_dir / "households.parquet"
    if not households.is_file():
        raise AuditUsage(f"{run_dir} has no households.parquet (not a scored run folder)")
    rows = pd.read_parquet(households, filters=[("household_key", "==", key)])
    if rows.empty:
        raise AuditUsage(f"household {key} is not in {households}")
    evidence = pd.read_parquet(run_dir / "evidence.parquet", filters=[("household_key", "==", key)])
    criteria = [c for c in rows.columns if c not in (*HOUSEHOLD_FIELDS, *IDENTITY_FIELDS)]
    return rows.iloc[0], evidence, criteria


def explain(household_key: str, run_dir: Path) -> str:
    """Why one household is or is not eligible: the rule, then each criterion with its evidence and sources."""
    run_dir = Path(run_dir)
    records = run_records(run_dir)
    row, evidence, criteria = _household(run_dir, household_key)
    params = first(records, "run_start").get("parameters") or {}
    sources = {str(r.get("source")): r for r in records if r.get("event") == "source"}
    rules, note = _rule_set(params)
    children = int(row["children"])
    lines = [f"Household {household_key} in run {run_dir.resolve()} (rule set {row['rule_set']}, "
             f"as of {params.get('as_of')}, purpose {params.get('purpose')})",
             f"  {plural(int(row['members']), 'member', 'members')}, {plural(children, 'child', 'children')}",
             f"  {_verdict_line(row, criteria, rules)}"]
    if "first_seen" in row.index and pd.notna(row["first_seen"]):
        lines.append(f"  first identified as this family (this key) in the run as of {row['first_seen']}")
    approximations = {a.name: a for a in rules.approximations()} if rules is not None else {}
    references = numbered_sources(approximations.values())  # the framework documents, numbered
    lines += _approximation_lines(approximations.get(ELIGIBILITY), references, "  ", "the rule stands for")
    lines += _reviewed_lines(run_dir, household_key)
    if note:
        lines.append(f"  note: {note}")
    lines.append("Criteria")
    for c in criteria:
        met = _met(row[c])
        desc = rules.criteria[c].description if rules is not None and c in rules.criteria else ""
        state = {True: "met", False: "not met"}.get(met) if met is not None else \
            not_assessed_reason(c, rules, sources)
        lines.append(f"  {c}: {state}" + (f"  ({desc})" if desc else ""))
        lines += _approximation_lines(approximations.get(c), references, "    ", "stands for")
        if met:
            lines += [_evidence_line(e, sources) for _, e in evidence[evidence["criterion"] == c].iterrows()]
    if references:
        lines += ["Framework sources", *(f"  [{n}] {text}" for text, n in references.items())]
    lines += ["Trail", f"  {_outputs_note(run_dir, records)}"]
    return "\n".join(lines)


def _approximation_lines(a: Approximation | None, references: dict[str, int], indent: str, label: str) -> list[str]:
    """The framework's descriptor (quoted, or marked as a paraphrase) with its numbered source, and the
    approximation note: one line each, so an auditor can find them with grep."""
    if a is None:
        return []
    ref = f" [{references[a.source]}]" if a.source else ""
    lines = [f"{indent}{label}: {a.framework}{ref}"] if a.framework else []
    return lines + ([f"{indent}approximation: {a.approximation}"] if a.approximation else [])


def _reviewed_lines(run_dir: Path, key: str) -> list[str]:
    """Which of the household's members are one person because a clerical reviewer said MATCH (pairs.parquet)."""
    pairs_file = run_dir / "pairs.parquet"
    if not pairs_file.is_file() or "reviewer_decision" not in pq.read_schema(pairs_file).names:
        return []
    links = pd.read_parquet(run_dir / "record_links.parquet", columns=["person_key", "household_key"],
                            filters=[("household_key", "==", key)])
    pairs = pd.read_parquet(pairs_file, columns=["source_a", "source_record_id_a", "source_b", "source_record_id_b",
                                                 "person_key_a", "person_key_b", "reviewer_decision"])
    members = set(links["person_key"].astype(str))
    mine = pairs[pairs["person_key_a"].isin(members) & pairs["reviewer_decision"].notna()]
    return [f"  membership rests on a reviewer's decision: {r.source_a} {r.source_record_id_a} and {r.source_b} "
            f"{r.source_record_id_b} are {'one person' if r.reviewer_decision == 'MATCH' else 'two people'} "
            f"({r.reviewer_decision})" for r in mine.itertuples(index=False)]


def _outputs_note(run_dir: Path, records: list[dict]) -> str:
    """Whether the lineage's chain holds and the two files read here are the ones the run wrote."""
    _, problem = read_trail(run_dir / LINEAGE)
    chain = "lineage chain intact" if problem is None else f"LINEAGE NOT INTACT: {problem}"
    listed = {name: sha for _, name, sha in listed_outputs(records)}
    states = [f"{name} {output_status(run_dir, name, listed.get(name))}"
              for name in ("households.parquet", "evidence.parquet")]
    return f"{chain}; " + ", ".join(states) + " (SHA-256 against the lineage)"
