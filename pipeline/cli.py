"""Command line: `python -m pipeline run ...`, `python -m pipeline synth ...` and `python -m pipeline audit ...`.

Exit status 0 when the run completed (quarantined rows included), 1 with a one-line reason on
standard error when it could not, 2 for a malformed command. Progress and refusals go to
standard error, the closing summary to standard output. Nothing printed names a person.
`audit verify` exits 0 when the trail is intact, 1 naming the first bad record, 2 for a path that
is neither a run folder nor a ledger (and `audit explain` 2 for an unknown household).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
from pathlib import Path

from pipeline.run import RULE_SETS, RunConfig, RunError, RunResult, Terminated, execute


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in the form YYYY-MM-DD: {value!r}") from None


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"not a share between 0 and 1: {value!r}")
    return share


def add_run_arguments(run: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of one run, shared by `python -m pipeline run` and `python -m flows.identify_families`."""
    run.add_argument("--extracts", type=Path, required=True, help="folder with one <source>.csv per source")
    run.add_argument("--out", type=Path, required=True, help="output folder (must not exist unless --force)")
    run.add_argument("--rules", default="phase2", metavar="RULES",
                     help=f"criteria rule set: {'|'.join(RULE_SETS)} (default phase2), or the path of a council's "
                          "own rule file (a copy of one in schemas/criteria/)")
    run.add_argument("--as-of", type=_date, help="reference date (default: latest extract_date)")
    run.add_argument("--purpose", help="the run's purpose, checked against each gateway "
                                       "(default from schemas/settings.yaml: identification)")
    run.add_argument("--allow-missing", action="append", default=[], metavar="SOURCE",
                     help="go on without this required source (its criteria are not assessed)")
    run.add_argument("--max-bad-share", type=_share,
                     help="refuse a source when more than this share of rows fail (default 0.2)")
    run.add_argument("--force", action="store_true", help="replace an existing output folder")
    run.add_argument("--no-reuse", dest="reuse_ingest", action="store_false",
                     help="read every file again, even one an earlier run ingested unchanged under the same rules")
    run.add_argument("--caseworker-export", action="store_true",
                     help="also write restricted/caseworker_export.csv: eligible families with names, dates of "
                          "birth and addresses (OFFICIAL-SENSITIVE)")

    return run


def config_from(args: argparse.Namespace) -> RunConfig:
    return RunConfig(extracts=args.extracts, out=args.out, rules=args.rules, as_of=args.as_of,
                     purpose=args.purpose, allow_missing=tuple(args.allow_missing), force=args.force,
                     max_bad_share=args.max_bad_share, caseworker_export=args.caseworker_export,
                     reuse_ingest=args.reuse_ingest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    add_run_arguments(sub.add_parser("run", help="run the pipeline over a folder of extracts"))
    synth = sub.add_parser("synth", help="write a synthetic local authority's extracts and truth")
    synth.add_argument("--households", type=int, required=True)
    synth.add_argument("--seed", type=int, required=True)
    synth.add_argument("--out", type=Path, required=True)
    synth.add_argument("--extract-date", type=_date, default=dt.date(2026, 10, 31))
    _audit_parser(sub)
    return parser


def _audit_parser(sub: argparse._SubParsersAction) -> None:
    """`audit verify|show|explain`: exit 0 intact / answered, 1 tampered, 2 not a run, ledger or household."""
    audit = sub.add_parser("audit", help="check a run's audit trail or the ledger, and read them")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = commands.add_parser("verify", help="check a run folder or the ledger: exit 0 intact, 1 with the "
                                                "first bad record")
    verify.add_argument("path", type=Path, help="a run folder, or the ledger file (or its folder, var/ledger)")
    show = commands.add_parser("show", help="a readable account of one run")
    show.add_argument("run", type=Path, help="the run folder")
    explain = commands.add_parser("explain", help="why a household is or is not eligible, with its evidence")
    explain.add_argument("household_key", help="the household's pseudonymous key (H...)")
    explain.add_argument("--run", type=Path, required=True, help="the run folder")


def summary(result: RunResult) -> str:
    """The closing summary: sources with their gateways, counts, refusals. No personal data."""
    lines = [f"Run complete: {result.out}  (as-of {result.as_of.isoformat()}, purpose {result.purpose}, "
             f"{result.seconds:.1f}s)"]
    for o in result.sources:
        gateway = o.record.get("gateway") or {}
        basis = gateway.get("citation", "no gateway")
        if o.used:
            lines.append(f"  used     {o.source:<21} {o.rows_in:>9,} rows  {o.rows_accepted:>9,} accepted  "
                         f"{o.rows_quarantined:>7,} quarantined   [{basis}; {gateway.get('agreement')}]")
        elif o.file is None:
            lines.append(f"  absent   {o.source:<21} {o.reason}")
        else:
            under = f"[{basis}; {gateway['agreement']}]" if gateway.get("agreement") else "[no gateway]"
            lines.append(f"  refused  {o.source:<21} {o.reason}   {under}")
    lines.append(f"  quarantine.parquet: {result.quarantine_rows:,} entries;  lineage.jsonl;  "
                 f"data_docs/index.html")
    if result.linkage:
        c = result.linkage
        lines.append(f"  linkage: {c['records']:,} records -> {c['people']:,} people in {c['households']:,} households "
                     f"({c['people_without_address']:,} people without a usable address, each a household of one)")
        lines.append(f"    record_links.parquet; pairs.parquet ({c['linked_pairs']:,} linked pairs); "
                     f"linkage_model.json; restricted/clerical_review.parquet ({c['review_pairs']:,} pairs to review)")
    if result.scoring:
        lines.extend(_scoring_lines(result.scoring))
    if result.reasons:
        lines.append("  quarantined, by source, column and reason (rows):")
        for source, column, reason, rows in sorted(result.reasons, key=lambda r: (-r[3], r[:3]))[:12]:
            lines.append(f"    {rows:>7,}  {source}.{column}: {reason}")
        if len(result.reasons) > 12:
            lines.append(f"    ... and {len(result.reasons) - 12} more kinds: see quarantine.parquet")
    return "\n".join(lines)


def _scoring_lines(s: dict) -> list[str]:
    lines = [f"  criteria: {s['title']} [{s['rule_set']}]: {s['families']:,} families (households with a child) "
             f"of {s['households']:,} households; {s['eligible']:,} eligible",
             f"    {'criterion':<22} {'households':>10} {'eligible families':>18}"]
    for name, c in s["by_criterion"].items():
        if c["assessed"]:
            lines.append(f"    {name:<22} {c['households']:>10,} {c['eligible_families']:>18,}")
        else:
            lines.append(f"    {name:<22} {'not assessed':>10}   (its source was absent or refused, or it cannot be "
                         f"assessed from these sources)")
    if s.get("examples"):
        lines.append("    for example (evidence.parquet has every row; pseudonymous keys only):")
    for ex in s.get("examples", []):
        lines.append(f"      {ex['household_key']}: {ex['members']} members, {ex['children']} children, "
                     f"{ex['problems']} problems")
        for criterion, source, detail, rows in ex["evidence"]:
            more = f" (+{rows - 1} more)" if rows > 1 else ""
            lines.append(f"        {criterion:<20} {source:<21} {detail}{more}")
    lines.append(f"    households.parquet; evidence.parquet ({s['evidence_rows']:,} evidence rows)"
                 + (f"; restricted/caseworker_export.csv ({s['caseworker_rows']:,} people, OFFICIAL-SENSITIVE)"
                    if "caseworker_rows" in s else ""))
    return lines


def _run(args: argparse.Namespace) -> int:
    config = config_from(args)

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = execute(config, report)
    print(summary(result))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from synth import generate

    stats = generate(households=args.households, seed=args.seed, out=args.out, extract_date=args.extract_date)
    print(f"Synthetic authority written to {args.out}: " + ", ".join(f"{k} {v}" for k, v in stats.items()
                                                                     if not isinstance(v, dict)))
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _audit(args: argparse.Namespace) -> int:
    """verify exits 1 when the trail was tampered with; 2 when the path or household is not there at all."""
    from pipeline.audit import USAGE, AuditUsage, explain, show, verify

    try:
        if args.audit_command == "verify":
            verdict = verify(args.path)
            print(verdict)
            return verdict.code
        print(show(args.run) if args.audit_command == "show" else explain(args.household_key, args.run))
        return 0
    except AuditUsage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A service manager or an officer stopping the run sends SIGTERM: fail cleanly (trails record
    # it, nothing published) instead of dying where it stands.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return {"run": _run, "synth": _synth, "audit": _audit}[args.command](args)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; no output folder was published", file=sys.stderr)
        return 130
    except Terminated:
        print("error: terminated; no output folder was published", file=sys.stderr)
        return 143
    except Exception as exc:
        # An unexpected failure: name its type only. Its message may quote data values.
        if os.environ.get("PIPELINE_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}); no output folder was published. "
              f"Re-run with PIPELINE_DEBUG=1 for the traceback.", file=sys.stderr)
        return 1
