"""Stack process handling (issue 9)."""

from __future__ import annotations

import os
import subprocess
import sys

from devstack.stack import _gone, _stop_pid


def test_an_exited_child_counts_as_gone_without_waiting_out_the_timeout():
    """A child that has exited stays a zombie, and its group signalable, until it is reaped:
    stopping it used to wait the whole timeout (15 s per process, 30 s per stack teardown)."""
    proc = subprocess.Popen([sys.executable, "-c", ""], start_new_session=True)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    assert _gone(proc.pid)


def test_stop_pid_ends_and_reaps_the_process_group():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    _stop_pid(proc.pid, timeout=60)
    assert _gone(proc.pid)
