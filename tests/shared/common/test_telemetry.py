"""Telemetry captured with OpenTelemetry's in-memory exporters: events, dimensions, metrics, no PHI."""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared.common import settings as config
from shared.common import telemetry
from shared.common.settings import Settings
from tests.shared.reporting.test_report import report

# Identifiers, names, counts and durations only: a dimension outside this list fails the test.
ALLOWED_DIMENSIONS = {
    telemetry.EVENT_NAME_KEY,
    "run_id",
    "connector",
    "file_name",
    "chunk_index",
    "rows",
    "chunks",
    "records_saved",
    "duration_seconds",
    "rows_per_second",
    "reason_code",
    "reason",
    "attempts",
    "http_status",
    "report_status",
    "report_path",
    "period_from",
    "period_to",
    "files",
    "rows_skipped",
    "rejected_files",
    "duplicate_files",
    "chunks_failed",
    "stale_connectors",
    "reasons",
    "status",
}
# the synthetic generator's kind of values: none may appear in any telemetry
PHI_LIKE = ("Smith", "Main St", "jdoe@", "1970-01-01")


@pytest.fixture
def captured():
    logs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger = logging.getLogger(telemetry.log.name)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    reader = InMemoryMetricReader()
    telemetry.use_meter_provider(MeterProvider(metric_readers=[reader]))
    yield logs, reader
    telemetry.use_meter_provider(None)
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def events(logs):
    out = {}
    for item in logs.get_finished_logs():
        attrs = dict(item.log_record.attributes or {})
        name = attrs.get(telemetry.EVENT_NAME_KEY)
        if name:
            out[name] = (item, attrs)
    return out


def emit_a_day():
    received = datetime.now(UTC) - timedelta(minutes=2)
    telemetry.run_started("r1", "generic", "generic/audit.csv", rows=1400, chunks=2)
    telemetry.chunk_uploaded("generic", rows=700, duration_ms=850, retries=1, throttled=2)
    telemetry.chunk_uploaded("generic", rows=700, duration_ms=650)
    telemetry.run_completed("r1", "generic", "generic/audit.csv", 1400, received)
    telemetry.file_rejected(
        "r2", "nobody/stray.csv", "unknown-connector", "folder 'nobody' is not a connector"
    )
    telemetry.chunk_poisoned("r3", "epic", "epic/e.txt", chunk_index=4, attempts=5, http_status=503)
    telemetry.poison_queue_length("ehr-chunks-poison", 3)
    telemetry.daily_report(report(), "2026/11/23/status-060000.json")


def test_custom_events_with_their_dimensions(captured):
    logs, _ = captured
    emit_a_day()
    got = events(logs)
    assert set(got) == {"RunStarted", "RunCompleted", "FileRejected", "ChunkPoisoned", "DailyReport"}
    assert got["RunStarted"][1].items() >= {"run_id": "r1", "connector": "generic", "rows": 1400}.items()
    completed = got["RunCompleted"][1]
    assert completed["records_saved"] == 1400 and completed["file_name"] == "generic/audit.csv"
    assert completed["duration_seconds"] >= 100 and completed["rows_per_second"] > 0
    assert got["FileRejected"][1]["reason_code"] == "unknown-connector"
    poisoned = got["ChunkPoisoned"][1]
    assert (poisoned["chunk_index"], poisoned["attempts"], poisoned["http_status"]) == (4, 5, 503)
    daily = got["DailyReport"][1]
    assert daily["report_status"] == "FAILED" and daily["records_saved"] == 1497 and daily["files"] == 5


def test_no_dimension_outside_the_list_and_no_phi(captured):
    logs, _ = captured
    emit_a_day()
    for item in logs.get_finished_logs():
        attrs = dict(item.log_record.attributes or {})
        extra = {k for k in attrs if not k.startswith(("code.", "exception."))} - ALLOWED_DIMENSIONS
        assert not extra, extra
        text = f"{item.log_record.body} {attrs}"
        assert not any(p in text for p in PHI_LIKE)


def test_metrics(captured):
    _, reader = captured
    emit_a_day()
    points = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points[metric.name] = list(metric.data.data_points)
    assert sum(p.value for p in points[telemetry.ROWS_UPLOADED]) == 1400
    latency = points[telemetry.CHUNK_LATENCY][0]
    assert latency.count == 2 and latency.sum == 1500 and dict(latency.attributes) == {"connector": "generic"}
    assert points[telemetry.CHUNK_RETRIES][0].value == 1 and points[telemetry.CHUNK_THROTTLES][0].value == 2
    assert points[telemetry.POISON_QUEUE_LENGTH][0].value == 3
    assert dict(points[telemetry.POISON_QUEUE_LENGTH][0].attributes) == {"queue": "ehr-chunks-poison"}


def test_events_become_application_insights_custom_events(captured):
    """The distro's exporter turns our record into a customEvent named by us, dimensions intact."""
    exporter = pytest.importorskip("azure.monitor.opentelemetry.exporter.export.logs._exporter")
    logs, _ = captured
    telemetry.run_started("r9", "epic", "epic/x.txt", rows=5, chunks=1)
    envelope = exporter._convert_log_to_envelope(logs.get_finished_logs()[-1])
    assert envelope.data.base_type == "EventData"
    assert envelope.data.base_data.name == "RunStarted"
    assert envelope.data.base_data.properties["file_name"] == "epic/x.txt"
    assert envelope.data.base_data.properties["rows"] == "5"


def test_silent_without_a_connection_string(monkeypatch):
    monkeypatch.setattr(telemetry, "_configured", None)
    called = []
    monkeypatch.setattr("azure.monitor.opentelemetry.configure_azure_monitor", lambda **kw: called.append(kw))
    assert telemetry.configure(Settings({})) is False
    assert called == []


def test_configured_once_with_a_connection_string_unless_the_worker_did(monkeypatch):
    called = []
    monkeypatch.setattr("azure.monitor.opentelemetry.configure_azure_monitor", lambda **kw: called.append(kw))
    monkeypatch.setattr(telemetry, "configured_elsewhere", lambda: False)
    conn = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/"
    monkeypatch.setattr(telemetry, "_configured", None)
    settings = Settings({"APPLICATIONINSIGHTS_CONNECTION_STRING": conn})
    assert telemetry.configure(settings) is True and telemetry.configure(settings) is True
    assert len(called) == 1 and called[0]["connection_string"] == conn
    monkeypatch.setattr(telemetry, "_configured", None)
    monkeypatch.setattr(telemetry, "configured_elsewhere", lambda: True)
    assert telemetry.configure(settings) is True
    assert len(called) == 1  # the Functions worker configured it already
    monkeypatch.setattr(telemetry, "_configured", None)


@pytest.fixture
def azure_logger():
    logger = logging.getLogger(telemetry.AZURE_SDK_LOGGER)
    old = logger.level
    yield logger
    logger.setLevel(old)


def test_azure_sdk_loggers_at_warning_unless_set(azure_logger, caplog):
    """The SDK's per-request INFO records (http_logging_policy, a child of `azure`) stay out."""
    http = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    assert telemetry.set_azure_sdk_log_level(Settings({})) == logging.WARNING
    assert not http.isEnabledFor(logging.INFO) and http.isEnabledFor(logging.WARNING)
    assert telemetry.set_azure_sdk_log_level(Settings({"AZURE_SDK_LOG_LEVEL": "info"})) == logging.INFO
    assert http.isEnabledFor(logging.INFO)
    with caplog.at_level(logging.WARNING, logger=telemetry.log.name):
        assert telemetry.set_azure_sdk_log_level(Settings({"AZURE_SDK_LOG_LEVEL": "LOUD"})) == logging.WARNING
    assert "AZURE_SDK_LOG_LEVEL" in caplog.text and "WARNING is used" in caplog.text


def test_the_composition_root_applies_it_once_at_start(azure_logger, monkeypatch):
    from shared import handlers

    monkeypatch.setattr(telemetry, "configure", lambda settings: False)
    monkeypatch.setattr(
        config, "load", lambda: Settings({"AZURE_SDK_LOG_LEVEL": "ERROR", "CONNECTORS": "[]"})
    )
    handlers.reset()
    try:
        handlers.runtime()
        assert azure_logger.level == logging.ERROR
    finally:
        handlers.reset()
