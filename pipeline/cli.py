"""Command line: `python -m pipeline run ...`, `python -m pipeline synth ...` and `python -m pipeline audit ...`.

Exit status 0 when the run completed (quarantined rows included), 3 when it completed but is
partial (a required source absent or refused, and allowed with --allow-missing), 1 with a
one-line reason on standard error when it could not, 2 for a malformed command. Progress and refusals go to
standard error, the closing summary to standard output. Nothing printed names a person.
`audit verify` exits 0 when the trail is intact, 1 naming the first bad record, 2 for a path that
is neither a run folder nor a ledger (and `audit explain` 2 for an unknown household).
`contracts --markdown` prints the agency extract specification generated from schemas/;
`contracts --check FILE` exits 0 when FILE is that document, 1 naming FILE when it is not.
`purge` exits 0 when everything due was removed and recorded, 1 when a run was refused or left incomplete.
`explain-pair` exits 0 when it answered, 2 for a run, record or chart path it cannot use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
from pathlib import Path

from pipeline.criteria.rules import DEFAULT_RULE_SET
from pipeline.report.terminal import summary
from pipeline.run import RunConfig, RunError, Terminated, execute, public_reason
from pipeline.run.config import iso_date

PARTIAL_EXIT = 3  # completed without a required source: its figures are not the whole picture
BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, as a shell reports a reader that stopped early (`... | head`)


def count(value: str) -> int:
    """A whole number of at least 1 (argparse names the option and the value when it is not)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {value!r}")
    return number


def add_run_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of one run, shared by `python -m pipeline run` and `python -m flows.identify_families`."""
    return RunConfig.add_arguments(parser)


def config_from(args: argparse.Namespace) -> RunConfig:
    return RunConfig.from_parameters(vars(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    add_run_arguments(sub.add_parser("run", help="run the pipeline over a folder of extracts"))
    synth = sub.add_parser("synth", help="write a synthetic local authority's extracts and truth")
    synth.add_argument("--households", type=count, required=True, help="how many households (at least 1)")
    synth.add_argument("--seed", type=int, required=True)
    synth.add_argument("--out", type=Path, required=True)
    synth.add_argument("--extract-date", type=iso_date, default=dt.date(2026, 10, 31),
                       help="extract date (with --months, of the first month; later months end at month ends)")
    synth.add_argument("--months", type=count, default=None,
                       help="write one evolving authority month by month into OUT/month-01, OUT/month-02, ...")
    _audit_parser(sub)
    _contracts_parser(sub)
    pack = sub.add_parser("request-pack", help="write what an agency needs to send a good extract: the law and "
                                               "agreement, columns and formats, tokenising, and the check to run")
    pack.add_argument("source")
    pack.add_argument("--out", type=Path, required=True, help="folder to write <source>-request.md and <source>.csv")
    check = sub.add_parser("check-extract", help="check one agency file as a run would, before sending it: line, "
                                                 "column and reason for each bad row (nothing written)")
    check.add_argument("file", type=Path)
    check.add_argument("--source", required=True, help="which agency's extract it is (police, schools, ...)")
    gateways = sub.add_parser("gateways", help="each source's lawful basis, agreement status, last extract and the "
                                               "criteria that depend on it")
    gateways.add_argument("--rules", default=DEFAULT_RULE_SET,
                          help=f"the rule set whose criteria are listed (default {DEFAULT_RULE_SET})")
    gateways.add_argument("--processing-date", type=iso_date, default=None,
                          help="the day to judge the agreements on (default: today)")
    _review_parser(sub)
    _explain_pair_parser(sub)
    purge = sub.add_parser("purge", help="remove what a retention period has run out on (restricted/ first, whole "
                                         "runs after theirs), each removal recorded in the ledger")
    purge.add_argument("--ledger", type=Path, default=None,
                       help="the ledger whose runs are judged (default: PIPELINE_LEDGER, else var/ledger/ledger.jsonl)")
    purge.add_argument("--processing-date", type=iso_date, default=None,
                       help="the day to judge the periods on, for tests and backfills (default: today)")
    purge.add_argument("--dry-run", action="store_true", help="print what would be removed; remove and record nothing")
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


EXPLAIN_PAIR_HELP = """Name each record as SOURCE:SOURCE_RECORD_ID, the agency's row id as record_links.parquet and
pairs.parquet list it (source, source_record_id), e.g. health:HLT0000123 electoral_register:ELR0000456. The
terminal shows the waterfall (the prior, each comparison's weight, the match weight and probability), the decision
and the rule that refused the link, if one did: pseudonymous (record ids, keys, the model's level names), never a
value. The chart (SVG) goes to RUN/explain/ unless --chart says where. With --values it also shows the two
records' standardised names, birth dates and addresses, and goes only under RUN/restricted/ (identifying)."""


def _explain_pair_parser(sub: argparse._SubParsersAction) -> None:
    """`explain-pair A B --run RUN [--chart PATH] [--values]`: why two records were linked or not."""
    explain = sub.add_parser("explain-pair", help="why two records were linked, or not: the match weight's "
                                                  "waterfall, the decision and the rule that refused it",
                             description=EXPLAIN_PAIR_HELP)
    explain.add_argument("record_a", metavar="RECORD_A", help="SOURCE:SOURCE_RECORD_ID, e.g. health:HLT0000123")
    explain.add_argument("record_b", metavar="RECORD_B", help="SOURCE:SOURCE_RECORD_ID, e.g. police:POL0000456")
    explain.add_argument("--run", type=Path, required=True, help="the run folder")
    explain.add_argument("--chart", type=Path, default=None,
                         help="the chart's path (default RUN/explain/pair_A__B.svg; with --values "
                              "RUN/restricted/explain/..., and only under RUN/restricted/)")
    explain.add_argument("--values", action="store_true",
                         help="show the two records' standardised values in the chart (IDENTIFYING: the chart then "
                              "goes under RUN/restricted/ only; the terminal never shows them)")


def _explain_pair(args: argparse.Namespace) -> int:
    """Exit 0 answered; 2 when the run, a record or the chart's path cannot be used (one line on standard error)."""
    from pipeline.audit.explain_pair import RecordRef, explain_pair, text
    from pipeline.audit.trail import USAGE, AuditUsage
    from pipeline.report.pair_chart import chart_path, write_chart

    try:
        a, b = RecordRef.parse(args.record_a), RecordRef.parse(args.record_b)
        explanation = explain_pair(args.run, a, b, values=args.values)
        path = chart_path(args.run, a, b, args.values, args.chart)
        try:
            write_chart(explanation, path, args.values)
        except OSError as exc:
            raise AuditUsage(f"cannot write the chart to {path} ({type(exc).__name__}); give --chart PATH") from None
    except AuditUsage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    shown = f"{path}" + (" (IDENTIFYING: the records' values; readable by you alone)" if args.values else "")
    print(text(explanation, shown))
    return 0


def _review_parser(sub: argparse._SubParsersAction) -> None:
    """`review export RUN [--to FILE]`: the run's clerical review pairs as a form a reviewer fills in."""
    review = sub.add_parser("review", help="clerical review: the form a reviewer fills in")
    commands = review.add_subparsers(dest="review_command", required=True)
    export = commands.add_parser("export", help="write the run's review pairs as a CSV form (identifying data)")
    export.add_argument("run", type=Path, help="the run folder")
    export.add_argument("--to", type=Path, default=None,
                        help="the form's path (default RUN/restricted/review_form.csv; readable by you alone)")


def _review(args: argparse.Namespace) -> int:
    """Write the form; a run without review pairs is said, not an error."""
    import pandas as pd

    from pipeline.link.review import review_form
    from pipeline.publish import RESTRICTED, write_bytes
    from pipeline.run.stages import REVIEW_FILE

    source = args.run / REVIEW_FILE
    if not source.is_file():
        raise RunError(f"{args.run} has no {REVIEW_FILE} (is it a run's output folder?)")
    to = args.to or args.run / RESTRICTED / "review_form.csv"
    if to.exists() and not to.is_file():
        raise RunError(f"--to {to} is a folder; give the form's file path")
    review = pd.read_parquet(source)
    write_bytes(review_form(review, args.run), to)  # 0600: names, dates of birth and addresses
    print(f"{len(review):,} pairs to review written to {to} (IDENTIFYING: readable by you alone). Fill in "
          f"decision (MATCH or NOT_MATCH), reviewer, reviewed_on and note, then give it to the next run: "
          f"--decisions {to}. Its last column, explain_pair, is the command that shows why a pair was weighed "
          f"as it was")
    return 0


def _contracts_parser(sub: argparse._SubParsersAction) -> None:
    """`contracts --markdown|--check FILE`: the agency extract specification generated from schemas/."""
    contracts = sub.add_parser("contracts", help="the agency extract specification, generated from the contracts")
    what = contracts.add_mutually_exclusive_group(required=True)
    what.add_argument("--markdown", action="store_true", help="print the specification as markdown")
    what.add_argument("--check", type=Path, metavar="FILE",
                      help="exit 0 when FILE is the specification the contracts give, 1 when it differs")


def _known_source(source: str, schemas) -> None:
    if source not in schemas.contracts:
        known = ", ".join(sorted(schemas.contracts))
        raise RunError(f"unknown source {source!r}; the sources are {known}")


def _request_pack(args: argparse.Namespace) -> int:
    """<source>-request.md and a header-only <source>.csv, from the contract and the gateway."""
    import csv

    from pipeline.config import load_schemas
    from pipeline.config.extract_spec import load_extract_spec, request_markdown

    schemas = load_schemas()
    _known_source(args.source, schemas)
    if args.out.exists() and not args.out.is_dir():
        raise RunError(f"--out {args.out} is a file; the request pack is written to a folder")
    args.out.mkdir(parents=True, exist_ok=True)
    request = args.out / f"{args.source}-request.md"
    request.write_text(request_markdown(schemas, load_extract_spec(), args.source), encoding="utf-8")
    with open(args.out / f"{args.source}.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\r\n").writerow(list(schemas.contracts[args.source].columns))
    print(f"Request pack for {args.source} written to {args.out}: {request.name}, {args.source}.csv")
    return 0


def _check_extract(args: argparse.Namespace) -> int:
    """Exit 0 when a run would use the file (quarantined rows and all), 1 when it would refuse it."""
    from pipeline.config import load_schemas
    from pipeline.ingest.extract_check import check_extract

    schemas = load_schemas()
    _known_source(args.source, schemas)
    if not args.file.is_file():
        raise RunError(f"{args.file} is not a file")
    checked = check_extract(args.file, args.source, schemas)
    print(checked.text())
    return 1 if checked.refused else 0


def _gateways(args: argparse.Namespace) -> int:
    """The officer's account: read from schemas/ and the ledger only, never an extract."""
    from pipeline.audit.ledger import ledger_path
    from pipeline.config import load_schemas
    from pipeline.criteria.rules import load_rule_set
    from pipeline.report.gateways import account_text, accounts

    schemas = load_schemas()
    rules = load_rule_set(args.rules, schemas.contracts)
    day = args.processing_date or dt.date.today()
    rows = accounts(schemas.gateways, list(schemas.contracts), rules, day, schemas.settings.agreement_warning_days,
                    ledger_path())
    print(account_text(rows, rules, day, schemas.settings.agreement_warning_days))
    return 0


def _purge(args: argparse.Namespace) -> int:
    """Exit 0 when everything due was removed (or nothing was due), 1 when a run was refused or left incomplete."""
    from pipeline.audit.ledger import ledger_path
    from pipeline.audit.purge import PurgeError, operator, purge
    from pipeline.config import load_schemas

    try:
        result = purge(args.ledger or ledger_path(), load_schemas().gateways, operator(), args.processing_date,
                       dry_run=args.dry_run)
    except PurgeError as exc:
        raise RunError(str(exc)) from None
    print(result.text())
    return 1 if result.needs_attention else 0


def _run(args: argparse.Namespace) -> int:
    config = config_from(args)

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = execute(config, report)
    print(summary(result))
    return PARTIAL_EXIT if result.partial else 0


def _synth(args: argparse.Namespace) -> int:
    from synth import generate

    if args.out.exists() and not args.out.is_dir():
        raise RunError(f"--out {args.out} is a file; the synthetic extracts and truth are written to a folder")
    if args.months is not None:
        from synth.months import generate_months

        for month in generate_months(args.households, args.seed, args.out, args.months, args.extract_date):
            folder = args.out / f"month-{month['month']:02d}"
            print(f"Month {month['month']} ({month['extract_date']}) written to {folder}: "
                  f"households {month['households']}, people {month['people']}, rows {month['total_rows']}, "
                  f"events {month['events']}")
        return 0
    stats = generate(households=args.households, seed=args.seed, out=args.out, extract_date=args.extract_date)
    print(f"Synthetic authority written to {args.out}: " + ", ".join(f"{k} {v}" for k, v in stats.items()
                                                                     if not isinstance(v, dict)))
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _audit(args: argparse.Namespace) -> int:
    """verify exits 1 when the trail was tampered with; 2 when the path or household is not there at all."""
    from pipeline.audit.explain import explain
    from pipeline.audit.show import show
    from pipeline.audit.trail import USAGE, AuditUsage
    from pipeline.audit.verify import verify

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


def _contracts(args: argparse.Namespace) -> int:
    """Print the specification, or compare FILE with it byte for byte: 1 names the file and the fix."""
    from pipeline.config import ContractError, load_schemas
    from pipeline.config.extract_spec import COMMAND, extract_spec_markdown, load_extract_spec

    try:
        document = extract_spec_markdown(load_schemas(), load_extract_spec()).encode("utf-8")
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.markdown:
        # Bytes, not text: the document is UTF-8 with LF line ends whatever the terminal's locale.
        sys.stdout.flush()
        sys.stdout.buffer.write(document)
        sys.stdout.buffer.flush()
        return 0
    if args.check.is_dir():
        problem = "is a folder, not the specification's file"
    elif not args.check.is_file():
        problem = "does not exist"
    elif args.check.read_bytes() != document:
        problem = "differs from the contracts in schemas/"
    else:
        print(f"{args.check} matches the contracts in schemas/")
        return 0
    print(f"error: {args.check} {problem}; regenerate it with `{COMMAND} > {args.check}`", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A service manager or an officer stopping the run sends SIGTERM: fail cleanly (trails record
    # it, nothing published) instead of dying where it stands.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = {"run": _run, "synth": _synth, "audit": _audit, "contracts": _contracts, "gateways": _gateways,
                "check-extract": _check_extract, "request-pack": _request_pack,
                "review": _review, "purge": _purge, "explain-pair": _explain_pair}[args.command](args)
        sys.stdout.flush()  # here, not at exit, so a reader that stopped early is met below
        return code
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of standard output stopped early (`audit show RUN | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's last flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    except KeyboardInterrupt:
        print("error: interrupted; no output folder was published", file=sys.stderr)
        return 130
    except Terminated:
        print("error: terminated; no output folder was published", file=sys.stderr)
        return 143
    except OSError as exc:  # a full disk, a read-only share, a permission: what and where, in one line
        if os.environ.get("PIPELINE_DEBUG"):
            raise
        print(f"error: {public_reason(exc)}; no output folder was published", file=sys.stderr)
        return 1
    except Exception as exc:
        # An unexpected failure is named by its type only (its message may quote data values); one whose message
        # is data-free by construction (a cluster that cannot be had or keeps losing workers) by that message.
        if os.environ.get("PIPELINE_DEBUG"):
            raise
        reason = public_reason(exc)
        hint = " Re-run with PIPELINE_DEBUG=1 for the traceback." if reason.startswith("internal error") else ""
        print(f"error: {reason}; no output folder was published.{hint}", file=sys.stderr)
        return 1
