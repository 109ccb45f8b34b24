"""Benchmark: the comparison step against recordlinkage's tutorial set-up, on the same candidate pairs.

    .venv/bin/python benchmarks/bench_compare.py --run OUT_DIR
    # OUT_DIR: a finished `python -m pipeline run` (uses OUT_DIR/restricted/landed)

Baseline, as in recordlinkage's tutorial ("Link two datasets", FEBRL): `rl.Compare()` with exact
forename, Jaro-Winkler surname (threshold 0.85), exact date of birth, exact postcode, exact sex
and Jaro-Winkler street (threshold 0.85), then `rl.ECMClassifier().fit_predict`. Ours:
`compare_pairs` (12 features, records encoded once), then the model's levels, training and
scoring. Both are timed in the same process on the same pairs; the figures are pairs per second
and their ratio, for the comparison alone and for comparison plus classification.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    import numpy as np
    import pandas as pd
    import recordlinkage as rl

    from pipeline.config import load_schemas
    from pipeline.link.candidates import candidate_pairs
    from pipeline.link.compare import compare_pairs, encode_records
    from pipeline.link.identity import token_agreement
    from pipeline.link.model import comparison_levels, level_counts, score, train
    from pipeline.link.people import effective_tokens, training_labels
    from pipeline.link.settings import load_linkage
    from pipeline.link.standardise import standardise_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    args = parser.parse_args()
    schemas = load_schemas()
    records = pd.concat([standardise_records(pd.read_parquet(p), schemas.contracts[p.stem])
                         for p in sorted((args.run / "restricted" / "landed").glob("*.parquet"))], ignore_index=True)
    pairs = candidate_pairs(records, load_linkage().blocking)

    start = time.perf_counter()
    encoded = encode_records(records)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    features = compare_pairs(encoded, pairs)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    levels = comparison_levels(features)
    settings = load_linkage()
    tokens = records.assign(person_token=effective_tokens(records, settings.identity.one_row_per_person))
    both, same = token_agreement(pairs, tokens)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    distinct = np.isin(records["source"].astype(str).to_numpy()[i], settings.identity.distinct_tokens)
    score(train(level_counts(levels, training_labels(both, same, distinct, levels))), levels)
    ours_model = time.perf_counter() - start

    baseline = rl.Compare()
    baseline.exact("forename", "forename", label="forename")
    baseline.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    baseline.exact("dob", "dob", label="dob")
    baseline.exact("postcode", "postcode", label="postcode")
    baseline.exact("sex", "sex", label="sex")
    baseline.string("street", "street", method="jarowinkler", threshold=0.85, label="street")
    index = pd.MultiIndex.from_arrays([i, j])
    frame = records[["forename", "surname", "dob", "postcode", "sex", "street"]].astype(object)
    start = time.perf_counter()
    vectors = baseline.compute(index, frame)
    base = time.perf_counter() - start
    start = time.perf_counter()
    rl.ECMClassifier().fit_predict(vectors)
    base_model = time.perf_counter() - start

    n = len(pairs)
    ours_all, base_all = encode + ours, base
    print(f"{len(records):,} records, {n:,} candidate pairs")
    print(f"  pipeline: encode records once {encode:6.2f}s, compare (12 features) {ours:6.2f}s, "
          f"levels + train + score {ours_model:6.2f}s")
    print(f"  recordlinkage: Compare (6 features) {base:6.2f}s, ECMClassifier {base_model:6.2f}s")
    print(f"  compare step, pairs/s:  pipeline {n / ours_all:>12,.0f}   recordlinkage {n / base_all:>12,.0f}   "
          f"ratio {base_all / ours_all:5.1f}x  (excluding the one-off encoding: {base / ours:.1f}x)")
    print(f"  compare + classify, pairs/s: pipeline {n / (ours_all + ours_model):>12,.0f}   recordlinkage "
          f"{n / (base + base_model):>12,.0f}   ratio {(base + base_model) / (ours_all + ours_model):5.1f}x")


if __name__ == "__main__":
    main()
