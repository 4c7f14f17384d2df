"""Run and chunk state in Table Storage: the single source of truth for what was uploaded.

Runs live in partition ``run`` (one entity per export version), chunks in a partition per
run. State changes use ETag-conditional updates, so two workers racing on the same chunk
cannot both record it, and every step can be repeated safely. What is stored is typed in
``shared.common.entities``; this module only moves those types in and out of the table.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.common.entities import (
    COMPLETE,
    CONTENT_PARTITION,
    DUPLICATE,
    FAILED,
    FAILED_RUN,
    PENDING,
    PLANNING,
    REJECTED,
    RUNS,
    UPLOADED,
    UPLOADING,
    ChunkEntity,
    ContentClaim,
    RunEntity,
    chunk_key,
    now,
    to_entity,
)

__all__ = [
    "COMPLETE",
    "DUPLICATE",
    "FAILED",
    "FAILED_RUN",
    "PENDING",
    "PLANNING",
    "REJECTED",
    "UPLOADED",
    "UPLOADING",
    "Ledger",
    "chunk_key",
    "now",
    "run_id",
]

STATE_PARTITION = "state"


def run_id(container: str, blob: str, etag: str) -> str:
    """Deterministic, so a trigger firing twice for the same blob version finds its run."""
    return hashlib.sha256(f"{container}/{blob}\n{etag}".encode()).hexdigest()[:32]


@dataclass
class Ledger:
    table: TableClient

    # runs -------------------------------------------------------------------------------
    def get_run(self, rid: str) -> RunEntity | None:
        """The run with its ETag, for ``update_run(..., if_unchanged=True)``."""
        try:
            return RunEntity.from_entity(self.table.get_entity(RUNS, rid))
        except ResourceNotFoundError:
            return None

    def create_run(self, run: RunEntity) -> bool:
        """Create the run; False if it already exists (a repeated trigger)."""
        try:
            self.table.create_entity(to_entity(run))
            return True
        except ResourceExistsError:
            return False

    def update_run(self, before: RunEntity, after: RunEntity, *, if_unchanged: bool = False) -> bool:
        """Merge what ``after`` changes from ``before`` (so concurrent writers of other fields
        keep theirs). With ``if_unchanged``, only if nobody wrote since ``before`` was read:
        False when someone did."""
        return self._merge(to_entity(after, before), before.table_etag if if_unchanged else None)

    def runs(self, since: datetime | None = None) -> list[RunEntity]:
        query = f"PartitionKey eq '{RUNS}'"
        params: dict[str, Any] = {}
        if since is not None:
            query += " and received_at ge @since"
            params["since"] = since
        return [RunEntity.from_entity(e) for e in self.table.query_entities(query, parameters=params)]

    # chunks -----------------------------------------------------------------------------
    def add_chunks(self, rid: str, chunks: Iterable[ChunkEntity]) -> None:
        """Insert chunk rows in batches of 100; rows already there (a replan) are kept as they are."""
        existing = {c.index for c in self.chunks(rid)}
        batch: list[dict[str, Any]] = []
        for chunk in chunks:
            if chunk.index not in existing:
                batch.append(to_entity(chunk))
            if len(batch) == 100:
                self._create_all(batch)
                batch = []
        self._create_all(batch)

    def _create_all(self, entities: list[dict[str, Any]]) -> None:
        if not entities:
            return
        try:
            self.table.submit_transaction([("create", e) for e in entities])
        except TableTransactionError:
            # Another planner of the same run got there first for some rows: keep theirs.
            for entity in entities:
                with contextlib.suppress(ResourceExistsError):
                    self.table.create_entity(entity)

    def chunks(self, rid: str) -> list[ChunkEntity]:
        query = self.table.query_entities("PartitionKey eq @p", parameters={"p": rid})
        return sorted((ChunkEntity.from_entity(e) for e in query), key=lambda c: c.index)

    def has_open_chunk(self, rid: str) -> bool:
        """Is any chunk of the run neither uploaded nor failed? One small page, not the partition.

        Every finishing worker asks this; reading all chunk rows each time would cost
        chunks x chunks entity reads for a run.
        """
        pages = self.table.query_entities(
            "PartitionKey eq @p and state ne @u and state ne @f",
            parameters={"p": rid, "u": UPLOADED, "f": FAILED},
            select=["RowKey"],
            results_per_page=1,
        ).by_page()
        return any(True for page in pages for _ in page)

    def get_chunk(self, rid: str, index: int) -> ChunkEntity | None:
        try:
            return ChunkEntity.from_entity(self.table.get_entity(rid, chunk_key(index)))
        except ResourceNotFoundError:
            return None

    def update_chunk(self, before: ChunkEntity, after: ChunkEntity) -> ChunkEntity:
        """Conditional on ``before``'s ETag: raises ResourceModifiedError if someone else wrote
        first. Returns ``after`` with its new ETag."""
        written = self.table.update_entity(
            to_entity(after, before),
            mode=UpdateMode.MERGE,
            etag=before.table_etag,
            match_condition=MatchConditions.IfNotModified,
        )
        return replace(after, table_etag=str(written.get("etag") or ""))

    # content index ----------------------------------------------------------------------
    def claim_content(self, claim: ContentClaim) -> ContentClaim | None:
        """Record that ``claim.run_id`` holds this content; returns the other run's claim if
        one got there first."""
        try:
            self.table.create_entity(to_entity(claim))
            return None
        except ResourceExistsError:
            existing = ContentClaim.from_entity(self.table.get_entity(CONTENT_PARTITION, claim.sha256))
            return None if existing.run_id == claim.run_id else existing

    def take_over_content(self, existing: ContentClaim, claim: ContentClaim) -> bool:
        """Move the content to ``claim``'s run if nobody else changed it since it was read (ETag)."""
        return self._merge(to_entity(claim), existing.table_etag)

    # report state -----------------------------------------------------------------------
    def reported_up_to(self, key: str) -> datetime | None:
        """Where the last scheduled report of this kind ended (None before the first)."""
        try:
            until: datetime | None = self.table.get_entity(STATE_PARTITION, key).get("last_to")
            return until
        except ResourceNotFoundError:
            return None

    def report_written(self, key: str, until: datetime, path: str) -> None:
        self.table.upsert_entity(
            {"PartitionKey": STATE_PARTITION, "RowKey": key, "last_to": until, "last_path": path}
        )

    def _merge(self, entity: dict[str, Any], etag: str | None) -> bool:
        """MERGE the entity, conditional on ``etag`` when one is given (False if it moved on)."""
        try:
            if etag:
                self.table.update_entity(
                    entity, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            else:
                self.table.update_entity(entity, mode=UpdateMode.MERGE)
            return True
        except ResourceModifiedError:
            return False

    # retention --------------------------------------------------------------------------
    def prune(self, before: datetime, limit: int = 500) -> int:
        """Delete up to ``limit`` runs received before ``before``, with their chunk rows and
        content entries; returns how many. The table stays bounded (LEDGER_RETENTION_DAYS);
        a later call takes the rest. Safe to repeat: what is gone is skipped."""
        old = self.table.query_entities(
            f"PartitionKey eq '{RUNS}' and received_at lt @before",
            parameters={"before": before},
            select=["RowKey"],
        )
        pruned = 0
        for run in old:
            if pruned >= limit:
                break
            rid = run["RowKey"]
            keys = ["PartitionKey", "RowKey"]
            chunks = self.table.query_entities("PartitionKey eq @rid", parameters={"rid": rid}, select=keys)
            content = self.table.query_entities(
                f"PartitionKey eq '{CONTENT_PARTITION}' and run_id eq @rid",
                parameters={"rid": rid},
                select=keys,
            )
            for key in [*((e["PartitionKey"], e["RowKey"]) for e in [*chunks, *content]), (RUNS, rid)]:
                with contextlib.suppress(ResourceNotFoundError):
                    self.table.delete_entity(*key)
            pruned += 1
        return pruned
