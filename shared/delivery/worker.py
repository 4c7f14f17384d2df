"""The queue stage: upload one chunk, record it in the ledger, complete the run after the last.

Exactly once per chunk, as far as the API lets anyone promise it: the ledger row is read
before the POST and written after it with an ETag condition. A redelivered message for an
uploaded chunk is skipped. Two windows can repeat one chunk (never lose one): a worker
dying between the API's 2xx and the ledger write, and a request that timed out on our
side after the API had accepted it (a transport error is never counted as success, so
the chunk is sent again). Each repeats only that one chunk.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import partial
from typing import Any

import requests
from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobClient, BlobServiceClient

from shared.common import ledger as states
from shared.common import telemetry
from shared.common.entities import ChunkEntity, RunEntity
from shared.common.errors import BadMessage, Rejected
from shared.common.ledger import Ledger
from shared.common.messages import ChunkMessage
from shared.common.settings import Connector
from shared.delivery.entra import TokenError, TokenProvider
from shared.delivery.gate import Slot, Slots, TablePacer, renew
from shared.delivery.post import Target, post_payload
from shared.delivery.projection import Payload, Projection, Sent
from shared.delivery.retry import Deferred, RetryPolicy, Tally, send, waiting_out
from shared.delivery.upload import UploadError, without

log = logging.getLogger(__name__)

RETENTION = ("keep", "archive", "delete")
LAST_ERROR_CHARS = 1000
LEASE_MARGIN_SECONDS = 30
RENEW_MARGIN_SECONDS = 10
"""A lease with less than one POST plus this left is renewed before the POST. The lease is
taken with ``LEASE_MARGIN_SECONDS`` and the back-off cap on top, so a fresh one never is."""
HEADER_CACHE_SIZE = 256
SAME_VERSION = MatchConditions.IfNotModified
TRANSIENT_STORAGE = (ServiceRequestError, ServiceResponseError)
DEFERRED = "deferred"


class Verdict(Enum):
    """What a failed delivery means for its chunk."""

    RETRY = "retry"
    """Pending; the queue delivers the message again."""
    FAILED = "failed"
    """Final: retrying cannot help, so the message is done and the ledger says why."""
    POISONED = "poisoned"
    """Final: the last delivery failed, the message goes to the poison queue."""


def classify(exc: Exception, last: bool) -> Verdict:
    if isinstance(exc, UploadError) and not exc.retryable:
        return Verdict.FAILED
    return Verdict.POISONED if last else Verdict.RETRY


@dataclass
class Uploader:
    blobs: BlobServiceClient
    ledger: Ledger
    tokens: TokenProvider
    session: requests.Session
    connectors: dict[str, Connector]
    url: str
    timeout: tuple[float, float]
    max_dequeue_count: int = 5
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    job_concurrency: int = 0
    """Uploads in flight per job across every worker; 0 means no cap."""
    slot_wait: float = 60.0
    defer_seconds: float = 15.0
    """A chunk that finds the job at its cap comes back after 1-2 times this."""
    retention: str = "keep"
    requeue: Callable[[str, int], object] | None = None
    """Send a message again with a visibility delay: throttling and the cap defer, not fail."""
    record_retry_seconds: tuple[float, ...] = (0.5, 1, 2, 4, 8)
    """Waits between ledger writes while Storage is unreachable (about 15 s in all)."""
    _exports: dict[tuple[str | int, ...], tuple[bytes, Projection]] = field(default_factory=dict, repr=False)
    """Header line and projection by export version (immutable for an ETag): a cache, not state."""

    def handle(self, msg: ChunkMessage, dequeue_count: int) -> str:
        """Returns the chunk's state; raises to hand the message back to the queue for a retry."""
        run, chunk = self._gate(msg)
        ctx = {
            "run_id": run.run_id,
            "file_name": run.blob,
            "chunk_index": chunk.index,
            "connector": run.connector,
            "dequeue_count": dequeue_count,
        }
        if chunk.final:
            log.info("chunk already %s; message skipped", chunk.state, extra=ctx)
            self.complete_if_done(run.run_id)  # the delivery that wrote it may have died before
            return chunk.state
        connector = self._connector(run)
        tally = Tally()
        started = time.monotonic()
        try:
            sent = self._upload(run, chunk, connector, tally)
        except Deferred as exc:
            return self._defer(msg, chunk, exc, tally, ctx)
        except (UploadError, TokenError, AzureError, OSError) as exc:
            return self._failed(chunk, exc, tally, dequeue_count >= self.max_dequeue_count, ctx)
        finally:
            if tally.throttled:
                telemetry.chunk_throttled(run.connector, tally.throttled)
        duration_ms = int((time.monotonic() - started) * 1000)
        self._uploaded(chunk, sent, tally, duration_ms, ctx)
        self.complete_if_done(run.run_id)
        return states.UPLOADED

    # gate -------------------------------------------------------------------------------
    def _gate(self, msg: ChunkMessage) -> tuple[RunEntity, ChunkEntity]:
        """The run and chunk as the blob stage planned them: everything but which chunk is
        read from the ledger, and a message for no planned chunk is refused."""
        chunk = self.ledger.get_chunk(msg.run_id, msg.index)
        if chunk is None:
            raise BadMessage(f"run {msg.run_id} has no chunk {msg.index} in the ledger")
        run = self.ledger.get_run(msg.run_id)
        if run is None or not run.connector or run.header_end <= run.header_start:
            raise BadMessage(f"run {msg.run_id} has no plan in the ledger to upload chunk {msg.index} from")
        return run, chunk

    def _connector(self, run: RunEntity) -> Connector:
        connector = self.connectors.get(run.connector)
        if connector is None:
            raise BadMessage(f"connector {run.connector} is no longer configured")
        return connector

    # upload -----------------------------------------------------------------------------
    def _upload(self, run: RunEntity, chunk: ChunkEntity, connector: Connector, tally: Tally) -> Sent:
        """Take one of the job's slots, then POST the chunk's rows while holding it."""
        slots = Slots(self.ledger.table, connector.job_id, self.job_concurrency, self._lease_seconds())
        slot = slots.acquire(self.slot_wait)
        if slot is None:
            raise Deferred(
                self.defer_seconds * (1 + random.random()), "the job is at its cap of concurrent uploads"
            )
        try:
            return self._post_rows(run, chunk, connector, slots, slot, tally)
        finally:
            slots.release(slot)

    def _lease_seconds(self) -> float:
        return sum(self.timeout) + self.policy.cap + LEASE_MARGIN_SECONDS

    def _post_rows(
        self, run: RunEntity, chunk: ChunkEntity, connector: Connector, slots: Slots, slot: Slot, tally: Tally
    ) -> Sent:
        """The chunk's rows read from this export version only, projected, and sent with
        ``retry.send`` (the lease renewed before a POST that could outlast it)."""
        blob = self.blobs.get_blob_client(run.container, run.blob)
        held = [slot]
        target = Target(self.session, self.url, connector.job_id, self.timeout)
        try:
            header, shape = self._export(blob, run, connector)

            def rows() -> Iterator[bytes]:
                length = chunk.end - chunk.start
                sent = blob.download_blob(
                    offset=chunk.start,
                    length=length,
                    etag=run.etag,
                    match_condition=SAME_VERSION,
                    decompress=False,
                )
                return without(sent.chunks(), chunk.start, chunk.skip)

            with Payload.build(shape, header, rows, chunk.size, chunk.rows) as payload:

                def post(token: str) -> None:
                    held[0] = renew(slots, held[0], sum(self.timeout) + RENEW_MARGIN_SECONDS)
                    post_payload(target, token, payload, _file_name(run, chunk), shape.delimiter)

                if payload.sent.rows:  # else every row was filtered out since the plan: nothing to send
                    pacer = TablePacer(self.ledger.table, connector.job_id, slots)
                    send(post, self.tokens, self.policy, pacer, tally=tally)
                return payload.sent
        except ResourceModifiedError:
            raise UploadError(
                f"{run.blob} was replaced while it was being uploaded; the new version is planned "
                "as its own run, this one stops",
                None,
                retryable=False,
            ) from None
        except ResourceNotFoundError:
            raise UploadError(
                f"{run.blob} was deleted before all its chunks were uploaded; drop it again",
                None,
                retryable=False,
            ) from None
        finally:
            slot.etag = held[0].etag

    def _export(self, blob: BlobClient, run: RunEntity, connector: Connector) -> tuple[bytes, Projection]:
        """The export's header line and what of it leaves (``shared.delivery.projection``):
        one GET and one header match per export version, not one per chunk."""
        key = (run.container, run.blob, run.etag, run.header_start, run.header_end, connector.name)
        known = self._exports.get(key)
        if known is None:
            header = blob.download_blob(
                offset=run.header_start,
                length=run.header_end - run.header_start,
                etag=run.etag,
                decompress=False,
                match_condition=SAME_VERSION,
            ).readall()
            try:
                shape = Projection.for_header(header, run.blob, connector)
            except (Rejected, UnicodeDecodeError) as exc:
                reason = exc.message if isinstance(exc, Rejected) else "its header is not UTF-8"
                raise UploadError(f"{run.blob}: {reason}", None, retryable=False) from None
            if len(self._exports) >= HEADER_CACHE_SIZE:
                self._exports.clear()
            known = self._exports[key] = (header, shape)
        return known

    # classify and record ------------------------------------------------------------------
    def _defer(
        self, msg: ChunkMessage, chunk: ChunkEntity, exc: Deferred, tally: Tally, ctx: dict[str, Any]
    ) -> str:
        """Throttled past the budget, or the job at its cap: the message comes back later."""
        if tally.posts:
            self._record(chunk, _counted(chunk, tally))
        seconds = int(min(max(exc.seconds, 1), 7 * 24 * 3600))
        if self.requeue is None:
            raise exc
        self.requeue(msg.encode(), seconds)
        log.info("chunk deferred %d s: %s", seconds, exc, extra=ctx)
        return DEFERRED

    def _failed(
        self, chunk: ChunkEntity, exc: Exception, tally: Tally, last: bool, ctx: dict[str, Any]
    ) -> str:
        """Record what the failure means (a Storage or network error is left to the queue
        until its last delivery, since the poison queue keeps only the message), complete the
        run after a final one, and raise whenever the queue should deliver it again."""
        verdict = classify(exc, last)
        status = exc.status if isinstance(exc, UploadError) else None
        text = str(exc) if isinstance(exc, UploadError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, UploadError | TokenError) or verdict is not Verdict.RETRY:
            final = verdict is not Verdict.RETRY
            failed = replace(
                _counted(chunk, tally),
                state=states.FAILED if final else states.PENDING,
                poisoned=verdict is Verdict.POISONED,
                last_error=text[:LAST_ERROR_CHARS],
                last_status=status or 0,
                failed_at=states.now(),
            )
            self._record(chunk, failed)
            level = logging.ERROR if final else logging.WARNING
            extra = {**ctx, "http_status": status, "final": final}
            log.log(level, "chunk upload failed: %s", text, extra=extra)
        if verdict is Verdict.RETRY:
            raise exc
        telemetry.chunk_poisoned(
            chunk.run_id,
            ctx["connector"],
            ctx["file_name"],
            chunk.index,
            chunk.attempts + tally.posts,
            http_status=status,
        )
        self.complete_if_done(chunk.run_id)
        if verdict is Verdict.POISONED:
            raise exc
        return states.FAILED

    def _uploaded(
        self,
        chunk: ChunkEntity,
        sent: Sent,
        tally: Tally,
        duration_ms: int,
        ctx: dict[str, Any],
    ) -> None:
        done = replace(
            _counted(chunk, tally),
            state=states.UPLOADED,
            poisoned=False,
            uploaded_at=states.now(),
            duration_ms=duration_ms,
            rows_sent=sent.rows,
            rows_filtered=sent.filtered,
            last_error="",
        )
        self._record(chunk, done)
        if sent.rows != chunk.rows:
            log.warning(
                "chunk sent %d rows where the plan counted %d (the connector's events setting changed "
                "since the file was planned); the ledger keeps what was sent",
                sent.rows,
                chunk.rows,
                extra={**ctx, "rows": sent.rows, "rows_planned": chunk.rows},
            )
        log.info(
            "chunk uploaded: %d rows in %d ms",
            sent.rows,
            duration_ms,
            extra={**ctx, "rows": sent.rows, "rows_filtered": sent.filtered, "duration_ms": duration_ms,
                   "posts": tally.posts},
        )  # fmt: skip
        telemetry.chunk_uploaded(ctx["connector"], sent.rows, duration_ms, max(done.attempts - 1, 0))

    def _record(self, before: ChunkEntity, after: ChunkEntity) -> None:
        """ETag-conditional write. If a concurrent delivery wrote first, a 2xx still wins (the
        rows did arrive); any other outcome leaves the other writer's state in place.

        Storage briefly unreachable (a restart, a network blip) is waited out for a while: the
        write after a 2xx is what keeps the chunk from being sent again."""
        ctx = {"run_id": before.run_id, "chunk_index": before.index}

        def waiting(exc: Exception, seconds: float) -> None:
            log.warning(
                "ledger write failed (%s); retrying in %.1f s", type(exc).__name__, seconds, extra=ctx
            )

        for _ in range(3):
            write = partial(self.ledger.update_chunk, before, after)
            try:
                waiting_out(write, TRANSIENT_STORAGE, self.record_retry_seconds, waiting)
                return
            except ResourceModifiedError:
                current = self.ledger.get_chunk(before.run_id, before.index)
                if current is None or current.state == states.UPLOADED or after.state != states.UPLOADED:
                    log.warning(
                        "chunk ledger row changed under us (now %s); a duplicate delivery ran concurrently",
                        current.state if current else "missing",
                        extra=ctx,
                    )
                    return
                before = current

    # complete ---------------------------------------------------------------------------
    def complete_if_done(self, rid: str) -> bool:
        """Every worker checks after its own final write, so the last one sees every chunk final.

        The run row is updated with its ETag as condition: of two workers finishing at once,
        one completes the run and applies the retention setting.
        """
        if self.ledger.has_open_chunk(rid):
            return False
        chunks = self.ledger.chunks(rid)
        if not chunks or not all(c.final for c in chunks):
            return False
        run = self.ledger.get_run(rid)
        if run is None or run.status in (states.COMPLETE, states.FAILED_RUN):
            return True
        failed = sum(c.state == states.FAILED for c in chunks)
        done = replace(
            run,
            status=states.FAILED_RUN if failed else states.COMPLETE,
            records_saved=sum(c.rows_sent for c in chunks if c.state == states.UPLOADED),
            chunks_failed=failed,
            completed_at=states.now(),
        )
        if not self.ledger.update_run(run, done, if_unchanged=True):
            return True  # another worker completed it
        self._announce(done)
        if not failed:
            self._retain(done)
        return True

    def _announce(self, run: RunEntity) -> None:
        ctx = {
            "run_id": run.run_id,
            "file_name": run.blob,
            "connector": run.connector,
            "rows": run.records_saved,
        }
        if run.chunks_failed:
            log.error(
                "run finished with %d failed chunks, %d rows saved; fix it, then: ehr-ingest replay %s",
                run.chunks_failed,
                run.records_saved,
                run.run_id,
                extra={**ctx, "chunks_failed": run.chunks_failed},
            )
        else:
            log.info("run complete: %d rows saved", run.records_saved, extra=ctx)
        telemetry.run_completed(
            run.run_id, run.connector, run.blob, run.records_saved, run.received_at, status=run.status
        )

    def _retain(self, run: RunEntity) -> None:
        """Archive (Archive access tier) or delete the export version this run uploaded."""
        if self.retention == "keep":
            return
        ctx = {"run_id": run.run_id, "file_name": run.blob, "connector": run.connector}
        blob = self.blobs.get_blob_client(run.container, run.blob)
        try:
            if self.retention == "delete":
                blob.delete_blob(etag=run.etag, match_condition=SAME_VERSION)
            elif blob.get_blob_properties().etag == run.etag:
                blob.set_standard_blob_tier("Archive")
        except ResourceModifiedError:
            log.info("export was replaced since this run; the new version is kept", extra=ctx)
            return
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            log.error(
                "export retention (%s) failed: %s",
                self.retention,
                getattr(exc, "error_code", None) or type(exc).__name__,
                extra=ctx,
            )
            return
        self.ledger.update_run(run, replace(run, retention=self.retention))
        log.info("export %s after upload", "deleted" if self.retention == "delete" else "archived", extra=ctx)


def _counted(chunk: ChunkEntity, tally: Tally) -> ChunkEntity:
    """The chunk with this delivery's POSTs and 429s added to its counts."""
    return replace(chunk, attempts=chunk.attempts + tally.posts, throttled=chunk.throttled + tally.throttled)


def _file_name(run: RunEntity, chunk: ChunkEntity) -> str:
    return f"{run.blob.rsplit('/', 1)[-1]}.part{chunk.index:05d}"
