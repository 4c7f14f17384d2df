"""Telemetry is configured once, by the worker: a log record reaches Application Insights once.

With ``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true`` Microsoft's Python worker configures
Azure Monitor OpenTelemetry itself; the app (``shared.common.telemetry.configure``) must not add a
second exporter, which would send every record twice. The worker and the app run in a child
process against a local stand-in for the ingestion endpoint (loopback only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devstack.azurite import REPO_ROOT

APP = """
import logging
import os

import azure.functions as func

from shared.common import telemetry
from shared.common.settings import Settings

app = func.FunctionApp()


@app.function_name("log_once")
@app.route(route="log", auth_level=func.AuthLevel.ANONYMOUS)
def log_once(req: func.HttpRequest) -> str:
    configured = telemetry.configure(Settings(dict(os.environ)))
    logging.getLogger("ehr_ingest.test").warning("exported-once-marker")
    return str(configured)
"""


def test_a_log_record_is_exported_once_when_the_worker_configures_telemetry(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(APP)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
        # Nothing leaves the machine: no statsbeat, no live metrics, no cloud resource lookups.
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_functions",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.devstack.worker_telemetry_child", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["status"] == 200
    assert result["app_configured"] == "True"  # telemetry is on for the app...
    assert result["configured_again"] == 0  # ...by the worker alone: the app did not configure it again
    assert result["marker_records"] == 1  # and the record went out once, through the worker's exporter
