"""Benchmark: the whole pipeline run against a speed anchor, Splink (DuckDB backend) linking the same records.

    make bench-splink                      # creates var/splink-venv from benchmarks/requirements-splink.txt
    var/splink-venv/bin/python benchmarks/bench_splink.py --households 20000 --seed 1 --repeats 3

Runs in the Splink venv (not the project's: Splink is a benchmark-only dependency), so the Splink
part never imports the `pipeline` package; the project's main venv is called as a subprocess to
generate the synthetic authority (cached under var/bench/synth-<households>-<seed>, the path
bench_linkage.py uses) and to time the whole `python -m pipeline run`.

Splink's time runs from "the six CSVs read into one pandas DataFrame of unified columns" (that
reading and preparation is timed and printed apart) to "clusters computed": registering the
frame, a straightforward dedupe_only model (forename and surname by Splink's Jaro-Winkler name
comparison, date of birth, one address comparison over UPRN, postcode and first line, sex; see
address_comparisons), u by random sampling, m by EM on two blocking rules, predict at a match
probability threshold and connected-components clustering. Splink's pairwise precision and
recall against truth/truth.csv are printed for context only (the target is speed: the whole run
should take no longer than Splink's link alone).

Beside them, Great Expectations' own chain alone (benchmarks/gx_alone.py: import, validate every
source, Data Docs), which no run can finish before: the floor under the ratio.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAIN_PYTHON = REPO / ".venv" / "bin" / "python"
UNIFIED = ["unique_id", "source", "source_record_id", "forename", "surname", "dob", "sex", "postcode", "address",
           "uprn"]
# source -> (forename, surname, dob, sex, address, uprn) column in that source's extract; None: not held.
SOURCES = {
    "police": ("forename", "surname", "dob", "sex", "address", None),
    "schools": ("legal_forename", "legal_surname", "dob", "gender", "address_line_1", "uprn"),
    "health": ("forename", "surname", "dob", "sex", "address_line_1", None),
    "electoral_register": ("forename", "surname", "attainer_dob", None, "address_line_1", "uprn"),
    "benefits": ("forename", "surname", "dob", "sex", "address_line_1", "uprn"),
    "children_social_care": ("forename", "surname", "dob", "sex", "address_line_1", "uprn"),
}
TITLES = r"^(?:MR|MRS|MS|MISS|DR)\.?\s+"


def ensure_synth(households: int, seed: int, cache: Path) -> Path:
    data = cache / f"synth-{households}-{seed}"
    if not (data / "truth" / "truth.csv").exists():
        print(f"generating {data} with the main venv ...", flush=True)
        subprocess.run([str(MAIN_PYTHON), "-m", "pipeline", "synth", "--households", str(households),
                        "--seed", str(seed), "--out", str(data)], cwd=REPO, check=True)
    return data


def _clean_text(s):
    """Upper case, accents folded, punctuation but hyphen and apostrophe dropped, spaces collapsed."""
    s = s.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.upper()
    s = s.str.replace(r"[^A-Z0-9 '\-]", " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    return s.mask(s == "")


def read_unified(extracts: Path):
    """The six extracts as one pandas DataFrame of the unified columns (all strings, blank as null)."""
    import pandas as pd

    parts = []
    for source, (fore, sur, dob, sex, address, uprn) in SOURCES.items():
        usecols = ["source_record_id", fore, sur, dob, address, "postcode"] + [c for c in (sex, uprn) if c]
        raw = pd.read_csv(extracts / f"{source}.csv", dtype=str, usecols=usecols, keep_default_na=False,
                          na_values=[""], encoding="utf-8-sig")
        born = raw[dob]
        if source == "police":  # DD/MM/YYYY
            born = pd.to_datetime(born, format="%d/%m/%Y", errors="coerce").dt.strftime("%Y-%m-%d")
        line = raw[address]
        if source == "police":  # one free-text line: its first comma-separated part
            line = line.str.split(",", n=1).str[0]
        parts.append(pd.DataFrame({
            "source": source, "source_record_id": raw["source_record_id"],
            "forename": raw[fore], "surname": raw[sur], "dob": born,
            "sex": raw[sex] if sex else None, "postcode": raw["postcode"], "address": line,
            "uprn": raw[uprn] if uprn else None}))
    df = pd.concat(parts, ignore_index=True)
    for col in ("forename", "surname"):
        df[col] = _clean_text(df[col].str.upper().str.replace(TITLES, "", regex=True))
    df["address"] = _clean_text(df["address"])
    pc = df["postcode"].str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    df["postcode"] = (pc.str[:-3] + " " + pc.str[-3:]).where(pc.str.len() >= 5)
    df["sex"] = df["sex"].str.upper().where(df["sex"].str.upper().isin(["M", "F"]))
    df["dob"] = pd.to_datetime(df["dob"], format="%Y-%m-%d", errors="coerce").dt.strftime("%Y-%m-%d")
    df["uprn"] = df["uprn"].str.strip().str.lstrip("0").mask(lambda u: u == "")
    df["unique_id"] = range(len(df))
    return df[UNIFIED].astype({c: "string" for c in UNIFIED if c != "unique_id"})


def address_comparisons(separate: bool) -> list:
    """Where someone lives, as Splink comparisons.

    Default: one comparison over UPRN, postcode and first address line together, since the three
    say the same thing and Fellegi-Sunter would otherwise count an address match three times (with
    electors carrying no date of birth, that merges same-surname family members: pairwise precision
    about 0.37 at 20,000 households). `separate`: the naive version, each its own comparison.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    if separate:
        return [cl.PostcodeComparison("postcode"), cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
                cl.ExactMatch("uprn")]
    levels = [
        cll.And(cll.NullLevel("postcode"), cll.NullLevel("address")),
        cll.Or(cll.ExactMatchLevel("uprn"), cll.And(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("address"))),
        cll.And(cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("address", 0.9)),
        cll.ExactMatchLevel("postcode"),
        cll.JaroWinklerLevel("address", 0.9),
        cll.ElseLevel(),
    ]
    return [cl.CustomComparison(levels, output_column_name="address",
                                comparison_description="UPRN, postcode and first address line")]


def splink_link(df, seed: int, predict_threshold: float, cluster_threshold: float, u_pairs: float,
                separate_address: bool = False):
    """Train, predict and cluster with Splink (DuckDB).

    Returns (wall seconds, CPU seconds of this process, unique_id -> cluster_id frame, predicted pairs).
    """
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    cpu, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    db_api = DuckDBAPI()
    table = db_api.register(df, dataset_display_name="records")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("forename"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d"),
            *address_comparisons(separate_address),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("postcode", "surname"),
            block_on("dob", "surname"),
            block_on("dob", "forename"),
            block_on("postcode", "forename"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(table, settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("forename", "surname", "dob"), block_on("forename", "surname", "postcode")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("forename", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    predictions = linker.inference.predict(threshold_match_probability=predict_threshold, warning_mode="never")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=cluster_threshold)
    seconds, cpu = time.perf_counter() - start, _cpu(resource.RUSAGE_SELF) - cpu
    # Outside the timed part: fetch the result for scoring.
    rel = db_api.duckdb_con.sql(f"select unique_id, cluster_id from {clusters.physical_name}")
    result = rel.df()
    n_pairs = db_api.duckdb_con.sql(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
    db_api.duckdb_con.close()
    return seconds, cpu, result, int(n_pairs)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _pairs(frame, keys) -> float:
    sizes = frame.groupby(keys, observed=True, sort=False).size().to_numpy(dtype=float)
    return float((sizes * (sizes - 1) / 2).sum())


def pairwise(frame, predicted: str, cross_source: bool) -> tuple[float, float]:
    """Precision and recall of "same `predicted`" against "same person_id" over record pairs."""
    def count(keys):
        return _pairs(frame, keys) - (_pairs(frame, [*keys, "source"]) if cross_source else 0.0)
    tp, pred, act = count([predicted, "person_id"]), count([predicted]), count(["person_id"])
    return (tp / pred if pred else 1.0), (tp / act if act else 1.0)


def score_splink(df, clusters, truth: Path) -> dict[str, float]:
    import pandas as pd

    true = pd.read_csv(truth / "truth.csv", dtype=str, usecols=["source", "source_record_id", "person_id"])
    m = df[["unique_id", "source", "source_record_id"]].astype({"source": str, "source_record_id": str}).merge(
        clusters, on="unique_id", how="left").merge(true, on=["source", "source_record_id"], how="left")
    if m["person_id"].isna().any() or m["cluster_id"].isna().any():
        raise SystemExit("some records have no truth row or no cluster")
    p, r = pairwise(m, "cluster_id", cross_source=False)
    xp, xr = pairwise(m, "cluster_id", cross_source=True)
    return {"precision": p, "recall": r, "x_precision": xp, "x_recall": xr,
            "clusters": m["cluster_id"].nunique(), "people": m["person_id"].nunique()}


def score_pipeline(run: Path, truth: Path) -> dict[str, float] | None:
    """The same figures for the pipeline's record_links.parquet (for context; needs only pandas/pyarrow)."""
    import pandas as pd

    path = run / "record_links.parquet"
    if not path.exists():
        return None
    links = pd.read_parquet(path, columns=["source", "source_record_id", "person_key"]).astype(
        {"source": str, "source_record_id": str})
    true = pd.read_csv(truth / "truth.csv", dtype=str, usecols=["source", "source_record_id", "person_id"])
    m = links.merge(true, on=["source", "source_record_id"], how="inner")
    p, r = pairwise(m, "person_key", cross_source=False)
    xp, xr = pairwise(m, "person_key", cross_source=True)
    return {"precision": p, "recall": r, "x_precision": xp, "x_recall": xr, "records": len(m)}


def key_file(tmp: Path) -> str:
    existing = os.environ.get("PIPELINE_KEY_FILE")
    if existing and Path(existing).is_file():
        return existing
    import secrets

    path = tmp / "bench.key"
    path.write_text(secrets.token_hex(32) + "\n")
    path.chmod(0o600)
    return str(path)


def run_pipeline(extracts: Path, out: Path, key: str, log: Path) -> tuple[float, float]:
    """The whole `python -m pipeline run` in the main venv: (wall seconds, CPU seconds of the subprocess)."""
    env = dict(os.environ, PIPELINE_KEY_FILE=key)
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_HOME", str(REPO / "var" / "prefect"))
    cpu, start = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    with log.open("w") as fh:
        done = subprocess.run([str(MAIN_PYTHON), "-m", "pipeline", "run", "--extracts", str(extracts),
                               "--out", str(out), "--force"], cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    seconds, cpu = time.perf_counter() - start, _cpu(resource.RUSAGE_CHILDREN) - cpu
    if done.returncode:
        raise SystemExit(f"pipeline run failed (exit {done.returncode}); see {log}")
    return seconds, cpu


def gx_alone(extracts: Path) -> dict[str, float]:
    """Great Expectations' chain alone (benchmarks/gx_alone.py) in a fresh main-venv process."""
    env = dict(os.environ, GX_ANALYTICS_ENABLED="false")
    done = subprocess.run([str(MAIN_PYTHON), str(REPO / "benchmarks" / "gx_alone.py"), "--extracts", str(extracts),
                           "--json"], cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"gx_alone.py failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}s"
    return f"{statistics.median(values):.2f}s (median of {', '.join(f'{v:.2f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="measure each side this many times; report medians")
    parser.add_argument("--cache", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--predict-threshold", type=float, default=0.5, help="Splink predict match probability")
    parser.add_argument("--cluster-threshold", type=float, default=0.95, help="Splink clustering match probability")
    parser.add_argument("--u-pairs", type=float, default=1e6, help="pairs sampled to estimate u")
    parser.add_argument("--separate-address", action="store_true", help="Splink: postcode, address line and UPRN "
                        "as three independent comparisons (the naive model; far lower precision)")
    parser.add_argument("--splink-only", action="store_true", help="skip the pipeline run")
    args = parser.parse_args()

    import duckdb
    import pandas as pd
    import splink

    data = ensure_synth(args.households, args.seed, args.cache)
    out = args.cache / "splink-anchor-run"
    print(f"data {data}; Splink {splink.__version__}, DuckDB {duckdb.__version__}, pandas {pd.__version__}; "
          f"{os.cpu_count()} cores", flush=True)

    prep, link, link_cpu, whole, whole_cpu, gx = [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench_splink_") as tmp:
        key = None if args.splink_only else key_file(Path(tmp))
        for i in range(args.repeats):
            start = time.perf_counter()
            df = read_unified(data / "extracts")
            prep.append(time.perf_counter() - start)
            seconds, cpu, clusters, n_pairs = splink_link(df, args.seed, args.predict_threshold,
                                                          args.cluster_threshold, args.u_pairs, args.separate_address)
            link.append(seconds)
            link_cpu.append(cpu)
            print(f"  [{i + 1}/{args.repeats}] Splink: read+prepare {prep[-1]:.2f}s, link {seconds:.2f}s "
                  f"(CPU {cpu:.2f}s; {n_pairs:,} pairs at p >= {args.predict_threshold})", flush=True)
            if not args.splink_only:
                seconds, cpu = run_pipeline(data / "extracts", out, key, args.cache / "splink-anchor-run.log")
                whole.append(seconds)
                whole_cpu.append(cpu)
                print(f"  [{i + 1}/{args.repeats}] pipeline whole run {seconds:.2f}s (CPU {cpu:.2f}s)", flush=True)
                gx.append(gx_alone(data / "extracts"))
                print(f"  [{i + 1}/{args.repeats}] GX alone {gx[-1]['total']:.2f}s", flush=True)

    s = score_splink(df, clusters, data / "truth")
    print(f"\nrows                        {len(df):,}  ({args.households:,} households, seed {args.seed})")
    print(f"Splink read + prepare       {_fmt(prep)}   (not in the link time)")
    print(f"Splink link (DuckDB)        {_fmt(link)}   (register -> train -> predict -> clusters; "
          f"CPU {statistics.median(link_cpu):.2f}s)")
    print(f"  Splink clusters {s['clusters']:,} (true people {s['people']:,}); cluster threshold "
          f"{args.cluster_threshold}")
    print(f"  Splink pairwise precision {s['precision']:.5f}  recall {s['recall']:.5f}   "
          f"(cross-source pairs: {s['x_precision']:.5f} / {s['x_recall']:.5f})")
    if whole:
        p = score_pipeline(out, data / "truth")
        print(f"pipeline whole run          {_fmt(whole)}   (python -m pipeline run, wall clock, subprocess; "
              f"CPU {statistics.median(whole_cpu):.2f}s)")
        if p:
            print(f"  pipeline pairwise precision {p['precision']:.5f}  recall {p['recall']:.5f}   "
                  f"(cross-source pairs: {p['x_precision']:.5f} / {p['x_recall']:.5f})")
        ratio = statistics.median(whole) / statistics.median(link)
        cpu_ratio = statistics.median(whole_cpu) / statistics.median(link_cpu)
        verdict = "yes" if ratio <= 1 else "NO"
        print(f"ratio pipeline / Splink     {ratio:.2f}   pipeline no slower than Splink: {verdict}   "
              f"(CPU-time ratio {cpu_ratio:.2f}, less sensitive to other load on the machine)")
        floor = [g["total"] for g in gx]
        print(f"GX alone                    {_fmt(floor)}   (import {statistics.median(g['import'] for g in gx):.2f}s"
              f" + validate {statistics.median(g['validate'] for g in gx):.2f}s + Data Docs "
              f"{statistics.median(g['docs'] for g in gx):.2f}s: one sequential chain no run can finish before)")
        print(f"ratio GX alone / Splink     {statistics.median(floor) / statistics.median(link):.2f}   "
              f"(the floor under the ratio above while every run validates with GX)")

if __name__ == "__main__":
    sys.exit(main())
