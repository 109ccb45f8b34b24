"""Benchmark: comparison features vs recordlinkage's built-in Compare on the same candidate pairs.

    .venv/bin/python benchmarks/bench_compare.py --run OUT_DIR
    # OUT_DIR: a finished `python -m pipeline run` (uses OUT_DIR/restricted/landed)

Prints pairs per second of pipeline.link.compare (12 features, records encoded once) and of a
recordlinkage Compare with Jaro-Winkler forename and surname and exact dob and postcode (4
features), measured in the same process on the same pairs, and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    import pandas as pd
    import recordlinkage as rl

    from pipeline.contracts import load_schemas
    from pipeline.link.candidates import candidate_pairs, load_blocking
    from pipeline.link.compare import compare_pairs, encode_records
    from pipeline.standardise import OUTPUT_COLUMNS, standardise_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    args = parser.parse_args()
    schemas = load_schemas()
    records = pd.concat([standardise_records(pd.read_parquet(p), schemas.contracts[p.stem])
                         for p in sorted((args.run / "restricted" / "landed").glob("*.parquet"))], ignore_index=True)
    pairs = candidate_pairs(records, load_blocking(columns=OUTPUT_COLUMNS))

    start = time.perf_counter()
    encoded = encode_records(records)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    compare_pairs(encoded, pairs)
    ours = time.perf_counter() - start

    baseline = rl.Compare()
    baseline.string("forename", "forename", method="jarowinkler", label="forename")
    baseline.string("surname", "surname", method="jarowinkler", label="surname")
    baseline.exact("dob", "dob", label="dob")
    baseline.exact("postcode", "postcode", label="postcode")
    index = pd.MultiIndex.from_arrays([pairs["i"].to_numpy(), pairs["j"].to_numpy()])
    start = time.perf_counter()
    baseline.compute(index, records[["forename", "surname", "dob", "postcode"]].astype(object))
    base = time.perf_counter() - start

    n = len(pairs)
    print(f"{len(records):,} records, {n:,} candidate pairs")
    print(f"  encode records once           {encode:6.2f}s")
    print(f"  pipeline compare (12 feat.)   {ours:6.2f}s  {n / ours:>12,.0f} pairs/s")
    print(f"  recordlinkage Compare (4)     {base:6.2f}s  {n / base:>12,.0f} pairs/s")
    print(f"  ratio (pairs/s)               {base / ours:6.1f}x  (with encoding: {base / (ours + encode):.1f}x)")


if __name__ == "__main__":
    main()
