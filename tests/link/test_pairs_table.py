"""pairs.parquet explains itself: the passes that proposed a pair by name, and every part of its match weight."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.link.candidates import pass_names
from pipeline.link.settings import BlockingPass, load_linkage

PASSES = [BlockingPass(("dob", "surname_phonetic")), BlockingPass(("uprn", "forename_phonetic")),
          BlockingPass(("surname_phonetic", "forename_phonetic"), max_block=40)]


def test_a_pass_is_named_by_its_columns_and_its_block_limit():
    assert [p.name for p in PASSES] == ["dob + surname_phonetic", "uprn + forename_phonetic",
                                        "surname_phonetic + forename_phonetic (blocks of at most 40)"]


def test_the_bit_mask_is_decoded_into_the_names_of_the_passes_in_linkage_yaml_order():
    names = pass_names(np.array([0b001, 0b110, 0b101, 0]), PASSES)
    dob, uprn, names_only = (p.name for p in PASSES)
    assert names.tolist() == [[dob], [uprn, names_only], [dob, names_only], []]


def test_the_prior_weight_and_the_contributions_add_up_to_the_match_weight_in_the_file(sample_run):
    pairs = pd.read_parquet(sample_run.out / "pairs.parquet")
    parts = [c for c in pairs.columns if c.startswith("w_")]
    assert parts[0] == "w_prior" and set(parts) >= {"w_prior", "w_identity", "w_family", "w_sex"}
    total = sum(pairs[c] for c in parts)
    assert np.abs(total - pairs["match_weight"]).max() < 1e-9
    assert np.allclose(1 / (1 + 2.0 ** -pairs["match_weight"]), pairs["match_probability"])
    assert pairs["w_prior"].nunique() == 1 and pairs["w_prior"].iloc[0] > 0  # the prior alone favours a link


def test_each_pair_names_the_blocking_passes_its_bit_mask_sets(sample_run):
    pairs = pd.read_parquet(sample_run.out / "pairs.parquet")
    names = [p.name for p in load_linkage().blocking]
    decoded = [[n for k, n in enumerate(names) if mask >> k & 1] for mask in pairs["passes"]]
    assert [list(v) for v in pairs["blocking_passes"]] == decoded
    assert all(len(v) for v in decoded)  # every shown pair was proposed by some pass
