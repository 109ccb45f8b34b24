"""Benchmark: generate a ~1M-resident authority (435,000 households) and report time and memory.

Run: .venv/bin/python benchmarks/bench_synth.py [--households N] [--seed S] [--keep DIR]
Prints wall seconds, rows per source and peak resident memory (ru_maxrss of this process).
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from synth import generate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=435_000)
    ap.add_argument("--seed", type=int, default=20261)
    ap.add_argument("--keep", type=pathlib.Path, default=None, help="write here instead of a temp dir")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        out = args.keep or pathlib.Path(tmp)
        t0 = time.perf_counter()
        summary = generate(args.households, args.seed, out)
        secs = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.rglob("*.csv"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"households      {summary['households']:>12,}")
    print(f"people          {summary['people']:>12,}")
    for source, n in summary["rows"].items():
        print(f"rows {source:<22} {n:>10,}")
    print(f"rows total      {summary['total_rows']:>12,}")
    print(f"defective rows  {summary['defects']:>12,}")
    print(f"output size     {size / 1e6:>11,.0f} MB")
    print(f"seconds         {secs:>12.1f}")
    print(f"peak RSS        {peak_mb:>11,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
