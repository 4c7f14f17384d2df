"""Run the stages in one process with Application Insights pointed at the local emulator.

    python -m devstack.telemetry --export generic/a.csv=/tmp/a.csv [--poison generic/b.csv=...]

The process environment must hold the app settings (a dev stack's ``Stack.app_env()``) and
an ``APPLICATIONINSIGHTS_CONNECTION_STRING`` whose IngestionEndpoint is the emulator: see
:func:`environment`. Telemetry is configured exactly as the app does it
(``shared.handlers.runtime()``, which calls ``shared.common.telemetry.configure``) with
Microsoft's own exporter, the stages run through the composition root (``on_export``,
``on_chunk``, ``on_report``), and every provider is flushed before exit, so the emulator
holds every envelope the run produced. Dev-only: ``shared/`` never imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import sys
import uuid
from pathlib import Path

import requests

#: Keeps the exporter's traffic on loopback (each name is read by the installed exporter or
#: distro; the file that reads it is named):
LOOPBACK_ONLY = {
    # statsbeat (Microsoft's own telemetry about the SDK, sent to a Microsoft host):
    # exporter/statsbeat/_utils.py and _state.py
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    # customer SDK stats (counts of sent/dropped items, posted as extra metric envelopes):
    # exporter/statsbeat/customer/_utils.py
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
    # OneSettings, the exporter's remote feature flags (a Microsoft host):
    # exporter/_configuration/_state.py get_configuration_manager()
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    # The distro defaults the resource detectors to azure_app_service and azure_vm
    # (_utils/configurations.py, environ.setdefault); the VM one asks the instance metadata
    # address 169.254.169.254. "otel" reads only OTEL_RESOURCE_ATTRIBUTES.
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",
}
FLUSH_MILLIS = 120_000
"""Generous: on a busy 2-core machine an export of a few thousand envelopes can take a while."""


def connection_string(emulator_url: str, instrumentation_key: str | None = None) -> str:
    """The connection string that points the exporter at the emulator's track endpoint
    (``_connection_string_parser.py``: IngestionEndpoint is the host the client posts to)."""
    key = instrumentation_key or str(uuid.uuid4())
    base = emulator_url.rstrip("/") + "/"
    return f"InstrumentationKey={key};IngestionEndpoint={base};LiveEndpoint={base}"


def environment(app_env: dict[str, str], emulator_url: str, **settings: str) -> dict[str, str]:
    """``app_env`` plus the connection string, the loopback switches and ``settings``."""
    return {
        **app_env,
        **LOOPBACK_ONLY,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(emulator_url),
        **settings,
    }


def _without_live_metrics() -> None:
    """Live metrics (QuickPulse) has no environment switch: the distro turns it on by
    ``configurations.setdefault("enable_live_metrics", True)`` (_utils/configurations.py). The
    app's configure() is kept as it is; only that one keyword is added to the real function."""
    import azure.monitor.opentelemetry as distro

    distro.configure_azure_monitor = functools.partial(
        distro.configure_azure_monitor, enable_live_metrics=False
    )


def _pairs(values: list[str]) -> list[tuple[str, Path]]:
    out = []
    for value in values:
        name, _, path = value.partition("=")
        if not path:
            raise SystemExit(f"expected <blob name>=<file>, got {value!r}")
        out.append((name, Path(path)))
    return out


def flush() -> dict[str, bool]:
    """Export everything buffered: logs (and events), metrics (a final collection), spans."""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider

    done = {}
    for name, provider in (
        ("logs", get_logger_provider()),
        ("metrics", metrics.get_meter_provider()),
        ("traces", trace.get_tracer_provider()),
    ):
        force = getattr(provider, "force_flush", None)
        done[name] = bool(force(timeout_millis=FLUSH_MILLIS)) if force else False
    return done


class _NotWhileExporting(logging.Filter):
    """For measuring only (``--without-exporter-logs``): with the Azure SDK's loggers at INFO the
    exporter's own request logs and "Transmission succeeded" records are exported in turn, a
    loop that never ends (measured: docs/performance.md). The OpenTelemetry SDK exports with
    ``_SUPPRESS_INSTRUMENTATION_KEY`` set in the context (sdk/_shared_internal, the batch
    processors; sdk/metrics export): dropping what is logged then leaves the records the app's
    own work causes."""

    def filter(self, record: logging.LogRecord) -> bool:
        from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_value

        return not get_value(_SUPPRESS_INSTRUMENTATION_KEY)


def _drop_exporter_logs() -> None:
    from opentelemetry.sdk._logs import LoggingHandler as SdkHandler

    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:  # older instrumentation: the SDK's own handler
        LoggingHandler = SdkHandler  # type: ignore[misc,assignment]
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LoggingHandler | SdkHandler):
            handler.addFilter(_NotWhileExporting())


def run(
    exports: list[tuple[str, Path]],
    poison: list[tuple[str, Path]],
    throttle_rate: float,
    without_exporter_logs: bool = False,
) -> dict:
    from shared import handlers
    from shared.common.messages import ChunkMessage
    from shared.common.settings import STORAGE_CONNECTION
    from shared.common.storage import connection

    _without_live_metrics()
    # With PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true the Functions Python worker exports
    # log records at INFO and above; a plain Python process's root logger starts at WARNING.
    logging.getLogger().setLevel(logging.INFO)
    rt = handlers.runtime()  # configures telemetry the way the app does
    if without_exporter_logs:
        _drop_exporter_logs()
    settings = rt.settings
    faults_url = settings["INGESTION_URL"].split("/api/", 1)[0] + "/_emulator/faults"
    verify = settings.values.get("REQUESTS_CA_BUNDLE") or True
    container = (
        connection(STORAGE_CONNECTION).blob_service().get_container_client(settings["EXPORTS_CONTAINER"])
    )
    with contextlib.suppress(Exception):
        container.create_container()

    outcomes = {}
    poisoned_runs = set()
    for name, path in [*exports, *poison]:
        blob = container.get_blob_client(name)
        with path.open("rb") as data:
            blob.upload_blob(data, overwrite=True)
        outcome = handlers.on_export(blob)
        outcomes[name] = {"run_id": outcome.run_id, "status": outcome.status, "chunks": outcome.chunks}
        if (name, path) in poison:
            poisoned_runs.add(outcome.run_id)

    final = rt.uploader.max_dequeue_count
    messages = []
    while batch := list(rt.queue.receive_messages(max_messages=32, visibility_timeout=300)):
        messages += batch
    handled = {"uploaded": 0, "poisoned": 0}

    def set_faults(**faults) -> None:
        requests.post(faults_url, json=faults, verify=verify, timeout=30).raise_for_status()

    try:
        for poisoned in (False, True):
            if poisoned:
                set_faults(throttle_rate=0, error_rate=1, error_status=500)
            else:
                set_faults(throttle_rate=throttle_rate, retry_after_seconds=0, error_rate=0, seed=7)
            for m in messages:
                body = m.content.encode() if isinstance(m.content, str) else m.content
                if (ChunkMessage.decode(body).run_id in poisoned_runs) != poisoned:
                    continue
                try:
                    handlers.on_chunk(body, final if poisoned else 1)
                    handled["uploaded"] += 1
                except Exception:  # the failure path is what produces ChunkPoisoned
                    handled["poisoned"] += 1
                rt.queue.delete_message(m)
    finally:
        set_faults(throttle_rate=0, error_rate=0, error_status=503, retry_after_seconds=1, seed=0)
    report = handlers.on_report()
    return {
        "outcomes": outcomes,
        "handled": handled,
        "report_status": report.status,
        "flushed": flush(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.telemetry", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--export", action="append", default=[], help="<blob name>=<file>: planned and uploaded"
    )
    parser.add_argument("--poison", action="append", default=[], help="<blob name>=<file>: every chunk fails")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="share of uploads answered 429")
    parser.add_argument(
        "--without-exporter-logs", action="store_true", help="drop what the exporter's own threads log"
    )
    parser.add_argument("--out", type=Path, help="write the summary here as JSON")
    args = parser.parse_args(argv)
    summary = run(_pairs(args.export), _pairs(args.poison), args.throttle_rate, args.without_exporter_logs)
    text = json.dumps(summary, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
