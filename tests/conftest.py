"""Shared fixtures. Prefect and GX state stay inside temporary folders, never the user's home.

Two runs are made once per session and shared by every test that only reads them: the bundled
sample (`sample_run`, with the caseworker export) and the tiny hand-made set (`tiny_run`).
Tests that change a run work on a copy.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
FIXTURES = TESTS / "fixtures"
CORPUS = TESTS / "corpus"
TINY = FIXTURES / "tiny"
SAMPLE = REPO / "sample_data"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# Prefect's state for the session, never the project's var/prefect (which `make` points PREFECT_HOME at).
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-home-")
# Every run appends to the cross-run ledger: the tests' runs go to a temporary one, never var/.
os.environ["PIPELINE_LEDGER"] = str(Path(tempfile.mkdtemp(prefix="pipeline-ledger-")) / "ledger.jsonl")
# A fresh random pseudonymisation key per test session, in a file outside the project (never a
# real key, never one written in code): keys are compared only within a session.
_KEY_FILE = Path(tempfile.mkdtemp(prefix="pipeline-key-")) / "pipeline.key"
_KEY_FILE.write_text(secrets.token_hex(32), encoding="utf-8")
_KEY_FILE.chmod(0o600)  # as `make run` makes it: a key readable by others is warned of
os.environ.pop("PIPELINE_KEY", None)
os.environ["PIPELINE_KEY_FILE"] = str(_KEY_FILE)
# Hypothesis (the property tests) keeps what it stores in a temporary folder, never .hypothesis/ in the project.
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = tempfile.mkdtemp(prefix="hypothesis-")

# The property tests' settings. "ci", the default: the same examples every run (derandomized, no example
# database), so a test gives the same verdict each time; no deadline and no health check on speed, since
# timing never decides a test on a shared machine. HYPOTHESIS_PROFILE=explore searches wider, at random, for a
# developer hunting bugs: a failure it finds is made an explicit @example or a plain test.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=75,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", settings.get_profile("ci"), derandomize=False, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def preloaded_gx() -> None:
    """Great Expectations imported once in the test process, before any run forks its GX worker.

    A run validates in a worker forked from its process; a worker forked from a process that has
    imported GX inherits it instead of importing it again (about 5 s a run on this machine). The
    command line pays that import once per run, as it should; a test session need not pay it per run.
    """
    import great_expectations  # noqa: F401


# --------------------------------------------------------------------------- a Prefect server per session
_SERVER: dict = {}


def pytest_collection_modifyitems(session, config, items) -> None:
    """Start a Prefect server at once when Prefect tests are selected: it boots while other tests run."""
    if config.option.collectonly or not any(item.path.is_relative_to(TESTS / "flows") for item in items):
        return
    from flows.serve import start_server

    home = Path(tempfile.mkdtemp(prefix="prefect-server-"))
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_API_SERVICES_SCHEDULER_LOOP_SECONDS="5",
               PREFECT_UI_ENABLED="false")
    _SERVER.update(home=home, port=port, env=env, process=start_server(port, home / "server.log", env))


def pytest_sessionfinish(session, exitstatus) -> None:
    if "process" in _SERVER:
        from flows.serve import stop

        stop(_SERVER.pop("process"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prefect_server() -> dict:
    """The session's Prefect server (loopback, state in a temporary PREFECT_HOME), once it answers."""
    from flows.serve import server_url, wait_healthy

    if "process" not in _SERVER:
        pytest.fail("the Prefect server is started when tests under tests/flows are collected")
    url = server_url(_SERVER["port"])
    wait_healthy(url, timeout=120, process=_SERVER["process"])
    return {"url": url, "home": _SERVER["home"], "env": _SERVER["env"]}


@pytest.fixture(scope="session")
def schemas():
    from pipeline.config import load_schemas

    return load_schemas()


@dataclass(frozen=True)
class CliRun:
    """A run made through `python -m pipeline run`: its exit code, folder, printed output and ledger."""

    code: int
    out: Path
    stdout: str
    stderr: str
    ledger: Path


def run_cli(base: Path, *args: str) -> CliRun:
    """`python -m pipeline run ARGS --out base/run`, with a ledger of its own under `base`."""
    from pipeline.cli import main

    ledger = base / "ledger" / "ledger.jsonl"
    out = base / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        mp.setenv("PIPELINE_LEDGER", str(ledger))
        code = main(["run", *map(str, args), "--out", str(out)])
    return CliRun(code, out, stdout.getvalue(), stderr.getvalue(), ledger)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory, preloaded_gx) -> CliRun:
    """The bundled sample, run once as `make run` does, with the caseworker export."""
    run = run_cli(tmp_path_factory.mktemp("sample"), "--extracts", SAMPLE / "extracts", "--caseworker-export",
                  "--no-reuse")
    assert run.code == 0, run.stderr
    return run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, preloaded_gx) -> CliRun:
    """The tiny hand-made set (tests/fixtures/tiny: eight rows a source, one bad date, one bad absence)."""
    run = run_cli(tmp_path_factory.mktemp("tiny"), "--extracts", TINY, "--no-reuse")
    assert run.code == 0, run.stderr
    return run


@pytest.fixture(scope="session")
def browser() -> str:
    """Headless Chromium, which the browser tests need: without it they fail, never skip, so a machine that
    cannot check what a person sees says so."""
    from tests.support import CHROMIUM

    if CHROMIUM is None:
        pytest.fail("headless Chromium is needed to check the pages a person sees: apt-get install -y chromium")
    return CHROMIUM
