"""Job-wide limits shared by every worker, kept in the ledger table (not in memory).

- ``Slots``: at most ``cap`` uploads in flight per connector job. A slot is a table row
  (partition ``slots-<job id>``) taken with an ETag-conditional write and held as a lease:
  a worker that dies frees its slot when the lease expires.
- ``TablePacer``: after a 429 the job's row in partition ``pace`` says until when every
  worker waits, so one throttled worker slows the whole job down.
Neither row holds anything but job ids, worker ids and times.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared import ledger as states

log = logging.getLogger(__name__)

PACE = "pace"


@dataclass
class Slot:
    key: str
    etag: str


@dataclass
class Slots:
    table: TableClient
    job_id: str
    cap: int
    lease_seconds: float
    holder: str = ""

    def __post_init__(self) -> None:
        self.holder = self.holder or uuid.uuid4().hex
        self.partition = f"slots-{self.job_id}"

    def try_acquire(self) -> Slot | None:
        """One pass over the job's slots; None when all are held by live leases."""
        if self.cap <= 0:
            return Slot("", "")  # no cap
        now = states.now()
        rows = {
            e["RowKey"]: e
            for e in self.table.query_entities("PartitionKey eq @p", parameters={"p": self.partition})
        }
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
            return Slot(key, meta["etag"])
        return None

    def acquire(self, wait_seconds: float, sleep=time.sleep, clock=time.monotonic) -> Slot | None:
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

    def in_use(self) -> int:
        now = states.now()
        rows = self.table.query_entities("PartitionKey eq @p", parameters={"p": self.partition})
        return sum(1 for e in rows if e.get("holder") and e["expires"] > now)


@dataclass
class TablePacer:
    table: TableClient
    job_id: str

    def paused_for(self) -> float:
        try:
            row = self.table.get_entity(PACE, self.job_id)
        except ResourceNotFoundError:
            return 0.0
        return max(0.0, (row["until"] - states.now()).total_seconds())

    def slow_down(self, seconds: float) -> None:
        until = states.now() + timedelta(seconds=seconds)
        try:
            row = self.table.get_entity(PACE, self.job_id)
            if row["until"] >= until:
                return
        except ResourceNotFoundError:
            pass
        self.table.upsert_entity({"PartitionKey": PACE, "RowKey": self.job_id, "until": until})
        log.warning("job slowed down for %.0f s after throttling", seconds, extra={"job_id": self.job_id})


def renew(slots: Slots, slot: Slot) -> Slot:
    """Extend our lease before each POST; if it was lost meanwhile, carry on (cap + 1 briefly)."""
    if not slot.key:
        return slot
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
        return Slot(slot.key, meta["etag"])
    except (ResourceModifiedError, ResourceNotFoundError):
        log.warning("upload slot %s lease was lost", slot.key, extra={"job_id": slots.job_id})
        return slot
