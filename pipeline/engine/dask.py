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
from pathlib import Path
from typing import TypeVar

import distributed

from pipeline.engine import EngineError, EngineFacts, Worker

T = TypeVar("T")
R = TypeVar("R")
CONNECT_TIMEOUT = "20s"


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
        (not through the scheduler's task graph) and released with its result.
        """
        window = 2 * max(self.workers, 1)
        pending: deque[tuple[distributed.Future, distributed.Future]] = deque()
        results: list[R] = []
        try:
            for part in parts:
                [data] = self.client.scatter([part], hash=False)
                pending.append((data, self.client.submit(fn, data, pure=False)))
                if len(pending) >= window:
                    results.append(self._take(*pending.popleft()))
            while pending:
                results.append(self._take(*pending.popleft()))
        except BaseException:
            self.client.cancel([f for pair in pending for f in pair])
            raise
        return results

    def _take(self, data: distributed.Future, future: distributed.Future) -> R:
        try:
            return future.result()
        finally:
            self.client.cancel([future, data])

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
