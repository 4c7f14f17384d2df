"""Run ``ehr-ingest`` as an operator does: the installed command, in its own process, against a
running local stack's settings file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.stack import Stack

COMMAND = Path(sys.executable).parent / "ehr-ingest"


def ehr_ingest(stack: Stack | None, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``ehr-ingest ARGS`` with the stack's ``local.settings.json`` (``--settings``, as a user
    passes it), in an environment that holds none of the app's settings itself."""
    env = {k: v for k, v in os.environ.items() if stack is None or k not in stack.settings}
    argv = [str(COMMAND), *args]
    if stack is not None and "--settings" not in args and _takes_settings(args):
        argv += ["--settings", str(stack.work / "local.settings.json")]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False)


def report_json(stack: Stack) -> dict[str, Any]:
    """``ehr-ingest report --format json``: the report now, as the command prints it."""
    done = ehr_ingest(stack, "report", "--format", "json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _takes_settings(args: tuple[str, ...]) -> bool:
    return bool(args) and args[0] in {"report", "status", "replay", "doctor", "drop"}
