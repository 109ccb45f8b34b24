"""The model's forename levels are in order: agreeing never weighs less than nearly agreeing.

At one birth-date level (the register's "unknown" among them), the weight of "forename same" is at
least that of "close", which is at least that of "similar", at least that of "different". Levels
that training leaves out of order are pooled: they share the pool's likelihood ratio.
"""

from __future__ import annotations

import numpy as np

from pipeline.link.model import (
    IDENTITY,
    LEVELS,
    FSModel,
    _pooled_monotone,
    forename_order_violations,
    monotone_forename,
)
from tests.conftest import CliRun

SAME, CLOSE = 3, 2  # forename levels
UNKNOWN_BIRTH = IDENTITY.nb  # the birth-date level "unknown"


def identity_level(forename: int, birth: int) -> int:
    return forename * (IDENTITY.nb + 1) + birth


def test_pooled_levels_never_fall_in_ratio_and_keep_their_total():
    rng = np.random.default_rng(7)
    for _ in range(200):
        m, u = rng.random(4), rng.random(4) + 0.01
        out = _pooled_monotone(m, u)
        ratio = out / u
        assert (np.diff(ratio) >= -1e-12).all()
        assert np.isclose(out.sum(), m.sum())


def test_levels_already_in_order_are_left_as_they_are():
    m, u = np.array([0.01, 0.04, 0.15, 0.8]), np.array([0.7, 0.2, 0.06, 0.04])
    assert np.array_equal(_pooled_monotone(m, u), m)


def test_a_close_forename_never_outweighs_the_same_forename_when_the_birth_date_is_unknown():
    # Among two people at one address on the register, "same forename" is common (father and son)
    # and "close" rare (Paul and Paula): u alone would weigh close above same.
    m = {f: np.full(len(LEVELS[f]), 1.0 / len(LEVELS[f])) for f in LEVELS}
    u = {f: np.full(len(LEVELS[f]), 1.0 / len(LEVELS[f])) for f in LEVELS}
    m["identity"][identity_level(SAME, UNKNOWN_BIRTH)] = 0.30
    m["identity"][identity_level(CLOSE, UNKNOWN_BIRTH)] = 0.05
    u["identity"][identity_level(SAME, UNKNOWN_BIRTH)] = 0.10
    u["identity"][identity_level(CLOSE, UNKNOWN_BIRTH)] = 0.005
    unordered = FSModel(m=m, u=u, prior=0.1)
    assert forename_order_violations(unordered)  # close (x10) weighs more than same (x3)

    ordered = FSModel(m={**m, "identity": monotone_forename(m["identity"], u["identity"])}, u=u, prior=0.1)
    assert forename_order_violations(ordered) == []
    w = ordered.weights()["identity"]
    assert w[identity_level(SAME, UNKNOWN_BIRTH)] >= w[identity_level(CLOSE, UNKNOWN_BIRTH)]


def test_the_model_the_sample_trains_has_its_forename_levels_in_order(sample_run: CliRun):
    from pipeline.link.document import read_model

    model = read_model(sample_run.out / "linkage_model.json").model
    assert forename_order_violations(model) == []
