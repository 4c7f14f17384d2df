"""The composition root: builds clients from settings once per worker process and runs a stage.

Clients are created lazily and reused across invocations (connection pools, token caches);
nothing about a run is kept here: run state lives in Storage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient
from azure.storage.queue import QueueClient

from shared.common import settings as config
from shared.common import telemetry
from shared.common.errors import BadMessage
from shared.common.ledger import Ledger, now
from shared.common.messages import ChunkMessage
from shared.common.storage import Connection, connection
from shared.delivery import clouds
from shared.delivery.entra import TokenProvider
from shared.delivery.retry import RetryPolicy
from shared.delivery.upload import upload_session
from shared.delivery.vault import CoverageKey, SecretCache
from shared.delivery.worker import RETENTION, Uploader
from shared.intake.coverage import CoverageRecorder
from shared.intake.plan import PlanOptions, PlanOutcome, plan_export
from shared.intake.quarantine import Quarantine
from shared.reporting import report_formats
from shared.reporting.coverage import CoverageSource
from shared.reporting.freshness import refresh_days
from shared.reporting.model import Report
from shared.reporting.report import CONTENT_TYPES, Reporter

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: config.Settings

    @cached_property
    def connector_config(self) -> tuple[dict[str, config.Connector], dict[str, str]]:
        """The connectors that parse, and why each other one does not. A bad entry is logged
        once, when the worker starts, and its files are refused with the reason, while the
        other connectors go on."""
        connectors, problems = self.settings.working_connectors()
        for name, problem in problems.items():
            log.error("connector %s is not used until CONNECTORS is fixed: %s", name, problem)
        return connectors, problems

    @property
    def connectors(self) -> dict[str, config.Connector]:
        return self.connector_config[0]

    def check_connectors(self) -> None:
        """Parse CONNECTORS now, so a bad entry is logged when the worker starts, not when
        that connector's first file arrives."""
        _ = self.connector_config

    @cached_property
    def storage(self) -> Connection:
        return connection(config.STORAGE_CONNECTION)

    @cached_property
    def ledger(self) -> Ledger:
        table = self.storage.table_service().create_table_if_not_exists(self.settings["LEDGER_TABLE"])
        return Ledger(table)

    @cached_property
    def queue(self) -> QueueClient:
        client = self.storage.queue(self.settings["CHUNK_QUEUE"])
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        return client

    @cached_property
    def uploader(self) -> Uploader:
        s = self.settings
        retention = s["EXPORT_RETENTION"].strip().lower()
        if retention not in RETENTION:
            raise RuntimeError(f"EXPORT_RETENTION must be one of {', '.join(RETENTION)}, not {retention!r}")
        queue = self.queue
        return Uploader(
            blobs=self.storage.blob_service(),
            ledger=self.ledger,
            tokens=TokenProvider(s, SecretCache(s)),
            session=upload_session(),
            connectors=self.connectors,
            url=clouds.from_settings(s)[1],
            timeout=(float(s["UPLOAD_CONNECT_TIMEOUT_SECONDS"]), float(s["UPLOAD_READ_TIMEOUT_SECONDS"])),
            max_dequeue_count=_max_dequeue_count(),
            policy=retry_policy(s),
            job_concurrency=s.int("JOB_MAX_CONCURRENT_UPLOADS"),
            slot_wait=float(s["UPLOAD_SLOT_WAIT_SECONDS"]),
            retention=retention,
            requeue=lambda text, seconds: queue.send_message(text, visibility_timeout=seconds),
        )

    @cached_property
    def plan_options(self) -> PlanOptions:
        service = self.storage.blob_service()
        return PlanOptions(
            quarantine=Quarantine(service.get_container_client(self.settings["QUARANTINE_CONTAINER"])),
            reports=service.get_container_client(self.settings["REPORTS_CONTAINER"]),
            skip_duplicate_content=self.settings.flag("SKIP_DUPLICATE_CONTENT"),
            misconfigured=self.connector_config[1],
            coverage=self.coverage,
        )

    @cached_property
    def coverage(self) -> CoverageRecorder | None:
        """Only with an hr connector: without profiles there is nothing to cover."""
        if not any(c.kind == "hr" for c in self.connectors.values()):
            return None
        key = CoverageKey(self.settings)
        container = self.storage.blob_service().get_container_client(self.settings["COVERAGE_CONTAINER"])
        return CoverageRecorder(container, lambda: key.get().encode())

    @cached_property
    def reporter(self) -> Reporter:
        s = self.settings
        container = self.storage.blob_service().get_container_client(s["REPORTS_CONTAINER"])
        stale = timedelta(hours=float(s["REPORT_STALE_HOURS"]))
        hr = [c.name for c in self.connectors.values() if c.kind == "hr"]
        coverage = None
        if hr:
            hashes = self.storage.blob_service().get_container_client(s["COVERAGE_CONTAINER"])
            coverage = CoverageSource(hashes, s.int("COVERAGE_DAYS"))
        return Reporter(
            self.ledger,
            container,
            list(s.connectors),
            stale,
            hr_connectors=hr,
            refresh_days=refresh_days(s),
            coverage=coverage,
            quarantine_container=s["QUARANTINE_CONTAINER"],
        )

    @property
    def poison_queue_name(self) -> str:
        return f"{self.settings['CHUNK_QUEUE']}-poison"

    def poison_queue_length(self) -> int:
        """Approximate, like every queue count; 0 while the host has not created the queue."""
        try:
            props = self.storage.queue(self.poison_queue_name).get_queue_properties()
        except ResourceNotFoundError:
            return 0
        return int(props.approximate_message_count or 0)


_runtime: Runtime | None = None
_lock = threading.Lock()


def runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = Runtime(config.load())
            telemetry.set_azure_sdk_log_level(_runtime.settings)
            telemetry.configure(_runtime.settings)
            _runtime.check_connectors()
        return _runtime


def reset() -> None:
    """Forget cached clients (tests change settings between apps)."""
    global _runtime
    with _lock:
        _runtime = None
    connection.cache_clear()


def on_export(client: BlobClient) -> PlanOutcome:
    rt = runtime()
    return plan_export(client, rt.connectors, rt.ledger, rt.queue, rt.plan_options)


def on_chunk(body: bytes, dequeue_count: int) -> str:
    try:
        msg = ChunkMessage.decode(body)
    except BadMessage as exc:
        # Raising sends it to the poison queue after maxDequeueCount; the reason is logged
        # here because the poison queue keeps only the message.
        log.error("malformed chunk message: %s", exc)
        raise
    return runtime().uploader.handle(msg, dequeue_count)


def on_report(past_due: bool = False) -> Report:
    """The scheduled report: everything since the previous one (a missed day included)."""
    rt = runtime()
    poison = rt.poison_queue_length()
    telemetry.poison_queue_length(rt.poison_queue_name, poison)
    report, path = rt.reporter.write(poison_queue_length=poison)
    telemetry.daily_report(report.to_dict(), path)
    for line in report.freshness:
        telemetry.profile_freshness(line.connector, line.status, line.days_since_upload, line.last_upload_at)
    kept = timedelta(days=rt.settings.int("LEDGER_RETENTION_DAYS"))
    pruned = rt.ledger.prune(now() - kept)
    log.info("ledger pruned: %d runs older than %d days", pruned, kept.days)
    return report


def retry_policy(s: config.Settings) -> RetryPolicy:
    return RetryPolicy(
        attempts=max(1, s.int("UPLOAD_ATTEMPTS_PER_INVOCATION")),
        base=float(s["UPLOAD_BACKOFF_SECONDS"]),
        cap=float(s["UPLOAD_BACKOFF_MAX_SECONDS"]),
        budget=float(s["UPLOAD_RETRY_BUDGET_SECONDS"]),
    )


REPORT_FORMATS = ("json", "html", "csv")
_NO_SCRIPT = "default-src 'none'; style-src 'unsafe-inline'"


def on_report_request(params: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
    """The HTTP function: the latest written report (``?format=json|html|csv``), or with
    ``fresh=true`` one built now, which does not move the daily schedule's "reported up to".
    Returns status, headers and body; the page may run no script at all (CSP)."""
    fmt = (params.get("format") or "json").lower()
    if fmt not in REPORT_FORMATS:
        message = f"unknown format {fmt!r}; use one of {', '.join(REPORT_FORMATS)}\n"
        return 400, {"Content-Type": "text/plain; charset=utf-8"}, message.encode()
    fresh = (params.get("fresh") or "").lower() in ("1", "true", "yes")
    rt = runtime()
    body = None if fresh else rt.reporter.latest(fmt)
    if body is None:
        report = rt.reporter.preview(poison_queue_length=rt.poison_queue_length())
        body = report_formats.RENDERERS[fmt](report).encode("utf-8")
    headers = {
        "Content-Type": CONTENT_TYPES[fmt],
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": _NO_SCRIPT,
    }
    return 200, headers, body


def _max_dequeue_count() -> int:
    """The queue's maxDequeueCount (host.json or its app-setting override), so the last
    attempt knows it is the last and leaves its error in the ledger."""
    import os
    from pathlib import Path

    override = os.environ.get("AzureFunctionsJobHost__extensions__queues__maxDequeueCount")  # noqa: SIM112
    if override and override.isdigit():
        return int(override)
    host = Path(__file__).resolve().parent.parent / "host.json"
    try:
        return int(json.loads(host.read_text())["extensions"]["queues"]["maxDequeueCount"])
    except (OSError, KeyError, ValueError):
        return 5
