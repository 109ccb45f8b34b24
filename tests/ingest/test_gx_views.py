"""The GX worker reads a source's check views from Parquet as pandas would, holding repeated columns once.

Several checks read one field, so the views repeat it; `read_views` makes each set of identical
columns into Python objects once. What GX is given must not change: the same frame, the same dtypes,
the same outcomes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipeline.ingest.gx import GXValidator, read_views
from tests.ingest.test_read import ingest


def _frame() -> pd.DataFrame:
    names = pd.array(["ANNA", None, "=SUM(A1)", "ANNA"], dtype="string")
    frame = pd.DataFrame({
        "forename__max_length": names,
        "forename__no_formula": names.copy(),  # a twin: same values, same type
        "forename__as_object": names.astype(object),  # same values, another pandas type: not a twin
        "surname__max_length": pd.array(["LEE", "LEE", "LI", None], dtype="string"),
        "count__range": pd.array([0, 1, 2, 3], dtype="Int64"),  # equal to the index's values
        "dob__date_range": pd.to_datetime(["2001-02-03", None, "1999-12-31", "2020-01-01"]),
    })
    frame.index = pd.Index([0, 1, 2, 3], name="row_number")
    return frame


def test_the_views_read_are_the_frame_pandas_reads(tmp_path):
    path = tmp_path / "views.parquet"
    _frame().to_parquet(path)
    pd.testing.assert_frame_equal(read_views(path), pd.read_parquet(path), check_exact=True)


def test_identical_columns_share_one_array_and_other_types_stay_apart(tmp_path):
    path = tmp_path / "views.parquet"
    _frame().to_parquet(path)
    views = read_views(path)
    assert np.shares_memory(views["forename__max_length"].array._ndarray, views["forename__no_formula"].array._ndarray)
    assert views["forename__as_object"].dtype == object
    assert views.index.name == "row_number" and list(views.index) == [0, 1, 2, 3]


def test_gx_finds_the_same_outcomes_in_the_views_read_back(schemas, tmp_path):
    _, validated = ingest("formula", schemas)
    path = tmp_path / "views.parquet"
    validated.views.to_parquet(path)
    validator = GXValidator(tmp_path / "docs", dt.datetime(2026, 10, 31))
    in_memory = validator.validate("in_memory", validated.checks, validated.views)
    read_back = validator.validate("read_back", validated.checks, read_views(path))
    assert read_back == in_memory
    assert any(not o.success for o in read_back)  # the case has failing rows: the comparison is not of empty results
