"""What one run is asked to do: `RunConfig`, the single definition of a run's options.

The command line's options (`python -m pipeline run`, `python -m flows.identify_families`) are
generated from its fields, and the Prefect flow's parameters map onto them one to one
(`from_parameters`, `parameters`), so an option is added here once and appears everywhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from pipeline.config.files import SCHEMAS_DIR
from pipeline.criteria.rules import DEFAULT_RULE_SET, available_rule_sets

RULE_SETS = tuple(available_rule_sets())  # shipped: phase1, phase2, supporting_families; or a rule file's path


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in the form YYYY-MM-DD: {value!r}") from None


def share(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"not a share between 0 and 1: {value!r}")
    return number


@dataclass(frozen=True)
class Option:
    """How a RunConfig field is given on the command line and as a flow parameter."""

    help: str
    parse: Callable[[str], Any] = str
    kind: Literal["value", "switch", "negated", "repeated"] = "value"  # negated: a --no-... switch
    flag: str | None = None  # default: --field-name
    metavar: str | None = None
    parameter: str | None = None  # the flow parameter's description, where the command line's help names flags

    @property
    def description(self) -> str:
        """What the option means as a flow parameter (shown in the Prefect UI's run form)."""
        return self.parameter or self.help


def _option(help: str, **how: Any) -> dict[str, Option]:
    return {"option": Option(help, **how)}


@dataclass(frozen=True)
class RunConfig:
    extracts: Path = field(metadata=_option(
        "folder with one <source>.csv per source", parse=Path,
        parameter="Folder holding the agencies' extracts, one file per source named for it (police.csv, "
                  "schools.csv, ...), as docs/extract-specification.md says."))
    out: Path = field(metadata=_option(
        "output folder (must not exist unless --force)", parse=Path,
        parameter="Write the run to exactly this folder instead of a new dated folder under out_root. None (the "
                  "default): the dated folder. It must not exist unless force is on."))
    rules: str = field(default=DEFAULT_RULE_SET, metadata=_option(
        f"criteria rule set: {'|'.join(RULE_SETS)} (default {DEFAULT_RULE_SET}, the most recent framework), or the "
        "path of a council's own rule file (a copy of one in schemas/criteria/)", metavar="RULES",
        parameter=f"Criteria rule set: one of {', '.join(RULE_SETS)} (default {DEFAULT_RULE_SET}, the most recent "
                  "framework), or the path of a council's own rule file (a copy of one in schemas/criteria/)."))
    as_of: dt.date | None = field(default=None, metadata=_option(
        "reference date (default: latest extract_date)", parse=iso_date,
        parameter="Reference date (YYYY-MM-DD) the criteria's time windows count back from. None (the "
                  "default): the latest extract_date in the files."))
    processing_date: dt.date | None = field(default=None, metadata=_option(
        "the day the run counts as run on, for tests and backfills (default: today); each data-sharing "
        "agreement must be in force on it", parse=iso_date,
        parameter="The day (YYYY-MM-DD) the run counts as run on, for tests and backfills only. Each source's "
                  "data-sharing agreement must be in force on it, and the as-of date may not be later. None (the "
                  "default): today."))
    previous: Path | None = field(default=None, metadata=_option(
        "the previous month's output folder: people and families keep the keys they had there, and "
        "changes.parquet says what changed since", parse=Path, metavar="PREV_OUT",
        parameter="The previous month's output folder: people and families keep the keys they had there, and "
                  "changes.parquet says what changed since. None (the default): the run stands alone."))
    decisions: Path | None = field(default=None, metadata=_option(
        "a filled-in clerical review form (python -m pipeline review export): its MATCH / NOT_MATCH decisions "
        "are applied as must-link and cannot-link", parse=Path, metavar="FORM.csv",
        parameter="A filled-in clerical review form (python -m pipeline review export): its MATCH / NOT_MATCH "
                  "decisions are applied as must-link and cannot-link. None (the default): no decisions."))
    purpose: str | None = field(default=None, metadata=_option(
        "the run's purpose, checked against each gateway (default from schemas/settings.yaml: identification)",
        parameter="The run's purpose, checked against each source's gateway (a source whose gateway does not "
                  "permit it is refused). None (the default): schemas/settings.yaml's default_purpose, "
                  "identification."))
    allow_missing: tuple[str, ...] = field(default=(), metadata=_option(
        "go on without this required source (its criteria are not assessed)", kind="repeated", metavar="SOURCE",
        parameter="Required sources to go on without when their file is missing or refused (e.g. health): their "
                  "criteria are not assessed and the run ends Completed, named Partial. Empty: a missing required "
                  "source fails the run."))
    force: bool = field(default=False, metadata=_option(
        "replace an existing output folder", kind="switch",
        parameter="Replace the output folder if it already exists (off: the run fails rather than overwrite it)."))
    max_bad_share: float | None = field(default=None, metadata=_option(
        "refuse a source when more than this share of rows fail (default 0.2)", parse=share,
        parameter="Refuse a source when more than this share of its rows fail the checks: a number from 0 to 1 "
                  "(0.2 is one row in five). None (the default): schemas/settings.yaml's max_bad_share, 0.2."))
    schemas_root: Path = SCHEMAS_DIR  # not an option: tests and benchmarks point it at a copy
    caseworker_export: bool = field(default=False, metadata=_option(
        "also write restricted/caseworker_export.csv: eligible families with names, dates of birth and addresses "
        "(OFFICIAL-SENSITIVE)", kind="switch",
        parameter="WRITES IDENTIFYING DATA. Also write restricted/caseworker_export.csv in the output folder: the "
                  "names, dates of birth and addresses of the members of every eligible family "
                  "(OFFICIAL-SENSITIVE). Leave off unless caseworkers are to receive it."))
    reuse_ingest: bool = field(default=True, metadata=_option(
        "read every file again, even one an earlier run ingested unchanged under the same rules",
        kind="negated", flag="--no-reuse",
        parameter="Take a source whose file and rules are unchanged since an earlier completed run from that run "
                  "instead of reading it again; off: read every file again."))

    dask_scheduler: str | None = field(default=None, metadata=_option(
        "run the heavy stages on the existing Dask cluster whose scheduler is at ADDRESS (tcp://host:8786); "
        "its workers must reach the extracts and the output's parent folder", metavar="ADDRESS",
        parameter="Run the heavy stages (ingest, standardisation, candidate pairs and comparison) on the existing "
                  "Dask cluster whose scheduler is at this address (tcp://host:8786). Its workers must reach the "
                  "extracts folder and the output folder's parent at the same paths. None (the default): this "
                  "machine, unless dask_local is set."))
    dask_local: int | None = field(default=None, metadata=_option(
        "run the heavy stages on a Dask cluster of N worker processes started on this machine for the run",
        parse=int, metavar="N",
        parameter="Run the heavy stages on a Dask cluster of this many worker processes (one thread each) "
                  "started on this machine for the run and stopped after it. None (the default): one process."))
    dask_worker_memory: str | None = field(default=None, metadata=_option(
        "with --dask-local, each worker's memory limit (e.g. 4GB; default: the machine's memory shared out)",
        metavar="SIZE",
        parameter="With dask_local, each worker's memory limit (e.g. 4GB): a worker spills to a private "
                  "temporary folder, then pauses, past it. None (the default): the machine's memory shared out."))

    @property
    def engine_options(self) -> dict[str, Any]:
        """What `pipeline.engine.open_engine` is asked for."""
        return {"scheduler": self.dask_scheduler, "local_workers": self.dask_local,
                "worker_memory": self.dask_worker_memory}

    @classmethod
    def options(cls) -> list[tuple[str, Option, Any]]:
        """(field name, option, default) of every field that is an option, in declaration order."""
        return [(f.name, f.metadata["option"], f.default) for f in fields(cls) if "option" in f.metadata]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, optional: Collection[str] = ()) -> argparse.ArgumentParser:
        """The run's options on a command line; those named in `optional` may be left out (the caller
        offers another way to give them, as the flow's --out-root does for --out)."""
        for name, option, default in cls.options():
            flag = option.flag or "--" + name.replace("_", "-")
            how: dict[str, Any] = {"dest": name, "help": option.help}
            if option.metavar:
                how["metavar"] = option.metavar
            if option.kind == "switch":
                how["action"] = "store_true"
            elif option.kind == "negated":
                how["action"] = "store_false"
            elif option.kind == "repeated":
                how.update(action="append", default=[], type=option.parse)
            else:
                how.update(type=option.parse, required=default is MISSING and name not in optional)
                if default is not MISSING:
                    how["default"] = default
            parser.add_argument(flag, **how)
        return parser

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> RunConfig:
        """A config from options by name, as parsed from a command line or given to the flow."""
        given = {}
        for name, option, _ in cls.options():
            if name not in parameters:
                continue
            value = parameters[name]
            if option.kind == "repeated":
                value = tuple(value or ())
            elif value is not None and option.parse is Path:
                value = Path(value)
            given[name] = value
        return cls(**given)

    def parameters(self) -> dict[str, Any]:
        """The options as flow parameters (paths as text, lists for repeated options)."""
        out: dict[str, Any] = {}
        for name, option, _ in self.options():
            value = getattr(self, name)
            out[name] = list(value) if option.kind == "repeated" else str(value) if isinstance(value, Path) else value
        return out
