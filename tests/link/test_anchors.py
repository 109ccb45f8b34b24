"""Each person is labelled by its anchor: the record with the smallest identity, the first row of equals."""

from __future__ import annotations

import numpy as np

from pipeline.link.people import anchor_labels, ident_order


def test_each_cluster_is_labelled_by_the_position_of_its_smallest_ident():
    ident = np.array(["police\x1fP2", "health\x1fH9", "schools\x1fS1", "health\x1fH1", "health\x1fH5"], dtype=object)
    label = np.array([5, 5, 7, 7, 7])
    assert anchor_labels(ident_order(ident), label).tolist() == [1, 1, 3, 3, 3]


def test_of_equal_idents_the_first_row_anchors():
    ident = np.array(["health\x1fH1", "health\x1fH1", "health\x1fH0"], dtype=object)
    assert anchor_labels(ident_order(ident), np.array([0, 0, 2])).tolist() == [0, 0, 2]


def test_text_is_ordered_by_code_point_as_python_orders_it():
    ident = np.array(["health\x1fé", "health\x1fz", "health\x1fZ", "health\x1f\U0001F600", "health\x1fa"], dtype=object)
    assert ident_order(ident).tolist() == sorted(range(len(ident)), key=lambda k: ident[k])
