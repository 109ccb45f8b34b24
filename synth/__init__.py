"""Synthetic local authority: six agency extracts with ground truth, for tests and benchmarks.

`generate(households, seed, out)` writes out/extracts/<source>.csv (exactly the columns of
docs/extract-specification.md) and out/truth/ (truth.csv, households.csv, people.csv, defects.csv,
hard_cases.csv, moves.csv, gazetteer.csv). The same (households, seed, extract_date,
defect_rate) always gives byte-identical files. Layout:

- addresses.py   invented gazetteer: streets, buildings split into flats, UPRNs, postcodes
- population.py  households and people: composition, ages, names, surnames, twins, moves
- names.py       name tables in data/ and sampling by naming tradition, sex and era
- sources/       one module per agency: who appears, when, where, and agency fields
- render.py, corrupt.py   how each agency writes names, dates and addresses (noise profiles)
- defects.py     rows that validation must quarantine
- truth.py, write.py      ground-truth tables and RFC 4180 CSV writing
- criteria_truth.py       each true household's criteria under the three rule sets (households.csv)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib

import pandas as pd

from synth import criteria_truth, identifiers, truth
from synth.addresses import authority_dwellings
from synth.config import SynthConfig
from synth.defects import inject
from synth.population import build_population
from synth.randomness import stage_rng
from synth.schema import DEFECT_COLUMNS, HARD_CASE_COLUMNS, SOURCES, TRUTH_COLUMNS
from synth.sources import (
    Context,
    benefits,
    children_social_care,
    electoral_register,
    health,
    police,
    schools,
)
from synth.write import TRUTH_LINE_END, write_csv

__all__ = ["SOURCES", "SynthConfig", "generate"]

DEFAULT_EXTRACT_DATE = dt.date(2026, 10, 31)

# Build order matters only for which agency numbers exist when people.csv is written; each
# source draws from its own random stream, so the order does not change any source's rows.
_BUILDERS = {
    "police": police.build,
    "schools": schools.build,
    "health": health.build,
    "electoral_register": electoral_register.build,
    "benefits": benefits.build,
    "children_social_care": children_social_care.build,
}


def generate(
    households: int,
    seed: int,
    out: pathlib.Path,
    extract_date: dt.date = DEFAULT_EXTRACT_DATE,
    defect_rate: float | None = None,
    config: SynthConfig | None = None,
) -> dict:
    """Write the six extracts and the truth files for a synthetic authority; return a summary.

    The summary holds counts only (households, people, rows per source, defects), no personal
    data, so it can be logged.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    cfg = config or SynthConfig()
    if defect_rate is not None:
        cfg = dataclasses.replace(cfg, defect_rate=float(defect_rate))
    out = pathlib.Path(out)
    ext_dir, truth_dir = out / "extracts", out / "truth"
    ext_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)

    dw = authority_dwellings(households, seed, cfg.vacancy)
    pop = build_population(stage_rng(seed, "population"), households, dw, extract_date, cfg)
    ctx = Context(pop=pop, dw=dw, cfg=cfg, seed=seed, extract_date=extract_date, key=identifiers.token_key(seed))

    rows: dict[str, int] = {}
    n_defects = 0
    # Criteria on the true people, from the rows validation accepts: small per-person facts
    # are gathered source by source so that no extract outlives its loop iteration.
    criteria = criteria_truth.Collector(pop.dob, pop.hh, pop.n_households, extract_date)
    truth_path, hard_path, defect_path = (
        truth_dir / "truth.csv",
        truth_dir / "hard_cases.csv",
        truth_dir / "defects.csv",
    )
    for path, cols in ((truth_path, TRUTH_COLUMNS), (hard_path, HARD_CASE_COLUMNS), (defect_path, DEFECT_COLUMNS)):
        write_csv(pd.DataFrame(columns=list(cols)), path, TRUTH_LINE_END)
    for source in SOURCES:
        ex = _BUILDERS[source](ctx)
        defects = inject(source, ex.frame, cfg.defect_rate, stage_rng(seed, f"{source}/defects"))
        criteria.add(source, ex.frame, ex.pidx, defects["source_record_id"])
        write_csv(ex.frame, ext_dir / f"{source}.csv")
        write_csv(truth.truth_rows(ex, pop), truth_path, TRUTH_LINE_END, append=True)
        write_csv(truth.hard_case_rows(ex, pop), hard_path, TRUTH_LINE_END, append=True)
        write_csv(defects, defect_path, TRUTH_LINE_END, append=True)
        rows[source] = len(ex.frame)
        n_defects += len(defects)
        del ex, defects

    households_frame = pd.concat([truth.households_frame(pop, dw), criteria.households()], axis=1)
    write_csv(households_frame, truth_dir / "households.csv", TRUTH_LINE_END)
    write_csv(truth.people_frame(pop), truth_dir / "people.csv", TRUTH_LINE_END)
    write_csv(truth.moves_frame(pop, dw), truth_dir / "moves.csv", TRUTH_LINE_END)
    write_csv(dw.gazetteer(), truth_dir / "gazetteer.csv", TRUTH_LINE_END)
    return {
        "households": pop.n_households,
        "people": pop.n_people,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "defects": n_defects,
        "seed": int(seed),
        "extract_date": extract_date.isoformat(),
    }
