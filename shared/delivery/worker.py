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
from dataclasses import dataclass, field
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
from shared.common.errors import BadMessage, Rejected
from shared.common.ledger import Ledger
from shared.common.messages import ChunkMessage
from shared.common.settings import Connector
from shared.delivery.entra import TokenError, TokenProvider
from shared.delivery.gate import Slot, Slots, TablePacer, renew
from shared.delivery.projection import Payload, Projection, Sent
from shared.delivery.redact import redact_reply
from shared.delivery.retry import Deferred, RetryPolicy, send
from shared.delivery.upload import MultipartBody, UploadError, post_chunk, without

log = logging.getLogger(__name__)

RETENTION = ("keep", "archive", "delete")
LAST_ERROR_CHARS = 1000
LEASE_MARGIN_SECONDS = 30
RENEW_MARGIN_SECONDS = 10
"""A lease with less than one POST plus this left is renewed before the POST. The lease is
taken with ``LEASE_MARGIN_SECONDS`` and the back-off cap on top, so a fresh one never is."""
HEADER_CACHE_SIZE = 256
SAME_VERSION = MatchConditions.IfNotModified


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
        ctx = {
            "run_id": msg.run_id,
            "file_name": msg.blob,
            "chunk_index": msg.index,
            "connector": msg.connector,
            "dequeue_count": dequeue_count,
        }
        entity = self.ledger.get_chunk(msg.run_id, msg.index)
        if entity is None:
            raise BadMessage(f"run {msg.run_id} has no chunk {msg.index} in the ledger")
        if entity["state"] in (states.UPLOADED, states.FAILED):
            log.info("chunk already %s; message skipped", entity["state"], extra=ctx)
            # The delivery that wrote it may have died before completing the run.
            self.complete_if_done(msg.run_id)
            return str(entity["state"])
        connector = self.connectors.get(msg.connector)
        if connector is None:
            raise BadMessage(f"connector {msg.connector} is no longer configured")

        last = dequeue_count >= self.max_dequeue_count
        slots = Slots(self.ledger.table, connector.job_id, self.job_concurrency, self._lease_seconds())
        started = time.monotonic()
        posts = 0
        try:
            slot = slots.acquire(self.slot_wait)
            if slot is None:
                raise Deferred(
                    self.defer_seconds * (1 + random.random()), "the job is at its cap of concurrent uploads"
                )
            try:
                posts, sent = self._upload(msg, connector, slots, slot)
            finally:
                slots.release(slot)
        except Deferred as exc:
            return self._defer(msg, exc, ctx)
        except (UploadError, TokenError) as exc:
            retryable = isinstance(exc, TokenError) or exc.retryable
            final = not retryable or last
            self._fail(entity, exc, final, getattr(exc, "status", None), ctx)
            if final and not retryable:
                return states.FAILED  # nothing to retry: the message is done, the ledger says why
            raise
        except (AzureError, OSError) as exc:
            # Storage or the network failed around the upload: the queue retries; the last
            # attempt leaves the reason in the ledger, since the poison queue keeps only the message.
            if last:
                self._fail(entity, exc, True, None, ctx)
            raise
        duration_ms = int((time.monotonic() - started) * 1000)
        self._record(
            entity,
            state=states.UPLOADED,
            attempts=entity.get("attempts", 0) + posts,
            uploaded_at=states.now(),
            duration_ms=duration_ms,
            rows_sent=sent.rows,
            rows_filtered=sent.filtered,
            last_error="",
        )
        if sent.rows != msg.rows:
            log.warning(
                "chunk sent %d rows where the plan counted %d (the connector's events setting changed "
                "since the file was planned); the ledger keeps what was sent",
                sent.rows,
                msg.rows,
                extra={**ctx, "rows": sent.rows, "rows_planned": msg.rows},
            )
        log.info(
            "chunk uploaded: %d rows in %d ms",
            sent.rows,
            duration_ms,
            extra={**ctx, "rows": sent.rows, "rows_filtered": sent.filtered, "duration_ms": duration_ms,
                   "posts": posts},
        )  # fmt: skip
        telemetry.chunk_uploaded(msg.connector, sent.rows, duration_ms, entity.get("attempts", 0) + posts - 1)
        self.complete_if_done(msg.run_id)
        return states.UPLOADED

    def _lease_seconds(self) -> float:
        return sum(self.timeout) + self.policy.cap + LEASE_MARGIN_SECONDS

    def _export(self, blob: BlobClient, msg: ChunkMessage, connector: Connector) -> tuple[bytes, Projection]:
        """The export's header line and what of it leaves (``shared.delivery.projection``):
        one GET and one header match per export version, not one per chunk."""
        key = (msg.container, msg.blob, msg.etag, msg.header_start, msg.header_end, connector.name)
        known = self._exports.get(key)
        if known is None:
            header = blob.download_blob(
                offset=msg.header_start,
                length=msg.header_end - msg.header_start,
                etag=msg.etag,
                match_condition=SAME_VERSION,
            ).readall()
            try:
                shape = Projection.for_header(header, msg.blob, connector)
            except (Rejected, UnicodeDecodeError) as exc:
                reason = exc.message if isinstance(exc, Rejected) else "its header is not UTF-8"
                raise UploadError(f"{msg.blob}: {reason}", None, retryable=False) from None
            if len(self._exports) >= HEADER_CACHE_SIZE:
                self._exports.clear()
            known = self._exports[key] = (header, shape)
        return known

    def _upload(self, msg: ChunkMessage, connector: Connector, slots: Slots, slot: Slot) -> tuple[int, Sent]:
        blob = self.blobs.get_blob_client(msg.container, msg.blob)
        held = [slot]
        try:
            header, shape = self._export(blob, msg, connector)

            def rows() -> Iterator[bytes]:
                sent = blob.download_blob(
                    offset=msg.start, length=msg.end - msg.start, etag=msg.etag, match_condition=SAME_VERSION
                )
                return without(sent.chunks(), msg.start, msg.skip)

            with Payload.build(shape, header, rows, msg.size, msg.rows) as payload:

                def post(token: str) -> None:
                    held[0] = renew(slots, held[0], sum(self.timeout) + RENEW_MARGIN_SECONDS)
                    body = MultipartBody(payload.parts(), payload.length, _file_name(msg))
                    try:
                        post_chunk(self.session, self.url, connector.job_id, token, body, self.timeout)
                    except UploadError as err:
                        if err.status == 429:
                            telemetry.chunk_throttled(msg.connector)
                        if not err.api_said:
                            raise
                        # What the API said is stored and logged: first out with any value it quotes.
                        raise redact_reply(err, payload.rows(), payload.header, shape.delimiter) from None

                if not payload.sent.rows:
                    return 0, payload.sent  # every row filtered out since the plan: nothing to send
                pacer = TablePacer(self.ledger.table, connector.job_id, slots)
                return send(post, self.tokens, self.policy, pacer), payload.sent
        except ResourceModifiedError:
            raise UploadError(
                f"{msg.blob} was replaced while it was being uploaded; the new version is planned "
                "as its own run, this one stops",
                None,
                retryable=False,
            ) from None
        except ResourceNotFoundError:
            raise UploadError(
                f"{msg.blob} was deleted before all its chunks were uploaded; drop it again",
                None,
                retryable=False,
            ) from None
        finally:
            slot.etag = held[0].etag

    def _defer(self, msg: ChunkMessage, exc: Deferred, ctx: dict[str, Any]) -> str:
        seconds = int(min(max(exc.seconds, 1), 7 * 24 * 3600))
        if self.requeue is None:
            raise exc
        self.requeue(msg.encode(), seconds)
        log.info("chunk deferred %d s: %s", seconds, exc, extra=ctx)
        return "deferred"

    def _fail(
        self, entity: Any, exc: Exception, final: bool, status: int | None, ctx: dict[str, Any]
    ) -> None:
        text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, UploadError) else str(exc)
        self._record(
            entity,
            state=states.FAILED if final else states.PENDING,
            attempts=entity.get("attempts", 0) + 1,
            last_error=text[:LAST_ERROR_CHARS],
            last_status=status or 0,
            failed_at=states.now(),
        )
        level = logging.ERROR if final else logging.WARNING
        log.log(level, "chunk upload failed: %s", text, extra={**ctx, "http_status": status, "final": final})
        if final:
            telemetry.chunk_poisoned(
                entity["PartitionKey"], ctx["connector"], ctx["file_name"], entity["index"],
                entity.get("attempts", 0) + 1, http_status=status,
            )  # fmt: skip
            self.complete_if_done(entity["PartitionKey"])

    def _record(self, entity: Any, **fields: Any) -> None:
        """ETag-conditional write. If a concurrent delivery wrote first, a 2xx still wins (the
        rows did arrive); any other outcome leaves the other writer's state in place.

        Storage briefly unreachable (a restart, a network blip) is waited out for a while: the
        write after a 2xx is what keeps the chunk from being sent again."""
        transient = list(self.record_retry_seconds)
        for _ in range(3 + len(transient)):
            try:
                self.ledger.update_chunk(entity, **fields)
                return
            except (ServiceRequestError, ServiceResponseError) as exc:
                if not transient:
                    raise
                delay = transient.pop(0)
                log.warning(
                    "ledger write failed (%s); retrying in %.1f s",
                    type(exc).__name__,
                    delay,
                    extra={"run_id": entity["PartitionKey"], "chunk_index": entity["index"]},
                )
                time.sleep(delay)
            except ResourceModifiedError:
                current = self.ledger.get_chunk(entity["PartitionKey"], entity["index"])
                if (
                    current is None
                    or current["state"] == states.UPLOADED
                    or fields.get("state") != states.UPLOADED
                ):
                    log.warning(
                        "chunk ledger row changed under us (now %s); a duplicate delivery ran concurrently",
                        current["state"] if current else "missing",
                        extra={"run_id": entity["PartitionKey"], "chunk_index": entity["index"]},
                    )
                    return
                entity = current

    def complete_if_done(self, rid: str) -> bool:
        """Every worker checks after its own final write, so the last one sees every chunk final.

        The run row is updated with its ETag as condition: of two workers finishing at once,
        one completes the run and applies the retention setting.
        """
        if self.ledger.has_open_chunk(rid):
            return False
        chunks = self.ledger.chunks(rid)
        if not chunks or any(c["state"] not in (states.UPLOADED, states.FAILED) for c in chunks):
            return False
        run = self.ledger.get_run_entity(rid)
        if run is None or run["status"] in (states.COMPLETE, states.FAILED_RUN):
            return True
        saved = sum(c.get("rows_sent", c["rows"]) for c in chunks if c["state"] == states.UPLOADED)
        failed = sum(1 for c in chunks if c["state"] == states.FAILED)
        status = states.FAILED_RUN if failed else states.COMPLETE
        fields = {
            "status": status,
            "records_saved": saved,
            "chunks_failed": failed,
            "completed_at": states.now(),
        }
        if not self.ledger.update_run_if_unchanged(run, **fields):
            return True  # another worker completed it
        ctx = {"run_id": rid, "file_name": run.get("blob"), "connector": run.get("connector"), "rows": saved}
        if failed:
            log.error(
                "run finished with %d failed chunks, %d rows saved; fix it, then: ehr-ingest replay %s",
                failed,
                saved,
                rid,
                extra={**ctx, "chunks_failed": failed},
            )
            telemetry.run_completed(
                rid, ctx["connector"], ctx["file_name"], saved, run.get("received_at"), status=status
            )
            return True
        log.info("run complete: %d rows saved", saved, extra=ctx)
        telemetry.run_completed(
            rid, ctx["connector"], ctx["file_name"], saved, run.get("received_at"), status=status
        )
        self._retain(run, ctx)
        return True

    def _retain(self, run: Any, ctx: dict[str, Any]) -> None:
        """Archive (Archive access tier) or delete the export version this run uploaded."""
        if self.retention == "keep":
            return
        blob = self.blobs.get_blob_client(run["container"], run["blob"])
        try:
            if self.retention == "delete":
                blob.delete_blob(etag=run["etag"], match_condition=MatchConditions.IfNotModified)
            elif blob.get_blob_properties().etag == run["etag"]:
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
        self.ledger.update_run(run["RowKey"], retention=self.retention)
        log.info("export %s after upload", "deleted" if self.retention == "delete" else "archived", extra=ctx)


def _file_name(msg: ChunkMessage) -> str:
    return f"{msg.blob.rsplit('/', 1)[-1]}.part{msg.index:05d}"
