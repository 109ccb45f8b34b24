"""Linkage's heavy work cut into partitions for an engine (`pipeline.engine`): the same answers as one process.

Two kinds of partition:
- `SourceSlice`: a run of rows of one landed source, standardised on its own (standardisation is
  row by row, so the slices put back in order are the whole source standardised);
- `BlockPartition`: for one blocking pass, the records whose block key falls in one partition of the
  pass's keys (a block is never split). Its worker makes the pass's pairs within each block, works
  out every other pass that proposes each pair from the records' keys of all passes, and keeps only
  the pairs whose *first* proposing pass is its own: each candidate pair is compared in exactly one
  partition, with no shuffle between workers. It returns the pairs' comparison levels, agency-token
  verdicts and the level counts training needs (`pipeline.link.model.LevelCounts`, integers, so
  they add up to the same model however the pairs were cut).

Block sizes (`max_block`) are judged over all records before anything is cut, so a block too large
for the run is too large in every partition.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import recordlinkage as rl

from pipeline.config.contracts import SourceContract
from pipeline.engine import Engine
from pipeline.laps import Laps
from pipeline.link.candidates import block_key, candidate_pairs, usable_records
from pipeline.link.compare import compared_columns
from pipeline.link.identity import from_agency_without_duplicates, token_agreement
from pipeline.link.model import FEATURES, LevelCounts, level_counts
from pipeline.link.settings import LinkageSettings

# What a block partition's records carry besides the compared columns: what the pair levels
# (`people.pair_levels`: an undated adult against a child) and the token verdicts read.
_PAIR_COLUMNS = ("source", "person_token", "dob", "extract_date")


@dataclass(frozen=True)
class SourceSlice:
    """Rows [start, stop) of one source's landed file, to be standardised on a worker."""

    source: str
    path: Path
    start: int
    stop: int
    contract: SourceContract
    settings: LinkageSettings
    as_of: dt.date


def source_slices(source: str, path: Path, contract: SourceContract, settings: LinkageSettings, as_of: dt.date,
                  workers: int) -> list[SourceSlice]:
    """A source's rows cut into at least one slice per worker and none larger than `records_per_partition`."""
    rows = pq.ParquetFile(path).metadata.num_rows
    parts = max(min(workers, rows), math.ceil(rows / settings.partitions.records_per_partition), 1)
    edges = np.linspace(0, rows, parts + 1).round().astype(int)
    return [SourceSlice(source, path, int(a), int(b), contract, settings, as_of) for a, b in itertools.pairwise(edges)]


def prepare_slice(part: SourceSlice):
    """One slice standardised: `pipeline.link.stage.prepare_source` over its rows."""
    from pipeline.link.stage import prepare_source  # stage imports this module

    table = pq.read_table(part.path).slice(part.start, part.stop - part.start)
    return prepare_source(part.source, table.to_pandas(), part.contract, part.settings, part.as_of)


def prepare_sources(engine: Engine, landed: dict[str, Path], contracts: dict[str, SourceContract],
                    settings: LinkageSettings, as_of: dt.date) -> list:
    """Every used source standardised slice by slice on the engine; one `Prepared` per source, in name order."""
    from pipeline.link.stage import Prepared

    slices = [s for source in sorted(landed)
              for s in source_slices(source, landed[source], contracts[source], settings, as_of, engine.workers)]
    done = engine.map(prepare_slice, slices)
    out = []
    for source in sorted(landed):
        parts = [p for s, p in zip(slices, done, strict=True) if s.source == source]
        out.append(Prepared(records=pd.concat([p.records for p in parts], ignore_index=True),
                            evidence_date=np.concatenate([p.evidence_date for p in parts]),
                            current=np.concatenate([p.current for p in parts])))
    return out


@dataclass(frozen=True)
class BlockPartition:
    """The records of one partition of one blocking pass's keys, with every pass's key for each of them."""

    pass_index: int
    positions: np.ndarray  # int64, ascending: each record's position in the run's records
    keys: np.ndarray  # int64 (records x passes): each pass's usable block key, -1 where the pass pairs nothing
    records: pd.DataFrame  # the compared columns and _PAIR_COLUMNS of these records, token effective
    settings: LinkageSettings


@dataclass(frozen=True)
class ComparedBlock:
    """What a block partition's worker hands back: its pairs (run positions, i < j), passes, levels,
    token verdicts, and the level counts of its pairs."""

    i: np.ndarray
    j: np.ndarray
    passes: np.ndarray
    levels: pd.DataFrame
    both: np.ndarray
    same: np.ndarray
    counts: LevelCounts


@dataclass(frozen=True)
class Compared:
    """Every candidate pair of the run, sorted by (i, j) as `candidate_pairs` gives them, with its levels and
    token verdicts, and the level counts of all pairs added up."""

    pairs: pd.DataFrame  # i, j, passes
    levels: pd.DataFrame
    both: np.ndarray
    same: np.ndarray
    counts: LevelCounts


def pass_keys(records: pd.DataFrame, settings: LinkageSettings) -> np.ndarray:
    """Per record and pass, its block key where the pass may pair it (known columns, block not too big), else -1."""
    cache: dict[str, np.ndarray] = {}
    columns = []
    for block in settings.blocking:
        key = block_key(records, list(block.columns), cache)
        columns.append(np.where(usable_records(key, block), key, -1))
    return np.column_stack(columns).astype(np.int64) if columns else np.zeros((len(records), 0), dtype=np.int64)


def block_partitions(records: pd.DataFrame, token: pd.Series, settings: LinkageSettings,
                     workers: int) -> Iterator[BlockPartition]:
    """Each pass's records cut by block key into partitions: at least `blocks_per_worker` per worker, and
    about `records_per_block_partition` records at most (a block, kept whole, may make one larger).

    A generator: each partition's records are copied out only when the engine takes it, so this machine
    never holds a copy of the records per pass."""
    keys = pass_keys(records, settings)
    columns = [records.columns.get_loc(c) for c in dict.fromkeys([*compared_columns(), *_PAIR_COLUMNS])]
    p = settings.partitions
    for k in range(keys.shape[1]):
        rows = np.flatnonzero(keys[:, k] >= 0)
        if len(rows) < 2:
            continue
        parts = max(workers * p.blocks_per_worker, math.ceil(len(rows) / p.records_per_block_partition))
        which = keys[rows, k] % parts
        for part in range(parts):
            chosen = rows[which == part]
            if len(chosen) >= 2:
                mine = records.iloc[chosen, columns].reset_index(drop=True)  # a copy of these rows only
                mine["person_token"] = token.to_numpy()[chosen]
                yield BlockPartition(k, chosen, keys[chosen], mine, settings)


def compare_block(part: BlockPartition) -> ComparedBlock:
    """The pairs of one block partition whose first proposing pass is its own, compared and counted."""
    from pipeline.link.people import pair_levels, training_labels  # people imports this module

    k, keys = part.pass_index, part.keys
    subset = pd.DataFrame({"block": keys[:, k]})
    indexer = rl.Index()
    indexer.block(left_on="block")
    index = indexer.index(subset)
    a = index.get_level_values(0).to_numpy(dtype=np.int64)
    b = index.get_level_values(1).to_numpy(dtype=np.int64)
    a, b = np.minimum(a, b), np.maximum(a, b)
    keep = a != b
    a, b = a[keep], b[keep]
    mask = np.zeros(len(a), dtype=np.int64)
    for q in range(keys.shape[1]):
        mask |= np.where((keys[a, q] >= 0) & (keys[a, q] == keys[b, q]), np.int64(1) << q, 0)
    first = (mask & ((np.int64(1) << k) - 1)) == 0  # no earlier pass proposes it: it is this pass's to compare
    a, b, mask = a[first], b[first], mask[first]
    pairs = pd.DataFrame({"i": a, "j": b})
    levels = pair_levels(part.records, pairs, part.settings)
    both, same = token_agreement(pairs, part.records)
    distinct = from_agency_without_duplicates(part.records["source"].astype(str).to_numpy(), a,
                                              part.settings.identity.distinct_tokens)
    label = training_labels(both, same, distinct, levels)
    return ComparedBlock(part.positions[a], part.positions[b], mask, levels.reset_index(drop=True), both, same,
                         level_counts(levels, label))


def compare_partitioned(engine: Engine, records: pd.DataFrame, token: pd.Series,
                        settings: LinkageSettings) -> Compared:
    """Every candidate pair compared on the engine, partition by partition, put back in (i, j) order."""
    done = engine.map(compare_block, block_partitions(records, token, settings, engine.workers))
    n = np.int64(max(len(records), 1))
    i = np.concatenate([d.i for d in done]) if done else np.zeros(0, dtype=np.int64)
    j = np.concatenate([d.j for d in done]) if done else np.zeros(0, dtype=np.int64)
    order = np.argsort(i * n + j, kind="stable")

    def gather(arrays: list[np.ndarray], dtype: type | str) -> np.ndarray:
        return (np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype))[order]

    levels = pd.DataFrame({f: gather([d.levels[f].to_numpy() for d in done], np.int8) for f in FEATURES})
    pairs = pd.DataFrame({"i": i[order], "j": j[order], "passes": gather([d.passes for d in done], np.int64)})
    return Compared(pairs=pairs, levels=levels, both=gather([d.both for d in done], bool),
                    same=gather([d.same for d in done], bool), counts=LevelCounts.combine(d.counts for d in done))


def compare_in_one(records: pd.DataFrame, token: pd.Series, settings: LinkageSettings,
                   laps: Laps | None = None) -> Compared:
    """Every candidate pair compared in this process at once: what `compare_partitioned` gives, made whole."""
    from pipeline.link.people import pair_levels, training_labels  # people imports this module

    laps = laps or Laps()
    pairs = candidate_pairs(records, settings.blocking)
    laps.lap("candidate_pairs")
    levels = pair_levels(records, pairs, settings)
    both, same = token_agreement(pairs, records.assign(person_token=token))
    distinct = from_agency_without_duplicates(records["source"].astype(str).to_numpy(), pairs["i"].to_numpy(),
                                              settings.identity.distinct_tokens)
    compared = Compared(pairs=pairs, levels=levels, both=both, same=same,
                        counts=level_counts(levels, training_labels(both, same, distinct, levels)))
    laps.lap("comparison")
    return compared


def compare_candidates(engine: Engine, records: pd.DataFrame, token: pd.Series, settings: LinkageSettings,
                       laps: Laps | None = None) -> Compared:
    """Candidates compared in this process, or partition by partition on a cluster: the same pairs and levels."""
    if not engine.partitioned:
        return compare_in_one(records, token, settings, laps)
    compared = compare_partitioned(engine, records, token, settings)
    if laps is not None:
        laps.lap("candidate_pairs_and_comparison")
    return compared
