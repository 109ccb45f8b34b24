"""Benchmark: what building report.html adds to a run of a 20,000-household authority.

Run: .venv/bin/python benchmarks/bench_report.py [--households 20000] [--seed 1] [--repeat 3]
     [--cache var/bench] [--profile]
Needs PIPELINE_KEY_FILE (or PIPELINE_KEY). Generates the synthetic authority once (cached under
var/bench/synth-<households>-<seed>, the path bench_linkage.py and bench_splink.py use), then runs
`python -m pipeline run --no-reuse` on it `--repeat` times with the report and as often without it
(the baseline: the same command with the report's builder replaced by one returning no bytes, so
the run writes an empty report.html and does nothing else differently), alternately, in this one
invocation: this machine's speed varies by a third from one minute to the next (more when other
work shares its two cores), so the fastest of each is compared, each run with the baseline run next
to it, and their CPU time too (the run's and its Great Expectations worker's). Prints the run times and their
ratios, the report's own build time (its stage record in the lineage) against the run's, and the
report's size. With --profile it also runs the
report's builder under cProfile on the last run's tables and prints where its time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The baseline run: the pipeline's command line with the report's builder made to build nothing.
BASELINE = """
import sys
import pipeline.run.stages as stages
stages.build_report = lambda result, tables: b""
from pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def ensure_synth(households: int, seed: int, cache: Path, env: dict) -> Path:
    data = cache / f"synth-{households}-{seed}"
    if not (data / "truth" / "truth.csv").exists():
        print(f"generating {data} ...", flush=True)
        subprocess.run([sys.executable, "-m", "pipeline", "synth", "--households", str(households), "--seed",
                        str(seed), "--out", str(data)], check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    return data


def run(extracts: Path, out: Path, env: dict, baseline: bool) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds of the run and every process it waited for (its GX worker)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-c", BASELINE] if baseline else [sys.executable, "-m", "pipeline"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([*command, "run", "--extracts", str(extracts), "--out", str(out), "--no-reuse"], check=True,
                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def lineage(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "lineage.jsonl").read_text(encoding="utf-8").splitlines()]


def profile(extracts: Path, out: Path) -> None:
    """One run in this process under cProfile; the report's functions (pipeline/report/) by cumulative time."""
    import cProfile
    import pstats

    from pipeline.cli import main as pipeline

    profiler = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        profiler.runcall(pipeline, ["run", "--extracts", str(extracts), "--out", str(out), "--no-reuse", "--force"])
    print("where building the report spends its time (cProfile, cumulative seconds, pipeline/report/ only):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"pipeline/report/", 14)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs with the report and as many without, alternately")
    ap.add_argument("--cache", type=Path, default=ROOT / "var" / "bench")
    ap.add_argument("--profile", action="store_true", help="also profile the report's facts on the last run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        work = Path(tmp)
        env = {**os.environ, "PIPELINE_LEDGER": str(work / "ledger.jsonl")}
        extracts = ensure_synth(args.households, args.seed, args.cache, env) / "extracts"
        with_report, without, build, run_seconds = [], [], [], []
        cpu: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.repeat):
            for baseline in ((False, True) if i % 2 == 0 else (True, False)):  # alternate which goes first
                out = work / ("baseline" if baseline else "report")
                seconds, cpu_seconds = run(extracts, out, env, baseline)
                (without if baseline else with_report).append(seconds)
                cpu[baseline].append(cpu_seconds)
                if not baseline:
                    records = lineage(out)
                    build.append(next(r["seconds"] for r in records if r.get("stage") == "report"))
                    run_seconds.append(records[-1]["seconds"])
                    size = (out / "report.html").stat().st_size
        print(f"{args.households:,} households, seed {args.seed}: {args.repeat} runs with the report and "
              f"{args.repeat} without, alternately")
        print(f"  whole run with the report: fastest {min(with_report):.1f} s (median "
              f"{statistics.median(with_report):.1f}); without: fastest {min(without):.1f} s (median "
              f"{statistics.median(without):.1f}); ratio {min(with_report) / min(without):.3f} "
              f"(medians {statistics.median(with_report) / statistics.median(without):.3f})")
        paired = statistics.median(w / b for w, b in zip(with_report, without, strict=True))
        print(f"  each run with the report against the baseline run beside it (the machine's drift cancels): "
              f"median ratio {paired:.3f}, from {min(w / b for w, b in zip(with_report, without, strict=True)):.3f} "
              f"to {max(w / b for w, b in zip(with_report, without, strict=True)):.3f}")
        cpu_medians = statistics.median(cpu[False]) / statistics.median(cpu[True])
        print(f"  CPU time (the run and its GX worker; less moved by other work on the machine): with the report "
              f"fastest {min(cpu[False]):.1f} s (median {statistics.median(cpu[False]):.1f}), without "
              f"{min(cpu[True]):.1f} s (median {statistics.median(cpu[True]):.1f}); ratio "
              f"{min(cpu[False]) / min(cpu[True]):.3f} (medians {cpu_medians:.3f})")
        share = 100 * statistics.median(build) / statistics.median(run_seconds)
        print(f"  the report's own build (its stage record): fastest {min(build):.2f} s, median "
              f"{statistics.median(build):.2f} s; {share:.1f}% of the run's recorded time (median "
              f"{statistics.median(run_seconds):.1f} s), built while Great Expectations' worker validates")
        print(f"  report.html: {size:,} bytes ({size / 1024:,.0f} KiB)")
        if args.profile:
            os.environ["PIPELINE_LEDGER"] = env["PIPELINE_LEDGER"]
            profile(extracts, work / "profiled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
