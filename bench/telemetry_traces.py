"""Trace rows a 1M-row run sends to Application Insights, Azure SDK logs at INFO and at WARNING.

Microsoft's exporter posts to the local emulator's track endpoint; the stages run in one process
(``python -m devstack.telemetry``) with telemetry configured as the app does, the root logger
at INFO as in the Functions worker. Counted: Message envelopes (the ``traces`` table), by logger.

    .venv/bin/python -m bench.telemetry_traces [--rows 1000000] [--chunk-rows 100000]
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench import common
from devstack import telemetry
from devstack.generate import GenerateOptions, generate
from devstack.stack import Stack


def one_run(
    stack: Stack, export: Path, level: str, chunk_rows: int, tag: str, loop_seconds: float = 0
) -> dict:
    """``loop_seconds``: INFO with the exporter's own records kept, stopped after that long
    (the run never ends by itself: the exporter exports its own logs)."""
    url = stack.state["emulator"]["url"]
    requests.post(url + "/_emulator/telemetry/reset", verify=stack.verify, timeout=30).raise_for_status()
    connectors = json.loads(stack.settings["CONNECTORS"])
    for c in connectors:
        c["chunk_rows"] = chunk_rows
    env = telemetry.environment(
        stack.app_env(),
        url,
        AZURE_SDK_LOG_LEVEL=level,
        CONNECTORS=json.dumps(connectors),
        EXPORTS_CONTAINER=f"bench-{tag}",
        CHUNK_QUEUE=f"bench-{tag}",
        LEDGER_TABLE=f"bench{tag}",
        REPORTS_CONTAINER=f"bench-{tag}-reports",
        QUARANTINE_CONTAINER=f"bench-{tag}-quarantine",
    )
    argv = [sys.executable, "-m", "devstack.telemetry", "--export", f"generic/{export.name}={export}"]
    if level in ("DEBUG", "INFO") and not loop_seconds:
        argv.append("--without-exporter-logs")  # else the exporter's own logs loop forever
    started = time.monotonic()
    if loop_seconds:
        with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            try:
                proc.wait(timeout=loop_seconds)
            except subprocess.TimeoutExpired:
                proc.kill()
    else:
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=3600)
    seconds = time.monotonic() - started
    items = requests.get(url + "/_emulator/telemetry", verify=stack.verify, timeout=120).json()["items"]
    kinds = collections.Counter(i["name"].rsplit(".", 1)[1] for i in items)
    loggers = collections.Counter(
        i["data"]["baseData"].get("properties", {}).get("logger_name", "")
        for i in items
        if i["name"].endswith(".Message")
    )
    return {
        "AZURE_SDK_LOG_LEVEL": level,
        "exporter_logs_kept": bool(loop_seconds) or level not in ("DEBUG", "INFO"),
        "seconds": round(seconds, 1),
        "traces": kinds.get("Message", 0),
        "envelopes": dict(kinds),
        "traces_by_logger": dict(loggers.most_common()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--loop-seconds", type=float, default=90, help="0: skip the INFO loop run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export = generate(Path(tmp) / "audit.csv", GenerateOptions(rows=args.rows, seed=15)).path
        stack = Stack(Path(tmp) / "stack").up(host=False)
        try:
            runs = [
                one_run(stack, export, "INFO", args.chunk_rows, "info"),
                one_run(stack, export, "WARNING", args.chunk_rows, "warning"),
            ]
            if args.loop_seconds:
                runs.append(one_run(stack, export, "INFO", args.chunk_rows, "loop", args.loop_seconds))
        finally:
            stack.down()
    common.write(
        "telemetry-traces",
        {
            "rows": args.rows,
            "chunk_rows": args.chunk_rows,
            "chunks": -(-args.rows // args.chunk_rows),
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
