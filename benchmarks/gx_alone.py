"""Benchmark: Great Expectations' own part of a run, alone: import, validate every source, Data Docs.

    .venv/bin/python benchmarks/gx_alone.py --extracts var/bench/synth-20000-1/extracts

Why: a run cannot finish before GX has validated every source and built the Data Docs, and that
work is one sequential chain (one GX context, one worker). So the time of this chain, started in
a fresh process, is a floor under the whole run's time however fast the rest becomes: it is the
figure to set beside a speed target. Reading and checking the files (the pipeline's work, which
GX's worker receives) is done first and not timed. Prints one line of figures; with --json, a JSON
object for other benchmarks (bench_splink.py) to read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extracts", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from pipeline.config import load_schemas
    from pipeline.ingest.read import parse_extract
    from pipeline.ingest.validate import validate
    from pipeline.run import execute  # noqa: F401  (a run has imported this much before its GX worker forks)

    schemas = load_schemas()
    views = {}
    for source, contract in sorted(schemas.contracts.items()):
        path = args.extracts / f"{source}.csv"
        if not path.exists():
            continue
        raw = parse_extract(path.read_bytes(), path, contract, schemas.gateways.get(source))
        checked = validate(raw, contract, schemas, 1.0)
        views[source] = (checked.checks, checked.views, len(checked.views))
    if "great_expectations" in sys.modules:
        raise SystemExit("great_expectations was imported before the timed part")

    figures: dict[str, float] = {}
    start = time.perf_counter()
    import great_expectations  # noqa: F401

    from pipeline.ingest.gx import GXValidator

    figures["import"] = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="gx_alone_") as tmp:
        mark = time.perf_counter()
        validator = GXValidator(Path(tmp) / "docs", dt.datetime(2026, 1, 1))
        for source, (checks, frame, _) in views.items():
            validator.validate(source, checks, frame)
        figures["validate"] = time.perf_counter() - mark
        mark = time.perf_counter()
        validator.build_docs()
        figures["docs"] = time.perf_counter() - mark
    figures["total"] = time.perf_counter() - start
    figures["rows"] = sum(n for _, _, n in views.values())
    figures["expectations"] = sum(len(c) for c, _, _ in views.values())
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"GX alone: {figures['total']:.2f}s = import {figures['import']:.2f}s + validate "
              f"{figures['validate']:.2f}s ({figures['expectations']} expectations over {figures['rows']:,} rows) "
              f"+ Data Docs {figures['docs']:.2f}s")


if __name__ == "__main__":
    main()
