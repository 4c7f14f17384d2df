"""The blob stage: validate an export and fan out one queue message per chunk.

Safe to repeat at every step: the run id is derived from the blob's name and ETag, chunk
rows are created only if absent, and a chunk message sent twice is uploaded once because
the worker checks the ledger first.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import PurePosixPath

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, ContainerClient, ContentSettings
from azure.storage.queue import QueueClient

from shared.common import ledger as states
from shared.common import telemetry
from shared.common.entities import ChunkEntity, ContentClaim, RunEntity
from shared.common.errors import Rejected
from shared.common.ledger import Ledger
from shared.common.messages import ChunkMessage
from shared.common.settings import Connector
from shared.intake.coverage import CoverageRecorder
from shared.intake.names import name_problem, printable
from shared.intake.quarantine import Quarantine
from shared.intake.readahead import read_ahead
from shared.intake.scan import MAX_BYTES, MAX_ROWS, Chunk, ScanResult
from shared.intake.validation import Validation, validate

log = logging.getLogger(__name__)

READ_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PlanOutcome:
    run_id: str
    status: str
    rows: int = 0
    chunks: int = 0
    reason: str = ""


def _refuse_content_encoding(blob_name: str, encoding: str | None) -> None:
    """A blob stored with a ``Content-Encoding`` (gzip, deflate...) is refused, not inflated.

    Its stored size says nothing of what it inflates to (0.3 MB of gzip can hold 300 MB), so
    the scan reads every blob as stored (``decompress=False``) and one that says it is
    compressed would only read as bytes that are not text."""
    if not encoding or encoding.strip().lower() == "identity":
        return
    shown = encoding if len(encoding) <= 20 and encoding.replace("-", "").isalnum() else "an encoding"
    raise Rejected(
        "content-encoding",
        f"{blob_name} is stored with Content-Encoding {shown}; exports are read as stored and "
        "never inflated. Upload the uncompressed export without a Content-Encoding "
        "(e.g. az storage blob upload without --content-encoding)",
    )


def connector_for(
    blob_name: str, connectors: dict[str, Connector], misconfigured: dict[str, str] | None = None
) -> Connector:
    """The first folder of the blob's path names its connector (exports/<connector>/...)."""
    problem = name_problem(blob_name)
    if problem:
        raise Rejected("unsafe-name", problem)
    misconfigured = misconfigured or {}
    if any(seg in (".", "..") for seg in blob_name.replace("\\", "/").split("/")):
        # URLs resolve these segments, so "epic/../generic/x.csv" would be read from one folder
        # and planned for another connector.
        raise Rejected(
            "unsafe-name",
            f"{blob_name} has a '.' or '..' path segment; rename it as <connector>/<file>",
        )
    parts = PurePosixPath(blob_name).parts
    if len(parts) < 2:
        raise Rejected(
            "no-connector-folder",
            f"{blob_name} is not in a connector folder; drop exports as <connector>/<file> "
            f"(configured connectors: {', '.join(sorted(connectors)) or 'none'})",
        )
    if parts[0] in misconfigured:
        raise Rejected(
            "connector-misconfigured",
            f"{blob_name}: connector {parts[0]!r} is misconfigured, so nothing is uploaded for it: "
            f"{misconfigured[parts[0]]}. Fix CONNECTORS, then drop the file again from quarantine",
        )
    if parts[0] not in connectors:
        raise Rejected(
            "unknown-connector",
            f"{blob_name}: folder {parts[0]!r} is not a configured connector "
            f"(configured: {', '.join(sorted(connectors)) or 'none'}): move the file into a connector's "
            "folder, or add the connector to CONNECTORS and drop it again",
        )
    return connectors[parts[0]]


FANOUT_LEASE_SECONDS = 120
"""How long a plan that reached the fan-out keeps other invocations of the same event from
sending the chunk messages again; after that (its invocation died) a new event plans again,
or ``ehr-ingest replay --pending`` sends what is missing."""


@dataclass
class PlanOptions:
    """Where rejected files and reports go, and the limits (overridable for tests only)."""

    quarantine: Quarantine | None = None
    reports: ContainerClient | None = None
    skip_duplicate_content: bool = True
    max_bytes: int = MAX_BYTES
    max_rows: int = MAX_ROWS
    send_concurrency: int = 16
    misconfigured: dict[str, str] = field(default_factory=dict)
    """Connectors whose CONNECTORS entry is wrong, with the reason: their files are refused."""
    coverage: CoverageRecorder | None = None
    """Records the keyed hashes of each accepted run's logins; None: no coverage (no hr connector)."""


def plan_export(
    blob: BlobClient,
    connectors: dict[str, Connector],
    ledger: Ledger,
    queue: QueueClient,
    options: PlanOptions | None = None,
) -> PlanOutcome:
    """Plan one export: each step either moves the run on or answers why it stops here."""
    opts = options or PlanOptions()
    try:
        props = blob.get_blob_properties()
    except ResourceNotFoundError:
        log.info("export no longer exists; nothing to do", extra={"file_name": blob.blob_name})
        return PlanOutcome("", "gone")
    run = _Run(blob, props.etag, ledger, opts)
    if (planned := run.already_planned()) is not None:
        return planned
    if (started := run.open(props.size)) is None:
        return PlanOutcome(run.rid, states.PLANNING)
    checked = run.validate(props.size, connectors)
    if not checked.accepted:
        return run.reject(started, checked)
    if (duplicate := run.duplicate_of_earlier_content(started, checked)) is not None:
        return duplicate
    if (plan := run.record_plan(started, checked)) is None:
        return PlanOutcome(run.rid, states.PLANNING)
    if opts.coverage is not None and checked.result and checked.connector:
        opts.coverage.record(run.rid, checked.connector, checked.result.logins)
    if not checked.result or not checked.result.chunks:
        return run.nothing_to_send(plan, checked)
    run.fan_out(queue, plan, checked)
    return run.started(checked)


@dataclass
class _Run:
    """One invocation's view of the run it plans; the steps of ``plan_export`` in order."""

    blob: BlobClient
    etag: str
    ledger: Ledger
    opts: PlanOptions

    def __post_init__(self) -> None:
        self.rid = states.run_id(self.blob.container_name, self.blob.blob_name, self.etag)
        self.ctx: dict[str, str] = {"run_id": self.rid, "file_name": printable(self.blob.blob_name)}

    def already_planned(self) -> PlanOutcome | None:
        """A repeated event for a version already planned (or rejected) does nothing again."""
        existing = self.ledger.get_run(self.rid)
        if not existing or existing.status == states.PLANNING:
            return None
        if existing.status == states.REJECTED and existing.quarantined:
            Quarantine.remove_original(self.blob, self.etag)  # a previous attempt died before deleting it
        log.info("export already planned; nothing to do", extra=self.ctx)
        return PlanOutcome(self.rid, existing.status, existing.rows_valid, existing.chunks)

    def open(self, size: int) -> RunEntity | None:
        """Create the run row and return the version this invocation plans from, or None
        while another invocation is sending this export's chunk messages.

        Of two invocations planning the same event at once, only the first to write its plan
        over that version sends the messages (``record_plan``)."""
        self.ledger.create_run(
            RunEntity(
                self.rid,
                states.PLANNING,
                container=self.blob.container_name,
                blob=self.blob.blob_name,
                etag=self.etag,
                size=size,
                received_at=states.now(),
            )
        )
        started = self.ledger.get_run(self.rid)
        fanout_at = started.fanout_at if started is not None else None
        if fanout_at is not None and states.now() - fanout_at < timedelta(seconds=FANOUT_LEASE_SECONDS):
            log.info(
                "another invocation is sending this export's chunk messages; nothing to do", extra=self.ctx
            )
            return None
        return started

    def validate(self, size: int, connectors: dict[str, Connector]) -> Validation:
        """The connector from the folder, the size limit, then one streaming scan of the blob
        (pinned to this version's ETag, so a file overwritten meanwhile fails the read)."""
        connector: Connector | None = None
        try:
            connector = connector_for(self.blob.blob_name, connectors, self.opts.misconfigured)
            self.ctx["connector"] = connector.name
            if size > self.opts.max_bytes:
                raise Rejected(
                    "too-large",
                    f"{self.blob.blob_name} is {size:,} bytes, more than the connector limit of "
                    f"{self.opts.max_bytes:,} bytes (3 GB)",
                )
            log.info("scanning export", extra=self.ctx)
            stream = self.blob.download_blob(
                etag=self.etag,
                match_condition=MatchConditions.IfNotModified,
                max_concurrency=1,
                decompress=False,
            )
            _refuse_content_encoding(self.blob.blob_name, stream.properties.content_settings.content_encoding)
            return validate(
                read_ahead(stream.chunks()),
                self.blob.blob_name,
                connector,
                max_bytes=self.opts.max_bytes,
                max_rows=self.opts.max_rows,
                logins=self.opts.coverage is not None,
            )
        except Rejected as exc:
            return Validation(self.blob.blob_name, connector, rejected=exc)

    def duplicate_of_earlier_content(self, started: RunEntity, checked: Validation) -> PlanOutcome | None:
        """The same bytes dropped twice (under another name) are uploaded once.

        An earlier run with failed chunks cannot complete: dropping the file again is how an
        operator retries it, so this run takes the content over. So do unchanged employee
        profiles dropped again a day or more later (``REFRESH_AFTER``)."""
        if not self.opts.skip_duplicate_content:
            return None
        result, connector = _accepted(checked)
        claim = ContentClaim(result.sha256, self.rid, self.blob.blob_name)
        other = self.ledger.claim_content(claim)
        if (
            other is not None
            and (not _can_complete(self.ledger, other.run_id) or _refreshes(self.ledger, connector, other))
            and self.ledger.take_over_content(other, claim)
        ):
            other = None
        if other is None:
            return None
        reason = (
            f"{self.blob.blob_name} has the same content (SHA-256) as {other.blob}, already "
            f"planned as run {other.run_id}; nothing uploaded"
        )
        duplicate = replace(
            started,
            status=states.DUPLICATE,
            connector=connector.name,
            sha256=result.sha256,
            duplicate_of=other.run_id,
            reason=reason,
            completed_at=states.now(),
        )
        self.ledger.update_run(started, duplicate)
        log.warning("duplicate content skipped: %s", reason, extra={**self.ctx, "duplicate_of": other.run_id})
        return PlanOutcome(self.rid, states.DUPLICATE, reason=reason)

    def record_plan(self, started: RunEntity, checked: Validation) -> RunEntity | None:
        """Write the validation report, then the plan over the version ``open`` read (None if
        another invocation wrote first), then the chunk rows (created only if absent)."""
        result, connector = _accepted(checked)
        report_path = ""
        if self.opts.reports is not None:  # every accepted file: skipped rows, duplicates, the plan
            report_path = _write_report(
                self.opts.reports, f"validation/{self.blob.blob_name}.{self.rid[:12]}.json", checked, self.rid
            )
        verdict = checked.summary()
        plan = replace(
            started,
            connector=connector.name,
            job_id=connector.job_id,
            rows_valid=verdict.rows_valid,
            rows_in_file=verdict.rows_total,
            rows_skipped=verdict.rows_skipped,
            skipped_by_reason=verdict.invalid_by_reason,
            duplicate_rows=verdict.duplicate_rows,
            rows_filtered=verdict.rows_filtered,
            filtered_by_event=verdict.filtered_by_event,
            columns_dropped=tuple(verdict.columns_dropped),
            validation_report=report_path,
            chunks=verdict.chunks,
            sha256=result.sha256,
            delimiter=result.delimiter,
            header_start=result.header_start,
            header_end=result.header_end,
            planned_at=states.now(),
            fanout_at=states.now(),
        )
        if not self.ledger.update_run(started, plan, if_unchanged=True):
            log.info("another invocation planned this export first; nothing to do", extra=self.ctx)
            return None
        self.ledger.add_chunks(self.rid, (_chunk_entity(self.rid, c) for c in result.chunks))
        return plan

    def fan_out(self, queue: QueueClient, plan: RunEntity, checked: Validation) -> None:
        """One message per chunk (its run and number: the rest is in the ledger), then the run
        is uploading."""
        result, _ = _accepted(checked)
        messages = [ChunkMessage(self.rid, c.index).encode() for c in result.chunks]
        send_all(queue, messages, self.opts.send_concurrency)
        self.ledger.update_run(plan, replace(plan, status=states.UPLOADING))

    def nothing_to_send(self, plan: RunEntity, checked: Validation) -> PlanOutcome:
        """Every valid row filtered by the connector's ``events``: complete, nothing sent, said so."""
        result, connector = _accepted(checked)
        reason = (
            f"all {result.rows_valid:,} valid rows of {self.blob.blob_name} are events the connector's "
            "events setting leaves out; nothing sent"
        )
        done = replace(
            plan, status=states.COMPLETE, records_saved=0, reason=reason, completed_at=states.now()
        )
        self.ledger.update_run(plan, done)
        log.info(
            "export complete, nothing sent: %s",
            reason,
            extra={**self.ctx, "rows_filtered": result.rows_filtered},
        )
        telemetry.run_completed(
            self.rid, connector.name, self.blob.blob_name, 0, status=states.COMPLETE,
            rows_filtered=result.rows_filtered,
        )  # fmt: skip
        return PlanOutcome(self.rid, states.COMPLETE, 0, 0, reason)

    def reject(self, started: RunEntity, checked: Validation) -> PlanOutcome:
        """Quarantine the file with its report, record why, then remove the original."""
        exc = checked.rejected
        assert exc is not None
        quarantined = ""
        if self.opts.quarantine is not None:
            quarantined = self.opts.quarantine.copy_in(
                self.blob, self.etag, checked.report_json(run_id=self.rid)
            )
        verdict = checked.summary()
        rejected = replace(
            started,
            status=states.REJECTED,
            reason_code=exc.code,
            reason=exc.message,
            rows_in_file=verdict.rows_total,
            rows_invalid=verdict.rows_invalid,
            invalid_by_reason=verdict.invalid_by_reason,
            quarantined=quarantined,
            completed_at=states.now(),
        )
        self.ledger.update_run(started, rejected)
        if quarantined:
            Quarantine.remove_original(self.blob, self.etag)
        log.warning(
            "export rejected: %s",
            exc.message,
            extra={**self.ctx, "reason_code": exc.code, "quarantined": quarantined},
        )
        telemetry.file_rejected(
            self.rid, printable(self.blob.blob_name), exc.code, exc.message, self.ctx.get("connector")
        )
        return PlanOutcome(self.rid, states.REJECTED, reason=exc.message)

    def started(self, checked: Validation) -> PlanOutcome:
        """Say so in telemetry and the log: counts only."""
        result, connector = _accepted(checked)
        telemetry.run_started(
            self.rid, connector.name, self.blob.blob_name, result.rows, len(result.chunks),
            rows_filtered=result.rows_filtered, columns_dropped=len(checked.columns_dropped()),
        )  # fmt: skip
        log.info(
            "export planned: %d rows to send in %d chunks, %d invalid rows skipped, %d filtered by event, "
            "%d duplicate rows",
            result.rows_to_send,
            len(result.chunks),
            len(result.invalid),
            result.rows_filtered,
            result.duplicates,
            extra={
                **self.ctx,
                "rows": result.rows_to_send,
                "chunks": len(result.chunks),
                "rows_skipped": len(result.invalid),
                "rows_filtered": result.rows_filtered,
                "duplicate_rows": result.duplicates,
            },
        )
        return PlanOutcome(self.rid, states.UPLOADING, result.rows_to_send, len(result.chunks))


def _accepted(checked: Validation) -> tuple[ScanResult, Connector]:
    assert checked.result is not None and checked.connector is not None
    return checked.result, checked.connector


def _chunk_entity(rid: str, c: Chunk) -> ChunkEntity:
    return ChunkEntity(rid, c.index, c.start, c.end, c.rows, first_row=c.first_row, skip=c.skip)


def send_all(queue: QueueClient, messages: list[str], concurrency: int) -> None:
    """Send concurrently: thousands of chunks would otherwise wait on one round trip each.

    The SDK client is thread-safe. A failure raises after the others finish; the trigger's
    retry sends all again, and the worker skips chunks the ledger already has as uploaded.
    """
    if len(messages) <= 1 or concurrency <= 1:
        for m in messages:
            queue.send_message(m)
        return
    with ThreadPoolExecutor(min(concurrency, len(messages)), thread_name_prefix="fanout") as pool:
        for _ in pool.map(queue.send_message, messages):
            pass


REFRESH_AFTER = timedelta(days=1)
"""Employee profiles dropped again unchanged this long after they were planned are a refresh,
not a duplicate: Purview deletes profiles not refreshed within 30 days, so skipping them would
let the healthcare policy lose them while the files kept arriving."""


def _refreshes(ledger: Ledger, connector: Connector, other: ContentClaim) -> bool:
    if connector.kind != "hr":
        return False
    run = ledger.get_run(other.run_id)
    received = run.received_at if run else None
    return received is None or states.now() - received >= REFRESH_AFTER


def _can_complete(ledger: Ledger, other_rid: str) -> bool:
    run = ledger.get_run(other_rid)
    if run is None or run.status not in (states.PLANNING, states.UPLOADING, states.COMPLETE):
        return False
    return not any(c.state == states.FAILED for c in ledger.chunks(other_rid))


def _write_report(container: ContainerClient, name: str, checked: Validation, rid: str) -> str:
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    container.upload_blob(
        name,
        checked.report_json(run_id=rid),
        overwrite=True,
        content_settings=ContentSettings(content_type="application/json"),
    )
    return f"{container.container_name}/{name}"
