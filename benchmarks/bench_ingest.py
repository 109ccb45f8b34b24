"""Benchmark: ingest + validation of a synthetic authority, against baselines in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--households 435000] [--seed 7] [--work var/bench]
                                                [--gx-complete]

Prints, for the whole `python -m pipeline run` (ingest, gateway checks, contract checks, GX
suites and Data Docs, landing), wall seconds and peak resident memory of that process; the
seconds per source by stage; and as the baseline the time plain `pandas.read_csv(dtype=str)`
takes to read the same files (the least any reader could do), so the figure reads as a ratio.
`--gx-complete` also times asking GX itself for every failing row index (result format
COMPLETE) on the largest source, against our vectorised checks of the same expectations: the
measurement behind letting GX run in summary mode.

The synthetic extracts are generated once into --work and reused (regenerated when missing).
Timing belongs here, never in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(REPO))


def run_child(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (GiB) and exit code of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(proc.stderr.read().decode(errors="replace") if proc.stderr else "")
    return seconds, usage.ru_maxrss / (1024 * 1024), code


def ensure_extracts(work: Path, households: int, seed: int) -> Path:
    folder = work / f"synth-{households}-{seed}"
    if not (folder / "extracts" / "police.csv").exists():
        print(f"generating {households:,} households (seed {seed}) into {folder} ...", flush=True)
        seconds, rss, code = run_child([PY, "-m", "pipeline", "synth", "--households", str(households),
                                        "--seed", str(seed), "--out", str(folder)])
        if code:
            raise SystemExit("generation failed")
        print(f"  generated in {seconds:.1f}s, peak {rss:.2f} GiB")
    return folder / "extracts"


def pandas_baseline(extracts: Path) -> tuple[float, int]:
    import pandas as pd

    start = time.perf_counter()
    rows = 0
    for path in sorted(extracts.glob("*.csv")):
        rows += len(pd.read_csv(path, dtype=str, keep_default_na=False))
    return time.perf_counter() - start, rows


def gx_complete_comparison(extracts: Path) -> None:
    """GX asked for every unexpected index vs our vectorised predicates, same expectations."""
    import datetime as dt

    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from pipeline.config import load_schemas
    from pipeline.ingest.checks import failing
    from pipeline.ingest.gx import RESULT_FORMAT, _skip_frame_fingerprint, expectation_for
    from pipeline.ingest.read import read_extract
    from pipeline.ingest.validate import validate

    schemas = load_schemas()
    sizes = {p.stem: p.stat().st_size for p in extracts.glob("*.csv")}
    source = max(sizes, key=sizes.get)
    raw = read_extract(extracts / f"{source}.csv", schemas.contracts[source], schemas.gateways[source])
    validated = validate(raw, schemas.contracts[source], schemas)
    checks = [c for c in validated.checks if c.kind in ("in_set", "regex", "not_null", "not_regex")][:5]
    print(f"\nexpectations compared: {', '.join(c.name for c in checks)}")
    views = validated.views.reset_index(drop=True)

    start = time.perf_counter()
    for check in checks:
        failing(check, views[check.view_name])
    ours = time.perf_counter() - start

    _skip_frame_fingerprint()  # as in the pipeline, so only the expectations are timed
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = context.data_sources.add_pandas("b").add_dataframe_asset("a").add_batch_definition_whole_dataframe("w")
    suite = gx.ExpectationSuite(name="s")
    for check in checks:
        suite.add_expectation(expectation_for(check))
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    timings = {}
    formats = {"BASIC (used)": RESULT_FORMAT,
               "SUMMARY": {"result_format": "SUMMARY", "partial_unexpected_count": 0},
               "COMPLETE": {"result_format": "COMPLETE"}}
    for label, fmt in formats.items():
        start = time.perf_counter()
        definition.run(batch_parameters={"dataframe": views}, result_format=fmt)
        timings[label] = time.perf_counter() - start
    print(f"\nfinding failing rows, {len(views):,} rows of {source}, {len(checks)} expectations "
          f"({dt.date.today().isoformat()}):")
    print(f"  vectorised checks              {ours:7.2f}s   (1.0x)")
    for fmt, seconds in timings.items():
        print(f"  GX result_format={fmt:<12} {seconds:7.2f}s   ({seconds / max(ours, 1e-9):.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=435_000, help="435,000 households is about 1M residents")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--gx-complete", action="store_true")
    args = parser.parse_args()

    extracts = ensure_extracts(args.work, args.households, args.seed)
    base_seconds, rows = pandas_baseline(extracts)
    out = args.work / "run-out"
    seconds, rss, code = run_child([PY, "-m", "pipeline", "run", "--extracts", str(extracts), "--out", str(out),
                                    "--force"])
    if code:
        raise SystemExit(f"pipeline run failed with exit code {code}")
    records = [json.loads(line) for line in (out / "lineage.jsonl").read_text().splitlines()]
    sources = [r for r in records if r["event"] == "source"]

    print(f"\ningest + validation of {rows:,} rows ({args.households:,} households, seed {args.seed})")
    print(f"  pipeline run (whole process)   {seconds:7.1f}s   peak RSS {rss:5.2f} GiB   "
          f"{rows / seconds:,.0f} rows/s")
    print(f"  baseline pandas.read_csv(str)  {base_seconds:7.1f}s   -> pipeline takes "
          f"{seconds / base_seconds:.1f}x the bare read")
    print(f"  targets: < 180 s and < 6 GiB: {'MET' if seconds < 180 and rss < 6 else 'NOT MET'}")
    for rec in sources:
        stages = "  ".join(f"{k} {v:.1f}s" for k, v in rec.get("seconds", {}).items())
        print(f"    {rec['source']:<21} {rec['rows_in']:>10,} in {rec['rows_accepted']:>10,} accepted "
              f"{rec['rows_quarantined']:>7,} quarantined  used={rec['used']}  {stages}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"  (this benchmark process itself peaked at {usage.ru_maxrss / 1024 / 1024:.2f} GiB)")
    if args.gx_complete:
        gx_complete_comparison(extracts)


if __name__ == "__main__":
    main()
