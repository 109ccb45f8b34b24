"""Great Expectations owns the suites, the validation results and the Data Docs.

The suite of each source is generated from its contract's checks (pipeline/ingest/checks.py) and run
in summary mode over the check views, with no unexpected values kept: GX's default result
formats copy sample values into the results and the HTML, and those values are names, dates
of birth and tokens. Row-level failures are found by the vectorised twins of these
expectations; a test holds both to the same counts.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from pipeline.ingest.checks import Check, CheckSpec
from pipeline.ingest.data_docs import make_offline

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# Counts only: no partial lists of unexpected values (personal data) in results or Data Docs.
# BASIC gives the unexpected count and share; SUMMARY adds value counts that cost ~10x more.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}


def _skip_frame_fingerprint() -> None:
    """Stop GX hashing every cell of each batch into a 'fingerprint' batch marker.

    That hash costs about 10 s per million rows of a 20-column frame, more than all the
    expectations together, and adds nothing here: the lineage records the SHA-256 of the file
    itself. GX hashes only frames below this memory threshold, so a threshold of 0 turns it off.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


@dataclass(frozen=True)
class ExpectationOutcome:
    check: str
    expectation: str
    success: bool
    unexpected_count: int | None


@dataclass(frozen=True)
class ValidationJob:
    """What Great Expectations is to validate for a source: its checks over its check views.

    The views are in a file (`views_file`, an ingest cache entry that stays) or, for a refused
    source whose views are not cached, in memory (`views`).
    """

    checks: list[CheckSpec]
    views: pd.DataFrame | None = None
    views_file: Path | None = None


def notes_for(check: Check | CheckSpec) -> list[str]:
    """The contract's words about a check, as Markdown notes Data Docs show beside its expectation:
    what the column means, the reason a failing row is given in the quarantine, the check's name.
    Never a value from the data: only the contract's own text."""
    notes = [f"**{check.column}**: {check.meaning}"] if check.meaning else []
    return [*notes, f"A row that fails it is quarantined with the reason: {check.reason}.",
            f"Contract check `{check.name}`."]


def expectation_for(check: Check | CheckSpec):
    """The GX expectation that states `check` over its view column(s), with the check in words.

    `description` replaces GX's own rendering of the expectation in Data Docs ("values must match
    this regular expression: ^(?:...)$", 400 characters for a date) with the contract's sentence.
    """
    col = check.view_name
    p = check.params
    meta = {"check": check.name, "reason": check.reason, "reports_column": check.column}
    expectation = _expectation(check, col, p, meta)
    if check.description:
        expectation.description = check.description
    expectation.notes = notes_for(check)
    return expectation


def _expectation(check: Check | CheckSpec, col: str, p: dict, meta: dict):
    import great_expectations.expectations as gxe

    if check.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=col, meta=meta)
    if check.kind == "null":
        return gxe.ExpectColumnValuesToBeNull(column=col, meta=meta)
    if check.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=col, value_set=list(p["value_set"]), meta=meta)
    if check.kind == "regex":
        return gxe.ExpectColumnValuesToMatchRegex(column=col, regex=p["regex"], meta=meta)
    if check.kind == "not_regex":
        return gxe.ExpectColumnValuesToNotMatchRegex(column=col, regex=p["regex"], meta=meta)
    if check.kind == "max_length":
        return gxe.ExpectColumnValueLengthsToBeBetween(column=col, max_value=p["max_value"], meta=meta)
    if check.kind == "between":
        return gxe.ExpectColumnValuesToBeBetween(
            column=col, min_value=p.get("min_value"), max_value=p.get("max_value"), meta=meta)
    if check.kind == "pair_ge":
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=col, column_B=check.view2_name, or_equal=True,
            ignore_row_if="either_value_is_missing", meta=meta)
    if check.kind == "unique":
        return gxe.ExpectColumnValuesToBeUnique(column=col, meta=meta)
    raise ValueError(f"no expectation for check kind {check.kind}")


def _quiet_gx() -> None:
    for name in ("great_expectations", "great_expectations.core", "tzlocal"):
        logging.getLogger(name).setLevel(logging.ERROR)


class GXValidator:
    """One ephemeral GX context per run, with a Data Docs site inside the run's folder.

    Each source's validation result is stored as it is made; the site is rendered once at the
    end (`build_docs`), since rendering it after every source cost about a second each.
    """

    def __init__(self, docs_dir: Path, run_time: dt.datetime):
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        _quiet_gx()
        _skip_frame_fingerprint()
        self._gx = gx
        self.docs_dir = Path(docs_dir).resolve()  # GX refuses a relative site folder
        self.run_time = run_time
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.context.add_data_docs_site(
            site_name="run",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                  "base_directory": str(self.docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "show_how_to_buttons": False,  # GX's walkthrough: a modal that needs jQuery and links out
            },
        )

    def validate(self, source: str, checks: list[Check] | list[CheckSpec],
                 views: pd.DataFrame) -> list[ExpectationOutcome]:
        """Run the generated suite of `source` over its check views and update the Data Docs."""
        gx = self._gx
        from great_expectations.core.run_identifier import RunIdentifier

        datasource = self.context.data_sources.add_pandas(name=source)
        asset = datasource.add_dataframe_asset(name=f"{source}_extract")
        batch = asset.add_batch_definition_whole_dataframe("extract")
        # Given whole: add_expectation compares each new expectation with every earlier one (quadratic, a
        # tenth of validation's time); a contract's checks have distinct names, so none can repeat.
        suite = gx.ExpectationSuite(name=f"{source}_contract", expectations=[expectation_for(c) for c in checks])
        suite = self.context.suites.add(suite)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{source}_validation", data=batch, suite=suite))
        frame = views.copy(deep=False)  # the index GX expects (0..n-1) without copying every column,
        frame.index = pd.RangeIndex(len(frame))  # which reset_index did: the largest source twice over
        run_result = definition.run(
            batch_parameters={"dataframe": frame},
            result_format=RESULT_FORMAT,
            run_id=RunIdentifier(run_name=source, run_time=self.run_time),
        )
        outcomes = []
        for item in run_result.results:
            cfg = item.expectation_config
            outcomes.append(ExpectationOutcome(
                check=cfg.meta.get("check", ""), expectation=cfg.type, success=bool(item.success),
                unexpected_count=item.result.get("unexpected_count"),
            ))
        # The data source's execution engine keeps the batch (the whole frame) and its metrics;
        # the suite and the result are stored, so the Data Docs no longer need it.
        self.context.data_sources.delete(source)
        return outcomes

    def build_docs(self) -> Path:
        """Render the Data Docs of every suite and result of this run, once, at the end, as pages that
        load nothing from outside (`data_docs.make_offline`); the run writes their index."""
        self.context.build_data_docs(site_names=["run"])
        make_offline(self.docs_dir)
        return self.docs_dir


# --------------------------------------------------------------------------- in a worker process
_WORKER: GXValidator | None = None


def _start_worker(docs_dir: str, run_time: dt.datetime, parent: int) -> None:
    global _WORKER
    _exit_with_parent(parent)
    _WORKER = GXValidator(Path(docs_dir), run_time)


def _exit_with_parent(parent: int) -> None:
    """End the worker when the run's process is gone (killed outright): an orphaned worker would
    otherwise wait for work for ever, holding the run's memory and its terminal's pipes."""
    import os
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def read_views(path: Path) -> pd.DataFrame:
    """A source's check views from their Parquet file (never pickle: a run folder's file must not carry
    code), each set of identical columns made into Python objects once.

    Several checks read one field (a forename is checked for length, control characters, formulas and
    script), so the views repeat it; as Python strings each copy costs more than the field's whole
    file, and the largest source's views were most of the worker's memory. Twins found by Arrow's
    own comparison share one array in the frame GX reads (GX does not write to its batch); the frame
    equals `pd.read_parquet`'s, column for column.
    """
    table = pq.read_table(path)
    meta = table.schema.pandas_metadata or {}
    index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}  # never a twin: it becomes the index
    as_pandas = {c.get("field_name", c.get("name")): (c.get("pandas_type"), c.get("numpy_type"), str(c.get("metadata")))
                 for c in meta.get("columns", [])}  # twins also become the same pandas type
    kept: list[str] = []
    twin_of: dict[str, str] = {}
    for name in table.column_names:
        column = table.column(name)
        twin = None if name in index else next(
            (k for k in kept if k not in index and as_pandas.get(k) == as_pandas.get(name)
             and table.column(k).type == column.type and table.column(k).null_count == column.null_count
             and table.column(k).equals(column)), None)
        if twin is None:
            kept.append(name)
        else:
            twin_of[name] = twin
    order = [name for name in table.column_names if name not in index]
    frame = table.select(kept).to_pandas()
    del table
    return pd.DataFrame({name: frame[twin_of.get(name, name)].array for name in order}, index=frame.index, copy=False)


def _validate_spooled(source: str, checks: list[CheckSpec], spool: str, remove: bool = True
                      ) -> list[ExpectationOutcome]:
    path = Path(spool)
    views = read_views(path)
    if remove:
        path.unlink()
    assert _WORKER is not None
    outcomes = _WORKER.validate(source, checks, views)
    del views
    _give_back_memory()
    return outcomes


def _give_back_memory() -> None:
    """Return the freed heap to the system once a source is validated.

    The worker lives until the run's end, beside linking's peak; it should not keep the high water
    mark of the largest source it validated.
    """
    import contextlib
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()  # Arrow-backed strings live in Arrow's own allocator
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the memory is reused, just not returned
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _started() -> bool:
    return _WORKER is not None


def _build_docs() -> str:
    assert _WORKER is not None
    return str(_WORKER.build_docs())


class BackgroundGX:
    """Great Expectations in a worker process, so ingest, linking and scoring go on meanwhile.

    Why: GX's validation is about a third of a run's time on this machine's two cores and no
    stage needs its answer (rows are accepted or quarantined by the vectorised twins of the same
    checks); only the lineage and the Data Docs do, and both are written at the end. One worker
    keeps one GX context, so the Data Docs hold every source as before. Each source's check
    views go to the worker through a file in the run's restricted staging folder (removed once
    read), so the run does not hold every source's views in memory while GX catches up.

    The worker is forked when the run starts, before it holds any data, and imports GX itself
    while the run goes on. Forked rather than spawned: a spawned worker (or one from a fork
    server) re-imports the caller's `__main__`, which re-runs any script that calls the pipeline
    without an `if __name__ == "__main__"` guard; and the worker of a process that has already
    imported GX (a test session, a long-lived flow server) does not pay that import again.
    """

    def __init__(self, docs_dir: Path, run_time: dt.datetime, spool_dir: Path):
        import multiprocessing
        from concurrent.futures import Future, ProcessPoolExecutor

        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._futures: dict[str, Future] = {}
        self._lock = threading.Lock()  # sources are ingested on several threads, each submitting here
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                                         initializer=_start_worker,
                                         initargs=(str(Path(docs_dir).resolve()), run_time, os.getpid()))
        self._ready = self._pool.submit(_started)  # forks now; GX is imported in the worker meanwhile

    def submit(self, source: str, checks: list[CheckSpec], views: pd.DataFrame) -> None:
        """Validate check views held in memory: spooled to a file the worker reads and removes."""
        spool = self.spool_dir / f"{source}.views.parquet"
        views.to_parquet(spool)
        with self._lock:
            self._futures[source] = self._pool.submit(_validate_spooled, source, checks, str(spool))

    def submit_job(self, source: str, job: ValidationJob) -> None:
        """Validate one source's checks over its views (kept in a file, or in memory and spooled)."""
        if job.views_file is not None:
            self.submit_file(source, job.checks, job.views_file)
        else:
            assert job.views is not None
            self.submit(source, job.checks, job.views)

    def submit_file(self, source: str, checks: list[CheckSpec], views: Path) -> None:
        """Validate check views already written at `views` (an ingest cache entry, which stays)."""
        with self._lock:
            self._futures[source] = self._pool.submit(_validate_spooled, source, checks, str(views), False)

    def finish(self) -> dict[str, list[ExpectationOutcome]]:
        """Every source's outcomes, once all are validated and the Data Docs are built."""
        self._ready.result()
        with self._lock:  # a snapshot: a late submit must not change the dict while it is read
            submitted = list(self._futures.items())
        outcomes = {source: future.result() for source, future in submitted}
        self._pool.submit(_build_docs).result()
        return outcomes

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for spool in self.spool_dir.glob("*.views.parquet"):
            spool.unlink(missing_ok=True)
        if self.spool_dir.is_dir() and not any(self.spool_dir.iterdir()):
            self.spool_dir.rmdir()
