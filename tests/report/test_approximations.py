"""The summaries say what each criterion approximates: the closing summary on the terminal and the Prefect
summary list the rule set's criteria with the framework's descriptor (quoted, or marked as a paraphrase),
a numbered source and the approximation note, from the rule file's words alone."""

from __future__ import annotations

import re

import pytest

from pipeline.criteria.rules import ELIGIBILITY, load_rule_set
from pipeline.report.markdown import approximations_markdown
from pipeline.report.terminal import WIDTH, approximation_lines


def flat(text: str) -> str:
    """Text with its line wrapping undone, so a wrapped note can be found whole."""
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def phase1(schemas):
    return load_rule_set("phase1", schemas.contracts)


def test_the_terminal_lists_every_criterion_with_its_descriptor_source_and_note(phase1):
    lines = approximation_lines(tuple(phase1.approximations()))
    assert lines[0].startswith("  criteria and what they approximate")
    text = flat("\n".join(lines))
    for a in phase1.approximations():
        assert f" {a.name}: {a.framework} [" in text, a.name
        assert f"approximation: {flat(a.approximation)}" in text, a.name
    # Two documents cited: each printed once, numbered, with its URL.
    assert text.count("https://democracy.havering.gov.uk/mgAi.aspx?ID=3072") == 1
    assert re.search(r"\[1\] The Troubled Families programme: Financial framework .* \(2012\), "
                     r"https://democracy\.havering\.gov\.uk/", text)
    assert "[2] The Troubled Families programme" in text and "devon.gov.uk" in text
    assert " local_filter: a local criterion of the council's choosing" in text and "(paraphrase) [2]" in text


def test_the_terminal_wraps_the_notes_to_its_width_without_breaking_a_url(phase1):
    lines = approximation_lines(tuple(phase1.approximations()))
    assert all(len(line) <= WIDTH or "https://" in line for line in lines)
    assert any("https://democracy.havering.gov.uk/mgAi.aspx?ID=3072" in line for line in lines)  # on one line
    assert not any(line.rstrip().endswith("as-") for line in lines)  # "as-of" kept whole


def test_the_prefect_summary_has_a_section_on_what_the_criteria_approximate(schemas):
    rules = load_rule_set("supporting_families", schemas.contracts)
    text = "\n".join(approximations_markdown(tuple(rules.approximations())))
    assert "\n## Criteria and what they approximate\n" in text
    for a in rules.approximations():
        assert f"- **{a.name}**: {a.framework} [1]. *Approximation:* {a.approximation}" in text, a.name
    assert "\u201cFamilies diverted from crime\u201d" in text
    assert re.search(r"^1\. Supporting Families programme guidance 2022 to 2025 .*\(2022\), "
                     r"https://www\.gov\.uk/government/publications/supporting-families-programme-guidance-2022-to-"
                     r"2025/chapter-4-identifying-and-working-with-families", text, re.M)


def test_a_council_file_without_sources_or_notes_is_summarised_with_what_it_gives(tmp_path, schemas):
    import yaml

    from tests.criteria.test_descriptors import CRITERIA

    data = yaml.safe_load((CRITERIA / "phase2.yaml").read_text(encoding="utf-8"))
    for criterion in data["criteria"].values():
        criterion["framework"] = {"descriptor": "our outcomes plan's words", "wording": "quote"}
        criterion.pop("approximation")
    data["eligibility"].pop("framework")
    path = tmp_path / "council.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    approximations = tuple(load_rule_set(str(path), schemas.contracts).approximations())
    terminal = "\n".join(approximation_lines(approximations))
    assert f"    {ELIGIBILITY}: (the rule file gives no framework descriptor)" in terminal
    assert "    crime_asb: \u201cour outcomes plan's words\u201d\n" in terminal + "\n"
    markdown = "\n".join(approximations_markdown(approximations))
    assert "- **crime_asb**: \u201cour outcomes plan's words\u201d." in markdown and "Sources:" not in markdown
