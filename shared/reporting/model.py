"""The status report's shape: per file, per connector, per day and in total, with its JSON form.

``report.build`` makes one, every renderer reads one, and ``Report.from_dict`` reads back
what was written (``ehr-ingest report --latest``). The JSON form is the versioned schema in
``report.schema.json``; its field names are these dataclasses' own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Self

from shared.reporting.coverage import Coverage, as_dict
from shared.reporting.freshness import Freshness

SCHEMA = "ehr-ingest-report/1"
OK, WARNING, FAILED, NONE = "OK", "WARNING", "FAILED", "NONE"


@dataclass(frozen=True)
class FileEntry:
    """One export version (one run)."""

    run_id: str
    connector: str
    file_name: str
    received_at: str | None
    completed_at: str | None
    status: str
    """The run's status in the ledger."""
    size_bytes: int
    rows: int
    """Data rows in the file (header excluded)."""
    rows_valid: int
    records_saved: int
    rows_skipped: int
    skipped_by_reason: dict[str, int]
    rows_filtered: int
    filtered_by_event: dict[str, int]
    rows_sent: int
    columns_dropped: list[str]
    duplicate_rows: int
    chunks: int
    chunks_uploaded: int
    chunks_retried: int
    chunks_failed: int
    chunks_poisoned: int
    chunks_pending: int
    retries: int
    throttled: int
    duplicate_of: str | None
    reason_code: str | None
    reason: str | None
    quarantined: str | None
    validation_report: str | None
    duration_seconds: float | None
    rows_per_second: float | None
    outcome: str = OK
    """OK, WARNING or FAILED: what the file's problems add up to."""


@dataclass(frozen=True)
class Totals:
    files: int
    rows: int
    rows_valid: int
    records_saved: int
    rows_skipped: int
    rows_filtered: int
    rows_sent: int
    duplicate_rows: int
    chunks: int
    chunks_uploaded: int
    chunks_retried: int
    chunks_failed: int
    chunks_poisoned: int
    retries: int
    throttled: int
    duplicate_files: int
    rejected_files: int
    skipped_by_reason: dict[str, int]
    duration_seconds: float
    rows_per_second: float | None


@dataclass(frozen=True)
class ConnectorEntry:
    name: str
    configured: bool
    totals: Totals
    """Flattened into the connector's own object in the JSON form."""
    status: str
    last_received_at: str | None
    stale: bool

    def to_dict(self) -> dict[str, Any]:
        head = {"name": self.name, "configured": self.configured}
        tail = {"status": self.status, "last_received_at": self.last_received_at, "stale": self.stale}
        return {**head, **asdict(self.totals), **tail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        totals = Totals(**{f.name: data[f.name] for f in fields(Totals)})
        return cls(
            data["name"], data["configured"], totals, data["status"], data["last_received_at"], data["stale"]
        )


@dataclass(frozen=True)
class Day:
    date: str
    files: int
    rows: int
    records_saved: int
    rows_skipped: int
    rejected_files: int
    duplicate_files: int
    chunks_failed: int
    """Failed and poisoned chunks."""
    status: str


@dataclass(frozen=True)
class Report:
    generated_at: str | None
    period_from: str | None
    period_to: str | None
    status: str
    reasons: list[str]
    stale_after_hours: float
    poison_queue_length: int | None
    totals: Totals
    connectors: list[ConnectorEntry]
    files: list[FileEntry]
    history: list[Day]
    quarantine_container: str = "quarantine"
    """Where rejected exports are moved (QUARANTINE_CONTAINER), for the page to name it."""
    schema: str = SCHEMA
    freshness: list[Freshness] = field(default_factory=list)
    """One line per HR connector: days since its employee profiles were last uploaded."""
    coverage: Coverage | None = None
    """Employees seen in recent audit rows with a current HR profile (with an hr connector)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "generated_at": self.generated_at,
            "period": {"from": self.period_from, "to": self.period_to},
            "status": self.status,
            "reasons": list(self.reasons),
            "stale_after_hours": self.stale_after_hours,
            "poison_queue_length": self.poison_queue_length,
            "quarantine_container": self.quarantine_container,
            "totals": asdict(self.totals),
            "connectors": [c.to_dict() for c in self.connectors],
            "files": [asdict(f) for f in self.files],
            "history": [asdict(d) for d in self.history],
            "freshness": [asdict(f) for f in self.freshness],
            "coverage": as_dict(self.coverage) if self.coverage else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            generated_at=data["generated_at"],
            period_from=data["period"]["from"],
            period_to=data["period"]["to"],
            status=data["status"],
            reasons=list(data["reasons"]),
            stale_after_hours=data["stale_after_hours"],
            poison_queue_length=data["poison_queue_length"],
            totals=Totals(**data["totals"]),
            connectors=[ConnectorEntry.from_dict(c) for c in data["connectors"]],
            files=[FileEntry(**f) for f in data["files"]],
            history=[Day(**d) for d in data["history"]],
            quarantine_container=data.get("quarantine_container", "quarantine"),
            schema=data["schema"],
            freshness=[Freshness(**f) for f in data.get("freshness", [])],
            coverage=Coverage.from_dict(data["coverage"]) if data.get("coverage") else None,
        )
