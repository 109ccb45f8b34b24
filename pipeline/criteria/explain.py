"""Why a household's verdict is what it is, in words, from the very rule semantics the engine applies.

The engine (`evaluate`, `criteria_met`) decides; this module only says it: each node of the
eligibility rule is evaluated by the engine on the household's one row, and described with the
counts the engine used, so the explanation can never disagree with the scoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.criteria.engine import counted, criteria_met, evaluate
from pipeline.criteria.rules import Rule, RuleNode, RuleSet

STATE = {True: "met", False: "not met", None: "not assessed"}


def met_frame(met: dict[str, bool | None]) -> pd.DataFrame:
    """One household's criteria as the engine reads them: one row, nullable booleans."""
    return pd.DataFrame({c: pd.array([v], dtype="boolean") for c, v in met.items()})


def describe(node: RuleNode, met: pd.DataFrame, problems: list[str], top: bool = True) -> str:
    """One node of the eligibility rule, in words, with this household's counts."""
    if isinstance(node, str):
        value = met[node].iloc[0]
        return f"{node} {STATE[None if pd.isna(value) else bool(value)]}"
    assert isinstance(node, Rule)
    if node.at_least is not None:
        names = counted(node, problems)
        hits = int(criteria_met(node, met, problems)[0])
        of = f"{len(names)} problems" if node.of is None else f"{len(names)} ({', '.join(names)})"
        needs = "; the rule needs" if top else ", needs"
        return f"{hits} of {of} met{needs} at least {node.at_least}"
    children = node.all_of or node.any_of or []
    inner = "; ".join(f"[{'holds' if evaluate(c, met, problems)[0] else 'fails'}] {describe(c, met, problems, False)}"
                      for c in children)
    word = "all of" if node.all_of else "any of"
    return f"the rule needs {word}: {inner}" if top else f"{word} ({inner})"


def plural(n: int, word: str, words: str) -> str:
    return f"{n} {word if n == 1 else words}"


@dataclass(frozen=True)
class Verdict:
    """A household under a rule set, as the rule decides it today, and why."""

    eligible: bool
    why: str  # the rule in words with this household's counts
    failing: list[str]  # what keeps it from being eligible


def verdict(rules: RuleSet, met: dict[str, bool | None], children: int) -> Verdict:
    """Whether a household with these criteria and children is eligible under `rules`, and why."""
    frame = met_frame(met)
    rule = rules.eligibility.rule
    why = describe(rule, frame, rules.problems)
    failing = [] if evaluate(rule, frame, rules.problems)[0] else ["the criteria met fall short of the rule"]
    if rules.eligibility.family_required:
        why += f" and a child ({plural(children, 'child', 'children')} in the household)"
        if children == 0:
            failing.append("no child in the household, so not a family")
    return Verdict(eligible=not failing, why=why, failing=failing)
