"""The blob stage: validate an export and fan out one queue message per chunk.

Safe to repeat at every step: the run id is derived from the blob's name and ETag, chunk
rows are created only if absent, and a chunk message sent twice is uploaded once because
the worker checks the ledger first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import PurePosixPath

from azure.core import MatchConditions
from azure.storage.blob import BlobClient
from azure.storage.queue import QueueClient

from shared import ledger as states
from shared import telemetry
from shared.errors import Rejected
from shared.ledger import Ledger
from shared.messages import ChunkMessage
from shared.scan import scan
from shared.schema import schema_for
from shared.settings import Connector

log = logging.getLogger(__name__)

READ_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PlanOutcome:
    run_id: str
    status: str
    rows: int = 0
    chunks: int = 0
    reason: str = ""


def connector_for(blob_name: str, connectors: dict[str, Connector]) -> Connector:
    """The first folder of the blob's path names its connector (exports/<connector>/...)."""
    parts = PurePosixPath(blob_name).parts
    if len(parts) < 2:
        raise Rejected(
            "no-connector-folder",
            f"{blob_name} is not in a connector folder; drop exports as <connector>/<file> "
            f"(configured connectors: {', '.join(sorted(connectors)) or 'none'})",
        )
    if parts[0] not in connectors:
        raise Rejected(
            "unknown-connector",
            f"{blob_name}: folder {parts[0]!r} is not a configured connector "
            f"(configured: {', '.join(sorted(connectors)) or 'none'})",
        )
    return connectors[parts[0]]


def plan_export(
    blob: BlobClient, connectors: dict[str, Connector], ledger: Ledger, queue: QueueClient
) -> PlanOutcome:
    props = blob.get_blob_properties()
    etag = props.etag
    rid = states.run_id(blob.container_name, blob.blob_name, etag)
    ctx = {"run_id": rid, "file_name": blob.blob_name}
    existing = ledger.get_run(rid)
    if existing and existing["status"] != states.PLANNING:
        log.info("export already planned; nothing to do", extra=ctx)
        return PlanOutcome(rid, existing["status"], existing.get("rows", 0), existing.get("chunks", 0))

    received = states.now()
    ledger.create_run(
        rid,
        status=states.PLANNING,
        container=blob.container_name,
        blob=blob.blob_name,
        etag=etag,
        size=props.size,
        received_at=received,
    )
    try:
        connector = connector_for(blob.blob_name, connectors)
        ctx["connector"] = connector.name
        log.info("scanning export", extra=ctx)
        stream = blob.download_blob(
            etag=etag, match_condition=MatchConditions.IfNotModified, max_concurrency=1
        )
        result = scan(stream.chunks(), blob.blob_name, schema_for(connector.kind), connector.chunk_rows)
        if result.rows == 0:
            raise Rejected("no-rows", f"{blob.blob_name} has a header but no data rows")
    except Rejected as exc:
        ledger.update_run(
            rid, status=states.REJECTED, reason_code=exc.code, reason=exc.message, completed_at=states.now()
        )
        log.warning("export rejected: %s", exc.message, extra={**ctx, "reason_code": exc.code})
        telemetry.file_rejected(rid, blob.blob_name, exc.code, exc.message, ctx.get("connector"))
        return PlanOutcome(rid, states.REJECTED, reason=exc.message)

    ledger.update_run(
        rid,
        connector=connector.name,
        job_id=connector.job_id,
        rows=result.rows,
        chunks=len(result.chunks),
        sha256=result.sha256,
        delimiter=result.delimiter,
        header_start=result.header_start,
        header_end=result.header_end,
        planned_at=states.now(),
    )
    ledger.add_chunks(
        rid, ({"index": c.index, "start": c.start, "end": c.end, "rows": c.rows} for c in result.chunks)
    )
    for c in result.chunks:
        msg = ChunkMessage(
            run_id=rid,
            connector=connector.name,
            container=blob.container_name,
            blob=blob.blob_name,
            etag=etag,
            header_start=result.header_start,
            header_end=result.header_end,
            index=c.index,
            start=c.start,
            end=c.end,
            rows=c.rows,
            chunks=len(result.chunks),
        )
        queue.send_message(msg.encode())
    ledger.update_run(rid, status=states.UPLOADING)
    telemetry.run_started(rid, connector.name, blob.blob_name, result.rows, len(result.chunks))
    log.info(
        "export planned: %d rows in %d chunks",
        result.rows,
        len(result.chunks),
        extra={**ctx, "rows": result.rows, "chunks": len(result.chunks)},
    )
    return PlanOutcome(rid, states.UPLOADING, result.rows, len(result.chunks))
