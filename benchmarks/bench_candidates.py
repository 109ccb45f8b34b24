"""Benchmark: candidate pairs (blocking) against synthetic truth.

    .venv/bin/python benchmarks/bench_candidates.py --run OUT_DIR --truth TRUTH_DIR
    # e.g. after `make run`:  --run out/sample --truth sample_data/truth

Standardises every landed source of a finished run (OUT_DIR/restricted/landed), builds the
candidate pairs of schemas/linkage.yaml, and prints seconds, pairs, pairs completeness (share
of true same-person record pairs that are candidates), reachable completeness (joined through
a chain of true candidate pairs) and reduction ratio; then per pass the pairs it proposes, the
pairs it adds (proposed by no earlier pass), with the true pairs among each, its own pairs
completeness, and the completeness and reduction ratio of the passes so far; and the true pairs
missed by source pair.
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

    from pipeline.config import load_schemas
    from pipeline.link.candidates import candidate_pairs, completeness
    from pipeline.link.settings import load_linkage
    from pipeline.link.standardise import standardise_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args()

    schemas = load_schemas()
    start = time.perf_counter()
    frames = [standardise_records(pd.read_parquet(p), schemas.contracts[p.stem])
              for p in sorted((args.run / "restricted" / "landed").glob("*.parquet"))]
    records = pd.concat(frames, ignore_index=True)
    standardised = time.perf_counter() - start
    truth = pd.read_csv(args.truth / "truth.csv", dtype=str)
    keys = records[["source", "source_record_id"]].astype(str)
    person = keys.merge(truth, how="left", on=["source", "source_record_id"])["person_id"].to_numpy()

    passes = load_linkage().blocking
    start = time.perf_counter()
    pairs = candidate_pairs(records, passes)
    blocked = time.perf_counter() - start
    stats = completeness(pairs, person)
    print(f"{len(records):,} records: standardised in {standardised:.1f}s, "
          f"{len(pairs):,} candidate pairs in {blocked:.1f}s")
    for key in ("pairs_completeness", "reachable_completeness", "reduction_ratio"):
        print(f"  {key:<24} {stats[key]:.6f}")
    found = person[pairs["i"].to_numpy()] == person[pairs["j"].to_numpy()]
    print_passes(pairs["passes"].to_numpy(), found, passes, stats)
    found_set = set(zip(pairs["i"].to_numpy()[found].tolist(), pairs["j"].to_numpy()[found].tolist(), strict=True))
    table = pd.DataFrame({"p": person, "src": records["source"].astype(str)}).reset_index()
    both = table.merge(table, on="p")
    both = both[both["index_x"] < both["index_y"]]
    missed = both[[pair not in found_set for pair in zip(both["index_x"], both["index_y"], strict=True)]]
    print("  true pairs missed, by source pair:")
    for (a, b), n in missed.groupby(["src_x", "src_y"]).size().sort_values(ascending=False).head(8).items():
        print(f"    {a} / {b}: {n:,}")


def print_passes(bits, found, passes, stats: dict[str, float]) -> None:
    """Per pass (in linkage.yaml's order): the pairs it proposes and the true ones among them, the pairs it
    adds (proposed by no earlier pass) and the true ones among those, its own pairs completeness, and the
    pairs completeness and reduction ratio of the passes up to and including it."""
    import numpy as np

    true_pairs, n = stats["true_pairs"], stats["records"]
    all_pairs = n * (n - 1) / 2
    print(f"  {'pass':<60} {'proposes':>9} {'true':>7} {'adds':>7} {'true':>6} {'PC':>8} "
          f"{'PC so far':>9} {'RR so far':>10}")
    for bit, block in enumerate(passes):
        limit = f" (max_block {block.max_block})" if block.max_block else ""
        proposed = ((bits >> bit) & 1).astype(bool)
        adds = proposed & ((bits & ((np.int64(1) << bit) - 1)) == 0)
        so_far = (bits & ((np.int64(1) << (bit + 1)) - 1)) != 0
        pc = (proposed & found).sum() / true_pairs if true_pairs else 1.0
        pc_so_far = (so_far & found).sum() / true_pairs if true_pairs else 1.0
        rr_so_far = 1 - so_far.sum() / all_pairs if all_pairs else 0.0
        name = f"{bit}: {', '.join(block.columns)}{limit}"
        print(f"  {name:<60} {int(proposed.sum()):>9,} {int((proposed & found).sum()):>7,} {int(adds.sum()):>7,} "
              f"{int((adds & found).sum()):>6,} {pc:>8.4f} {pc_so_far:>9.6f} {rr_so_far:>10.6f}")


if __name__ == "__main__":
    main()
