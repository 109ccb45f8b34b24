"""Candidate pairs: which records are worth comparing at all.

Comparing every pair of 2.6M records is out of the question, so records are compared only
when they agree exactly on the columns of at least one blocking pass (schemas/linkage.yaml).
Several narrow passes, unioned, keep pairs few while one pass catches what another misses.
Pairs are (i, j) with i < j over the positions of one combined, standardised frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import recordlinkage as rl

from pipeline.link.settings import BlockingPass

_PASS_BITS = 64  # candidate_pairs packs a pass's number into the low 6 bits of each pair's key


def _codes(column: pd.Series) -> np.ndarray:
    """Integer codes of a column's values, -1 for blank."""
    codes, _ = pd.factorize(column, use_na_sentinel=True)
    return codes.astype(np.int64)


def block_key(records: pd.DataFrame, columns: list[str], cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """One int64 per record naming its block on `columns` (-1 where any of them is blank).

    recordlinkage's blocking is a self-merge on the key columns; merging on one integer instead of
    several string columns gives the same pairs in about a third of the time. Each column's codes
    are computed once per run (`cache`), as several passes share columns.
    """
    cache = {} if cache is None else cache
    key = None
    for column in columns:
        if column not in cache:
            cache[column] = _codes(records[column])
        codes = cache[column]
        if key is None:
            key = codes.copy()
            continue
        blank = (key < 0) | (codes < 0)
        combined = key * (int(codes.max()) + 1) + codes
        key, _ = pd.factorize(np.where(blank, -1, combined))  # back to 0..k-1 so the product never overflows
        key = np.where(blank, -1, key).astype(np.int64)
    assert key is not None
    return key


def usable_records(key: np.ndarray, block: BlockingPass) -> np.ndarray:
    """Records that one pass may pair: its columns all known, and its block no larger than `max_block`."""
    usable = key >= 0
    if block.max_block is not None and usable.any():
        sizes = np.bincount(key[usable])
        usable &= np.where(usable, sizes[np.maximum(key, 0)], 0) <= block.max_block
    return usable


def _pass_pairs(records: pd.DataFrame, block: BlockingPass, cache: dict[str, np.ndarray]) -> pd.MultiIndex:
    """Pairs agreeing on every column of one pass; a blank in any of them blocks nothing."""
    key = block_key(records, list(block.columns), cache)
    usable = usable_records(key, block)
    subset = pd.DataFrame({"block": key[usable]}, index=np.flatnonzero(usable))
    if len(subset) < 2:
        return pd.MultiIndex.from_arrays([[], []])
    indexer = rl.Index()
    indexer.block(left_on="block")
    return indexer.index(subset)


def candidate_pairs(records: pd.DataFrame, passes: list[BlockingPass]) -> pd.DataFrame:
    """Union of the passes' pairs as a frame (i, j, passes) sorted by (i, j), i < j.

    `passes` is a bit mask of the passes that proposed the pair, so an analyst can see why two
    records were compared at all.
    """
    records = records.reset_index(drop=True)
    n = np.int64(max(len(records), 1))
    if len(passes) >= _PASS_BITS:  # the mask is an int64: 63 passes at most
        raise ValueError(f"at most {_PASS_BITS - 1} blocking passes, not {len(passes)}")
    keys = []
    cache: dict[str, np.ndarray] = {}
    for bit, block in enumerate(passes):
        pairs = _pass_pairs(records, block, cache)
        if len(pairs):
            a = pairs.get_level_values(0).to_numpy(dtype=np.int64)
            b = pairs.get_level_values(1).to_numpy(dtype=np.int64)
            del pairs
            keep = a != b
            keys.append((np.minimum(a[keep], b[keep]) * n + np.maximum(a[keep], b[keep])) * _PASS_BITS + bit)
    if not keys:
        return pd.DataFrame({"i": pd.Series(dtype="int64"), "j": pd.Series(dtype="int64"),
                             "passes": pd.Series(dtype="int64")})
    # The union as one int64 per proposal, (i * n + j) * 64 + pass: one sort brings a pair's proposals
    # together (in pass order), then a bitwise OR over each run of one pair gives its mask. No sort per
    # pass, no argsort and gather: far lighter than grouping a frame of every pass's pairs.
    packed = np.concatenate(keys)
    del keys
    packed.sort()
    key = packed // _PASS_BITS
    bit = np.left_shift(np.int64(1), packed % _PASS_BITS)
    del packed
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    passes_mask = np.bitwise_or.reduceat(bit, starts)
    key = key[starts]
    return pd.DataFrame({"i": key // n, "j": key % n, "passes": passes_mask})


def pass_names(mask: np.ndarray, passes: list[BlockingPass]) -> pd.Series:
    """Per pair, the names of the passes its bit mask `passes` sets, in linkage.yaml's order (list<string>).

    The bit mask is compact but must be decoded by hand against linkage.yaml; the names say it in the
    file itself. Built as one Arrow list array (offsets over a flat array of names), not a Python list
    per pair, so it costs little at millions of pairs.
    """
    mask = np.asarray(mask, dtype=np.int64)
    has = (mask[:, None] >> np.arange(len(passes), dtype=np.int64)) & 1 if len(passes) else np.zeros((len(mask), 0))
    row, which = np.nonzero(has)  # row-major: each pair's passes together, in pass order
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=len(mask)))]).astype(np.int32)
    names = pa.array([p.name for p in passes], type=pa.string()).take(pa.array(which, type=pa.int64()))
    lists = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), names)
    return pd.Series(pd.arrays.ArrowExtensionArray(lists))


def cross_pairs(records: pd.DataFrame, n_left: int, passes: list[BlockingPass]) -> pd.DataFrame:
    """Candidate pairs (i, j) between two sets of records only: i < n_left <= j, sorted by (i, j).

    `records` holds the left set in its first `n_left` rows and the right set after them; the
    same passes propose the pairs as in `candidate_pairs`, but no pair within one set is made,
    so comparing a few records with a few others costs nothing like linking them all.
    """
    records = records.reset_index(drop=True)
    n = np.int64(max(len(records), 1))
    left = np.arange(len(records)) < n_left
    keys = []
    cache: dict[str, np.ndarray] = {}
    for block in passes:
        key = block_key(records, list(block.columns), cache)
        usable = usable_records(key, block)
        a = pd.DataFrame({"k": key[usable & left], "i": np.flatnonzero(usable & left)})
        b = pd.DataFrame({"k": key[usable & ~left], "j": np.flatnonzero(usable & ~left)})
        both = a.merge(b, on="k")
        keys.append(both["i"].to_numpy(np.int64) * n + both["j"].to_numpy(np.int64))
    key = np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    return pd.DataFrame({"i": key // n, "j": key % n})


def completeness(pairs: pd.DataFrame, person: np.ndarray) -> dict[str, float]:
    """Pairs completeness and reduction ratio against the true person of each record.

    Completeness: the share of true record pairs (same person) that are candidates.
    Reduction ratio: 1 - candidates / all possible pairs.
    """
    person = np.asarray(person)
    sizes = pd.Series(person).value_counts().to_numpy(dtype=np.float64)
    true_pairs = float((sizes * (sizes - 1) / 2).sum())
    hits = float((person[pairs["i"].to_numpy()] == person[pairs["j"].to_numpy()]).sum())
    n = float(len(person))
    return {
        "records": n,
        "candidate_pairs": float(len(pairs)),
        "true_pairs": true_pairs,
        "true_pairs_found": hits,
        "pairs_completeness": hits / true_pairs if true_pairs else 1.0,
        "reduction_ratio": 1 - len(pairs) / (n * (n - 1) / 2) if n > 1 else 0.0,
        "reachable_completeness": _reachable(pairs, person, true_pairs),
    }


def _reachable(pairs: pd.DataFrame, person: np.ndarray, true_pairs: float) -> float:
    """Share of true pairs joined through a chain of true candidate pairs.

    Clustering links transitively, so an electoral-register record (no date of birth) and a
    health record at a stale address can still meet through the benefits record both share
    something with. This is the ceiling the candidates leave for a perfect classifier.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    true = person[pairs["i"].to_numpy()] == person[pairs["j"].to_numpy()]
    n = len(person)
    graph = coo_matrix((np.ones(int(true.sum())), (pairs["i"].to_numpy()[true], pairs["j"].to_numpy()[true])),
                       shape=(n, n))
    _, component = connected_components(graph, directed=False)
    both = pd.DataFrame({"p": person, "c": component}).groupby(["p", "c"]).size().to_numpy(dtype=np.float64)
    return float((both * (both - 1) / 2).sum() / true_pairs) if true_pairs else 1.0


@dataclass(frozen=True)
class ColumnAgreement:
    """One column of a pass for one pair: `agree`, `differ`, or `blank` on side `a`, `b` or `both`."""

    column: str
    state: str
    blank_on: str = ""


@dataclass(frozen=True)
class PassVerdict:
    """Whether one blocking pass proposed a pair, and if not, what stood in the way (column names, never values).

    A pass proposes a pair when both records agree on all its columns and their block is no larger than
    `max_block`; `block_size` is that block's size when the columns agree.
    """

    name: str
    proposed: bool
    columns: tuple[ColumnAgreement, ...]
    block_size: int | None = None
    max_block: int | None = None


def pass_verdicts(records: pd.DataFrame, a: int, b: int, passes: list[BlockingPass]) -> list[PassVerdict]:
    """Per pass, whether it proposed records `a` and `b` (positions in `records`, the run's whole set of
    standardised records, so block sizes are the run's) and what it needed that they lack."""
    cache: dict[str, np.ndarray] = {}
    out = []
    for block in passes:
        key = block_key(records, list(block.columns), cache)
        usable = usable_records(key, block)
        agreements = []
        for column in block.columns:
            ca, cb = int(cache[column][a]), int(cache[column][b])
            if ca < 0 or cb < 0:
                side = "both" if ca < 0 and cb < 0 else ("a" if ca < 0 else "b")
                agreements.append(ColumnAgreement(column, "blank", side))
            else:
                agreements.append(ColumnAgreement(column, "agree" if ca == cb else "differ"))
        same = key[a] >= 0 and key[a] == key[b]
        size = int((key == key[a]).sum()) if same else None
        out.append(PassVerdict(block.name, bool(same and usable[a] and usable[b]), tuple(agreements), size,
                               block.max_block))
    return out


def proposed_between(records: pd.DataFrame, left: np.ndarray, right: np.ndarray,
                     passes: list[BlockingPass]) -> pd.DataFrame:
    """Candidate pairs (i, j, passes) between the records at positions `left` and those at `right`, as the run's
    passes proposed them over all of `records` (a block too large there proposes nothing here either)."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    i, j = np.repeat(left, len(right)), np.tile(right, len(left))
    keep = i != j
    i, j = i[keep], j[keep]
    mask = np.zeros(len(i), dtype=np.int64)
    cache: dict[str, np.ndarray] = {}
    for bit, block in enumerate(passes):
        key = block_key(records, list(block.columns), cache)
        usable = usable_records(key, block)
        mask |= np.where(usable[i] & usable[j] & (key[i] == key[j]), 1 << bit, 0)
    found = mask > 0
    return pd.DataFrame({"i": i[found], "j": j[found], "passes": mask[found]})
