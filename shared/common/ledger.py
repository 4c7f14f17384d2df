"""Run and chunk state in Table Storage: the single source of truth for what was uploaded.

Runs live in partition ``run`` (one entity per export version), chunks in a partition per
run. State changes use ETag-conditional updates, so two workers racing on the same chunk
cannot both record it, and every step can be repeated safely.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

RUNS = "run"
STATE_PARTITION = "state"
CONTENT_PARTITION = "sha256"

# run status
PLANNING, UPLOADING, COMPLETE, REJECTED = "planning", "uploading", "complete", "rejected"
DUPLICATE = "duplicate"
"""The same content (SHA-256) was already planned under another run; nothing is uploaded."""
# chunk state
PENDING, UPLOADED, FAILED = "pending", "uploaded", "failed"
# run status once every chunk is final but some failed (replay puts it back to uploading)
FAILED_RUN = "failed"


def now() -> datetime:
    return datetime.now(UTC)


def run_id(container: str, blob: str, etag: str) -> str:
    """Deterministic, so a trigger firing twice for the same blob version finds its run."""
    return hashlib.sha256(f"{container}/{blob}\n{etag}".encode()).hexdigest()[:32]


def chunk_key(index: int) -> str:
    return f"chunk-{index:06d}"


@dataclass
class Ledger:
    table: TableClient

    # runs -------------------------------------------------------------------------------
    def get_run(self, rid: str) -> dict[str, Any] | None:
        try:
            return dict(self.table.get_entity(RUNS, rid))
        except ResourceNotFoundError:
            return None

    def create_run(self, rid: str, **fields: Any) -> bool:
        """Create the run; False if it already exists (a repeated trigger)."""
        try:
            self.table.create_entity({"PartitionKey": RUNS, "RowKey": rid, **fields})
            return True
        except ResourceExistsError:
            return False

    def update_run(self, rid: str, **fields: Any) -> None:
        self.table.update_entity({"PartitionKey": RUNS, "RowKey": rid, **fields}, mode=UpdateMode.MERGE)

    def get_run_entity(self, rid: str) -> Any | None:
        """The run with its ETag, for ``update_run_if_unchanged``."""
        try:
            return self.table.get_entity(RUNS, rid)
        except ResourceNotFoundError:
            return None

    def update_run_if_unchanged(self, entity: Any, **fields: Any) -> bool:
        """False when someone else changed the run since ``entity`` was read."""
        try:
            self.table.update_entity(
                {"PartitionKey": RUNS, "RowKey": entity["RowKey"], **fields},
                mode=UpdateMode.MERGE,
                etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except ResourceModifiedError:
            return False

    def runs(self, since: datetime | None = None) -> list[dict[str, Any]]:
        query = f"PartitionKey eq '{RUNS}'"
        params: dict[str, Any] = {}
        if since is not None:
            query += " and received_at ge @since"
            params["since"] = since
        return [dict(e) for e in self.table.query_entities(query, parameters=params)]

    # chunks -----------------------------------------------------------------------------
    def add_chunks(self, rid: str, chunks: Iterable[dict[str, Any]]) -> None:
        """Insert chunk rows in batches of 100; rows already there (a replan) are kept as they are."""
        existing = {e["RowKey"] for e in self.chunks(rid)}
        batch: list[dict[str, Any]] = []
        for chunk in chunks:
            key = chunk_key(chunk["index"])
            if key not in existing:
                batch.append({"PartitionKey": rid, "RowKey": key, "state": PENDING, "attempts": 0, **chunk})
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

    def chunks(self, rid: str) -> list[dict[str, Any]]:
        return [dict(e) for e in self.table.query_entities("PartitionKey eq @p", parameters={"p": rid})]

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

    def get_chunk(self, rid: str, index: int) -> dict[str, Any] | None:
        try:
            return self.table.get_entity(rid, chunk_key(index))
        except ResourceNotFoundError:
            return None

    def update_chunk(self, entity: Any, **fields: Any) -> None:
        """Conditional on the ETag read: raises ResourceModifiedError if someone else wrote first."""
        self.table.update_entity(
            {"PartitionKey": entity["PartitionKey"], "RowKey": entity["RowKey"], **fields},
            mode=UpdateMode.MERGE,
            etag=entity.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )

    # content index ----------------------------------------------------------------------
    def claim_content(self, sha256: str, rid: str, blob: str) -> Any | None:
        """Record that ``rid`` holds this content; returns the other run's entry if one got there first."""
        entity = {"PartitionKey": CONTENT_PARTITION, "RowKey": sha256, "run_id": rid, "blob": blob}
        try:
            self.table.create_entity(entity)
            return None
        except ResourceExistsError:
            existing = self.table.get_entity(CONTENT_PARTITION, sha256)
            return None if existing.get("run_id") == rid else existing

    def take_over_content(self, existing: Any, rid: str, blob: str) -> bool:
        """Move the content to ``rid`` if nobody else changed it since it was read (ETag)."""
        try:
            self.table.update_entity(
                {
                    "PartitionKey": CONTENT_PARTITION,
                    "RowKey": existing["RowKey"],
                    "run_id": rid,
                    "blob": blob,
                },
                mode=UpdateMode.MERGE,
                etag=existing.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except ResourceModifiedError:
            return False

    # report state -----------------------------------------------------------------------
    def get_state(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.table.get_entity(STATE_PARTITION, key))
        except ResourceNotFoundError:
            return None

    def set_state(self, key: str, **fields: Any) -> None:
        self.table.upsert_entity({"PartitionKey": STATE_PARTITION, "RowKey": key, **fields})
