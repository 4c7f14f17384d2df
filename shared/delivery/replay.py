"""Replay: send the failed (or poisoned) chunks of a run again once their cause is fixed.

Safe to repeat: chunk rows go back to ``pending`` with an ETag condition, one message per
chunk is sent, and uploaded chunks are never touched, so a replay cannot duplicate rows
that already arrived. Matching copies in the poison queue are removed, so the poison
queue keeps only what still needs a look.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from shared.common import ledger as states
from shared.common.errors import BadMessage
from shared.common.ledger import Ledger
from shared.common.messages import ChunkMessage

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    run_id: str
    requeued: list[int] = field(default_factory=list)
    poison_removed: int = 0


def find_run(ledger: Ledger, ref: str) -> dict[str, Any]:
    """A run by id, id prefix or blob name (the newest run of that blob)."""
    run = ledger.get_run(ref)
    if run:
        return run
    runs = [r for r in ledger.runs() if r["RowKey"].startswith(ref) or r.get("blob") == ref]
    if not runs:
        raise LookupError(f"no run matches {ref!r}; give a run id from the report or a blob name")
    by_id = {r["RowKey"] for r in runs if r["RowKey"].startswith(ref)}
    if len(by_id) > 1:
        raise LookupError(f"{ref!r} matches {len(by_id)} runs; give more of the run id")
    return max(runs, key=lambda r: r.get("received_at") or states.now())


def message_for(run: dict[str, Any], chunk: dict[str, Any]) -> ChunkMessage:
    """The chunk's message rebuilt from the ledger, as the planner sent it.

    Fields are taken from the chunk row, then the run row, so a field the planner adds to
    both (and to the message) is carried without changes here.
    """
    known = {"run_id": run["RowKey"], "chunks": run["chunks"]}
    values = {}
    for f in dataclasses.fields(ChunkMessage):
        if f.name in known:
            values[f.name] = known[f.name]
        elif f.name == "skip":  # a JSON list in the ledger; absent on chunks planned before it
            values[f.name] = tuple(tuple(r) for r in json.loads(chunk.get("skip") or "[]"))
        elif f.name in chunk:
            values[f.name] = chunk[f.name]
        elif f.name in run and f.name != "v":
            values[f.name] = run[f.name]
    return ChunkMessage(**values)


def replay(
    ledger: Ledger,
    queue: QueueClient,
    run: dict[str, Any],
    include_pending: bool = False,
    poison: QueueClient | None = None,
) -> ReplayResult:
    """Re-queue the run's failed chunks (and pending ones too if asked: lost or poisoned
    messages of a worker that died on its last attempt)."""
    rid = run["RowKey"]
    # A plan that reached its fan-out (``fanout_at``) has all its chunk rows, even if its
    # invocation died before marking the run uploading: those can be replayed.
    planned = run.get("status") == states.PLANNING and run.get("fanout_at") is not None
    if run.get("status") in (states.PLANNING, states.REJECTED) and not planned:
        raise LookupError(f"run {rid} is {run['status']}: it has no chunks to replay")
    wanted = {states.FAILED} | ({states.PENDING} if include_pending else set())
    result = ReplayResult(rid)
    chunks = [c for c in ledger.table.query_entities("PartitionKey eq @p", parameters={"p": rid})]
    for chunk in sorted(chunks, key=lambda c: c["index"]):
        if chunk["state"] not in wanted:
            continue
        if chunk["state"] == states.FAILED:
            try:
                ledger.update_chunk(chunk, state=states.PENDING, replayed_at=states.now())
            except ResourceModifiedError:
                continue  # changed meanwhile (another replay): leave it to that one
        queue.send_message(message_for(run, chunk).encode())
        result.requeued.append(chunk["index"])
    if result.requeued:
        ledger.update_run(rid, status=states.UPLOADING)
    if poison is not None:
        result.poison_removed = _drop_poison(poison, rid)
    log.info(
        "replayed %d chunks", len(result.requeued), extra={"run_id": rid, "chunks": len(result.requeued)}
    )
    return result


def _drop_poison(poison: QueueClient, rid: str) -> int:
    """Delete this run's copies from the poison queue; leave every other message visible again."""
    removed = 0
    try:
        messages = list(
            poison.receive_messages(messages_per_page=32, visibility_timeout=30, max_messages=1000)
        )
    except ResourceNotFoundError:  # no poison queue yet
        return 0
    for m in messages:
        try:
            msg = ChunkMessage.decode(m.content)
        except BadMessage:
            msg = None
        if msg is not None and msg.run_id == rid:
            poison.delete_message(m)
            removed += 1
        else:
            poison.update_message(m, visibility_timeout=0)
    return removed
