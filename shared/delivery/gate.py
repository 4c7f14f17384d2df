"""Job-wide limits shared by every worker, kept in the ledger table (not in memory).

- ``Slots``: at most ``cap`` uploads in flight per connector job. A slot is a table row
  (partition ``slots-<job id>``) taken with an ETag-conditional write and held as a lease:
  a worker that dies frees its slot when the lease expires.
- ``TablePacer``: after a 429 the job's ``pace`` row (in the same partition, so the query
  that takes a slot reads it too) says until when every worker waits, so one throttled
  worker slows the whole job down.
Neither row holds anything but job ids, worker ids and times.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode

from shared.common import ledger as states

log = logging.getLogger(__name__)

PACE = "pace"
"""RowKey of the job's slow-down row, in the job's slot partition."""


def partition(job_id: str) -> str:
    return f"slots-{job_id}"


@dataclass
class Slot:
    key: str
    etag: str
    expires_at: float = 0.0
    """When our lease runs out (monotonic clock), as far as this worker knows."""


@dataclass
class Slots:
    table: TableClient
    job_id: str
    cap: int
    lease_seconds: float
    holder: str = ""
    clock: Callable[[], float] = time.monotonic
    pace_until: datetime | None = None
    """The job's slow-down as the last look at the partition found it (None: not slowed)."""

    def __post_init__(self) -> None:
        self.holder = self.holder or uuid.uuid4().hex
        self.partition = partition(self.job_id)

    def try_acquire(self) -> Slot | None:
        """One pass over the job's slots; None when all are held by live leases."""
        if self.cap <= 0:
            return Slot("", "")  # no cap
        now = states.now()
        rows = {
            e["RowKey"]: e
            for e in self.table.query_entities("PartitionKey eq @p", parameters={"p": self.partition})
        }
        pace = rows.get(PACE)
        self.pace_until = pace["until"] if pace is not None else None
        expires_at = self.clock() + self.lease_seconds
        keys = [f"{i:03d}" for i in range(self.cap)]
        random.shuffle(keys)  # spread workers over the slots instead of racing for the first
        lease = {"holder": self.holder, "expires": now + timedelta(seconds=self.lease_seconds)}
        for key in keys:
            row = rows.get(key)
            try:
                if row is None:
                    meta = self.table.create_entity({"PartitionKey": self.partition, "RowKey": key, **lease})
                elif not row.get("holder") or row["expires"] <= now:
                    meta = self.table.update_entity(
                        {"PartitionKey": self.partition, "RowKey": key, **lease},
                        mode=UpdateMode.MERGE,
                        etag=row.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                else:
                    continue
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another worker took it first
            return Slot(key, meta["etag"], expires_at)
        return None

    def acquire(
        self,
        wait_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Slot | None:
        deadline = clock() + wait_seconds
        while True:
            slot = self.try_acquire()
            if slot is not None or clock() >= deadline:
                return slot
            sleep(min(1.0 + random.random(), max(deadline - clock(), 0.1)))

    def release(self, slot: Slot) -> None:
        if not slot.key:
            return
        try:
            self.table.update_entity(
                {"PartitionKey": self.partition, "RowKey": slot.key, "holder": "", "expires": states.now()},
                mode=UpdateMode.MERGE,
                etag=slot.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            # Our lease expired and someone else holds the slot now: theirs to release.
            log.warning(
                "upload slot %s was taken over before release", slot.key, extra={"job_id": self.job_id}
            )
        except AzureError as exc:
            # Never let a release failure hide the upload's outcome (the chunk would be sent
            # again): the slot frees itself when its lease expires.
            log.warning(
                "upload slot %s not released (%s); it frees itself when its lease expires",
                slot.key,
                type(exc).__name__,
                extra={"job_id": self.job_id},
            )

    def in_use(self) -> int:
        now = states.now()
        rows = self.table.query_entities("PartitionKey eq @p", parameters={"p": self.partition})
        return sum(1 for e in rows if e.get("holder") and e["expires"] > now)


@dataclass
class TablePacer:
    table: TableClient
    job_id: str
    seen: Slots | None = None
    """Slots whose query just read the pace row: the first check uses it instead of a read."""

    def paused_for(self) -> float:
        if self.seen is not None and self.seen.cap > 0:
            until, self.seen = self.seen.pace_until, None
        else:
            until = self._until()
        return max(0.0, (until - states.now()).total_seconds()) if until else 0.0

    def _until(self) -> datetime | None:
        try:
            until: datetime | None = self.table.get_entity(partition(self.job_id), PACE)["until"]
            return until
        except ResourceNotFoundError:
            return None

    def slow_down(self, seconds: float) -> None:
        until = states.now() + timedelta(seconds=seconds)
        current = self._until()
        if current is not None and current >= until:
            return
        self.table.upsert_entity({"PartitionKey": partition(self.job_id), "RowKey": PACE, "until": until})
        log.warning("job slowed down for %.0f s after throttling", seconds, extra={"job_id": self.job_id})


def renew(slots: Slots, slot: Slot, needed_seconds: float) -> Slot:
    """Make the lease outlast the next POST (``needed_seconds``); if it was lost meanwhile,
    carry on (cap + 1 briefly). A lease just taken already does: no write for it."""
    if not slot.key or slot.expires_at - slots.clock() >= needed_seconds:
        return slot
    expires_at = slots.clock() + slots.lease_seconds
    try:
        meta = slots.table.update_entity(
            {
                "PartitionKey": slots.partition,
                "RowKey": slot.key,
                "holder": slots.holder,
                "expires": states.now() + timedelta(seconds=slots.lease_seconds),
            },
            mode=UpdateMode.MERGE,
            etag=slot.etag,
            match_condition=MatchConditions.IfNotModified,
        )
        return Slot(slot.key, meta["etag"], expires_at)
    except (ResourceModifiedError, ResourceNotFoundError):
        log.warning("upload slot %s lease was lost", slot.key, extra={"job_id": slots.job_id})
        return slot
