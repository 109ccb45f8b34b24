"""`python -m pipeline gateways`: the officer's account of each source, from the registry, the rule set
and the ledger alone."""

from __future__ import annotations

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
