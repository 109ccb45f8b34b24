"""Contracts in schemas/ encode the agencies' extract specification exactly, and a broken one fails at start, by name.

`tests/fixtures/extracts-spec-v1.md` is a verbatim copy of the agencies' specification v1, kept so
the contracts are checked against the document the agencies were given (and the repository needs
nothing outside it). Refresh the copy when the agencies' specification changes.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.config import ContractError, load_schemas
from tests.conftest import FIXTURES, REPO

SOURCES = ["police", "schools", "health", "electoral_register", "benefits", "children_social_care"]
SPEC = FIXTURES / "extracts-spec-v1.md"
GENERATED = REPO / "docs" / "extract-specification.md"


def spec_columns(path: Path = SPEC) -> dict[str, list[str]]:
    """Column names per source, read from the tables of a specification (the agencies' copy by default)."""
    text = path.read_text(encoding="utf-8")
    columns: dict[str, list[str]] = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        title = block.split()[0]
        if title not in SOURCES:
            continue
        names: list[str] = []
        for line in block.splitlines():
            m = re.match(r"^\| ([a-z0-9_, ]+) \|", line)
            if m and m.group(1).strip() != "column":
                names += [n.strip() for n in m.group(1).split(",")]
        columns[title] = names
    return columns


def test_every_source_of_the_spec_has_a_contract_with_exactly_its_columns(schemas):
    expected = spec_columns()
    assert sorted(expected) == sorted(SOURCES)
    for source, names in expected.items():
        assert list(schemas.contracts[source].columns) == names, source


def test_the_generated_specification_lists_the_agencies_columns_in_their_order():
    generated = spec_columns(GENERATED)
    assert list(generated) == SOURCES
    assert list(generated.items()) == list(spec_columns(SPEC).items())


def test_police_dates_are_day_month_year_and_the_rest_iso(schemas):
    for source, contract in schemas.contracts.items():
        for name, col in contract.columns.items():
            if col.type == "date":
                expected = "%d/%m/%Y" if (source, name) in {("police", "dob"), ("police", "event_date")} \
                    else "%Y-%m-%d"
                assert col.date_format == expected, (source, name)


def test_identity_roles_are_declared_for_linkage(schemas):
    tokens = {s: c.columns_with_role("person_token") for s, c in schemas.contracts.items()}
    assert tokens == {"police": ["nominal_token"], "schools": ["upn_token"], "health": ["nhs_number_token"],
                      "electoral_register": [], "benefits": ["ni_number_token"],
                      "children_social_care": ["child_token"]}
    for contract in schemas.contracts.values():
        assert contract.columns_with_role("surname") and contract.columns_with_role("postcode")
    assert schemas.contracts["electoral_register"].columns_with_role("dob") == ["attainer_dob"]


def test_only_children_social_care_is_optional(schemas):
    assert {s for s, c in schemas.contracts.items() if not c.required_source} == {"children_social_care"}


def test_every_source_has_a_gateway_and_the_electoral_register_names_its_basis(schemas):
    assert set(schemas.gateways) == set(SOURCES)
    er = schemas.gateways["electoral_register"]
    assert "reg 107" in er.basis and er.statute
    assert schemas.gateways["benefits"].statute == "Welfare Reform Act 2012"
    assert schemas.gateways["police"].statute == "Crime and Disorder Act 1998"


# ---------------------------------------------------------------- broken contracts fail by name
@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", root)
    return root


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    ("file", "change", "words"),
    [
        ("sources/police.yaml", lambda d: d["columns"]["sex"].update(typo_key=1),
         "columns.sex.typo_key"),
        ("sources/police.yaml", lambda d: d["columns"]["dob"].update(type="datetime"), "columns.dob.type"),
        ("sources/schools.yaml", lambda d: d["rules"][2].update(limit="sessions_maybe"),
         "unknown column 'sessions_maybe'"),
        ("sources/health.yaml", lambda d: d["columns"]["postcode"].update(format="zipcode"),
         "columns.postcode.format: unknown format 'zipcode'"),
        ("sources/police.yaml", lambda d: d["rules"].append({"kind": "sometimes", "column": "sex"}),
         "rules.5"),
        ("formats.yaml", lambda d: d["token"].update(pattern="^[0-9a-f{64}$"), "token.pattern"),
        ("gateways.yaml", lambda d: d["sources"]["electoral_register"].pop("basis"),
         "sources.electoral_register.basis"),
        ("gateways.yaml", lambda d: d["sources"]["police"].update(allowed_columns=["source_record_id", "shoe_size"]),
         "sources.police.allowed_columns.1"),
        ("gateways.yaml", lambda d: d["sources"]["health"]["agreement"].update(expires="2020-01-01"),
         "sources.health.agreement"),
        ("gateways.yaml", lambda d: d["sources"]["health"].update(purposes=["marketing"]),
         "sources.health.purposes.0"),
        ("settings.yaml", lambda d: d.update(max_bad_share=1.5), "max_bad_share"),
    ],
)
def test_a_broken_schema_file_fails_at_load_naming_the_file_and_key(schemas_copy, file, change, words):
    edit(schemas_copy / file, change)
    with pytest.raises(ContractError) as err:
        load_schemas(schemas_copy)
    message = str(err.value)
    assert str(schemas_copy / file) in message
    assert words in message


def test_invalid_yaml_names_the_file(schemas_copy):
    (schemas_copy / "sources" / "police.yaml").write_text("columns: [unclosed\n")
    with pytest.raises(ContractError, match=r"police\.yaml: not valid YAML"):
        load_schemas(schemas_copy)
