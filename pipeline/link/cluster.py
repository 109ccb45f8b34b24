"""Clustering records into people without chaining.

Links above the match threshold join records, strongest first, but a join is refused when it
would put into one person
- two different tokens of an agency that holds no duplicates (two UPNs are two pupils), or
- two records that were compared and found to be different people (a pair below the
  "cannot link" probability), or
- two token groups whose birth dates disagree beyond one slip (`pipeline.link.birthdates`): a
  father and son share a name and an address, but not a birth date, so the electoral-register
  record, which has none, and matches both, can join only one of them. A token group's birth date
  is the one most of its records give, so one mistyped record does not make it two people.
Plain connected components would chain A-B-C into one person even when A and C are plainly two
people; this never does.

Speed: most components of the link graph contain no conflict at all, and for them the greedy
result is the component itself, so only conflicted components are walked edge by edge in Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.link.birthdates import UNKNOWN, two_people
from pipeline.link.membership import is_in

MAX_BIRTHS_COMPARED = 50  # a component with more distinct birth dates than this is walked edge by edge unchecked


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster_records(n: int, groups: np.ndarray, exclusive_token: np.ndarray, links: pd.DataFrame,
                    cannot: pd.DataFrame, birth: np.ndarray | None = None) -> np.ndarray:
    """A cluster label per record (0..n-1 positions).

    groups: per record, its within-agency token group (records sharing a token are one person
      from the start and are never split);
    exclusive_token: per record, a token id (>= 0) from an agency that holds no duplicates, or -1;
      a cluster may hold at most one token id per agency, encoded so that ids of different
      agencies never coincide and `exclusive_source` distinguishes agencies: see `encode_exclusive`;
    links: pairs (i, j, p) to join, any order; an optional column `alike` orders links of equal p
      (higher first: the pair whose names agree better);
    cannot: pairs (i, j) that must not end in one cluster;
    birth: per record, its birth date as `birthdates.birth_numbers` gives it (UNKNOWN without one).

    Returns labels numbered by each cluster's smallest record position, so the same input gives
    the same labels.
    """
    # Token groups are unions from the start.
    start = group_first(groups)
    li, lj = links["i"].to_numpy(np.int64), links["j"].to_numpy(np.int64)
    gi, gj = start[li], start[lj]
    between = gi != gj
    comp = _components(n, np.concatenate([gi[between], np.arange(n)]), np.concatenate([gj[between], start]))
    # A component is conflicted when it holds two exclusive tokens of one agency or a cannot-link pair.
    conflicted = np.zeros(comp.max(initial=-1) + 1, dtype=bool)
    has = exclusive_token >= 0
    tok = pd.DataFrame({"c": comp[has], "agency": exclusive_token[has] >> 40, "t": exclusive_token[has]})
    counts = tok.drop_duplicates().groupby(["c", "agency"]).size()
    conflicted[counts[counts > 1].index.get_level_values("c").to_numpy()] = True
    ci, cj = cannot["i"].to_numpy(np.int64), cannot["j"].to_numpy(np.int64)
    same = (comp[ci] == comp[cj]) & (start[ci] != start[cj])  # within one token group: one person anyway
    conflicted[comp[ci[same]]] = True
    births = group_births(start, np.full(n, UNKNOWN, dtype=np.int64) if birth is None else birth)
    conflicted |= _births_conflict(comp, start, births, len(conflicted))

    label = start.copy()
    if conflicted.any():
        bad = conflicted[comp]
        edge_bad = bad[li] & between
        alike = links["alike"].to_numpy() if "alike" in links else np.zeros(len(links))
        _greedy(label, exclusive_token, births, li[edge_bad], lj[edge_bad], links["p"].to_numpy()[edge_bad],
                alike[edge_bad], ci[same & bad[ci]], cj[same & bad[ci]])
    clean = ~conflicted[comp]
    label[clean] = comp[clean] + n  # temporary ids, renumbered below
    return _renumber(label)


def two_people_pairs(start: np.ndarray, i: np.ndarray, j: np.ndarray, p: np.ndarray, below: float) -> np.ndarray:
    """Per compared pair: are its two records two people, judged between their token groups?

    A pair scoring below `below` says two people, unless another pair of the same two token groups
    scores at or above it: one noisy record (a mistyped date in one of ten police events) must not
    stop its group joining a record the group's other rows match at 0.999. Pairs within one group are
    one person whatever they score.
    """
    gi, gj = start[i], start[j]
    between = gi != gj
    low = (p < below) & between
    if not low.any():
        return low
    width = np.int64(max(len(start), 1))

    def key(rows: np.ndarray) -> np.ndarray:
        a, b = gi[rows], gj[rows]
        return np.minimum(a, b).astype(np.int64) * width + np.maximum(a, b).astype(np.int64)

    asked = np.flatnonzero(low)
    out = np.zeros(len(p), dtype=bool)
    out[asked] = ~is_in(key(asked), key(np.flatnonzero(between & ~low)))
    return out


def group_first(groups: np.ndarray) -> np.ndarray:
    """Per record, the smallest position of its token group."""
    frame = pd.DataFrame({"g": groups, "pos": np.arange(len(groups))})
    return frame.groupby("g")["pos"].transform("min").to_numpy(np.int64)


def group_births(start: np.ndarray, birth: np.ndarray) -> np.ndarray:
    """Per record, its token group's birth date: the one most of the group's dated records give (ties: the
    earliest), UNKNOWN where none has one. A group of ten police events with one mistyped date keeps
    the date the nine agree on."""
    dated = birth != UNKNOWN
    out = np.full(len(start), UNKNOWN, dtype=np.int64)
    if not dated.any():
        return out
    counts = pd.DataFrame({"g": start[dated], "b": birth[dated]}).groupby(["g", "b"]).size().reset_index(name="n")
    counts = counts.sort_values(["g", "n", "b"], ascending=[True, False, True]).drop_duplicates("g")
    out[counts["g"].to_numpy()] = counts["b"].to_numpy()
    return out[start]


def _births_conflict(comp: np.ndarray, start: np.ndarray, births: np.ndarray, size: int) -> np.ndarray:
    """Per component: does it hold two token groups whose birth dates say two people?"""
    out = np.zeros(size, dtype=bool)
    rep = (start == np.arange(len(start))) & (births != UNKNOWN)
    frame = pd.DataFrame({"c": comp[rep], "b": births[rep]}).drop_duplicates()
    several = frame.groupby("c")["b"].transform("size").to_numpy()
    out[frame["c"].to_numpy()[several > MAX_BIRTHS_COMPARED]] = True
    frame = frame[(several > 1) & (several <= MAX_BIRTHS_COMPARED)]
    both = frame.merge(frame, on="c")
    both = both[both["b_x"] < both["b_y"]]
    out[both["c"].to_numpy()[two_people(both["b_x"].to_numpy(), both["b_y"].to_numpy())]] = True
    return out


def _renumber(label: np.ndarray) -> np.ndarray:
    """Labels renumbered as the smallest record position of each cluster."""
    return pd.DataFrame({"l": label, "pos": np.arange(len(label))}).groupby("l")["pos"].transform("min").to_numpy(
        np.int64)


def _greedy(label: np.ndarray, exclusive_token: np.ndarray, births: np.ndarray, li: np.ndarray, lj: np.ndarray,
            p: np.ndarray, alike: np.ndarray, ci: np.ndarray, cj: np.ndarray) -> None:
    """Kruskal-style joins, strongest first, refusing joins that break a constraint (in place)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    # Per cluster root: members, exclusive tokens by agency, records it must not join, its groups' birth dates.
    members: dict[int, list[int]] = {}
    tokens: dict[int, dict[int, int]] = {}
    cannot: dict[int, set[int]] = {}
    born: dict[int, set[int]] = {}
    for x in np.unique(np.concatenate([li, lj])).tolist():
        root = int(label[x])
        if root not in members:
            members[root] = []
            tokens[root] = {}
            cannot[root] = set()
            born[root] = set()
    involved = set(members)
    for pos in np.flatnonzero(is_in(label, np.fromiter(involved, dtype=np.int64))).tolist():
        root = int(label[pos])
        members[root].append(pos)
        t = int(exclusive_token[pos])
        if t >= 0:
            tokens[root][t >> 40] = t
        if births[pos] != UNKNOWN:
            born[root].add(int(births[pos]))
    for a, b in zip(ci.tolist(), cj.tolist(), strict=True):
        ra, rb = int(label[a]), int(label[b])
        if ra in cannot:
            cannot[ra].add(b)
        if rb in cannot:
            cannot[rb].add(a)

    def two_births(x: set[int], y: set[int]) -> bool:
        if not x or not y or x == y:
            return False
        a, b = np.fromiter(x, dtype=np.int64), np.fromiter(y, dtype=np.int64)
        return bool(two_people(np.repeat(a, len(b)), np.tile(b, len(a))).any())

    order = np.lexsort((lj, li, -alike, -p))
    for k in order.tolist():
        a, b = find(int(label[li[k]])), find(int(label[lj[k]]))
        if a == b:
            continue
        ta, tb = tokens[a], tokens[b]
        if any(ta.get(agency, t) != t for agency, t in tb.items()):
            continue
        if len(members[a]) < len(members[b]):
            a, b = b, a
        if cannot[a] and any(x in cannot[a] for x in members[b]):
            continue
        if two_births(born[a], born[b]):
            continue
        parent[b] = a
        members[a].extend(members.pop(b))
        tokens[a].update(tokens.pop(b))
        cannot[a] |= cannot.pop(b)
        born[a] |= born.pop(b)
    for pos in np.flatnonzero(is_in(label, np.fromiter(involved, dtype=np.int64))).tolist():
        label[pos] = find(int(label[pos]))


def encode_exclusive(source: np.ndarray, token: np.ndarray, exclusive_sources: set[str]) -> np.ndarray:
    """Token ids of agencies that hold no duplicates (agency number in the high bits), -1 otherwise."""
    source = np.asarray(source, dtype=object)
    token = np.asarray(token, dtype=object)
    out = np.full(len(source), -1, dtype=np.int64)
    for agency, name in enumerate(sorted(exclusive_sources)):
        rows = (source == name) & pd.notna(token) & (token != "")
        codes, _ = pd.factorize(pd.Series(token[rows], dtype=object))
        out[rows] = (np.int64(agency + 1) << 40) + codes
    return out
