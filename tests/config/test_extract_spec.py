"""docs/extract-specification.md is the document the contracts in schemas/ generate, as committed.

Agencies build their extracts from the committed document and ingest checks them against the
contracts; these tests fail when one is changed without the other.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from pipeline.cli import main
from pipeline.config import ContractError, load_schemas
from pipeline.config.extract_spec import COMMAND, extract_spec_markdown, load_extract_spec
from tests.conftest import REPO

DOC = REPO / "docs" / "extract-specification.md"


def test_the_committed_specification_is_the_one_the_contracts_generate(schemas):
    expected = extract_spec_markdown(schemas, load_extract_spec())
    assert DOC.read_bytes() == expected.encode("utf-8"), \
        f"{DOC.relative_to(REPO)} is out of date: run `{COMMAND} > docs/extract-specification.md`"


def test_every_column_of_every_contract_says_what_it_means(schemas):
    assert schemas.contracts
    blank = [f"{source}.{name}" for source, contract in schemas.contracts.items()
             for name, col in contract.columns.items() if not col.description.strip()]
    assert blank == [], "columns without a description"


def test_markdown_prints_the_committed_document(capsys):
    assert main(["contracts", "--markdown"]) == 0
    assert capsys.readouterr().out == DOC.read_text(encoding="utf-8")


def test_check_exits_1_with_one_line_naming_an_edited_copy(tmp_path, capsys):
    original = DOC.read_text(encoding="utf-8")
    edited = tmp_path / "extract-specification.md"
    edited.write_text(original.replace("| yes, never blank |", "| yes, may be blank |", 1), encoding="utf-8")
    assert edited.read_text(encoding="utf-8") != original
    assert main(["contracts", "--check", str(edited)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(edited) in lines[0] and COMMAND in lines[0]


def test_check_exits_1_for_a_missing_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.md"
    assert main(["contracts", "--check", str(missing)]) == 1
    assert str(missing) in capsys.readouterr().err


def test_check_exits_0_for_the_committed_document(capsys):
    assert main(["contracts", "--check", str(DOC)]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("sources", "words"), [
    (["police", "schools", "health", "electoral_register", "benefits"], "does not list children_social_care"),
    (["police", "schools", "health", "electoral_register", "benefits", "children_social_care", "housing"],
     "no contract for housing"),
    (["police", "police", "schools", "health", "electoral_register", "benefits", "children_social_care"],
     "sources: Value error, listed more than once: police"),
])
def test_a_spec_whose_sources_do_not_match_the_contracts_fails_naming_extracts_yaml(tmp_path, sources, words):
    root = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas", root)
    spec_file = root / "extracts.yaml"
    data = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
    spec_file.write_text(yaml.safe_dump({**data, "sources": sources}, sort_keys=False), encoding="utf-8")
    with pytest.raises(ContractError) as err:
        extract_spec_markdown(load_schemas(root), load_extract_spec(root))
    assert str(spec_file) in str(err.value) and words in str(err.value)
