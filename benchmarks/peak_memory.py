"""Peak memory of a command and all its child processes, sampled from /proc (Linux).

    python3 benchmarks/peak_memory.py .venv/bin/python -m pipeline run --extracts DIR --out OUT --force
    PEAK_TIMELINE=mem.tsv python3 benchmarks/peak_memory.py ...   # also every sample: seconds, tree and main GiB

`/usr/bin/time -v` reports the largest single process only; a run has a GX worker beside the main
process, so the figure that matters is the sum over the process tree at its worst moment.
Prints the peak of that sum, when it happened, the main process's own peak, and each other process's
own peak with what it is (a run on a local Dask cluster, `--dask-local N`, has N worker processes
under a nanny each: their peaks are the per-worker figures).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                for child in fh.read().split():
                    out += tree(int(child))
    except OSError:
        pass
    return out


def rss(pid: int) -> int:
    """Resident set size in bytes, 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def kind(pid: int) -> str:
    """What a process is, from its command line: a Dask worker, the GX worker, ..."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "multiprocessing.spawn" in cmdline or "multiprocessing.forkserver" in cmdline:
        return "spawned worker: a Dask worker or nanny"
    return cmdline[:60]


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    started = time.time()
    process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    peak = peak_main = 0
    at, processes = 0.0, 1
    timeline = open(os.environ["PEAK_TIMELINE"], "w") if os.environ.get("PEAK_TIMELINE") else None  # noqa: SIM115
    each: dict[int, int] = {}
    kinds: dict[int, str] = {}
    while process.poll() is None:
        pids = tree(process.pid)
        sizes = {p: rss(p) for p in pids}
        total = sum(sizes.values())
        for p, size in sizes.items():
            if size > each.get(p, 0):
                each[p] = size
                kinds.setdefault(p, kind(p))
        if total > peak:
            peak, at, processes = total, time.time() - started, len(pids)
        peak_main = max(peak_main, rss(process.pid))
        if timeline is not None:
            timeline.write(f"{time.time() - started:.1f}\t{total / 2**30:.2f}\t{rss(process.pid) / 2**30:.2f}\n")
        time.sleep(0.5)
    if timeline is not None:
        timeline.close()
    print(f"exit {process.returncode}; wall {time.time() - started:.1f}s; peak RSS of the process tree "
          f"{peak / 2**30:.2f} GiB at {at:.0f}s ({processes} processes); "
          f"main process alone {peak_main / 2**30:.2f} GiB")
    for p, size in sorted(each.items(), key=lambda kv: -kv[1]):
        if p != process.pid and size > 100 * 2**20:
            print(f"  process {p} ({kinds[p]}): peak {size / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
