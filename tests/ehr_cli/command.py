"""Run ``ehr-ingest`` as an operator does: the installed command, in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.stack import Stack

COMMAND = Path(sys.executable).parent / "ehr-ingest"
Done = subprocess.CompletedProcess[str]


def user_env() -> dict[str, str]:
    """A shell's environment with none of the app's settings or identity in it: a command that
    needs them is given ``--settings``."""
    app = ("AZURE_", "IDENTITY_", "MSI_", "REQUESTS_CA_BUNDLE", "CONNECTORS", "ExportsStorage")
    return {k: v for k, v in os.environ.items() if not k.startswith(app)}


def ehr_ingest(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> Done:
    return subprocess.run(
        [str(COMMAND), *map(str, args)],
        capture_output=True,
        text=True,
        env=user_env() if env is None else env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def against(
    stack: Stack, *args: str | Path, settings: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``ehr-ingest ARGS --settings <the stack's local.settings.json>``, in the app's environment."""
    return ehr_ingest(
        *args, "--settings", settings or stack.work / "local.settings.json", env=stack.app_env()
    )


def report_json(stack: Stack) -> dict[str, Any]:
    """``ehr-ingest report --format json``: the report now, as the command prints it."""
    done = against(stack, "report", "--format", "json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report
