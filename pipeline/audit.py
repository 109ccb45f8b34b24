"""`python -m pipeline audit ...`: check a run's audit trail and read it as an auditor would.

- verify: a run folder (its lineage chain, its output files' SHA-256, its ledger entry) or the
  cross-run ledger (its chain, and that every completed run it lists is still in its folder);
- show: a plain-text account of one run from its lineage;
- explain: why one household is or is not eligible, criterion by criterion, with its evidence
  rows and the files and gateways they came from.

Everything here reads the lineage, the ledger, households.parquet and evidence.parquet only:
nothing under restricted/ is read for display, and no message names a person (household keys
are pseudonymous; evidence details carry event dates and codes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.ledger import DEFAULT_LEDGER, LINEAGE, latest_entries, ledger_path, read_ledger
from pipeline.lineage import ChainProblem, parse_lines, sha256_file, verify_chain

OK, BAD, USAGE = 0, 1, 2
RUN_MARKERS = (LINEAGE, "households.parquet", "quarantine.parquet")
HOUSEHOLD_COLUMNS = ("household_key", "members", "children", "problems", "eligible", "rule_set", "not_assessed")
HOUSEHOLD_KEY = re.compile(r"H[0-9a-f]{8,64}")


class AuditUsage(Exception):
    """The command cannot be answered (not a run folder or ledger, unknown household): exit 2."""


@dataclass
class Verdict:
    """What `verify` found: the first problem (None when intact) and the one-line account either way."""

    problem: str | None
    account: str

    @property
    def code(self) -> int:
        return OK if self.problem is None else BAD

    def __str__(self) -> str:
        return self.account if self.problem is None else f"not intact: {self.problem}"


# --------------------------------------------------------------------------- reading a trail
def read_trail(path: Path) -> tuple[list[dict], ChainProblem | None]:
    """The records of a lineage or ledger file and its first problem: unreadable line, broken chain."""
    records, problem = parse_lines(Path(path).read_text(encoding="utf-8"))
    return records, problem or verify_chain(records)


def _shape_problem(records: list[dict]) -> ChainProblem | None:
    """A published run's trail starts with run_start and ends with its one run_end.

    The chain alone cannot show records cut from the end, nor a forged, correctly chained
    record appended after run_end: this catches both.
    """
    if not records:
        return ChainProblem(1, None, "the lineage is empty")
    if records[0].get("event") != "run_start":
        return ChainProblem(1, records[0].get("event"), "the trail does not start with run_start")
    for i, r in enumerate(records[1:], 2):
        if r.get("event") == "run_start":
            return ChainProblem(i, "run_start", "a second run_start (inserted)")
        if r.get("event") == "run_end" and i < len(records):
            return ChainProblem(i + 1, records[i].get("event"), "after run_end (inserted)")
    if records[-1].get("event") != "run_end":
        n = len(records)
        return ChainProblem(n, records[-1].get("event"), f"the trail ends at line {n} without run_end: records were "
                                                         "removed from its end, or the run never completed")
    return None


def listed_outputs(records: list[dict]) -> list[tuple[int, str, str | None]]:
    """Each (line, file, SHA-256) the trail lists as an output: `output` records and run_end's outputs."""
    listed = []
    for i, r in enumerate(records, 1):
        if r.get("event") == "output" and r.get("file"):
            listed.append((i, str(r["file"]), r.get("sha256")))
        elif r.get("event") == "run_end":
            listed.extend((i, str(name), sha) for name, sha in sorted((r.get("outputs") or {}).items()))
    return listed


def output_status(run_dir: Path, name: str, sha256: str | None) -> str:
    """'matches', 'changed', 'missing' or 'outside the run folder' for one listed output file."""
    root = run_dir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        return "outside the run folder"
    if not path.is_file():
        return "missing"
    return "matches" if sha256_file(path) == sha256 else "changed"


def _output_problem(run_dir: Path, records: list[dict]) -> tuple[str | None, int]:
    """The first listed output file that is missing or no longer has its recorded SHA-256."""
    listed = listed_outputs(records)
    checked: set[str] = set()
    for line, name, sha in listed:
        if name in checked:
            continue
        checked.add(name)
        status = output_status(run_dir, name, sha)
        if status != "matches":
            what = {"changed": "has changed since the run (its SHA-256 differs from the lineage's)",
                    "missing": "is missing"}.get(status, "is outside the run folder")
            return f"output file {name} (listed at lineage line {line}) {what}", len(checked)
    return None, len(checked)


def ledger_entry(run_dir: Path, ledger: Path | None = None) -> tuple[int, dict] | None:
    """The ledger's latest completed entry for this run folder, if the ledger exists and has one."""
    path = ledger if ledger is not None else ledger_path()
    if not path.is_file():
        return None
    records, _ = read_ledger(path)
    return latest_entries(records).get(str(run_dir.resolve()))


def _ledger_problem(run_dir: Path, records: list[dict], ledger: Path | None) -> tuple[str | None, str]:
    """Whether the lineage is the one the ledger recorded: a trail rewritten with a recomputed chain is caught here."""
    found = ledger_entry(run_dir, ledger)
    if found is None:
        return None, "no ledger entry for this folder"
    line, entry = found
    if records[-1].get("hash") != entry.get("lineage_last_hash"):
        return (f"ledger line {line} records a different trail for this folder: its last hash differs "
                f"(the run was replaced or its lineage rewritten)"), ""
    if sha256_file(run_dir / LINEAGE) != entry.get("lineage_sha256"):
        return f"ledger line {line}: lineage.jsonl is not byte-identical to the file the ledger recorded", ""
    return None, f"matches ledger line {line}"


# --------------------------------------------------------------------------- verify
def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in RUN_MARKERS)


def verify_run(run_dir: Path, ledger: Path | None = None) -> Verdict:
    """The run folder's lineage chain and shape, its output files, and its ledger entry."""
    lineage = run_dir / LINEAGE
    if not lineage.is_file():
        return Verdict(f"{lineage}: missing", "")
    records, problem = read_trail(lineage)
    problem = problem or _shape_problem(records)
    if problem is not None:
        return Verdict(f"{lineage}: {problem}", "")
    outputs_problem, outputs = _output_problem(run_dir, records)
    if outputs_problem:
        return Verdict(f"{run_dir}: {outputs_problem}", "")
    ledger_problem, ledger_note = _ledger_problem(run_dir, records, ledger)
    if ledger_problem:
        return Verdict(f"{run_dir}: {ledger_problem}", "")
    return Verdict(None, f"intact: {len(records)} records; {outputs} output files match their SHA-256; {ledger_note}")


def _run_problem(line: int, entry: dict) -> str | None:
    """Whether the folder a completed ledger entry names still holds that run's lineage."""
    folder = Path(str(entry["run"]))
    lineage = folder / LINEAGE
    if not folder.is_dir():
        return f"ledger line {line}: run folder {folder} no longer exists (the run was deleted)"
    if not lineage.is_file():
        return f"ledger line {line}: run folder {folder} has no lineage.jsonl (deleted)"
    records, _ = parse_lines(lineage.read_text(encoding="utf-8"))
    last = records[-1].get("hash") if records else None
    if last != entry.get("lineage_last_hash"):
        return (f"ledger line {line}: run folder {folder} holds a different trail (its last hash differs): "
                f"the run was replaced or its lineage rewritten")
    if sha256_file(lineage) != entry.get("lineage_sha256"):
        return f"ledger line {line}: run folder {folder}: lineage.jsonl has changed since the ledger entry"
    return None


def verify_ledger(path: Path) -> Verdict:
    """The ledger's chain, then each folder's latest completed run, in ledger order."""
    records, problem = read_trail(path)
    if problem is not None:
        return Verdict(f"{path}: {problem}", "")
    runs = sorted(latest_entries(records).values(), key=lambda item: item[0])
    for line, entry in runs:
        found = _run_problem(line, entry)
        if found:
            return Verdict(f"{path}: {found}", "")
    head = records[-1]["hash"] if records else "none"
    return Verdict(None, f"intact: {len(records)} records; {len(runs)} completed run folders present and unchanged; "
                         f"head {head} (keep a copy elsewhere: cutting the newest entries is detectable only "
                         f"against it)")


def verify(path: Path, ledger: Path | None = None) -> Verdict:
    """Verify a run folder (or its lineage.jsonl) or the ledger (its file, or the folder holding it)."""
    path = Path(path)
    if path.is_file() and path.name == LINEAGE:
        return verify_run(path.parent, ledger)
    if is_run_folder(path):
        return verify_run(path, ledger)
    if path.is_dir() and (path / DEFAULT_LEDGER.name).is_file():
        return verify_ledger(path / DEFAULT_LEDGER.name)
    if path.is_file() and path.suffix == ".jsonl":
        return verify_ledger(path)
    raise AuditUsage(f"{path} is neither a run folder nor a ledger")


# --------------------------------------------------------------------------- show
def _run_records(run_dir: Path) -> list[dict]:
    """The run folder's lineage records (those before any unreadable line); exit 2 when it is not a run."""
    lineage = Path(run_dir) / LINEAGE
    if not lineage.is_file():
        raise AuditUsage(f"{run_dir} is not a run folder (no lineage.jsonl)")
    records, _ = parse_lines(lineage.read_text(encoding="utf-8"))
    return records


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _gateway_lines(gateway: dict | None) -> list[str]:
    if not gateway:
        return ["    gateway: none declared"]
    return [f"    gateway: {gateway.get('citation')} ({gateway.get('statute')}, {gateway.get('section')})",
            f"      agreement {gateway.get('agreement')}, in force {gateway.get('agreement_start')} to "
            f"{gateway.get('agreement_expires')}; controller: {gateway.get('controller')}",
            f"      purposes permitted: {', '.join(gateway.get('purposes') or [])}",
            f"      basis: {gateway.get('basis')}"]


def _source_lines(r: dict) -> list[str]:
    state = "used" if r.get("used") else ("absent" if r.get("file") is None else "refused")
    lines = [f"  {r.get('source')}: {state}" + (f": {r.get('reason')}" if r.get("reason") else "")]
    if r.get("file") is not None:
        lines.append(f"    file {r.get('file')} ({_n(r.get('bytes'))} bytes), SHA-256 {r.get('sha256')}")
    lines.extend(_gateway_lines(r.get("gateway")))
    if r.get("file") is not None:
        lines.append(f"    rows: {_n(r.get('rows_in'))} in, {_n(r.get('rows_accepted'))} accepted, "
                     f"{_n(r.get('rows_quarantined'))} quarantined")
    v = r.get("validation")
    if v:
        failed = ", ".join(v.get("failed") or []) or "none"
        lines.append(f"    validation: suite {v.get('suite')}, {v.get('expectations')} expectations; "
                     f"failed: {failed} (Data Docs: {v.get('data_docs')})")
    dropped = r.get("columns_dropped_by_gateway")
    if dropped:
        lines.append(f"    columns dropped by the gateway: {', '.join(dropped)}")
    return lines


def _stage_lines(r: dict) -> list[str]:
    skip = {"event", "at", "hash", "prev_hash", "stage", "seconds", "inputs", "outputs"}
    counts = "; ".join(f"{k} {_n(v) if not isinstance(v, list) else ', '.join(map(str, v)) or 'none'}"
                       for k, v in sorted(r.items()) if k not in skip)
    return [f"  {r.get('stage')}: {r.get('seconds')}s; {counts}",
            f"    in: {', '.join(r.get('inputs') or []) or 'none'}",
            f"    out: {', '.join(r.get('outputs') or []) or 'none'}"]


def _rules_lines(params: dict) -> list[str]:
    path = Path(str(params.get("rules_file")))
    now = "the file is gone"
    if path.is_file():
        now = "the file is unchanged" if sha256_file(path) == params.get("rules_sha256") \
            else "the file has CHANGED since the run"
    return [f"  {params.get('rules')}: {path}", f"    SHA-256 {params.get('rules_sha256')} ({now})"]


def show(run_dir: Path, ledger: Path | None = None) -> str:
    """A plain-text account of one run for an auditor: who, when, what went in, what came out, and whether it holds."""
    run_dir = Path(run_dir)
    records = _run_records(run_dir)
    start = next((r for r in records if r.get("event") == "run_start"), {})
    end = next((r for r in records if r.get("event") == "run_end"), {})
    params = start.get("parameters") or {}
    verdict = verify_run(run_dir, ledger)
    lines = [f"Run {run_dir.resolve()}",
             f"  audit trail: {verdict}",
             f"  started {start.get('at')}, ended {end.get('at')} ({end.get('seconds')}s), "
             f"status {end.get('status', 'no run_end')}",
             f"  run by {start.get('user')} on {start.get('host')}; code version {start.get('code_version')}; "
             f"Python {start.get('python')}",
             "Parameters"]
    lines += [f"  {k}: {v}" for k, v in sorted(params.items()) if k not in ("rules", "rules_file", "rules_sha256")]
    lines += ["Rule set", *_rules_lines(params), "Sources"]
    for r in records:
        if r.get("event") == "source":
            lines += _source_lines(r)
    lines.append("Stages")
    for r in records:
        if r.get("event") == "stage":
            lines += _stage_lines(r)
    lines.append("Outputs")
    shown: set[str] = set()
    for line, name, sha in listed_outputs(records):
        if name in shown:
            continue
        shown.add(name)
        lines.append(f"  {name}  SHA-256 {sha}  ({output_status(run_dir, name, sha)}; lineage line {line})")
    lines += ["End",
              f"  status {end.get('status', 'no run_end')}; sources used: {', '.join(end.get('sources_used') or [])};"
              f" refused: {', '.join(end.get('sources_refused') or []) or 'none'}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- explain
def _rule_set(params: dict) -> tuple[object | None, str]:
    """Today's copy of the run's rule set when its file can still be read, and a note when it differs from the run's."""
    from pipeline.contracts import ContractError, load_schemas
    from pipeline.criteria.rules import load_rule_set

    path = Path(str(params.get("rules_file")))
    if not path.is_file():
        return None, f"the rule file {path} is gone: criteria are shown without descriptions"
    note = "" if sha256_file(path) == params.get("rules_sha256") else \
        f"the rule file {path} has changed since the run: descriptions and the rule are today's"
    try:
        return load_rule_set(str(path), load_schemas().contracts), note
    except ContractError as exc:
        return None, f"the rule file cannot be read today ({exc})"


def _met(value: object) -> bool | None:
    return None if pd.isna(value) else bool(value)


def _rule_text(node: object, met: dict[str, bool | None], problems: list[str], top: bool = True) -> tuple[bool, str]:
    """Whether one node of the eligibility rule holds for the household, and why, in words."""
    if isinstance(node, str):
        state = {True: "met", False: "not met", None: "not assessed"}[met.get(node)]
        return met.get(node) is True, f"{node} {state}"
    if node.at_least is not None:
        names = node.of or problems
        hits = sum(met.get(c) is True for c in names)
        of = f"{len(names)} problems" if node.of is None else f"{len(names)} ({', '.join(names)})"
        needs = "; the rule needs" if top else ", needs"
        return hits >= node.at_least, f"{hits} of {of} met{needs} at least {node.at_least}"
    parts = [_rule_text(c, met, problems, top=False) for c in (node.all_of or node.any_of or [])]
    ok = all(p[0] for p in parts) if node.all_of else any(p[0] for p in parts)
    word = "all of" if node.all_of else "any of"
    inner = "; ".join(f"[{'holds' if p[0] else 'fails'}] {p[1]}" for p in parts)
    return ok, (f"the rule needs {word}: {inner}" if top else f"{word} ({inner})")


def _plural(n: int, word: str, words: str) -> str:
    return f"{n} {word if n == 1 else words}"


def _verdict_line(row: pd.Series, criteria: list[str], rules: object | None) -> str:
    """Eligible or not, the rule in words with this household's counts, and which part fails."""
    eligible = bool(row["eligible"])
    children = int(row["children"])
    word = "eligible" if eligible else "not eligible"
    if rules is None:
        return f"{word}: {int(row['problems'])} of {len(criteria)} criteria met (the rule set's file is unavailable)"
    met = {c: _met(row[c]) for c in criteria}
    rule_ok, why = _rule_text(rules.eligibility.rule, met, rules.problems)
    failing = [] if rule_ok else ["the criteria met fall short of the rule"]
    if rules.eligibility.family_required:
        why += f" and a child ({_plural(children, 'child', 'children')} in the household)"
        if children == 0:
            failing.append("no child in the household, so not a family")
    text = f"{word}: {why}"
    if not eligible and failing:
        text += "; fails because: " + "; ".join(failing)
    if eligible != (not failing):
        text += " (the outcome recorded by the run differs from today's rule: see the note below)"
    return text


def _not_assessed_reason(criterion: str, rules: object | None, sources: dict[str, dict]) -> str:
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
    r = sources.get(str(e["source"]), {})
    gateway = r.get("gateway") or {}
    file = Path(str(r.get("file"))).name if r.get("file") else "no file"
    sha = (r.get("sha256") or "")[:12]
    return (f"      {e['source']} {e['source_record_id']}: {e['detail']}   [{file}, SHA-256 {sha}…; "
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
    criteria = [c for c in rows.columns if c not in HOUSEHOLD_COLUMNS]
    return rows.iloc[0], evidence, criteria


def explain(household_key: str, run_dir: Path) -> str:
    """Why one household is or is not eligible: the rule, then each criterion with its evidence and sources."""
    run_dir = Path(run_dir)
    records = _run_records(run_dir)
    row, evidence, criteria = _household(run_dir, household_key)
    start = next((r for r in records if r.get("event") == "run_start"), {})
    params = start.get("parameters") or {}
    sources = {str(r.get("source")): r for r in records if r.get("event") == "source"}
    rules, note = _rule_set(params)
    children = int(row["children"])
    lines = [f"Household {household_key} in run {run_dir.resolve()} (rule set {row['rule_set']}, "
             f"as of {params.get('as_of')}, purpose {params.get('purpose')})",
             f"  {_plural(int(row['members']), 'member', 'members')}, {_plural(children, 'child', 'children')}",
             f"  {_verdict_line(row, criteria, rules)}"]
    if note:
        lines.append(f"  note: {note}")
    lines.append("Criteria")
    for c in criteria:
        met = _met(row[c])
        desc = rules.criteria[c].description if rules is not None and c in rules.criteria else ""
        state = {True: "met", False: "not met"}.get(met) if met is not None else \
            _not_assessed_reason(c, rules, sources)
        lines.append(f"  {c}: {state}" + (f"  ({desc})" if desc else ""))
        if met:
            lines += [_evidence_line(e, sources) for _, e in evidence[evidence["criterion"] == c].iterrows()]
    lines += ["Trail", f"  {_outputs_note(run_dir, records)}"]
    return "\n".join(lines)


def _outputs_note(run_dir: Path, records: list[dict]) -> str:
    """Whether the lineage's chain holds and the two files read here are the ones the run wrote."""
    _, problem = read_trail(run_dir / LINEAGE)
    chain = "lineage chain intact" if problem is None else f"LINEAGE NOT INTACT: {problem}"
    listed = {name: sha for _, name, sha in listed_outputs(records)}
    states = [f"{name} {output_status(run_dir, name, listed.get(name))}"
              for name in ("households.parquet", "evidence.parquet")]
    return f"{chain}; " + ", ".join(states) + " (SHA-256 against the lineage)"
