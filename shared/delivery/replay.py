"""Replay: send the failed (or poisoned) chunks of a run again once their cause is fixed.

Safe to repeat: chunk rows go back to ``pending`` with an ETag condition, one message per
chunk is sent, and uploaded chunks are never touched, so a replay cannot duplicate rows
that already arrived. Matching copies in the poison queue are removed, so the poison
queue keeps only what still needs a look.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from shared.common import ledger as states
from shared.common.entities import ChunkEntity, RunEntity
from shared.common.errors import BadMessage
from shared.common.ledger import Ledger
from shared.common.messages import ChunkMessage

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    run_id: str
    requeued: list[int] = field(default_factory=list)
    poison_removed: int = 0


def find_run(ledger: Ledger, ref: str) -> RunEntity:
    """A run by id, id prefix or blob name (the newest run of that blob)."""
    run = ledger.get_run(ref)
    if run:
        return run
    runs = [r for r in ledger.runs() if r.run_id.startswith(ref) or r.blob == ref]
    if not runs:
        raise LookupError(f"no run matches {ref!r}; give a run id from the report or a blob name")
    by_id = {r.run_id for r in runs if r.run_id.startswith(ref)}
    if len(by_id) > 1:
        raise LookupError(f"{ref!r} matches {len(by_id)} runs; give more of the run id")
    return max(runs, key=lambda r: r.received_at or states.now())


def message_for(run: RunEntity, chunk: ChunkEntity) -> ChunkMessage:
    """The chunk's message, as the planner sent it: the worker reads the rest from the ledger."""
    return ChunkMessage(run.run_id, chunk.index)


def replay(
    ledger: Ledger,
    queue: QueueClient,
    run: RunEntity,
    include_pending: bool = False,
    poison: QueueClient | None = None,
) -> ReplayResult:
    """Re-queue the run's failed chunks (and pending ones too if asked: lost or poisoned
    messages of a worker that died on its last attempt)."""
    rid = run.run_id
    # A plan that reached its fan-out (``fanout_at``) has all its chunk rows, even if its
    # invocation died before marking the run uploading: those can be replayed.
    planned = run.status == states.PLANNING and run.fanout_at is not None
    if run.status in (states.PLANNING, states.REJECTED) and not planned:
        raise LookupError(f"run {rid} is {run.status}: it has no chunks to replay")
    wanted = {states.FAILED} | ({states.PENDING} if include_pending else set())
    result = ReplayResult(rid)
    for chunk in ledger.chunks(rid):
        if chunk.state not in wanted:
            continue
        if chunk.state == states.FAILED:
            again = replace(chunk, state=states.PENDING, poisoned=False, replayed_at=states.now())
            try:
                ledger.update_chunk(chunk, again)
            except ResourceModifiedError:
                continue  # changed meanwhile (another replay): leave it to that one
        queue.send_message(message_for(run, chunk).encode())
        result.requeued.append(chunk.index)
    if result.requeued:
        ledger.update_run(run, replace(run, status=states.UPLOADING))
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
