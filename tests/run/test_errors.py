"""Every mistake a user can make is named in one line: the file, flag or key, and what to do.

A research officer meets these on a schedule's failure e-mail or in a terminal; "internal error"
would send them to a developer for what is their own typo. Each test makes one such mistake.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.cli import BROKEN_PIPE_EXIT, main
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("preloaded_gx")


def test_audit_show_into_a_reader_that_stops_early_is_not_an_error(tiny_run):
    """`audit show RUN | head`: the reader closed the pipe; nothing to report, no traceback."""
    process = subprocess.Popen([sys.executable, "-m", "pipeline", "audit", "show", str(tiny_run.out)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the first line is written
    err = process.stderr.read().decode()
    assert process.wait() == BROKEN_PIPE_EXIT
    assert err == ""


def test_a_negative_number_of_synthetic_households_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["synth", "--households", "-5", "--seed", "1", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "--households" in err and "'-5'" in err and "internal error" not in err
    assert not (tmp_path / "s").exists()
