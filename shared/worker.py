"""The queue stage: upload one chunk, record it in the ledger, complete the run after the last.

Exactly once per chunk: the ledger is read before the POST and written after it with an
ETag condition. A redelivered message for an uploaded chunk is skipped; the only window
for a repeat is a worker dying between the API's 2xx and the ledger write.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import requests
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError
from azure.storage.blob import BlobServiceClient

from shared import ledger as states
from shared import telemetry
from shared.entra import TokenProvider
from shared.errors import BadMessage
from shared.ledger import Ledger
from shared.messages import ChunkMessage
from shared.settings import Connector
from shared.upload import MultipartBody, UploadError, post_chunk

log = logging.getLogger(__name__)


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

    def handle(self, msg: ChunkMessage, dequeue_count: int) -> str:
        """Returns the chunk's state; raises to hand the message back to the queue for a retry."""
        ctx = {
            "run_id": msg.run_id,
            "file_name": msg.blob,
            "chunk_index": msg.index,
            "connector": msg.connector,
        }
        entity = self.ledger.get_chunk(msg.run_id, msg.index)
        if entity is None:
            raise BadMessage(f"run {msg.run_id} has no chunk {msg.index} in the ledger")
        if entity["state"] in (states.UPLOADED, states.FAILED):
            log.info("chunk already %s; message skipped", entity["state"], extra=ctx)
            return entity["state"]
        connector = self.connectors.get(msg.connector)
        if connector is None:
            raise BadMessage(f"connector {msg.connector} is no longer configured")

        started = time.monotonic()
        try:
            self._post(msg, connector.job_id)
        except UploadError as exc:
            final = not exc.retryable or dequeue_count >= self.max_dequeue_count
            self._record(
                entity,
                state=states.FAILED if final else states.PENDING,
                attempts=entity.get("attempts", 0) + 1,
                last_error=str(exc),
                last_status=exc.status or 0,
            )
            log.warning(
                "chunk upload failed: %s", exc, extra={**ctx, "http_status": exc.status, "final": final}
            )
            if final:
                telemetry.chunk_poisoned(
                    msg.run_id, msg.connector, msg.blob, msg.index, dequeue_count, http_status=exc.status
                )
            if final and not exc.retryable:
                return states.FAILED
            raise
        duration_ms = int((time.monotonic() - started) * 1000)
        self._record(
            entity,
            state=states.UPLOADED,
            attempts=entity.get("attempts", 0) + 1,
            uploaded_at=states.now(),
            duration_ms=duration_ms,
            last_error="",
        )
        log.info(
            "chunk uploaded: %d rows in %d ms",
            msg.rows,
            duration_ms,
            extra={**ctx, "rows": msg.rows, "duration_ms": duration_ms},
        )
        telemetry.chunk_uploaded(msg.connector, msg.rows, duration_ms, entity.get("attempts", 0))
        self.complete_if_done(msg.run_id)
        return states.UPLOADED

    def _post(self, msg: ChunkMessage, job_id: str) -> None:
        blob = self.blobs.get_blob_client(msg.container, msg.blob)
        same_version = {"etag": msg.etag, "match_condition": MatchConditions.IfNotModified}
        try:
            header = blob.download_blob(
                offset=msg.header_start, length=msg.header_end - msg.header_start, **same_version
            ).readall()
            for attempt in range(2):
                rows = blob.download_blob(offset=msg.start, length=msg.end - msg.start, **same_version)
                parts = itertools.chain([header], rows.chunks())
                body = MultipartBody(parts, len(header) + msg.end - msg.start, _file_name(msg))
                try:
                    post_chunk(self.session, self.url, job_id, self.tokens.token(), body, self.timeout)
                    return
                except UploadError as exc:
                    if exc.status != 401 or attempt:
                        raise
                    self.tokens.invalidate()  # a revoked or expired token: one fresh try
        except ResourceModifiedError:
            raise UploadError(
                f"{msg.blob} was replaced while it was being uploaded; the new version is planned "
                "as its own run, this one stops",
                None,
                retryable=False,
            ) from None

    def _record(self, entity, **fields) -> None:
        try:
            self.ledger.update_chunk(entity, **fields)
        except ResourceModifiedError:
            current = self.ledger.get_chunk(entity["PartitionKey"], entity["index"])
            log.warning(
                "chunk ledger row changed under us (now %s); a duplicate delivery ran concurrently",
                current["state"] if current else "missing",
                extra={"run_id": entity["PartitionKey"], "chunk_index": entity["index"]},
            )

    def complete_if_done(self, rid: str) -> bool:
        """Every worker checks after its own write, so the last one to finish sees all chunks done."""
        chunks = self.ledger.chunks(rid)
        if not chunks or any(c["state"] != states.UPLOADED for c in chunks):
            return False
        run = self.ledger.get_run(rid)
        if run and run["status"] != states.COMPLETE:
            saved = sum(c["rows"] for c in chunks)
            self.ledger.update_run(
                rid, status=states.COMPLETE, records_saved=saved, completed_at=states.now()
            )
            log.info(
                "run complete: %d rows saved",
                saved,
                extra={
                    "run_id": rid,
                    "file_name": run.get("blob"),
                    "connector": run.get("connector"),
                    "rows": saved,
                },
            )
            telemetry.run_completed(rid, run.get("connector"), run.get("blob"), saved, run.get("received_at"))
        return True


def _file_name(msg: ChunkMessage) -> str:
    return f"{msg.blob.rsplit('/', 1)[-1]}.part{msg.index:05d}"
