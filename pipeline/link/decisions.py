"""What became of each scored candidate pair: linked, joined through others, for review, refused, or not.

The decision an analyst reads in `pairs.parquet` (`decision`), as an enum so code and file say the
same thing: the codes are the categories' order in the file.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from pipeline.link.settings import Model


class Decision(IntEnum):
    LINKED = 0  # at or above the match threshold and joined (or one agency token)
    SAME_PERSON_THROUGH_OTHER_LINKS = 1  # below the threshold, but one person through other links
    CLERICAL_REVIEW = 2  # in the review band and not joined: put to a clerical reviewer
    REFUSED_TOKENS_DIFFER = 3  # strong enough, but two tokens of an agency that holds no duplicates
    REFUSED_TWO_PEOPLE = 4  # strong enough, but the join would put two different people together
    NOT_LINKED = 5

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Decision.LINKED: "linked",
    Decision.SAME_PERSON_THROUGH_OTHER_LINKS: "same person through other links",
    Decision.CLERICAL_REVIEW: "clerical review",
    Decision.REFUSED_TOKENS_DIFFER: "refused: agency tokens differ",
    Decision.REFUSED_TWO_PEOPLE: "refused: would join two different people",
    Decision.NOT_LINKED: "not linked",
}
LABELS = tuple(d.label for d in Decision)  # the categories of pairs.parquet's `decision`, in code order


def decide(p: np.ndarray, same_token: np.ndarray, together: np.ndarray, exclusive_pair: np.ndarray,
           other_flat: np.ndarray, model: Model) -> np.ndarray:
    """Per pair, its Decision code.

    `same_token`: one agency token; `together`: both records ended in one person; `exclusive_pair`:
    two tokens of an agency that holds no duplicates; `other_flat`: two flats of one building.
    A strong pair left apart by one of those two rules is refused (naming the rule); any other
    strong pair left apart was refused because joining it would merge two different people.
    """
    strong = p >= model.match_threshold
    refused_by_rule = (exclusive_pair | other_flat) & strong & ~together
    return np.select(
        [same_token | (together & strong), together, refused_by_rule & other_flat, refused_by_rule, strong,
         p >= model.review_threshold],
        [Decision.LINKED, Decision.SAME_PERSON_THROUGH_OTHER_LINKS, Decision.REFUSED_TWO_PEOPLE,
         Decision.REFUSED_TOKENS_DIFFER, Decision.REFUSED_TWO_PEOPLE, Decision.CLERICAL_REVIEW],
        default=Decision.NOT_LINKED).astype(np.int8)
