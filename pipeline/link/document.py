"""`linkage_model.json`: the model a run trained, each figure named for what it is, and read back.

An analyst opening the file should not have to know Fellegi-Sunter to read it: `"prior": 0.836`
alone does not say it is a probability, nor that pairs.parquet's `w_prior` is its weight. So beside
the figures the run has always written (`prior`, `thresholds`, `training_pairs`, `levels`, kept as
they were) the document carries `figures` (each key: its unit and meaning), the prior as a weight,
the features and the columns of pairs.parquet they fill, the blocking passes (the bit of `passes`
each sets and its name in `blocking_passes`) and the identity rules that can refuse a link.

`read_model` gives it back typed (`RunModel`), so `explain-pair` weighs a pair with the run's own
model and passes, not with today's linkage.yaml.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.link.model import FEATURES, LEVELS, FSModel
from pipeline.link.settings import BlockingPass, Identity, LinkageSettings, Model

MODEL_FILE = "linkage_model.json"

# What each feature of the model compares (LEVELS names its levels).
COMPARES = {"identity": "forename x date of birth (one feature: twins share a birth date, not a forename)",
            "family": "surname x place (one feature: a household shares a surname and an address)",
            "sex": "sex"}


@dataclass(frozen=True)
class Figure:
    """One key of linkage_model.json: its unit and what it means."""

    key: str
    unit: str
    meaning: str


FIGURES = (
    Figure("prior", "probability (0 to 1)",
           "the share of candidate pairs that are one person, before any comparison is weighed: learnt by EM over "
           "the pairs no agency id labels"),
    Figure("prior_weight", "bits (log2 of prior / (1 - prior))",
           "the prior as a weight: where every pair's match weight starts; pairs.parquet's w_prior"),
    Figure("levels[].m", "probability (0 to 1)",
           "how often a pair of records of one person falls in this level of the feature"),
    Figure("levels[].u", "probability (0 to 1)",
           "how often a pair of records of two people falls in this level (learnt from two ids of one agency)"),
    Figure("levels[].weight", "bits (log2 of m / u)",
           "what a pair in this level adds to its match weight (negative: evidence of two people); "
           "pairs.parquet's w_<feature>, 0 where a value is missing"),
    Figure("match_weight", "bits",
           "in pairs.parquet: prior_weight plus each feature's weight (the w_ columns); "
           "match_probability = 1 / (1 + 2^-match_weight)"),
    Figure("thresholds.match_threshold", "probability",
           "a pair at or above it is linked, unless a rule under identity or a reviewer refuses it"),
    Figure("thresholds.review_threshold", "probability",
           "a pair from here up to match_threshold is not linked but put to clerical review"),
    Figure("thresholds.cannot_link_below", "probability",
           "a pair below it is two people: no person may hold both records, whatever links them through others"),
    Figure("thresholds.other_flat_is_another_person", "true or false",
           "two records in two flats of one building are never one person"),
    Figure("thresholds.follow_moves", "passes",
           "how often pairs split by a move a linked person made are compared again as at one address"),
    Figure("thresholds.name_frequency_cap", "bits",
           "the most a rare or common full name adds or takes away (w_name_frequency); 0: off"),
    Figure("training_pairs.one_person", "pairs",
           "candidate pairs sharing one agency's person id (labelled one person)"),
    Figure("training_pairs.two_people", "pairs",
           "candidate pairs of two ids of one agency (labelled two people): they give u"),
    Figure("training_pairs.unlabelled", "pairs", "candidate pairs of no one agency: the pairs the model decides"),
    Figure("blocking_passes[]", "passes",
           "records are compared only when they agree on every column of one pass; bit k of pairs.parquet's "
           "passes is pass k (mask 2^k), and blocking_passes names the passes"),
    Figure("identity.distinct_tokens", "sources",
           "agencies holding no duplicate ids: two of their ids are two people, and no person holds both"),
    Figure("identity.undated_means_adult", "sources",
           "sources listing adults without a birth date: such a record is not of anyone under undated_min_age"),
)


def model_document(model: FSModel, settings: LinkageSettings) -> str:
    """`linkage_model.json`: every level's m, u and weight, the prior (as a probability and as a weight), the
    thresholds, the training pairs, the blocking passes, the identity rules, and what each figure is."""
    document = {
        "about": "The Fellegi-Sunter model this run trained and linked with. `figures` says what each key is; "
                 "pairs.parquet's w_ columns are its weights for each pair.",
        "prior": model.prior, "prior_weight": model.prior_weight(),
        "thresholds": settings.model.model_dump(), "training_pairs": model.labelled,
        "levels": model.table().to_dict(orient="records"),
        "features": [{"feature": f, "compares": COMPARES[f], "level_column": f"{f}_level", "weight_column": f"w_{f}",
                      "levels": len(LEVELS[f])} for f in FEATURES],
        "blocking_passes": [{"bit": k, "mask": 1 << k, "name": p.name, "columns": list(p.columns),
                             "max_block": p.max_block} for k, p in enumerate(settings.blocking)],
        "identity": settings.identity.model_dump(),
        "figures": {f.key: {"unit": f.unit, "meaning": f.meaning} for f in FIGURES},
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


@dataclass(frozen=True)
class RunModel:
    """A run's linkage_model.json read back: its model, thresholds, and (when the file records them, as runs
    since the file named its figures do) its blocking passes and identity rules; otherwise None."""

    model: FSModel
    thresholds: Model
    passes: list[BlockingPass] | None
    identity: Identity | None

    def settings(self, today: LinkageSettings) -> LinkageSettings:
        """Linkage settings as the run had them, today's where the run's file does not say."""
        return today.model_copy(update={"model": self.thresholds, "blocking": self.passes or today.blocking,
                                        "identity": self.identity or today.identity})


def read_model(path: Path) -> RunModel:
    """linkage_model.json as the run wrote it: m and u per level (weights follow), the prior, the settings."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    m = {f: np.ones(len(LEVELS[f])) for f in FEATURES}
    u = {f: np.ones(len(LEVELS[f])) for f in FEATURES}
    for level in document["levels"]:
        m[level["feature"]][level["level"]] = level["m"]
        u[level["feature"]][level["level"]] = level["u"]
    passes = [BlockingPass(tuple(p["columns"]), p.get("max_block")) for p in document["blocking_passes"]] \
        if "blocking_passes" in document else None
    return RunModel(model=FSModel(m=m, u=u, prior=float(document["prior"]),
                                  labelled=dict(document.get("training_pairs") or {})),
                    thresholds=Model(**document["thresholds"]), passes=passes,
                    identity=Identity(**document["identity"]) if "identity" in document else None)
