"""The agency extract specification, `docs/extract-specification.md`, generated from `schemas/`.

Agencies build their extracts from the specification and ingest checks the extracts against the
contracts, so the two must say the same thing: the document is written from the contracts, never
by hand. Each source's part (title, grain, columns and their meaning, rules, notes) comes from
`schemas/sources/<source>.yaml`; the document's own text (title, version, preamble, common rules,
the order of the sources) from `schemas/extracts.yaml`. `python -m pipeline contracts --markdown`
prints it and a test fails when the committed copy differs. Gateways are not part of it: they are
the council's legal bases, not a description of the files.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from pipeline.config.contracts import (
    AllowedWhenRule,
    BlankUnlessRule,
    Column,
    ConstantRule,
    Format,
    NotBeforeRule,
    Rule,
    SourceContract,
    SumNotAboveRule,
    UniqueRule,
    human_format,
)
from pipeline.config.files import SCHEMAS_DIR, ContractError, Strict, load
from pipeline.config.schemas import Schemas

SPEC_FILE = "extracts.yaml"
COMMAND = "python -m pipeline contracts --markdown"


class ExtractSpec(Strict):
    """`schemas/extracts.yaml`: the specification's text that belongs to no one source."""

    title: str
    version: str
    preamble: str
    common_rules: list[str] = Field(min_length=1)
    sources: list[str] = Field(min_length=1)  # the order of the sources' sections

    @field_validator("sources")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        repeated = sorted({s for s in value if value.count(s) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return value


def load_extract_spec(root: Path = SCHEMAS_DIR) -> ExtractSpec:
    """`root/extracts.yaml` as an ExtractSpec; ContractError naming the file and key when it is broken."""
    return load(ExtractSpec, Path(root) / SPEC_FILE)


def extract_spec_markdown(schemas: Schemas, spec: ExtractSpec) -> str:
    """The whole specification as markdown: the same schemas and spec always give the same text."""
    text_max_length = schemas.settings.text_max_length
    parts = [_front(spec), _formats(schemas.formats),
             *(_source_section(c, text_max_length) for c in _in_order(schemas, spec))]
    return "\n\n".join(parts) + "\n"


def request_markdown(schemas: Schemas, spec: ExtractSpec, source: str) -> str:
    """What one agency needs to send a good extract: the council's legal basis and agreement for it, the
    rows and columns asked for, the common rules (how to tokenise identifiers), the formats, this
    source's part of the specification, and how to check the file before sending it."""
    contract, gateway = schemas.contracts[source], schemas.gateways.get(source)
    if gateway is None:
        basis = "No legal gateway is declared for this source: the council will refuse the file. Ask before sending."
        columns = "all the columns below"
    else:
        a = gateway.agreement
        controllers = "".join(f"\n- Controller: {c.name}, for {c.rows}" for c in gateway.controllers)
        conditions = "".join(f"\n- {name}: {c.article.text}; {c.condition.text}"
                             for name, c in (("Special category condition", gateway.article_9),
                                             ("Criminal offence data condition", gateway.article_10)) if c)
        basis = (f"- Gateway: {gateway.statute}, {_oneline(gateway.section)} <{gateway.url}>{controllers}\n"
                 f"- The council's basis: {_oneline(gateway.basis)}"
                 + (f"\n- {gateway.article_6.text}" if gateway.article_6 else "") + conditions
                 + f"\n- Data-sharing agreement: {a.reference}, in force {a.start.isoformat()} to "
                 f"{a.expires.isoformat()}\n- Purposes: {', '.join(gateway.purposes)}")
        allowed = gateway.allowed_columns
        columns = ("all the columns below" if allowed == "all" else
                   "only these columns: " + ", ".join(allowed) + "; leave out "
                   + (", ".join(c for c in contract.columns if c not in allowed) or "none"))
        if gateway.allowed_rows != "all":
            columns += ". Rows asked for: only " + "; ".join(
                f"rows whose {r.column} is {'one of' if r.allowed else 'none of'} {', '.join(r.allowed or r.excluded)} "
                f"({_oneline(r.why)})" for r in gateway.allowed_rows) + "; the council drops any other row unread"
        if gateway.opt_out:
            columns += f". Opt-outs: {_oneline(gateway.opt_out.text)}"
    rules = "\n".join(f"- {_oneline(rule)}" for rule in spec.common_rules)
    return "\n\n".join([
        f"# Extract request: {source} ({contract.title})",
        f"## Under which law and agreement\n{basis}",
        f"## What to send\nOne file named `{source}.csv`, {_oneline(contract.grain).rstrip('.').lower()}, with "
        f"{columns}. `{source}.csv` beside this request is an empty file with the header in order.",
        f"## Common rules\n{rules}",
        _formats(schemas.formats),
        _source_section(contract, schemas.settings.text_max_length),
        f"## Before sending\nCheck the file as the council's run will: `python -m pipeline check-extract "
        f"{source}.csv --source {source}` prints the line, column and reason of each row it would reject (never a "
        "value) and exits 1 if it would refuse the whole file.",
    ]) + "\n"


def _in_order(schemas: Schemas, spec: ExtractSpec) -> list[SourceContract]:
    """The contracts in the spec's order; every contract must be listed, so none is left undocumented."""
    path = schemas.root / SPEC_FILE
    unknown = [s for s in spec.sources if s not in schemas.contracts]
    if unknown:
        raise ContractError(f"{path}: sources: no contract for {', '.join(unknown)}")
    missing = [s for s in schemas.contracts if s not in spec.sources]
    if missing:
        raise ContractError(f"{path}: sources: does not list {', '.join(missing)}")
    return [schemas.contracts[s] for s in spec.sources]


def _front(spec: ExtractSpec) -> str:
    """Title, preamble and common rules; the comment tells whoever opens the file not to edit it."""
    rules = "\n".join(f"- {_oneline(rule)}" for rule in spec.common_rules)
    return (f"<!-- Generated from schemas/ by `{COMMAND}`. Do not edit by hand. -->\n"
            f"# {spec.title} ({spec.version})\n\n{_oneline(spec.preamble)}\n\n## Common rules\n{rules}")


def _formats(formats: dict[str, Format]) -> str:
    """The named formats the column types refer to, as a research officer reads them in a rejection."""
    rows = "\n".join(f"| {name} | {_cell(fmt.description)} |" for name, fmt in formats.items())
    return ("## Formats\nA column whose type names a format holds values of that form "
            "(blank values are not checked: blank means unknown).\n\n"
            f"| format | values |\n| --- | --- |\n{rows}")


def _source_section(contract: SourceContract, text_max_length: int) -> str:
    """One source: heading, grain, whether it must be supplied, its columns, rules and notes."""
    need = ("Required source: every extract includes this file." if contract.required_source else
            "Optional source: this file may be left out (the criteria that need it are then not assessed).")
    rows = "\n".join(_column_row(name, col, text_max_length) for name, col in contract.columns.items())
    parts = [f"## {contract.source} — {contract.title}\n{_sentence(contract.grain)} {need}",
             f"| column | type | required | meaning |\n| --- | --- | --- | --- |\n{rows}"]
    if contract.rules:
        parts.append("Rules (a row breaking one is rejected; a blank value breaks none):\n"
                     + "\n".join(f"- {_rule_sentence(rule)}" for rule in contract.rules))
    parts += [_oneline(note) for note in contract.notes]
    return "\n\n".join(parts)


def _column_row(name: str, col: Column, text_max_length: int) -> str:
    """One table row: the column's name, type, whether the header and each row must carry it, meaning."""
    header = "yes" if col.required else "no (may be left out of the header)"
    blank = "may be blank" if col.nullable else "never blank"
    return f"| {name} | {_cell(_column_type(col, text_max_length))} | {header}, {blank} | {_cell(col.description)} |"


def _column_type(col: Column, text_max_length: int) -> str:
    """The column's type and every limit on its values, in the words of ingest's rejection reasons."""
    parts = {"date": [f"date ({human_format(col.date_format)})"], "flag": ["flag (0 or 1)"],
             "integer": ["whole number"]}.get(col.type, [col.type])
    if col.format:
        parts.append(f"format `{col.format}`")
    if col.allowed:
        parts.append(f"one of {', '.join(col.allowed)}")
    if col.min is not None or col.max is not None:
        parts.append(_bounds(col))
    # Text columns are cut off at the settings' length unless the contract sets its own.
    max_length = col.max_length or (text_max_length if col.type == "text" else None)
    if max_length:
        parts.append(f"at most {max_length} characters")
    if col.not_after:
        parts.append(f"not after `{col.not_after}`")
    return "; ".join(parts)


def _bounds(col: Column) -> str:
    """`from MIN to MAX`, `from MIN` or `up to MAX` (dates as YYYY-MM-DD, like the contracts)."""
    if col.min is not None and col.max is not None:
        return f"from {col.min} to {col.max}"
    return f"from {col.min}" if col.min is not None else f"up to {col.max}"


def _rule_sentence(rule: Rule) -> str:
    """A cross-field rule in plain words, as ingest applies it (see the rule models in contracts.py)."""
    match rule:
        case UniqueRule(column=column):
            return f"`{column}` is unique within the file: a row repeating an earlier row's value is rejected."
        case ConstantRule(column=column):
            return f"`{column}` is the same on every row: a row differing from the file's most common value " \
                   f"is rejected."
        case NotBeforeRule(column=column, other=other):
            return f"`{column}` is not before `{other}`."
        case SumNotAboveRule(columns=columns, limit=limit):
            return f"{' + '.join(f'`{c}`' for c in columns)} is not more than `{limit}`."
        case AllowedWhenRule(column=column, when=when, allowed=allowed):
            return f"When `{when.column}` is {when.equals}, `{column}` is {_one_of(allowed)}."
        case BlankUnlessRule(column=column, when=when):
            return f"`{column}` is blank unless `{when.column}` is {when.equals}."
    raise TypeError(f"no wording for rule kind {rule.kind!r}")


def _one_of(values: list[str]) -> str:
    """`one of A, B, C`, or just `A` when there is one value."""
    return values[0] if len(values) == 1 else f"one of {', '.join(values)}"


def _sentence(text: str) -> str:
    """`one row per pupil per term` as `One row per pupil per term.`"""
    text = _oneline(text)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _oneline(text: str) -> str:
    """Folded YAML text on one line: line breaks and runs of spaces in the source files are layout."""
    return " ".join(text.split())


def _cell(text: str) -> str:
    """Text safe inside a table cell: on one line, with `|` escaped so it does not split the cell."""
    return _oneline(text).replace("|", "\\|")
