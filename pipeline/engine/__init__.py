"""Where a run's heavy work is carried out: in this process, or on a Dask cluster.

The stages are written against `Engine.map`: a function over a list of partitions, the results
in the partitions' order. `LocalEngine` calls it in this process; `pipeline.engine.dask.DaskEngine`
hands each partition to a worker of a Dask cluster (one started here with `--dask-local N`, or
an existing one at `--dask-scheduler ADDRESS`). The stages combine the results the same way
whichever engine made them, so a cluster gives the same outputs as one process.

`open_engine` is the one place an engine is chosen from a run's options; it is a context
manager, so a local cluster it starts is stopped, and its workers' scratch folder removed,
however the run ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class EngineError(Exception):
    """The cluster asked for cannot be had: the message says which and why, without data."""


@dataclass(frozen=True)
class Worker:
    """One worker of a cluster as the lineage records it: its address, threads and memory limit (bytes)."""

    name: str
    address: str
    threads: int
    memory_limit: int | None


@dataclass(frozen=True)
class EngineFacts:
    """What the lineage and the ledger record of the engine a run used."""

    kind: str  # "local" (this process) or "dask"
    scheduler: str | None = None  # the Dask scheduler's address
    cluster: str | None = None  # "started by the run" (--dask-local) or "existing" (--dask-scheduler)
    workers: tuple[Worker, ...] = field(default_factory=tuple)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> EngineFacts:
        """The facts as a run's lineage recorded them (`record`), read back."""
        return cls(kind=str(record.get("kind")), scheduler=record.get("scheduler"), cluster=record.get("cluster"),
                   workers=tuple(Worker(name=str(w.get("name")), address=str(w.get("address")),
                                        threads=int(w.get("threads") or 0),
                                        memory_limit=int(w["memory_limit"]) if w.get("memory_limit") else None)
                                 for w in record.get("workers") or () if isinstance(w, dict)))

    def text(self) -> str:
        if self.kind == "local":
            return "this process"
        memory = {w.memory_limit for w in self.workers}
        limit = f", {memory.pop() / 2**30:.1f} GiB each" if len(memory) == 1 and None not in memory else ""
        return f"Dask at {self.scheduler} ({self.cluster}): {len(self.workers)} workers{limit}"


class Engine(Protocol):
    """Carries out a function over partitions; see the module's docstring."""

    def map(self, fn: Callable[[T], R], parts: Iterable[T]) -> list[R]:
        """`fn` over each part, the results in the parts' order; `parts` may be a generator, taken as it goes."""
        ...

    @property
    def workers(self) -> int: ...

    @property
    def partitioned(self) -> bool:
        """Whether the stages cut their work into partitions for it (False: each stage whole, in this process)."""
        ...

    @property
    def scheduler(self) -> str | None:
        """The Dask scheduler's address, for Prefect's DaskTaskRunner to join the same cluster; None in this process."""
        ...

    def facts(self) -> EngineFacts: ...


class LocalEngine:
    """Everything in this process. With `workers` above 1 the stages still cut their work into that many
    workers' partitions and carry them out one after another: how the tests check, without a cluster, that
    partitions put back together give what the whole does."""

    scheduler = None

    def __init__(self, workers: int = 1):
        self.workers = workers
        self.partitioned = workers > 1

    def map(self, fn: Callable[[T], R], parts: Iterable[T]) -> list[R]:
        return [fn(part) for part in parts]

    def facts(self) -> EngineFacts:
        return EngineFacts(kind="local")


LOCAL = LocalEngine()  # the default: each stage whole, in this process


@contextlib.contextmanager
def open_engine(scheduler: str | None = None, local_workers: int | None = None,
                worker_memory: str | None = None, scratch: Path | None = None) -> Iterator[Engine]:
    """The engine a run's options ask for: this process, an existing Dask cluster, or a local one of
    `local_workers` single-threaded worker processes limited to `worker_memory` each ("4GB")."""
    if scheduler is None and local_workers is None:
        yield LOCAL
        return
    from pipeline.engine.dask import dask_engine  # Dask is imported only by a run that asks for it

    with dask_engine(scheduler, local_workers, worker_memory, scratch) as engine:
        yield engine
