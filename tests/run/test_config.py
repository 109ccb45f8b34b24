"""A run's options are defined once (RunConfig) and mean the same on the command line and in the flow."""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
from dataclasses import MISSING
from pathlib import Path

import pytest

from pipeline.run.config import RunConfig


def parse(*args: str) -> RunConfig:
    parser = RunConfig.add_arguments(argparse.ArgumentParser(exit_on_error=False))
    return RunConfig.from_parameters(vars(parser.parse_args(list(args))))


def test_the_command_line_gives_every_option_its_type():
    config = parse("--extracts", "in", "--out", "out", "--rules", "phase1", "--as-of", "2026-10-31",
                   "--purpose", "support", "--allow-missing", "health", "--allow-missing", "schools",
                   "--max-bad-share", "0.3", "--force", "--caseworker-export", "--no-reuse")
    assert config == RunConfig(extracts=Path("in"), out=Path("out"), rules="phase1", as_of=dt.date(2026, 10, 31),
                               purpose="support", allow_missing=("health", "schools"), max_bad_share=0.3,
                               force=True, caseworker_export=True, reuse_ingest=False)


def test_options_left_out_take_their_defaults():
    assert parse("--extracts", "in", "--out", "out") == RunConfig(extracts=Path("in"), out=Path("out"))


def test_the_default_rule_set_is_the_most_recent_framework_supporting_families_everywhere_a_run_starts():
    from flows.identify_families import identify_families
    from flows.serve import deployment
    from pipeline.cli import build_parser
    from tests.conftest import REPO

    assert parse("--extracts", "in", "--out", "out").rules == "supporting_families"
    assert inspect.signature(identify_families.fn).parameters["rules"].default == "supporting_families"
    assert inspect.signature(deployment).parameters["rules"].default == "supporting_families"
    assert build_parser().parse_args(["gateways"]).rules == "supporting_families"
    assert "RULES    ?= supporting_families\n" in (REPO / "Makefile").read_text(encoding="utf-8")
    assert "(default supporting_families, the most recent framework)" in RunConfig.__dataclass_fields__[
        "rules"].metadata["option"].help


@pytest.mark.parametrize("args", [("--out", "out"), ("--extracts", "in", "--out", "o", "--max-bad-share", "2"),
                                  ("--extracts", "in", "--out", "o", "--as-of", "31/10/2026")])
def test_a_missing_or_malformed_option_is_a_usage_error(args):
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        parse(*args)


def test_flow_parameters_round_trip_to_the_same_config():
    config = RunConfig(extracts=Path("/in"), out=Path("/out"), allow_missing=("health",), as_of=dt.date(2026, 1, 2),
                       reuse_ingest=False)
    parameters = config.parameters()
    assert parameters["extracts"] == "/in" and parameters["allow_missing"] == ["health"]
    assert RunConfig.from_parameters(parameters) == config


def test_the_flow_takes_exactly_the_runs_options_with_the_same_defaults_and_a_required_output_root():
    from flows.identify_families import identify_families

    signature = inspect.signature(identify_families.fn).parameters
    options = {name: default for name, _, default in RunConfig.options()}
    assert set(signature) == set(options) | {"out_root"}
    assert signature["out_root"].default is inspect.Parameter.empty  # a dated folder under it, unless...
    for name, default in options.items():
        flow_default = signature[name].default
        if name == "out":
            assert flow_default is None  # ... out names the folder instead
        elif default is MISSING:
            assert flow_default is inspect.Parameter.empty, name
        else:
            assert flow_default == default, name


def test_every_option_has_a_flow_parameter_description_that_names_no_command_line_flag():
    for name, option, _ in RunConfig.options():
        assert option.description and "--" not in option.description, name
        assert "<" not in option.description, name  # the run form renders markdown: <source> would vanish


def test_the_caseworker_switch_says_it_writes_identifying_data():
    described = {name: option.description for name, option, _ in RunConfig.options()}
    assert described["caseworker_export"].startswith("WRITES IDENTIFYING DATA")
    assert all(word in described["caseworker_export"] for word in ("names", "dates of birth", "addresses"))
