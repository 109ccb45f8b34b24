"""Benchmark: eligibility end to end (extracts -> run -> households) against the synthetic truth.

    # score a finished run against its truth:
    .venv/bin/python benchmarks/bench_criteria.py --run out/sample --truth sample_data/truth
    # generate synthetic authorities (cached under var/bench/), run the pipeline on each, score:
    .venv/bin/python benchmarks/bench_criteria.py --households 20000 --seeds 1 2 3 [--rules phase2]

Figures, per data set:
- person-level eligibility precision, recall and F1 (issue 4 target: F1 >= 0.98 under phase2):
  every true person who has at least one accepted record; predicted = the household most of their
  records are placed in is eligible; actual = their true household is eligible (truth/households.csv);
- the same per criterion (person's predicted household meets it vs their true household does);
- eligible families: predicted count, true count;
- the run's wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _prf(predicted, actual) -> dict[str, float]:
    tp = int((predicted & actual).sum())
    p = tp / int(predicted.sum()) if predicted.sum() else 1.0
    r = tp / int(actual.sum()) if actual.sum() else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "predicted": int(predicted.sum()), "actual": int(actual.sum())}


def score(run: Path, truth: Path) -> dict:
    import pandas as pd

    links = pd.read_parquet(run / "record_links.parquet").astype({"source": str, "source_record_id": str})
    households = pd.read_parquet(run / "households.parquet").set_index("household_key")
    rule_set = str(households["rule_set"].iloc[0])
    criteria = [c for c in households.columns if c not in ("members", "children", "problems", "eligible", "rule_set",
                                                           "not_assessed")]
    prefix = "" if rule_set == "phase2" else f"{rule_set}."
    true_households = pd.read_csv(truth / "households.csv", dtype={"household_id": str}).set_index("household_id")
    if f"{prefix}eligible" not in true_households.columns:
        raise SystemExit(f"{truth}/households.csv has no {prefix}eligible column: regenerate the synthetic data")
    m = links.merge(pd.read_csv(truth / "truth.csv", dtype=str), how="left", on=["source", "source_record_id"])
    votes = m.groupby(["person_id", "household_key"]).size().reset_index(name="n")
    votes = votes.sort_values(["person_id", "n", "household_key"], ascending=[True, False, True])
    people = votes.drop_duplicates("person_id").set_index("person_id")
    people["t"] = m.drop_duplicates("person_id").set_index("person_id")["household_id"]
    out = {"rule_set": rule_set, "people": len(people)}
    predicted = households.loc[people["household_key"], "eligible"].to_numpy(bool)
    actual = true_households.loc[people["t"], f"{prefix}eligible"].to_numpy() == 1
    out["eligibility"] = _prf(predicted, actual)
    out["criteria"] = {}
    for c in criteria:
        if f"{prefix}{c}" not in true_households.columns or true_households[f"{prefix}{c}"].isna().all():
            continue
        got = households.loc[people["household_key"], c].fillna(False).to_numpy(bool)
        want = true_households.loc[people["t"], f"{prefix}{c}"].to_numpy() == 1
        out["criteria"][c] = _prf(got, want)
    out["eligible_families"] = {"predicted": int(households["eligible"].sum()),
                                "true": int((true_households[f"{prefix}eligible"] == 1).sum())}
    return out


def _synth(households: int, seed: int) -> Path:
    data = REPO / "var" / "bench" / f"synth-{households}-{seed}"
    truth = data / "truth" / "households.csv"
    if truth.exists() and "eligible" in truth.open().readline().split(","):
        return data
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pipeline", "synth", "--households", str(households), "--seed", str(seed),
                    "--out", str(data)], check=True, cwd=REPO)
    return data


def _run(extracts: Path, out: Path, rules: str) -> float:
    env = dict(os.environ)
    if "PIPELINE_KEY_FILE" not in env and "PIPELINE_KEY" not in env:
        key = Path(tempfile.mkdtemp()) / "bench.key"
        key.write_text(os.urandom(32).hex())
        env["PIPELINE_KEY_FILE"] = str(key)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "run", "--extracts", str(extracts), "--out", str(out),
                    "--rules", rules, "--force"], check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def report(name: str, figures: dict, seconds: float | None = None) -> None:
    e = figures["eligibility"]
    timing = f", run {seconds:.1f}s" if seconds is not None else ""
    print(f"{name} [{figures['rule_set']}]: {figures['people']:,} people{timing}")
    print(f"  person-level eligibility: precision {e['precision']:.4f} recall {e['recall']:.4f} F1 {e['f1']:.4f} "
          f"({e['predicted']:,} predicted, {e['actual']:,} true)")
    print(f"  eligible families: {figures['eligible_families']['predicted']:,} predicted, "
          f"{figures['eligible_families']['true']:,} true")
    for c, v in figures["criteria"].items():
        print(f"    {c:<22} precision {v['precision']:.4f} recall {v['recall']:.4f} F1 {v['f1']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path)
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--rules", default="phase2")
    args = parser.parse_args()
    if args.run:
        report(str(args.run), score(args.run, args.truth or args.run.parent / "truth"))
        return
    f1s = []
    for seed in args.seeds:
        data = _synth(args.households, seed)
        out = REPO / "var" / "bench" / f"criteria-run-{args.households}-{seed}-{args.rules}"
        seconds = _run(data / "extracts", out, args.rules)
        figures = score(out, data / "truth")
        report(f"{args.households} households, seed {seed}", figures, seconds)
        f1s.append(figures["eligibility"]["f1"])
    if len(f1s) > 1:
        print(f"person-level eligibility F1 over seeds: min {min(f1s):.4f} max {max(f1s):.4f}")


if __name__ == "__main__":
    main()
