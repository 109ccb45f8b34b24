"""The run report's facts and charts on small hand-made tables, the edges included: nothing quarantined,
no pair in a decision, sizes past the cap, no family meeting any criterion."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.link.decisions import LABELS
from pipeline.report.html import facts, quality
from pipeline.report.html.svg import HBar, Series, hbars, num, pct, vbars

QUARANTINE = ["source", "row_number", "source_record_id", "column", "reason"]


def test_a_run_with_nothing_quarantined_says_so_and_draws_no_chart():
    q = facts.quality_facts(pd.DataFrame({c: pd.Series(dtype="string") for c in QUARANTINE}))
    assert (q.bad_rows, q.entries, q.by_column, q.reasons) == (0, 0, (), ())
    section = quality.section(q)
    assert "No row was quarantined" in section.body and "<svg" not in section.body


def test_a_row_failing_two_columns_is_one_bad_row_counted_under_each_column():
    q = facts.quality_facts(pd.DataFrame([["police", 4, "P1", "dob", "not a date"],
                                          ["police", 4, "P1", "postcode", "not a postcode"],
                                          ["police", 9, "P7", "dob", "not a date"]], columns=QUARANTINE))
    assert q.bad_rows == 2 and q.entries == 3
    assert q.by_column == (("police", "dob", 2), ("police", "postcode", 1))
    assert [(r.column, r.rows) for r in q.reasons] == [("dob", 2), ("postcode", 1)]


def test_the_match_weight_bins_span_both_thresholds_and_count_every_pair_once():
    t = facts.Thresholds(review=0.2, match=0.5)
    pairs = pd.DataFrame({"match_weight": [3.2, 3.3, 9.9, -0.4],
                          "decision": ["linked", "linked", "linked", "clerical review"]})
    h = facts.weight_histogram(pairs, t)
    assert h.bins[0] <= t.review_weight and h.bins[-1] >= 9.9
    assert set(h.counts) == {"linked", "clerical review"}  # a decision with no pair has no row
    assert sum(h.counts["linked"]) == 3 and sum(h.counts["clerical review"]) == 1
    assert facts.weight_of(0.5) == 0.0 and round(facts.weight_of(0.2), 6) == -2.0
    assert set(LABELS) >= set(h.counts)


def test_sizes_from_the_cap_up_are_one_bar():
    assert facts._sizes(pd.Series([1, 1, 2, 10, 14, 40])) == {
        "1": 2, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0, "7": 0, "8": 0, "9": 0, "10+": 3}


def test_link_rates_count_people_not_records():
    links = pd.DataFrame({"source": ["police", "police", "health", "health", "schools"],
                          "person_key": ["P1", "P1", "P1", "P2", "P3"]})
    sources, people_in, together = facts.link_rates(links)
    assert sources == ("health", "police", "schools")
    assert people_in == (2, 1, 1)
    assert together[0] == (2, 1, 0) and together[1] == (1, 1, 0)


def test_overlaps_are_exact_combinations_among_families_commonest_first():
    met = {"a": np.array([1, 1, 1, 0, 1], bool), "b": np.array([1, 0, 0, 1, 1], bool)}
    family = np.array([1, 1, 1, 1, 0], bool)  # the last household has no child: not counted
    eligible = np.array([1, 0, 0, 0, 0], bool)
    shown, other, meeting = facts._overlaps(met, family, eligible, ["a", "b"])
    assert meeting == 4 and other is None
    assert [(o.criteria, o.families, o.eligible) for o in shown] == [(("a",), 2, 0), (("a", "b"), 1, 1),
                                                                     (("b",), 1, 0)]
    assert facts._overlaps(met, np.zeros(5, bool), eligible, ["a", "b"]) == ((), None, 0)


def test_charts_are_the_same_text_for_the_same_numbers_and_say_small_shares_truthfully():
    rows = [HBar("police", (3, 1)), HBar("health", (0, 0))]
    series = [Series("accepted", "#0072b2"), Series("quarantined", "#e69f00")]
    one, two = hbars("x", rows, series, "x"), hbars("x", rows, series, "x")
    assert one == two and 'data-chart="x"' in one and "police: quarantined 1" in one
    assert vbars("y", ["1", "2"], [[0, 0]], series[:1], "y", "x", "y")  # all zero: still a chart, no division
    assert pct(1, 10_000, 1) == "<0.1%" and pct(0, 5) == "0%" and pct(1, 0) == "–"
    assert num(-2.0, 1) == "\u22122.0" and num(12_345) == "12,345"
