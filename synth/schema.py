"""The exact shape of each agency extract, copied from the agencies' extract specification (v1).

Kept here, beside the generator, so that the synthetic files follow the specification even
before (and independently of) the project's own `schemas/` contracts: a mismatch between the
two then shows up as a failing ingest test rather than being hidden by shared code.
"""

from __future__ import annotations

SOURCES: tuple[str, ...] = (
    "police",
    "schools",
    "health",
    "electoral_register",
    "benefits",
    "children_social_care",
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "police": (
        "source_record_id",
        "nominal_token",
        "surname",
        "forename",
        "dob",
        "sex",
        "address",
        "postcode",
        "event_date",
        "event_type",
        "outcome",
        "role",
        "extract_date",
    ),
    "schools": (
        "source_record_id",
        "upn_token",
        "legal_forename",
        "preferred_forename",
        "legal_surname",
        "dob",
        "gender",
        "address_line_1",
        "address_line_2",
        "address_line_3",
        "postcode",
        "uprn",
        "school_urn",
        "academic_year",
        "term",
        "sessions_possible",
        "sessions_authorised",
        "sessions_unauthorised",
        "suspensions",
        "permanent_exclusion",
        "provision",
        "extract_date",
    ),
    "health": (
        "source_record_id",
        "nhs_number_token",
        "forename",
        "surname",
        "dob",
        "sex",
        "address_line_1",
        "address_line_2",
        "address_line_3",
        "postcode",
        "gp_practice_code",
        "mental_health",
        "substance_misuse",
        "ae_attendances_12m",
        "extract_date",
    ),
    "electoral_register": (
        "source_record_id",
        "elector_number",
        "forename",
        "middle_names",
        "surname",
        "address_line_1",
        "address_line_2",
        "address_line_3",
        "address_line_4",
        "postcode",
        "uprn",
        "attainer_dob",
        "extract_date",
    ),
    "benefits": (
        "source_record_id",
        "claim_token",
        "ni_number_token",
        "role",
        "forename",
        "surname",
        "dob",
        "sex",
        "address_line_1",
        "address_line_2",
        "address_line_3",
        "postcode",
        "uprn",
        "benefit_type",
        "uc_work_group",
        "claim_start",
        "claim_end",
        "extract_date",
    ),
    "children_social_care": (
        "source_record_id",
        "child_token",
        "forename",
        "surname",
        "dob",
        "sex",
        "address_line_1",
        "address_line_2",
        "postcode",
        "uprn",
        "category",
        "start_date",
        "end_date",
        "extract_date",
    ),
}

# Prefix of source_record_id per source: ids are prefix + zero-padded running number.
RECORD_ID_PREFIX: dict[str, str] = {
    "police": "POL",
    "schools": "SCH",
    "health": "HLT",
    "electoral_register": "ELR",
    "benefits": "BEN",
    "children_social_care": "CSC",
}

# Date columns and the format each source writes them in (police uses DD/MM/YYYY).
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "police": ("dob", "event_date"),
    "schools": ("dob",),
    "health": ("dob",),
    "electoral_register": ("attainer_dob",),
    "benefits": ("dob", "claim_start", "claim_end"),
    "children_social_care": ("dob", "start_date", "end_date"),
}
DMY_SOURCES: frozenset[str] = frozenset({"police"})

TRUTH_COLUMNS: tuple[str, ...] = ("source", "source_record_id", "person_id", "household_id")
HOUSEHOLD_COLUMNS: tuple[str, ...] = ("household_id", "uprn", "postcode", "members", "children")
DEFECT_COLUMNS: tuple[str, ...] = ("source", "source_record_id", "kind")
HARD_CASE_COLUMNS: tuple[str, ...] = ("kind", "source", "source_record_id", "person_id")
