"""Engines: a function over partitions, the results in the partitions' order, wherever it runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipeline.engine import LOCAL, EngineError, EngineFacts, LocalEngine, open_engine


def _square(x: int) -> int:
    return x * x


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("part 3 is bad")
    return x


def _pid(_: int) -> int:
    return os.getpid()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with open_engine(local_workers=2, worker_memory="1GB", scratch=tmp_path_factory.mktemp("spill")) as engine:
        yield engine


def test_no_option_means_this_process_and_the_stages_left_whole():
    with open_engine() as engine:
        assert engine is LOCAL and not engine.partitioned and engine.workers == 1
        assert engine.facts() == EngineFacts(kind="local")


def test_a_local_engine_of_several_workers_cuts_the_work_but_runs_it_here():
    engine = LocalEngine(workers=3)
    assert engine.partitioned and engine.workers == 3
    assert engine.map(_pid, range(4)) == [os.getpid()] * 4


def test_a_cluster_gives_the_results_in_the_order_of_the_parts_even_from_a_generator(cluster):
    assert cluster.map(_square, (x for x in range(25))) == [x * x for x in range(25)]
    assert cluster.map(_square, []) == []


def test_the_parts_run_in_the_workers_processes_not_this_one(cluster):
    ran_in = set(cluster.map(_pid, range(8)))
    assert os.getpid() not in ran_in and 1 <= len(ran_in) <= 2


def test_a_part_that_fails_raises_its_own_error_and_leaves_nothing_on_the_cluster(cluster):
    with pytest.raises(ValueError, match="part 3 is bad"):
        cluster.map(_fail_on_three, range(10))
    deadline = time.monotonic() + 10  # cancelling is asynchronous: the scheduler forgets the parts shortly after
    while cluster.client.who_has() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not cluster.client.who_has()


def test_the_facts_name_each_worker_with_its_threads_and_memory_limit(cluster):
    facts = cluster.facts()
    assert facts.kind == "dask" and facts.cluster == "started by the run"
    assert [(w.threads, w.memory_limit) for w in facts.workers] == [(1, 1_000_000_000)] * 2
    assert EngineFacts.from_record(facts.record()) == facts
    assert facts.text().endswith("2 workers, 0.9 GiB each")


def test_a_local_clusters_spill_folder_is_private_and_removed_when_it_stops(tmp_path):
    with open_engine(local_workers=1, scratch=tmp_path) as engine:
        [folder] = list(tmp_path.glob("pipeline-dask-*"))
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
        assert engine.map(_square, [2]) == [4]
    assert not folder.exists()


def test_both_a_scheduler_and_a_local_cluster_is_refused_in_words():
    with pytest.raises(EngineError, match=r"give one of --dask-scheduler .* and --dask-local"), \
            open_engine(scheduler="tcp://127.0.0.1:9", local_workers=2):
        pass


def test_a_scheduler_that_is_not_there_is_named_without_a_traceback():
    with pytest.raises(EngineError, match=r"the Dask scheduler at tcp://127.0.0.1:9 could not be reached"), \
            open_engine(scheduler="tcp://127.0.0.1:9"):
        pass


def test_a_record_read_back_from_a_hostile_lineage_ignores_what_it_does_not_know():
    facts = EngineFacts.from_record({"kind": "dask", "workers": [{"name": "w", "address": "tcp://x", "threads": 1,
                                                                  "memory_limit": None, "extra": "?"}, "not a worker"]})
    assert [w.name for w in facts.workers] == ["w"]


def test_a_cluster_names_its_scheduler_for_prefects_task_runner_and_this_process_names_none(cluster):
    assert LOCAL.scheduler is None and LocalEngine(workers=3).scheduler is None
    assert cluster.scheduler.startswith("tcp://127.0.0.1:") and cluster.scheduler == cluster.facts().scheduler


def _die(_: int) -> int:
    os._exit(1)  # the worker process dies, as one killed for its memory does


def _die_once(marker: str) -> str:
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)  # the first worker to take it dies, its scattered copy of the part with it
    return "done"


def test_a_part_whose_worker_is_lost_is_sent_again_and_its_result_comes_back(tmp_path):
    with open_engine(local_workers=1, scratch=tmp_path) as engine:
        assert engine.map(_die_once, [str(tmp_path / "died")]) == ["done"]
    assert (tmp_path / "died").exists()


def test_a_partition_that_kills_every_worker_it_meets_stops_the_run_with_what_to_do(tmp_path):
    from pipeline.run.failure import public_reason

    with open_engine(local_workers=1, scratch=tmp_path) as engine, pytest.raises(EngineError) as caught:
        engine.map(_die, [1])
    assert str(caught.value).startswith("a Dask worker was lost each time it worked on one partition")
    assert "--dask-worker-memory" in public_reason(caught.value) and "tcp://" not in public_reason(caught.value)
