"""`report.html`: the run told in one self-contained page, for research officers and analysts.

`report_facts` gathers what the page shows from the run's typed result and the tables it holds in
memory (the same tables it publishes), `render` draws it: HTML with inline SVG charts, one module
per section (`glance`, `quality`, `linkage`, `households`, `changes`). Counts and registry text
only, every ordering fixed and no clock read, so the same inputs give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.criteria.rules import RuleSet
from pipeline.link.model import FSModel
from pipeline.link.settings import Model
from pipeline.report import REPORT_FILE
from pipeline.report.headlines import flow_of, headline_figures
from pipeline.report.html import changes, glance, households, linkage, quality
from pipeline.report.html.facts import (
    ReportFacts,
    RunFacts,
    change_facts,
    household_facts,
    linkage_facts,
    quality_facts,
    source_facts,
)
from pipeline.report.html.page import page

if TYPE_CHECKING:  # pipeline.run imports the report to write it
    from pipeline.run.result import RunResult

__all__ = ["REPORT_FILE", "RunTables", "build", "render", "report_facts"]


@dataclass(frozen=True)
class RunTables:
    """What the run holds besides its `RunResult`: its published tables in memory, its model and rules."""

    quarantine: pd.DataFrame
    pairs: pd.DataFrame
    record_links: pd.DataFrame
    households: pd.DataFrame
    model: FSModel
    thresholds: Model
    rules: RuleSet
    processing_date: dt.date
    warning_days: int
    code_version: str
    reviewer: dict[str, int] | None = None  # review decisions applied (Linkage.decisions)
    previous_households: pd.DataFrame | None = None  # the previous run's households.parquet, with --previous


def report_facts(result: RunResult, tables: RunTables) -> ReportFacts:
    t = tables
    assert result.linkage is not None and result.scoring is not None
    sources = source_facts(result.sources, t.processing_date, t.warning_days)
    lineage_records = {o.source: o.lineage_record() for o in result.sources}
    run = RunFacts(as_of=result.as_of, processing_date=t.processing_date, purpose=result.purpose,
                   rule_set=t.rules.name, rule_title=t.rules.title, code_version=t.code_version,
                   partial=result.partial, went_without=tuple(result.required_not_used),
                   warnings=tuple(result.warnings))
    return ReportFacts(
        run=run, headline=tuple((str(r["figure"]), r["value"]) for r in headline_figures(result)), sources=sources,
        flow=flow_of(result), quality=quality_facts(t.quarantine),
        linkage=linkage_facts(t.pairs, t.record_links, t.households, t.model, t.thresholds,
                              result.linkage.candidate_pairs, t.reviewer),
        households=household_facts(t.households, t.rules, lineage_records),
        changes=change_facts(result, t.previous_households))


def render(facts: ReportFacts) -> str:
    """The page, from the facts alone."""
    sections = [glance.section(facts), quality.section(facts.quality), linkage.section(facts.linkage),
                households.section(facts.households), changes.section(facts.changes)]
    return page(facts.run, sections)


def build(result: RunResult, tables: RunTables) -> bytes:
    """report.html's bytes (UTF-8)."""
    return render(report_facts(result, tables)).encode("utf-8")
