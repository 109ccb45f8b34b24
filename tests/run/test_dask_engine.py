"""A run on a Dask cluster gives what a run in one process gives.

The sample is run on a local cluster of two worker processes (`--dask-local 2`) and compared table
by table with the session's one-process run of it (`sample_run`): the same keys, links, decisions,
households, criteria and evidence, numbers equal within 1e-9. Partitioning alone is also checked
without a cluster: the sample's records cut into many partitions, compared partition by partition,
give the pairs, levels and model of comparing them whole.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.engine import LocalEngine
from tests.conftest import SAMPLE, run_cli
from tests.support import lineage

TABLES = ("record_links.parquet", "pairs.parquet", "households.parquet", "evidence.parquet", "quarantine.parquet",
          "key_history.parquet", "restricted/record_tokens.parquet", "restricted/link_records.parquet",
          "restricted/clerical_review.parquet")
LANDED = "restricted/landed"
FILES = ("linkage_model.json", "quarantine.csv", "report.html", "restricted/caseworker_export.csv")


@pytest.fixture(scope="module")
def dask_run(sample_run, tmp_path_factory):
    """The sample as `sample_run` runs it, on a local cluster of two workers of 1.5 GB each."""
    base = tmp_path_factory.mktemp("dask")
    with pytest.MonkeyPatch.context() as mp:  # the run's temporary folders (its cluster's spill folder) in here
        mp.setattr(tempfile, "tempdir", str(base))
        run = run_cli(base, "--extracts", SAMPLE / "extracts", "--caseworker-export", "--no-reuse", "--dask-local",
                      "2", "--dask-worker-memory", "1.5GB")
    assert run.code == 0, run.stderr
    return run


def _in_any_folder(frame: pd.DataFrame, out: Path) -> pd.DataFrame:
    """The review form's explain-pair commands name the run's own folder; the rest is the same wherever it is."""
    if "explain_pair" in frame:
        frame = frame.assign(explain_pair=frame["explain_pair"].str.replace(str(out), "RUN", regex=False))
    return frame


def _differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """Columns that differ: by name, dtype or value (numbers beyond 1e-9)."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"shape {list(a.columns)} x {len(a)} against {list(b.columns)} x {len(b)}"]
    out = []
    for column in a.columns:
        x, y = a[column], b[column]
        if x.dtype != y.dtype:
            out.append(f"{column}: {x.dtype} against {y.dtype}")
        elif pd.api.types.is_float_dtype(x):
            if not np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=1e-9, equal_nan=True):
                out.append(f"{column}: values beyond 1e-9")
        elif not x.astype(object).equals(y.astype(object)):
            out.append(f"{column}: values")
    return out


@pytest.mark.parametrize("table", TABLES)
def test_every_table_of_a_run_on_a_two_worker_cluster_matches_the_one_process_run(sample_run, dask_run, table):
    one, cluster = (_in_any_folder(pd.read_parquet(run.out / table), run.out) for run in (sample_run, dask_run))
    assert len(one) > 0 or table == "key_history.parquet"  # no key is retired without a previous month
    assert _differences(one, cluster) == []


@pytest.mark.parametrize("name", FILES)
def test_the_model_the_report_and_the_exports_are_byte_for_byte_those_of_the_one_process_run(
        sample_run, dask_run, name):
    assert (dask_run.out / name).read_bytes() == (sample_run.out / name).read_bytes()


def _run_start(out: Path) -> dict:
    return next(r for r in lineage(out) if r["event"] == "run_start")


def test_the_lineage_records_the_engine_and_each_of_its_workers(sample_run, dask_run):
    engine = _run_start(dask_run.out)["parameters"]["engine"]
    assert engine["kind"] == "dask" and engine["cluster"] == "started by the run"
    assert engine["scheduler"].startswith("tcp://127.0.0.1:")
    assert [(w["threads"], w["memory_limit"]) for w in engine["workers"]] == [(1, 1_500_000_000)] * 2
    assert _run_start(sample_run.out)["parameters"]["engine"] == {"kind": "local", "scheduler": None, "cluster": None,
                                                                  "workers": []}
    [started] = [json.loads(line) for line in (dask_run.out / "openlineage.jsonl").read_text().splitlines()
                 if json.loads(line)["eventType"] == "START"]
    parameters = {p["key"]: p["value"] for p in started["run"]["facets"]["executionParameters"]["parameters"]}
    assert json.loads(parameters["engine"]) == engine
    assert "engine: Dask at tcp://127.0.0.1:" in dask_run.stderr


def test_the_clusters_spill_folder_is_gone_after_the_run(dask_run):
    assert dask_run.out.parent.is_dir()
    assert list(dask_run.out.parent.glob("pipeline-dask-*")) == []


def test_a_scheduler_that_cannot_be_reached_stops_the_run_with_one_line_naming_it(tmp_path):
    run = run_cli(tmp_path, "--extracts", SAMPLE / "extracts", "--dask-scheduler", "tcp://127.0.0.1:9")
    assert run.code != 0
    assert "the Dask scheduler at tcp://127.0.0.1:9 could not be reached" in run.stderr
    assert "Traceback" not in run.stderr
    ledger = [json.loads(line) for line in run.ledger.read_text().splitlines()]
    assert ledger[-1]["status"] == "failed"


# --------------------------------------------------------------------------- partitions without a cluster
@pytest.fixture(scope="module")
def sample_records(sample_run):
    """The sample's landed sources standardised, as the link stage holds them."""
    from pipeline.config.schemas import load_schemas
    from pipeline.link.settings import load_linkage
    from pipeline.link.standardise import records_from_landed

    schemas = load_schemas()
    landed = {path.stem: pd.read_parquet(path) for path in sorted((sample_run.out / LANDED).glob("*.parquet"))}
    return records_from_landed(landed, {s: schemas.contracts[s] for s in landed}), load_linkage()


def test_pairs_compared_partition_by_partition_are_the_pairs_compared_whole(sample_records):
    from pipeline.link.partitioned import compare_in_one, compare_partitioned
    from pipeline.link.people import effective_tokens

    records, settings = sample_records
    token = effective_tokens(records, settings.identity.one_row_per_person)
    whole = compare_in_one(records, token, settings)
    parts = compare_partitioned(LocalEngine(workers=5), records, token, settings)
    assert len(whole.pairs) > 1000
    pd.testing.assert_frame_equal(parts.pairs, whole.pairs)
    pd.testing.assert_frame_equal(parts.levels, whole.levels.reset_index(drop=True))
    assert (parts.both == whole.both).all() and (parts.same == whole.same).all()
    assert parts.counts == whole.counts


def test_no_pair_is_compared_twice_though_several_passes_propose_it(sample_records):
    from pipeline.link.partitioned import block_partitions, compare_block
    from pipeline.link.people import effective_tokens

    records, settings = sample_records
    token = effective_tokens(records, settings.identity.one_row_per_person)
    done = [compare_block(p) for p in block_partitions(records, token, settings, workers=3)]
    keys = np.concatenate([d.i * len(records) + d.j for d in done])
    several = np.concatenate([d.passes for d in done])
    assert len(np.unique(keys)) == len(keys)
    assert ((several & (several - 1)) != 0).sum() > 100  # pairs several passes propose, each compared once


def test_a_source_cut_into_slices_is_standardised_as_it_is_whole(sample_run):
    from pipeline.config.schemas import load_schemas
    from pipeline.link.partitioned import prepare_sources
    from pipeline.link.settings import load_linkage
    from pipeline.link.stage import prepare_source

    schemas, settings = load_schemas(), load_linkage()
    path = sample_run.out / LANDED / "health.parquet"
    as_of = dt.date(2026, 11, 30)
    whole = prepare_source("health", pd.read_parquet(path), schemas.contracts["health"], settings, as_of)
    [cut] = prepare_sources(LocalEngine(workers=7), {"health": path}, schemas.contracts, settings, as_of)
    assert len(whole.records) > 1000
    pd.testing.assert_frame_equal(cut.records, whole.records)
    assert (cut.evidence_date == whole.evidence_date).all() and (cut.current == whole.current).all()


def test_audit_show_says_where_the_run_ran_and_names_each_worker(dask_run):
    from pipeline.audit.show import show

    text = show(dask_run.out, dask_run.ledger)
    assert "ran in Dask at tcp://127.0.0.1:" in text and "(started by the run): 2 workers, 1.4 GiB each" in text
    assert len([line for line in text.splitlines() if line.strip().startswith("worker ")]) == 2


def test_households_assigned_partition_by_partition_are_the_households_assigned_whole(sample_run):
    """Votes counted per partition of people and families followed per partition of addresses."""
    from pipeline.config.schemas import load_schemas
    from pipeline.link.households import assign_households
    from pipeline.link.settings import load_linkage
    from pipeline.link.stage import prepare_source

    schemas, settings = load_schemas(), load_linkage()
    as_of = dt.date(2026, 11, 30)
    landed = {path.stem: pd.read_parquet(path) for path in sorted((sample_run.out / LANDED).glob("*.parquet"))}
    prepared = [prepare_source(s, landed[s], schemas.contracts[s], settings, as_of) for s in landed]
    records = pd.concat([p.records for p in prepared], ignore_index=True)
    dates = np.concatenate([p.evidence_date for p in prepared])
    current = np.concatenate([p.current for p in prepared])
    links = pd.read_parquet(sample_run.out / "record_links.parquet")
    person = records[["source", "source_record_id"]].astype(str).merge(
        links[["source", "source_record_id", "person_key"]].astype(str), how="left", validate="one_to_one")
    number, _ = pd.factorize(person["person_key"], sort=True)

    def homes(engine, rows, households=settings.households):
        return assign_households(records, number, dates, current, as_of, households, engine=engine,
                                 rows_per_partition=rows)

    whole = homes(LocalEngine(), 200_000)
    for engine, rows in ((LocalEngine(workers=3), 200_000), (LocalEngine(workers=2), 500)):
        cut = homes(engine, rows)
        assert (cut.household == whole.household).all() and (cut.basis == whole.basis).all()
    unfollowed = homes(LocalEngine(), 200_000, settings.households.model_copy(update={"follow_family_from": []}))
    assert (unfollowed.household != whole.household).sum() > 0  # families are followed in the sample
