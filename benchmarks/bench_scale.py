"""The scaling table: whole runs of synthetic authorities of growing size, each timed and its memory measured.

    .venv/bin/python -m pipeline synth --households 108750 --seed 7 --out /data/h108750   # ~0.25M residents
    ... 217500 (0.5M), 435000 (1M), 870000 (2M)
    .venv/bin/python benchmarks/bench_scale.py /data/h108750 /data/h217500 /data/h435000 /data/h870000 \\
        --dask-local 2 --dask-worker-memory 4GB [--single]

Each authority is run once on a local Dask cluster (`--dask-local`, workers limited to
`--dask-worker-memory`) and, with `--single`, once in one process, one after the other in this
invocation. Each run goes through `benchmarks/peak_memory.py`, so its memory is the peak summed over
the whole process tree (the run, Great Expectations' worker, the Dask nannies and workers) and each
worker's own peak. Prints a Markdown table: residents (the truth's people), rows, candidate pairs,
wall time, peak of the tree, the largest worker's peak, and each stage's seconds from the lineage; then
the figures per million residents that a projection to larger authorities rests on.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEAK = re.compile(r"wall (?P<wall>[0-9.]+)s; peak RSS of the process tree (?P<tree>[0-9.]+) GiB.*main process alone "
                  r"(?P<main>[0-9.]+) GiB")
PROCESS = re.compile(r"process \d+ \((?P<kind>[^)]*)\): peak (?P<peak>[0-9.]+) GiB")


def residents(data: Path) -> int:
    with open(data / "truth" / "people.csv", encoding="utf-8") as fh:
        return sum(1 for _ in fh) - 1


def run(data: Path, out: Path, engine: list[str]) -> dict:
    """One run under peak_memory.py; its figures and its lineage's stage records."""
    command = [sys.executable, str(REPO / "benchmarks" / "peak_memory.py"), sys.executable, "-m", "pipeline", "run",
               "--extracts", str(data / "extracts"), "--out", str(out), "--force", "--no-reuse", *engine]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    found = PEAK.search(done.stdout)
    if done.returncode != 0 or found is None or not (out / "lineage.jsonl").exists():
        raise SystemExit(f"run of {data} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    records = [json.loads(line) for line in (out / "lineage.jsonl").read_text(encoding="utf-8").splitlines()]
    stages = {r["stage"]: r for r in records if r.get("event") == "stage"}
    sources = [r for r in records if r.get("event") == "source" and r.get("used")]
    workers = [float(m["peak"]) for m in PROCESS.finditer(done.stdout) if "spawned" in m["kind"]]
    progress = done.stderr
    linking = re.search(r"\[\s*([0-9.]+)s\] linking", progress)
    return {"wall": wall, "tree": float(found["tree"]), "main": float(found["main"]),
            "worker": max(workers) if workers else None, "rows": sum(int(s["rows_in"]) for s in sources),
            "pairs": int(stages["link"]["candidate_pairs"]), "link": float(stages["link"]["seconds"]),
            "score": float(stages["score"]["seconds"]), "linking_starts": float(linking.group(1)) if linking else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", type=Path, help="synthetic authorities (pipeline synth --out folders)")
    parser.add_argument("--dask-local", type=int, default=2)
    parser.add_argument("--dask-worker-memory", default="4GB")
    parser.add_argument("--single", action="store_true", help="also run each in one process")
    parser.add_argument("--out", type=Path, default=None, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    kinds = [("dask", ["--dask-local", str(args.dask_local), "--dask-worker-memory", args.dask_worker_memory])]
    if args.single:
        kinds.append(("one process", []))
    rows = []
    for data in args.data:
        people = residents(data)
        for name, engine in kinds:
            figures = run(data, root / f"{data.name}-{name.replace(' ', '-')}", engine)
            rows.append((people, name, figures))
            print(f"{data.name} {name}: {json.dumps(figures)}", file=sys.stderr, flush=True)
    print(f"\n{args.dask_local} workers of {args.dask_worker_memory} each; runs in {root}\n")
    print("| residents | engine | rows | candidate pairs | wall (s) | linking starts (s) | link stage (s) | "
          "score (s) | peak, whole tree (GiB) | peak, main process (GiB) | peak, largest worker (GiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for people, name, f in rows:
        worker = f"{f['worker']:.2f}" if f["worker"] is not None else "-"
        print(f"| {people:,} | {name} | {f['rows']:,} | {f['pairs']:,} | {f['wall']:.0f} | {f['linking_starts']:.0f} | "
              f"{f['link']:.0f} | {f['score']:.0f} | {f['tree']:.2f} | {f['main']:.2f} | {worker} |")
    print("\nPer million residents (for projections):")
    for people, name, f in rows:
        m = people / 1e6
        print(f"- {people:,} residents, {name}: {f['wall'] / m:.0f} s, {f['pairs'] / m:,.0f} pairs, "
              f"{f['main'] / m:.2f} GiB in the main process per million residents")


if __name__ == "__main__":
    main()
