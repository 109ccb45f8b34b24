"""Tunable rates of the synthetic authority, in one place.

Defaults aim at a realistic English authority: household mix and size close to the 2021
census (about 2.3 residents per household, a fifth of residents children), and problems
concentrated in a minority of households so that roughly 1-3% of households meet at least two
of the six phase 2 criteria. Change them here (or pass a modified copy) rather than in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Household types: (name, share of households).
HOUSEHOLD_TYPES: tuple[tuple[str, float], ...] = (
    ("single_adult", 0.17),
    ("single_pensioner", 0.13),
    ("couple", 0.24),
    ("couple_dependent_children", 0.17),
    ("couple_adult_children", 0.06),
    ("lone_parent_dependent_children", 0.07),
    ("lone_parent_adult_children", 0.04),
    ("multi_generational", 0.04),
    ("shared", 0.08),
)
HH = {name: i for i, (name, _) in enumerate(HOUSEHOLD_TYPES)}

# Shares of naming traditions among households (see names.GROUPS).
GROUP_SHARES: tuple[float, ...] = (0.735, 0.06, 0.07, 0.04, 0.04, 0.02, 0.02, 0.015)


@dataclass(frozen=True)
class SynthConfig:
    """Rates used by the generator. Probabilities are per household unless said otherwise."""

    defect_rate: float = 0.001
    # Need: share of households with moderate and with high need, by household type multiplier.
    need_moderate: float = 0.06
    need_high: float = 0.025
    need_type_multiplier: dict[str, float] = field(
        default_factory=lambda: {
            "single_adult": 1.1,
            "single_pensioner": 0.3,
            "couple": 0.5,
            "couple_dependent_children": 1.1,
            "couple_adult_children": 0.8,
            "lone_parent_dependent_children": 2.2,
            "lone_parent_adult_children": 1.2,
            "multi_generational": 1.4,
            "shared": 1.0,
        }
    )
    # Hard cases.
    twins: float = 0.04  # of households with two or more dependent children
    twins_same_sex: float = 0.6
    namesake_son: float = 0.05  # of households with a father and a son living together
    married: float = 0.62  # of opposite-sex couples
    took_partner_name: float = 0.88  # of married women
    double_barrel_married: float = 0.03
    mover: float = 0.14  # households that moved in the last two years
    mover_from_outside: float = 0.3  # of movers: previous address outside the authority
    # Coverage.
    gp_registered: float = 0.975
    health_duplicate: float = 0.004  # of patients: a second registration under another NHS number
    police_duplicate: float = 0.05  # of police nominals with 2+ rows: a second nominal number
    electoral_coverage: float = 0.9
    attainer_coverage: float = 0.55
    vacancy: float = 0.04  # share of dwellings with no household


DEFAULT = SynthConfig()
