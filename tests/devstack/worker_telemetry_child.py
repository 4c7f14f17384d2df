"""Child process of test_worker_telemetry: the worker configures Azure Monitor, the app logs once.

Run as ``python -m tests.devstack.worker_telemetry_child APP_DIR``; prints one JSON line with
what a local stand-in for the Application Insights ingestion endpoint received. A process of
its own because configuring Azure Monitor installs process-wide OpenTelemetry providers.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

received: list[bytes] = []


class Ingestion(BaseHTTPRequestHandler):
    """Accepts every envelope, as ``/v2.1/track`` does (itemsReceived / itemsAccepted)."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        received.append(body)
        count = body.count(b'"iKey"') or 1
        reply = json.dumps({"itemsReceived": count, "itemsAccepted": count, "errors": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def main(app_dir: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingestion)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/"
    os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = (
        f"InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint={endpoint};"
        f"LiveEndpoint={endpoint}"
    )
    from devstack.host.app import describe_functions
    from devstack.host.http import HttpRoutes
    from devstack.host.invoker import Invoker
    from devstack.host.worker import Worker

    worker = Worker(Path(app_dir))
    specs = describe_functions(worker.start())  # the worker configures Azure Monitor here
    # From now on, count any further configuration (the app's): there must be none.
    import azure.monitor.opentelemetry as distro

    later_calls: list[dict] = []
    original = distro.configure_azure_monitor

    def counting(**options: object) -> None:
        later_calls.append(options)
        original(**options)

    distro.configure_azure_monitor = counting
    routes = HttpRoutes(specs, Invoker(worker, [s.name for s in specs]), key="k")
    status, _, body = routes.handle("GET", "/api/log", {}, b"")
    marker = b"exported-once-marker"
    # Every exporter attached, however many: a handler's flush exports on a thread of its own,
    # so wait for the first copy, then long enough for a second one to show up.
    for handler in logging.getLogger().handlers:
        handler.flush()
    deadline = time.monotonic() + 30
    while not any(marker in chunk for chunk in received) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3.0)
    worker.stop()
    print(
        json.dumps(
            {
                "status": status,
                "app_configured": body.decode(),
                "marker_records": sum(chunk.count(marker) for chunk in received),
                "configured_again": len(later_calls),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
