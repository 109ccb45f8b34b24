"""Criteria rule sets as data: the vocabulary, and loading a rule file with errors that name file and key.

A rule set (schemas/criteria/<name>.yaml) lists criteria; each criterion is met by any of its
*indicators*; an indicator says which source rows count (`where`), when (`window`, relative to the
as-of date), whose (`member`: child, adult or anyone, age at the as-of date or at the event), and,
where the rule is about a total rather than one row, how a person's rows are added up
(`per_person`). Indicators shared between rule sets live in schemas/criteria/definitions.yaml and
are referred to by name or by `use: <name>` with fields overridden; a rule file may define its own.
The household rule (`eligibility`) combines criteria: `at_least`, `all_of`, `any_of`, a
criterion's name, and whether a child is required.

Why a small closed vocabulary rather than expressions: a council officer can read and change a
threshold, a window or a value list, and every file is checked against the source contracts on
load, so a typo in a column or value stops the run at once with the file and key named.

Every criterion, and the eligibility rule, also says what it stands for: `framework` is the
national framework's descriptor (`wording: quote` when these are the document's own words,
`paraphrase` when they could not be found and are restated) with its `source`, and
`approximation` says how this file's indicators differ from those words. Indicators drawn from a
few agency extracts only approximate what the frameworks describe, and an auditor or a family's
key worker reading a verdict needs to know how. A rule file the product ships (any file under
schemas/criteria/) carries all of it; a council's own file must carry the descriptor of each
criterion (so a local criterion says which need it stands for), and its source and approximation
note are optional: a council's officer may not have the framework's document to hand, and a
file refused for a missing footnote would stop a month's identification.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.config.contracts import SourceContract
from pipeline.config.files import SCHEMAS_DIR, ContractError, Strict, mapping, read_yaml, validation_error

CRITERIA_DIR = SCHEMAS_DIR / "criteria"
DEFINITIONS = "definitions.yaml"
# The most recent framework the product ships (Supporting Families 2022-25): what a run scores against
# unless told otherwise. The one definition the command line, the Prefect flow and `make serve` use.
DEFAULT_RULE_SET = "supporting_families"


class AtLeast(Strict):
    at_least: float = Field(ge=0)  # a count: a negative bound would pass every row


Condition = list[str | int | bool] | AtLeast  # allowed values, or a lower bound for counts
RowFilter = dict[str, Condition]


# --------------------------------------------------------------------------- windows
class EventWindow(Strict):
    """Rows whose `date` falls in the last `months` months: R - months < date <= R."""

    kind: Literal["event"]
    date: str
    months: int = Field(gt=0, le=120)


class EpisodeWindow(Strict):
    """Episodes that started by R and were open at some point in the last `months` months."""

    kind: Literal["episode"]
    start: str
    end: str
    months: int = Field(gt=0, le=120)


class LiveWindow(Strict):
    """Claims live at R: start <= R and (end blank or end > R)."""

    kind: Literal["live"]
    start: str
    end: str


class TermsWindow(Strict):
    """Rows in the `count` most recent school terms present in the extract."""

    kind: Literal["terms"]
    count: int = Field(gt=0, le=12)


Window = Annotated[EventWindow | EpisodeWindow | LiveWindow | TermsWindow, Field(discriminator="kind")]


# --------------------------------------------------------------------------- members and totals
class Member(Strict):
    who: Literal["any", "child", "adult"] = "any"
    age_at: Literal["as_of", "event"] = "as_of"  # "event": the window's date column


class SumPerPerson(Strict):
    """The person's rows in the window, `columns` added up, at least `at_least`."""

    kind: Literal["sum"]
    columns: list[str] = Field(min_length=1)
    at_least: float = Field(ge=0)


class RatioPerPerson(Strict):
    """Sum of `numerator` columns over sum of `denominator` across the person's rows, at least `at_least`."""

    kind: Literal["ratio"]
    numerator: list[str] = Field(min_length=1)
    denominator: str
    at_least: float = Field(ge=0)

    @field_validator("at_least")
    @classmethod
    def _a_share(cls, value: float) -> float:
        """A ratio is a share: 15 meant as 15% would silently match nobody."""
        if value > 1:
            raise ValueError(f"a ratio's at_least is a share between 0 and 1 (write {value / 100:g} for {value:g}%)")
        return value


class LatestTermPerPerson(Strict):
    """The person's rows in their most recent term, any of which passes `where`."""

    kind: Literal["latest_term"]
    where: RowFilter


PerPerson = Annotated[SumPerPerson | RatioPerPerson | LatestTermPerPerson, Field(discriminator="kind")]


class Indicator(Strict):
    source: str
    # The indicator's name in the shared definitions or the rule file (`use: absence_10pct` is absence_10pct,
    # overrides and all); one written out inside a criterion is named for its place, e.g. education.met_by.2.
    # evidence.parquet's `indicator`: which rule met the criterion, without parsing the evidence's words.
    name: str = ""
    description: str = ""
    where: RowFilter | list[RowFilter] = Field(default_factory=dict)  # a list: any of the filters
    window: Window | None = None
    member: Member = Member()
    per_person: PerPerson | None = None
    detail: str

    @model_validator(mode="before")
    @classmethod
    def _member_shorthand(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("member"), str):
            data = {**data, "member": {"who": data["member"]}}
        return data

    @property
    def filters(self) -> list[RowFilter]:
        return self.where if isinstance(self.where, list) else ([self.where] if self.where else [])

    def columns(self) -> set[str]:
        """The source columns this indicator reads (a gateway may have withheld some: then it is not assessed)."""
        w, p = self.window, self.per_person
        needed = {"source_record_id"}.union(*self.filters)
        if p is not None and p.kind == "latest_term":
            needed |= set(p.where) | {"academic_year", "term"}
        elif p is not None and p.kind == "sum":
            needed |= set(p.columns)
        elif p is not None:
            needed |= {*p.numerator, p.denominator}
        if w is not None and w.kind == "event":
            needed.add(w.date)
        elif w is not None and w.kind in ("episode", "live"):
            needed |= {w.start, w.end}
        elif w is not None:
            needed |= {"academic_year", "term"}
        return needed | (self.detail_fields() - self.aggregate_fields())

    def aggregate_fields(self) -> set[str]:
        """The fields the engine adds for `detail` besides the row's columns, as this indicator allows."""
        p, fields = self.per_person, set()
        if p is not None and p.kind == "sum":
            fields = {"total", "rows"}
        elif p is not None and p.kind == "ratio":
            fields = {"ratio", "numerator", "denominator", "rows"}
        if self.member.age_at == "event":
            fields.add("age_at_event")
        if self.window is not None and self.window.kind == "terms":
            fields.add("terms")
        return fields

    def detail_fields(self) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(self.detail) if f}


# --------------------------------------------------------------------------- what a criterion stands for
class FrameworkSource(Strict):
    """The document a descriptor comes from (title, year) and an official page its words can be read on.

    Both, because an assessor checks a family's needs against the document, and a reader needs a
    page that opens today; `note` says so when the words were read somewhere other than the
    document itself (a ministerial statement quoting it, a council restating its thresholds).
    """

    title: str = Field(min_length=1)
    year: int | None = Field(None, ge=1990, le=2100)
    url: str | None = Field(None, pattern=r"^https://\S+$")
    note: str = ""

    def text(self) -> str:
        """'Title (2015), https://...; note' for a reader."""
        year = f" ({self.year})" if self.year is not None else ""
        url = f", {self.url}" if self.url else ""
        note = f"; {self.note}" if self.note else ""
        return f"{self.title}{year}{url}{note}"


class Framework(Strict):
    """A framework's descriptor of the need a criterion (or the eligibility rule) stands for."""

    descriptor: str = Field(min_length=1)
    wording: Literal["quote", "paraphrase"]  # quote: the source's own words; paraphrase: restated, not found
    source: FrameworkSource | None = None

    def words(self) -> str:
        """The descriptor as a reader should take it: in quotation marks only when it is the source's own words."""
        return f"\u201c{self.descriptor}\u201d" if self.wording == "quote" else f"{self.descriptor} (paraphrase)"


class Criterion(Strict):
    description: str = ""
    framework: Framework | None = None  # checked on load: a rule file is refused without it (naming the criterion)
    approximation: str = ""  # how the indicators differ from the framework's words; a shipped file must say
    assessable: bool = True  # False: cannot be assessed from these sources; always null
    counts_as_problem: bool = True  # False: a filter the eligibility rule uses, not one of the problems
    met_by: list[Indicator] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_indicators(self) -> Criterion:
        if self.assessable and not self.met_by:
            raise ValueError("an assessable criterion needs at least one indicator in met_by")
        return self

    @property
    def sources(self) -> list[str]:
        return sorted({i.source for i in self.met_by})


class RuleSetNotFound(ContractError):
    """`--rules` names no shipped rule set and no file: the user's mistake, not a broken installation."""


class Rule(Strict):
    """A node of the household rule; exactly one of its fields is set."""

    at_least: int | None = Field(None, ge=1)
    of: list[str] | None = None  # with at_least; default: every criterion that counts as a problem
    all_of: list[RuleNode] | None = None
    any_of: list[RuleNode] | None = None

    @model_validator(mode="after")
    def _one(self) -> Rule:
        set_ = [k for k in ("at_least", "all_of", "any_of") if getattr(self, k) is not None]
        if len(set_) != 1:
            raise ValueError("a rule has exactly one of at_least, all_of, any_of")
        if self.of is not None and self.at_least is None:
            raise ValueError("'of' goes with at_least")
        return self


RuleNode = str | Rule
Rule.model_rebuild()


class Eligibility(Strict):
    family_required: bool = True
    rule: Rule
    framework: Framework | None = None  # the framework's own eligibility rule; a shipped file must give it
    approximation: str = ""


@dataclass(frozen=True)
class Approximation:
    """One criterion's (or the eligibility rule's) framework descriptor and approximation note, as text for a
    reader: what the closing summary, the Prefect summary and `audit explain` print. No personal data."""

    name: str  # the criterion, or ELIGIBILITY
    framework: str  # Framework.words(): quoted, or marked as a paraphrase; "" when the file gives none
    source: str  # FrameworkSource.text(); "" when the file names none
    approximation: str  # "" when a council's file gives no note


def numbered_sources(approximations: Iterable[Approximation]) -> dict[str, int]:
    """Each distinct source once, numbered in order of first use: a rule set cites one or two documents for
    all its criteria, and printing each in full under every criterion would bury the notes."""
    numbers: dict[str, int] = {}
    for a in approximations:
        if a.source:
            numbers.setdefault(a.source, len(numbers) + 1)
    return numbers


ELIGIBILITY = "eligibility"  # the name the eligibility rule's descriptor goes by among the criteria's


class RuleSet(Strict):
    name: str
    title: str
    path: Path
    criteria: dict[str, Criterion]
    eligibility: Eligibility
    shipped: bool = False  # a file under schemas/criteria/: held to every descriptor field

    def approximations(self) -> list[Approximation]:
        """The eligibility rule's descriptor, then each criterion's, in the file's order."""
        def one(name: str, framework: Framework | None, note: str) -> Approximation:
            source = framework.source if framework is not None else None
            return Approximation(name=name, framework=framework.words() if framework is not None else "",
                                 source=source.text() if source is not None else "", approximation=note.strip())

        e = self.eligibility
        return [one(ELIGIBILITY, e.framework, e.approximation),
                *(one(n, c.framework, c.approximation) for n, c in self.criteria.items())]

    @property
    def columns(self) -> list[str]:
        return list(self.criteria)

    @property
    def problems(self) -> list[str]:
        return [c for c, v in self.criteria.items() if v.counts_as_problem]

    @property
    def sources(self) -> list[str]:
        return sorted({i.source for c in self.criteria.values() for i in c.met_by})

    def columns_needed(self, source: str) -> list[str]:
        """The columns of one source the rules read, so scoring loads no more of a landed file than it uses."""
        return sorted({"source_record_id"}.union(*[i.columns() for c in self.criteria.values() for i in c.met_by
                                                   if i.source == source]))


# --------------------------------------------------------------------------- loading
def available_rule_sets(root: Path = SCHEMAS_DIR) -> list[str]:
    """The rule sets `--rules` knows by name: the files directly in schemas/criteria/ (variants/ go by path)."""
    return sorted(p.stem for p in (root / "criteria").glob("*.yaml") if p.name != DEFINITIONS)


def is_shipped(path: Path, root: Path = SCHEMAS_DIR) -> bool:
    """Whether a rule file is one the product ships (under schemas/criteria/, variants included)."""
    return Path(path).resolve().is_relative_to((root / "criteria").resolve())


def rule_set_path(rules: str, root: Path = SCHEMAS_DIR) -> Path:
    """A rule-set name in schemas/criteria/, or a path to a council's own rule file."""
    if rules.endswith((".yaml", ".yml")) or "/" in rules:
        return Path(rules)
    return root / "criteria" / f"{rules}.yaml"


def _resolve(item: object, library: dict[str, dict], path: Path, key: str) -> dict:
    """An indicator given by name, as `use: name` with overrides, or written out in full."""
    if isinstance(item, str):
        item = {"use": item}
    if not isinstance(item, dict):
        raise ContractError(f"{path}: {key}: expected an indicator name or mapping")
    if "use" not in item:
        return {"name": key.removeprefix("criteria."), **item}
    name = item["use"]
    if name not in library:
        known = ", ".join(sorted(library)) or "none"
        raise ContractError(f"{path}: {key}.use: unknown indicator {name!r} (defined: {known})")
    base = {"name": name, **library[name]}
    overrides = {k: v for k, v in item.items() if k != "use"}
    if isinstance(base.get("member"), str) and isinstance(overrides.get("member"), dict):
        base["member"] = {"who": base["member"]}
    for k, v in overrides.items():
        base[k] = {**base[k], **v} if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return base


def load_rule_set(rules: str, contracts: dict[str, SourceContract], root: Path = SCHEMAS_DIR) -> RuleSet:
    """Read, resolve and check one rule file; ContractError names the file and the key at fault."""
    path = rule_set_path(rules, root)
    if not path.is_file():
        known = ", ".join(available_rule_sets(root))
        what = f"rule file {path} does not exist" if rules != path.stem else f"unknown rule set '{rules}'"
        raise RuleSetNotFound(f"{what} (--rules): the shipped rule sets are {known}, or give the path of a "
                              f"council's own rule file")
    definitions_path = root / "criteria" / DEFINITIONS
    shared = mapping(read_yaml(definitions_path), definitions_path, "(top level)") \
        if definitions_path.is_file() else {}
    data = mapping(read_yaml(path), path, "(top level)")
    library = {**mapping(shared.get("indicators"), definitions_path, "indicators"),
               **mapping(data.get("indicators"), path, "indicators")}
    unknown = sorted(set(data) - {"title", "description", "indicators", "criteria", "eligibility"})
    if unknown:
        raise ContractError(f"{path}: {unknown[0]}: unknown key (expected title, description, indicators, "
                            f"criteria, eligibility)")
    criteria = {}
    for name, spec in mapping(data.get("criteria"), path, "criteria").items():
        spec = dict(mapping(spec, path, f"criteria.{name}"))
        met_by = spec.get("met_by") or []
        if not isinstance(met_by, list):
            raise ContractError(f"{path}: criteria.{name}.met_by: expected a list")
        spec["met_by"] = [_resolve(item, library, path, f"criteria.{name}.met_by.{i}") for i, item in enumerate(met_by)]
        try:
            criteria[name] = Criterion.model_validate(spec)
        except ValidationError as exc:
            raise validation_error(path, exc, ("criteria", name)) from None
    if not criteria:
        raise ContractError(f"{path}: criteria: a rule set needs at least one criterion")
    try:
        eligibility = Eligibility.model_validate(data.get("eligibility"))
        rule_set = RuleSet(name=path.stem, title=str(data.get("title") or path.stem), path=path,
                           criteria=criteria, eligibility=eligibility, shipped=is_shipped(path, root))
    except ValidationError as exc:
        raise validation_error(path, exc, ("eligibility",)) from None
    _check(rule_set, contracts)
    _check_descriptors(rule_set)
    return rule_set


DESCRIPTOR_HELP = ("framework: {descriptor: the framework's words for the need, wording: quote (its own words) or "
                   "paraphrase, source: {title, year, url}}; the shipped files in schemas/criteria/ show how")


def _check_descriptors(rules: RuleSet) -> None:
    """Each criterion says which framework descriptor it stands for; a shipped file also gives the source
    (title, year, official url) and the approximation note, for the eligibility rule too.

    Run after the content checks, so a file with a wrong column is told about the column first.
    """
    path = rules.path
    parts = [(f"criteria.{name}", c.framework, c.approximation) for name, c in rules.criteria.items()]
    e = rules.eligibility
    for key, framework, _ in parts:
        if framework is None:
            raise ContractError(f"{path}: {key}.framework: missing: say which need of the national framework (or "
                                f"of the council's own outcomes plan) this criterion stands for ({DESCRIPTOR_HELP})")
    if not rules.shipped:
        return
    if e.framework is None:
        raise ContractError(f"{path}: eligibility.framework: missing: a shipped rule set quotes the framework's own "
                            f"eligibility rule ({DESCRIPTOR_HELP})")
    for key, framework, approximation in [*parts, ("eligibility", e.framework, e.approximation)]:
        assert framework is not None
        source = framework.source
        if source is None or source.year is None or not source.url:
            raise ContractError(f"{path}: {key}.framework.source: a shipped rule set names the document the "
                                f"descriptor comes from, its year and an official url (source: {{title, year, url}})")
        if not approximation.strip():
            raise ContractError(f"{path}: {key}.approximation: missing: a shipped rule set says, in plain words, how "
                                f"its indicators differ from the framework's descriptor")


def _check(rules: RuleSet, contracts: dict[str, SourceContract]) -> None:
    """Every source, column, value, template field and criterion name refers to something real."""
    path = rules.path
    for cname, criterion in rules.criteria.items():
        for i, ind in enumerate(criterion.met_by):
            key = f"criteria.{cname}.met_by.{i}"
            contract = contracts.get(ind.source)
            if contract is None:
                raise ContractError(f"{path}: {key}.source: unknown source {ind.source!r} "
                                    f"(known: {', '.join(sorted(contracts))})")
            for j, where in enumerate(ind.filters):
                _check_filter(where, contract, path, f"{key}.where" + (f".{j}" if isinstance(ind.where, list) else ""))
            window_columns = []
            if ind.window is not None:
                w = ind.window
                window_columns = [w.date] if w.kind == "event" else [w.start, w.end] if w.kind != "terms" else []
                for col in window_columns:
                    _check_column(contract, col, ("date",), path, f"{key}.window")
                if w.kind == "terms":
                    _check_terms(contract, path, f"{key}.window")
            if ind.member.age_at == "event" and (ind.window is None or ind.window.kind != "event"):
                raise ContractError(f"{path}: {key}.member.age_at: 'event' needs an event window (its date column)")
            if ind.per_person is not None:
                p = ind.per_person
                if p.kind == "sum":
                    for col in p.columns:
                        _check_column(contract, col, ("integer", "flag"), path, f"{key}.per_person.columns")
                elif p.kind == "ratio":
                    for col in [*p.numerator, p.denominator]:
                        _check_column(contract, col, ("integer",), path, f"{key}.per_person")
                else:
                    _check_terms(contract, path, f"{key}.per_person")
                    _check_filter(p.where, contract, path, f"{key}.per_person.where")
            _check_template(ind, set(contract.columns), path, f"{key}.detail")
    names = set(rules.criteria)
    _check_rule(rules.eligibility.rule, names, path, "eligibility.rule")
    if not rules.problems:
        raise ContractError(f"{path}: criteria: no criterion counts as a problem")


def _check_column(contract: SourceContract, column: str, types: tuple[str, ...], path: Path, key: str) -> None:
    col = contract.columns.get(column)
    if col is None:
        raise ContractError(f"{path}: {key}: {contract.source} has no column {column!r}")
    if col.type not in types:
        raise ContractError(f"{path}: {key}: {contract.source}.{column} is {col.type}, expected {' or '.join(types)}")


def _check_terms(contract: SourceContract, path: Path, key: str) -> None:
    for col in ("academic_year", "term"):
        if col not in contract.columns:
            raise ContractError(f"{path}: {key}: terms need {contract.source}.{col}, which it does not have")


def _check_filter(where: RowFilter, contract: SourceContract, path: Path, key: str) -> None:
    for column, condition in where.items():
        col = contract.columns.get(column)
        if col is None:
            raise ContractError(f"{path}: {key}.{column}: {contract.source} has no column {column!r}")
        if isinstance(condition, AtLeast):
            if col.type != "integer":
                raise ContractError(f"{path}: {key}.{column}: at_least needs a count column, {column} is {col.type}")
            continue
        if col.type == "flag":
            bad = [v for v in condition if v not in (0, 1, True, False)]
        elif col.allowed is not None:
            bad = [v for v in condition if str(v) not in col.allowed]
        else:
            bad = []
        if bad:
            allowed = "0 or 1" if col.type == "flag" else ", ".join(col.allowed or [])
            raise ContractError(f"{path}: {key}.{column}: {bad[0]!r} is not a value of {contract.source}.{column} "
                                f"(allowed: {allowed})")


def _check_template(ind: Indicator, columns: set[str], path: Path, key: str) -> None:
    try:
        names = ind.detail_fields()
    except ValueError as exc:
        raise ContractError(f"{path}: {key}: not a valid template: {exc}") from None
    aggregates = ind.aggregate_fields()
    for name in sorted(names - columns - aggregates):
        extra = f", or one of: {', '.join(sorted(aggregates))}" if aggregates else ""
        raise ContractError(f"{path}: {key}: unknown field {{{name}}} (use a column of the source{extra})")


def _check_rule(node: RuleNode, names: set[str], path: Path, key: str) -> None:
    if isinstance(node, str):
        if node not in names:
            raise ContractError(f"{path}: {key}: unknown criterion {node!r} (criteria: {', '.join(sorted(names))})")
        return
    for name in node.of or []:
        _check_rule(name, names, path, f"{key}.of")
    for i, child in enumerate(node.all_of or node.any_of or []):
        _check_rule(child, names, path, f"{key}.{'all_of' if node.all_of else 'any_of'}.{i}")
