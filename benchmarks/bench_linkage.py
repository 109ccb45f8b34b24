"""Benchmark: linkage quality and speed against the synthetic truth.

    # score a finished run against its truth:
    .venv/bin/python benchmarks/bench_linkage.py --run out/sample --truth sample_data/truth
    # generate synthetic authorities (cached under var/bench/), run the pipeline on each, score:
    .venv/bin/python benchmarks/bench_linkage.py --households 20000 --seeds 1 2 3

Figures, per data set:
- cross-source pairwise person precision and recall, and household co-membership precision,
  recall and F1 (defined in pipeline/link/quality.py, which the tests' floors use too);
- the agency token check behind `identity.distinct_tokens` in schemas/linkage.yaml: per source,
  people holding several tokens (duplicates) and tokens shared by several people;
- the run's wall time and peak memory (this process and its children).
Targets (issue 3): precision >= 0.995, recall >= 0.98, household F1 >= 0.98.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _pairs(frame, keys) -> float:
    sizes = frame.groupby(keys, observed=True).size().to_numpy(dtype=float)
    return float((sizes * (sizes - 1) / 2).sum())


def score(run: Path, truth: Path):
    import pandas as pd

    from pipeline.link.quality import linkage_quality

    return linkage_quality(pd.read_parquet(run / "record_links.parquet"), pd.read_csv(truth / "truth.csv", dtype=str))


def household_ceiling(run: Path, truth: Path) -> dict[str, float]:
    """Household co-membership a perfect linker could reach from these records.

    Each true person is placed at their true address when any of their records shows it, else
    at the address most of their records show (or alone). People whose every record is stale
    (a family that moved, known only from a GP registration made at the old address) cannot be
    placed right by any method that reads only the records.
    """
    import pandas as pd

    from pipeline.config import load_schemas
    from pipeline.link.addresses import address_ids
    from pipeline.link.standardise import records_from_landed

    schemas = load_schemas()
    landed = {p.stem: pd.read_parquet(p) for p in sorted((run / "restricted" / "landed").glob("*.parquet"))}
    records = records_from_landed(landed, schemas.contracts)
    ids = address_ids(records)
    true = pd.read_csv(truth / "truth.csv", dtype=str)
    homes = pd.read_csv(truth / "households.csv", dtype=str)[["household_id", "uprn"]]
    m = records[["source", "source_record_id"]].astype(str).assign(id=ids).merge(
        true, on=["source", "source_record_id"]).merge(homes, on="household_id")
    m["at_true"] = m["id"] == "U:" + m["uprn"]
    has = m.groupby("person_id")["at_true"].any()
    common = m.dropna(subset=["id"]).groupby(["person_id", "id"]).size().reset_index(name="n")
    common = common.sort_values(["person_id", "n", "id"], ascending=[True, False, True]).drop_duplicates("person_id")
    people = m.drop_duplicates("person_id")[["person_id", "household_id", "uprn"]].set_index("person_id")
    place = pd.Series("alone:" + people.index.to_series(), index=people.index)
    place[common["person_id"].to_numpy()] = common["id"].to_numpy()
    place[has[has].index] = "U:" + people.loc[has[has].index, "uprn"]
    frame = pd.DataFrame({"h": place, "t": people["household_id"]})
    tp, pred, act = _pairs(frame, ["h", "t"]), _pairs(frame, ["h"]), _pairs(frame, ["t"])
    p, r = tp / pred, tp / act
    return {"people_without_a_record_at_home": int((~has).sum()), "people": len(has),
            "precision": p, "recall": r, "f1": 2 * p * r / (p + r)}


def token_check(run: Path, truth: Path) -> list[str]:
    import pandas as pd

    from pipeline.config import load_schemas

    schemas = load_schemas()
    true = pd.read_csv(truth / "truth.csv", dtype=str)
    lines = []
    for path in sorted((run / "restricted" / "landed").glob("*.parquet")):
        contract = schemas.contracts[path.stem]
        tokens = contract.columns_with_role("person_token")
        if not tokens:
            continue
        frame = pd.read_parquet(path, columns=["source_record_id", tokens[0]]).rename(columns={tokens[0]: "token"})
        frame["source"] = path.stem
        frame = frame.astype({"source_record_id": str}).merge(true, on=["source", "source_record_id"]).dropna(
            subset=["token"])
        several = int((frame.groupby("person_id")["token"].nunique() > 1).sum())
        shared = int((frame.groupby("token")["person_id"].nunique() > 1).sum())
        lines.append(f"    {path.stem:<21} people with several tokens {several:>6,}   "
                     f"tokens of several people {shared:>4,}")
    return lines


def _peak_gib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024 / 1024


def run_pipeline(extracts: Path, out: Path) -> float:
    from pipeline.run import RunConfig, execute

    start = time.perf_counter()
    execute(RunConfig(extracts=extracts, out=out, force=True))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished run folder to score")
    parser.add_argument("--truth", type=Path, help="the truth folder of that run's data")
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--cache", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--ceiling", action="store_true", help="also print the household F1 a perfect linker "
                        "could reach from these records")
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PIPELINE_KEY", "benchmark key: synthetic data only, not a real secret")

    if args.run:
        targets = [(args.run, args.truth or args.run.parent / "truth", None)]
    else:
        from synth import generate

        targets = []
        for seed in args.seeds:
            data = args.cache / f"synth-{args.households}-{seed}"
            if not (data / "truth" / "truth.csv").exists():
                generate(households=args.households, seed=seed, out=data)
            out = args.cache / f"run-{args.households}-{seed}"
            seconds = run_pipeline(data / "extracts", out)
            targets.append((out, data / "truth", seconds))

    for run, truth, seconds in targets:
        s = score(run, truth)
        print(f"{run}: {s.records:,} records; people true {s.people_true:,} predicted {s.people_predicted:,}; "
              f"households true {s.households_true:,} predicted {s.households_predicted:,}")
        if seconds is not None:
            print(f"  whole run {seconds:.1f}s, peak memory so far {_peak_gib():.2f} GiB")
        print(f"  cross-source pairwise precision {s.precision:.5f}  recall {s.recall:.5f}   "
              f"(targets 0.995 / 0.98)")
        print(f"  household co-membership precision {s.household_precision:.5f}  recall "
              f"{s.household_recall:.5f}  F1 {s.household_f1:.5f}   (target F1 0.98)")
        if args.ceiling:
            c = household_ceiling(run, truth)
            print(f"  household ceiling from the records: {c['people_without_a_record_at_home']:,} of "
                  f"{c['people']:,} people have no record at their true address; perfect linkage and placement "
                  f"would give precision {c['precision']:.5f} recall {c['recall']:.5f} F1 {c['f1']:.5f}")
        print("  agency tokens against truth:")
        print("\n".join(token_check(run, truth)))


if __name__ == "__main__":
    main()
