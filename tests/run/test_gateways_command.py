"""`python -m pipeline gateways`: the officer's account of each source, from the registry, the rule set
and the ledger alone."""

from __future__ import annotations

import datetime as dt

from pipeline.cli import main


def account(monkeypatch, capsys, ledger, *extra: str) -> str:
    monkeypatch.setenv("PIPELINE_LEDGER", str(ledger))
    assert main(["gateways", *extra]) == 0
    return capsys.readouterr().out


def test_each_source_shows_its_basis_its_agreement_on_the_day_its_last_extract_and_what_depends_on_it(
        tiny_run, monkeypatch, capsys):
    out = account(monkeypatch, capsys, tiny_run.ledger, "--processing-date", "2027-06-01")
    police = out[out.index("\npolice\n"):].split("\n\n")[0]
    assert "  gateway:    Crime and Disorder Act 1998" in police
    assert "  agreement:  DSA-POL-2025-007, 2025-04-01 to 2028-03-31: in force until 2028-03-31" in police
    assert "  last extract: as of 2026-10-31 (run " in police and ", used)" in police
    # Under the default rule set, Supporting Families.
    assert "  criteria that read it: crime_asb, domestic_abuse, secure_housing (not assessed without it)" in police
    for name in ("PEMBERTON", "OKONKWO"):  # the tiny set's people: never read, never shown
        assert name not in out.upper()


def test_an_agreement_about_to_lapse_or_lapsed_says_so(tmp_path, monkeypatch, capsys):
    soon = account(monkeypatch, capsys, tmp_path / "ledger.jsonl", "--processing-date", "2028-02-15")
    assert "DSA-POL-2025-007, 2025-04-01 to 2028-03-31: in force, EXPIRING in 45 days (2028-03-31)" in soon
    late = account(monkeypatch, capsys, tmp_path / "ledger.jsonl", "--processing-date", "2028-04-01")
    assert "DSA-POL-2025-007, 2025-04-01 to 2028-03-31: EXPIRED on 2028-03-31: the source is refused" in late
    assert "  last extract: none received" in late  # an empty ledger: nothing has come in


def block(out: str, source: str) -> str:
    start = out.index(f"\n{source}\n")
    rest = out[start + 1:].split("\n")
    lines = [rest[0]] + [ln for ln in _until_next_source(rest[1:])]
    return "\n".join(lines)


def _until_next_source(lines: list[str]):
    for line in lines:
        if line and not line.startswith(" "):
            return
        yield line


def test_each_source_shows_its_whole_lawful_basis_dpia_status_and_sign_off(tmp_path, monkeypatch, capsys):
    out = account(monkeypatch, capsys, tmp_path / "ledger.jsonl", "--processing-date", "2027-06-01")
    health = block(out, "health")
    assert "<https://www.legislation.gov.uk/ukpga/2006/41/section/251> (route: nhs_s251)" in health
    assert "  article 9:  UK GDPR Art 9(2)(g)" in health and "DPA 2018 Sch 1 Part 2 para 18" in health
    assert "  approval:   Confidentiality Advisory Group CAG 25/CAG/0000 (example)" in health
    assert "  DPIA:       DPIA-SF-2025-01 dated 2025-03-01, review by 2027-09-01" in health
    assert "  suppression: national data opt-out list" in health
    assert "  signed off: Caldicott Guardian, 2025-03-20 (local references are examples: replace them)" in health
    assert "  rows:       benefit_type not in [PIP]" in block(out, "benefits")
    assert "(route: open_register)" in block(out, "electoral_register")


def test_a_dpia_due_for_review_or_overdue_says_so(tmp_path, monkeypatch, capsys):
    due = account(monkeypatch, capsys, tmp_path / "ledger.jsonl", "--processing-date", "2027-08-01")
    assert "  DPIA:       DPIA-SF-2025-01 dated 2025-03-01, review DUE in 31 days (2027-09-01)" in block(due, "police")
    assert "  warning:    DPIA DPIA-SF-2025-01 is due for review on 2027-09-01, in 31 days" in block(due, "police")
    late = account(monkeypatch, capsys, tmp_path / "ledger.jsonl", "--processing-date", "2027-09-02")
    assert "review OVERDUE since 2027-09-01" in block(late, "police")


def test_an_incomplete_entry_is_shown_with_what_it_lacks(schemas):
    from pipeline.report.gateways import _basis_lines

    bare = schemas.gateways["health"].model_copy(update={"approval": None, "dpia": None})
    lines = _basis_lines(bare, dt.date(2027, 6, 1), 60)
    assert lines[-1] == ("  INCOMPLETE: the source is refused until the entry holds: dpia; approval (s.251 support "
                         "is granted per application: its reference)")
