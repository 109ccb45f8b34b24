"""Benchmark: three chained months of a synthetic authority, run with --previous, scored against the truth.

Run: .venv/bin/python benchmarks/bench_months.py [--households 20000] [--seed 7] [--months 3] [--repeat 3]
     [--work DIR]
Needs PIPELINE_KEY_FILE (or PIPELINE_KEY). Writes the months with `synth --months`, runs month 1, then
each later month with --previous (the monthly run) and without (the baseline for speed), both --no-reuse
so that no ingest is reused, alternately `--repeat` times (this machine's speed varies by a third from
one minute to the next, so the fastest of each is compared). Prints, per month: persons kept, person
keys reused, household keys kept (unchanged and moved families), arrivals in vacated flats given a new
key, and newly eligible people (precision, recall, F1), then the run times and their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synth.months import month_ends  # noqa: E402
from synth.score_months import Month, score  # noqa: E402


def run(extracts: pathlib.Path, out: pathlib.Path, env: dict, *extra: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "run", "--extracts", str(extracts), "--out", str(out),
                    "--no-reuse", *extra], check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each month with and without --previous")
    ap.add_argument("--work", type=pathlib.Path, default=None, help="keep everything here (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_months_") as tmp:
        work = args.work or pathlib.Path(tmp)
        env = {**os.environ, "PIPELINE_LEDGER": str(work / "ledger.jsonl")}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipeline", "synth", "--households", str(args.households), "--seed",
                        str(args.seed), "--months", str(args.months), "--out", str(work / "authority")],
                       check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        print(f"synthetic months written in {time.perf_counter() - t0:.1f} s")
        month = lambda m: work / "authority" / f"month-{m:02d}"  # noqa: E731
        ends = month_ends(dt.date(2026, 10, 31), args.months)
        run(month(1) / "extracts", work / "run-01", env, "--processing-date", ends[0].isoformat())
        timings = []
        for m in range(2, args.months + 1):
            with_previous, alone = [], []
            on = ("--processing-date", ends[m - 1].isoformat())  # the synthetic months may lie ahead of today
            for _ in range(args.repeat):
                with_previous.append(run(month(m) / "extracts", work / f"run-{m:02d}", env, *on, "--previous",
                                         str(work / f"run-{m - 1:02d}")))
                alone.append(run(month(m) / "extracts", work / f"alone-{m:02d}", env, *on))
            timings.append((m, with_previous, alone))
            s = score(Month(month(m - 1) / "truth", work / f"run-{m - 1:02d}"),
                      Month(month(m) / "truth", work / f"run-{m:02d}"))
            print(f"month {m}: persons kept {s.persons_kept}; person keys reused {s.keys_reused}")
            print(f"  household keys kept: unchanged families {s.unchanged_households_kept}, "
                  f"moved families {s.moved_households_kept}")
            print(f"  new family in a vacated flat given a new key {s.arrivals_new_key}")
            print(f"  newly eligible people: precision {s.newly_eligible_precision:.4f}, recall "
                  f"{s.newly_eligible_recall:.4f}, F1 {s.newly_eligible_f1:.4f} ({s.newly_eligible_true:,} true)")
        for m, with_previous, alone in timings:
            print(f"month {m} run (fastest of {args.repeat}; median): with --previous {min(with_previous):.1f} s "
                  f"({statistics.median(with_previous):.1f}), without {min(alone):.1f} s "
                  f"({statistics.median(alone):.1f}), ratio {min(with_previous) / min(alone):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
