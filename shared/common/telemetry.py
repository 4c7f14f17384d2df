"""Application Insights through OpenTelemetry: custom events, metrics, structured log dimensions.

Why OpenTelemetry: it is the Functions host's recommended telemetry mode (host.json
``telemetryMode``), and Microsoft's distro ``azure-monitor-opentelemetry`` turns the ``extra``
keys of a log record into customDimensions and a record with
``extra={"microsoft.custom_event.name": ...}`` into a customEvent. Without
``APPLICATIONINSIGHTS_CONNECTION_STRING`` nothing is configured and every call here costs a
log record and a no-op instrument: silent.

Stages call the small functions below at clear points (one line each) and never build
dimensions themselves, so the names in the KQL queries (``infra/queries``) stay the same.
Dimensions are ids, connector and file names, chunk indexes, counts and durations: never a
field value from an export.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry import metrics

from shared.common.settings import Settings

log = logging.getLogger("ehr_ingest.telemetry")

EVENT_NAME_KEY = "microsoft.custom_event.name"
METER_NAME = "ehr_ingest"
CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"

# custom events
RUN_STARTED = "RunStarted"
RUN_COMPLETED = "RunCompleted"
FILE_REJECTED = "FileRejected"
CHUNK_POISONED = "ChunkPoisoned"
DAILY_REPORT = "DailyReport"
PROFILE_FRESHNESS = "ProfileFreshness"

# metrics (customMetrics names; OpenTelemetry instrument names are case-insensitive, lower here)
ROWS_UPLOADED = "ehr_rows_uploaded"
CHUNK_LATENCY = "ehr_chunk_latency_ms"
CHUNK_RETRIES = "ehr_chunk_retries"
CHUNK_THROTTLES = "ehr_chunk_throttles"
POISON_QUEUE_LENGTH = "ehr_poison_queue_length"

_lock = threading.Lock()
_configured: bool | None = None
_meter_provider: metrics.MeterProvider | None = None
_instruments: dict[str, Any] = {}


def configure(settings: Settings) -> bool:
    """Once per process; True when telemetry goes to Application Insights.

    Inside Microsoft's Python worker with ``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true``
    (Azure, and the local host, which runs the app in that worker) the worker configures the
    distro itself before it loads the app, so it is not configured a second time: a second
    configuration would add a second exporter and every record would be sent twice. Elsewhere
    (the CLI) it is configured here.
    """
    global _configured
    with _lock:
        if _configured is not None:
            return _configured
        connection = settings[CONNECTION_SETTING].strip()
        if not connection:
            _configured = False
            return False
        if not configured_elsewhere():
            from azure.monitor.opentelemetry import configure_azure_monitor

            # Logs (and so custom events) are never sampled; traces keep every span too.
            configure_azure_monitor(connection_string=connection, sampling_ratio=1.0)
        _configured = True
        return True


WORKER_TELEMETRY_SETTING = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"
WORKER_MODULE = "azure_functions_runtime"
"""Microsoft's Python worker library (Python 3.13+): loaded in the process that runs the app."""


def inside_worker_with_telemetry() -> bool:
    """This process is the Python worker, and the app setting tells it to configure Azure Monitor."""
    enabled = os.environ.get(WORKER_TELEMETRY_SETTING, "").strip().lower() in ("true", "1")
    return enabled and WORKER_MODULE in sys.modules


def configured_elsewhere() -> bool:
    """The worker configures it (see above), or an SDK logger provider is installed already."""
    if inside_worker_with_telemetry():
        return True
    from opentelemetry._logs import get_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider

    return isinstance(get_logger_provider(), LoggerProvider)


def use_meter_provider(provider: metrics.MeterProvider | None) -> None:
    """Tests: record metrics into this provider (an in-memory reader) instead of the global one."""
    global _meter_provider
    with _lock:
        _meter_provider = provider
        _instruments.clear()


def _instrument(kind: str, name: str, unit: str, description: str) -> Any:
    with _lock:
        if name not in _instruments:
            provider = _meter_provider or metrics.get_meter_provider()
            meter = provider.get_meter(METER_NAME)
            factory = getattr(meter, f"create_{kind}")
            _instruments[name] = factory(name, unit=unit, description=description)
        return _instruments[name]


def _dims(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Only scalar values (App Insights stores dimensions as strings); None is left out."""
    out = {}
    for key, value in fields.items():
        if value is None:
            continue
        out[key] = value if isinstance(value, bool | int | float | str) else str(value)
    return out


def event(name: str, message: str, **dims: Any) -> None:
    """A customEvent named ``name`` (and, without App Insights, an ordinary log line)."""
    log.info(message, extra={EVENT_NAME_KEY: name, **_dims(dims)})


# events the stages emit -----------------------------------------------------------------------
def run_started(run_id: str, connector: str, file_name: str, rows: int, chunks: int, **more: Any) -> None:
    event(
        RUN_STARTED,
        f"run started: {file_name}, {rows} rows in {chunks} chunks",
        run_id=run_id,
        connector=connector,
        file_name=file_name,
        rows=rows,
        chunks=chunks,
        **more,
    )


def run_completed(
    run_id: str,
    connector: str | None,
    file_name: str | None,
    records_saved: int,
    received_at: datetime | None = None,
    **more: Any,
) -> None:
    if received_at is not None:
        seconds = (datetime.now(UTC) - received_at).total_seconds()
        more["duration_seconds"] = round(seconds, 3)
        more["rows_per_second"] = round(records_saved / seconds, 1) if seconds > 0 else None
    event(
        RUN_COMPLETED,
        f"run completed: {file_name}, {records_saved} rows saved",
        run_id=run_id,
        connector=connector,
        file_name=file_name,
        records_saved=records_saved,
        **more,
    )


def file_rejected(
    run_id: str, file_name: str, reason_code: str, reason: str, connector: str | None = None
) -> None:
    event(
        FILE_REJECTED,
        f"file rejected: {file_name} ({reason_code})",
        run_id=run_id,
        connector=connector,
        file_name=file_name,
        reason_code=reason_code,
        reason=reason[:1000],
    )


def chunk_poisoned(
    run_id: str, connector: str, file_name: str, chunk_index: int, attempts: int, **more: Any
) -> None:
    event(
        CHUNK_POISONED,
        f"chunk poisoned: {file_name} chunk {chunk_index} after {attempts} attempt(s)",
        run_id=run_id,
        connector=connector,
        file_name=file_name,
        chunk_index=chunk_index,
        attempts=attempts,
        **more,
    )


def daily_report(report: Mapping[str, Any], path: str) -> None:
    totals = report["totals"]
    event(
        DAILY_REPORT,
        f"status report {path}: {report['status']}",
        report_status=report["status"],
        report_path=path,
        period_from=report["period"]["from"],
        period_to=report["period"]["to"],
        files=totals["files"],
        rows=totals["rows"],
        records_saved=totals["records_saved"],
        rows_skipped=totals["rows_skipped"],
        rejected_files=totals["rejected_files"],
        duplicate_files=totals["duplicate_files"],
        chunks_failed=totals["chunks_failed"] + totals["chunks_poisoned"],
        stale_connectors=",".join(c["name"] for c in report["connectors"] if c["stale"]),
        reasons=len(report["reasons"]),
    )


def profile_freshness(
    connector: str, status: str, days_since_upload: float | None, last_upload_at: str | None
) -> None:
    """One per hr connector and daily report: the hr-profiles alerts read the latest (a log
    alert looks back two days at most, the 30 days Purview keeps profiles are in the ledger)."""
    event(
        PROFILE_FRESHNESS,
        f"employee profiles of connector {connector}: {status}",
        connector=connector,
        freshness_status=status,
        days_since_upload=days_since_upload,
        last_upload_at=last_upload_at,
    )


# metrics ------------------------------------------------------------------------------------------
def chunk_uploaded(
    connector: str, rows: int, duration_ms: float, retries: int = 0, throttled: int = 0
) -> None:
    """Rows uploaded and chunk latency, per connector; retries and throttles when there were any."""
    attrs = {"connector": connector}
    _instrument("counter", ROWS_UPLOADED, "{row}", "Rows accepted by the ingestion API").add(rows, attrs)
    _instrument("histogram", CHUNK_LATENCY, "ms", "Time to upload one chunk").record(duration_ms, attrs)
    if retries:
        chunk_retried(connector, retries)
    if throttled:
        chunk_throttled(connector, throttled)


def chunk_retried(connector: str, count: int = 1) -> None:
    retries = _instrument("counter", CHUNK_RETRIES, "{retry}", "Chunk upload retries")
    retries.add(count, {"connector": connector})


def chunk_throttled(connector: str, count: int = 1) -> None:
    _instrument("counter", CHUNK_THROTTLES, "{response}", "429 answers from the ingestion API").add(
        count, {"connector": connector}
    )


def poison_queue_length(queue: str, length: int) -> None:
    """Read on the report timer: Storage's own queue metrics are hourly and account-wide."""
    _instrument("gauge", POISON_QUEUE_LENGTH, "{message}", "Messages in the poison queue").set(
        length, {"queue": queue}
    )


# the Azure SDK's own logs ---------------------------------------------------------------------
AZURE_SDK_LOGGER = "azure"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def set_azure_sdk_log_level(settings: Settings) -> int:
    """Hold the Azure SDK's loggers at ``AZURE_SDK_LOG_LEVEL`` (WARNING unless set).

    Why: the SDK logs every request and response at INFO
    (``azure.core.pipeline.policies.http_logging_policy``), azure-identity every token fetch and
    the telemetry exporter every batch it sends, all under the logger ``azure``; inside the
    Functions worker every INFO record is exported, so each ranged read, ledger write and queue
    send would be a trace row the hospital pays for. Warnings and errors still go out.
    """
    name = (settings["AZURE_SDK_LOG_LEVEL"].strip() or "WARNING").upper()
    if name not in LOG_LEVELS:
        log.warning("AZURE_SDK_LOG_LEVEL %r is not one of %s; WARNING is used", name, ", ".join(LOG_LEVELS))
        name = "WARNING"
    level: int = logging.getLevelName(name)
    logging.getLogger(AZURE_SDK_LOGGER).setLevel(level)
    return level
