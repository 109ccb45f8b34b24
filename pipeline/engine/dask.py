"""The Dask engine: each partition of a stage's work on a worker of a Dask cluster.

Partitions are scattered to the workers (sent straight to them, not through the scheduler's
task graph), the function is mapped over them, and the results come back in the partitions'
order; nothing is kept on the cluster after a map returns. A partition of records holds
identifying data (names, birth dates, addresses) in a worker's memory while it is worked on,
and on its disk only if the worker spills: a cluster this run starts (`--dask-local`) spills
into a private temporary folder (mode 0700) that is removed when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from pathlib import Path
from typing import TypeVar

import distributed
from distributed.scheduler import KilledWorker

from pipeline.engine import EngineError, EngineFacts, Worker

T = TypeVar("T")
R = TypeVar("R")
CONNECT_TIMEOUT = "20s"
ATTEMPTS = 3  # a part is sent this many times at most when its worker is lost
LOST_WORKER = ("a Dask worker was lost each time it worked on one partition (killed, or past its memory limit): "
               "give the workers more memory (--dask-worker-memory, or the cluster's own limit) or cut smaller "
               "partitions (schemas/linkage.yaml: partitions)")


class DaskEngine:
    """An `Engine` over a `distributed.Client`."""

    partitioned = True

    def __init__(self, client: distributed.Client, started_here: bool):
        self.client = client
        self.started_here = started_here

    @property
    def scheduler(self) -> str:
        return str(self.client.scheduler.address)

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def map(self, fn: Callable[[T], R], parts: Iterable[T]) -> list[R]:
        """`fn` over each part on the workers, the results in the parts' order.

        Parts are taken from `parts` as the workers free up, at most two a worker in flight, so a generator
        of partitions is never held whole on this machine; each part is scattered straight to a worker
        (not through the scheduler's task graph) and released with its result. A part whose worker is lost
        (killed, or past its memory limit: the part's scattered copy goes with it) is sent again, up to
        `ATTEMPTS` times in all; then the run stops with `LOST_WORKER`.
        """
        window = 2 * max(self.workers, 1)
        pending: deque[tuple[T, distributed.Future, distributed.Future]] = deque()
        results: list[R] = []
        try:
            for part in parts:
                pending.append((part, *self._send(fn, part)))
                if len(pending) >= window:
                    results.append(self._take(fn, *pending.popleft()))
            while pending:
                results.append(self._take(fn, *pending.popleft()))
        except BaseException:
            self.client.cancel([f for _, data, future in pending for f in (data, future)])
            raise
        return results

    def _send(self, fn: Callable[[T], R], part: T) -> tuple[distributed.Future, distributed.Future]:
        [data] = self.client.scatter([part], hash=False)
        return data, self.client.submit(fn, data, pure=False)

    def _take(self, fn: Callable[[T], R], part: T, data: distributed.Future, future: distributed.Future) -> R:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                result = future.result()
            except (KilledWorker, CancelledError):  # the worker went, and the part's data with it
                self.client.cancel([future, data])
                if attempt == ATTEMPTS:
                    raise EngineError(LOST_WORKER) from None  # (its own message names the task and the worker)
                data, future = self._send(fn, part)
                continue
            except BaseException:
                self.client.cancel([future, data])
                raise
            self.client.cancel([future, data])
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def facts(self) -> EngineFacts:
        info = self.client.scheduler_info(n_workers=-1)
        workers = tuple(Worker(name=str(w.get("name", address)), address=address, threads=int(w.get("nthreads", 1)),
                               memory_limit=int(w["memory_limit"]) if w.get("memory_limit") else None)
                        for address, w in sorted(info["workers"].items()))
        return EngineFacts(kind="dask", scheduler=str(info.get("address") or self.scheduler),
                           cluster="started by the run" if self.started_here else "existing", workers=workers)


@contextlib.contextmanager
def dask_engine(scheduler: str | None, local_workers: int | None, worker_memory: str | None,
                scratch: Path | None = None) -> Iterator[DaskEngine]:
    """A client of the cluster at `scheduler`, or of a local cluster of `local_workers` worker processes
    (one thread each, `worker_memory` each: Dask spills, then pauses, then restarts a worker past it)."""
    if scheduler is not None and local_workers is not None:
        raise EngineError("give one of --dask-scheduler (an existing cluster) and --dask-local (a cluster started "
                          "for this run), not both")
    for name in ("distributed", "distributed.scheduler", "distributed.worker", "distributed.nanny",
                 "distributed.core", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)  # counts and addresses only, and few of them
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout=CONNECT_TIMEOUT,
                                                                set_as_default=True))
            except (OSError, TimeoutError) as exc:
                raise EngineError(f"the Dask scheduler at {scheduler} could not be reached ({type(exc).__name__}): "
                                  "is it running, and is this machine allowed to connect?") from None
            yield DaskEngine(client, started_here=False)
            return
        if local_workers is None or local_workers < 1:
            raise EngineError(f"--dask-local needs a number of workers of at least 1, not {local_workers}")
        folder = Path(tempfile.mkdtemp(prefix="pipeline-dask-", dir=scratch))  # 0700: the workers' spill
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        cluster = stack.enter_context(distributed.LocalCluster(
            n_workers=local_workers, threads_per_worker=1, processes=True, memory_limit=worker_memory or "auto",
            local_directory=str(folder), silence_logs=logging.ERROR,
            # This machine only: the scheduler, its workers and its HTTP endpoints listen on the loopback
            # interface, the latter on a free port (never a fixed one another program may hold).
            host="127.0.0.1", dashboard_address="127.0.0.1:0"))
        client = stack.enter_context(distributed.Client(cluster, set_as_default=True))
        yield DaskEngine(client, started_here=True)
