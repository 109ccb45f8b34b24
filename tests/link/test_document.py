"""linkage_model.json names what each figure is, keeps the keys it always had, and reads back as the run's model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from pipeline.link.document import FIGURES, read_model
from pipeline.link.model import FEATURES, LEVELS


def document(run) -> dict:
    return json.loads((run.out / "linkage_model.json").read_text(encoding="utf-8"))


def test_the_keys_it_always_had_are_kept(sample_run):
    doc = document(sample_run)
    assert isinstance(doc["prior"], float) and 0 < doc["prior"] < 1
    assert {"match_threshold", "review_threshold", "cannot_link_below"} <= set(doc["thresholds"])
    assert set(doc["training_pairs"]) == {"one_person", "two_people", "unlabelled"}
    assert {"feature", "level", "meaning", "m", "u", "weight"} == set(doc["levels"][0])


def test_every_figure_of_the_file_is_named_with_its_unit_and_meaning(sample_run):
    doc = document(sample_run)
    figures = doc["figures"]
    assert set(figures) == {f.key for f in FIGURES}
    assert all(f["unit"] and f["meaning"] for f in figures.values())
    numbers = ["prior", "prior_weight", *(f"thresholds.{k}" for k in doc["thresholds"]),
               *(f"training_pairs.{k}" for k in doc["training_pairs"]), "levels[].m", "levels[].u", "levels[].weight"]
    assert [n for n in numbers if n not in figures] == []
    assert figures["prior"]["unit"].startswith("probability") and figures["prior_weight"]["unit"].startswith("bits")


def test_the_prior_is_given_as_a_weight_too_the_one_pairs_parquet_starts_from(sample_run):
    doc = document(sample_run)
    assert doc["prior_weight"] == np.log2(doc["prior"] / (1 - doc["prior"]))
    pairs = pd.read_parquet(sample_run.out / "pairs.parquet", columns=["w_prior"])
    assert (pairs["w_prior"] == doc["prior_weight"]).all()


def test_the_blocking_passes_say_which_bit_of_passes_each_sets_and_its_name(sample_run):
    doc = document(sample_run)
    pairs = pd.read_parquet(sample_run.out / "pairs.parquet", columns=["passes", "blocking_passes"])
    by_mask = {p["mask"]: p["name"] for p in doc["blocking_passes"]}
    assert [p["mask"] for p in doc["blocking_passes"]] == [1 << k for k in range(len(by_mask))]
    for mask, names in zip(pairs["passes"], pairs["blocking_passes"], strict=True):
        assert [by_mask[b] for b in by_mask if mask & b] == list(names)
    assert [(f["feature"], f["weight_column"]) for f in doc["features"]] == [(f, f"w_{f}") for f in FEATURES]


def test_read_back_it_is_the_model_the_run_weighed_pairs_with(sample_run):
    doc = document(sample_run)
    run = read_model(sample_run.out / "linkage_model.json")
    assert run.model.prior == doc["prior"] and run.model.prior_weight() == doc["prior_weight"]
    weights = run.model.weights()
    for level in doc["levels"]:
        assert weights[level["feature"]][level["level"]] == level["weight"]
    assert all(len(weights[f]) == len(LEVELS[f]) for f in FEATURES)
    assert [p.name for p in run.passes] == [p["name"] for p in doc["blocking_passes"]]
    assert run.identity.distinct_tokens == doc["identity"]["distinct_tokens"]
    assert run.thresholds.match_threshold == doc["thresholds"]["match_threshold"]
