"""What the ledger stores: one type per entity, and its Table Storage form, written and read here only.

The blob stage writes a run and its chunks, the queue stage writes each chunk's outcome and
completes the run, the report and the CLI read them: all through these types, so a field
one stage writes and another reads is a field the type checker sees on both sides. Table
Storage holds flat properties only, so a count by reason, a list of names or a skip list is
kept as JSON text; that conversion is this module's alone.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from azure.data.tables import EntityProperty

RUNS = "run"
"""The partition of every run; each run's chunks have a partition of their own (the run id)."""
CONTENT_PARTITION = "sha256"

# run status
PLANNING, UPLOADING, COMPLETE, REJECTED = "planning", "uploading", "complete", "rejected"
DUPLICATE = "duplicate"
"""The same content (SHA-256) was already planned under another run; nothing is uploaded."""
FAILED_RUN = "failed"
"""Every chunk is final but some failed (replay puts the run back to uploading)."""
# chunk state
PENDING, UPLOADED, FAILED = "pending", "uploaded", "failed"

_JSON_TYPES = ("dict[str, int]", "tuple[str, ...]", "tuple[tuple[int, int], ...]")
"""Field types kept as JSON text (Table Storage has no nested values)."""


def now() -> datetime:
    return datetime.now(UTC)


def chunk_key(index: int) -> str:
    return f"chunk-{index:06d}"


@dataclass(frozen=True)
class RunEntity:
    """One export version: written by the blob stage (planned or refused), completed by the
    queue stage, read by the report, ``status`` and ``replay``."""

    run_id: str
    status: str = PLANNING
    container: str = ""
    blob: str = ""
    etag: str = ""
    """The export version (blob ETag) this run reads, never another."""
    size: int = 0
    received_at: datetime | None = None
    # the plan (blob stage)
    connector: str = ""
    job_id: str = ""
    rows_in_file: int = 0
    rows_valid: int = 0
    rows_skipped: int = 0
    """Invalid rows left out of an accepted file."""
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    duplicate_rows: int = 0
    rows_filtered: int = 0
    filtered_by_event: dict[str, int] = field(default_factory=dict)
    columns_dropped: tuple[str, ...] = ()
    validation_report: str = ""
    chunks: int = 0
    sha256: str = ""
    delimiter: str = ""
    header_start: int = 0
    header_end: int = 0
    planned_at: datetime | None = None
    fanout_at: datetime | None = None
    """When the plan began sending its chunk messages (a lease against a second sender)."""
    # a refused file (blob stage)
    reason_code: str = ""
    reason: str = ""
    rows_invalid: int = 0
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    quarantined: str = ""
    duplicate_of: str = ""
    # the end (queue stage)
    records_saved: int = 0
    chunks_failed: int = 0
    completed_at: datetime | None = None
    retention: str = ""
    table_etag: str = field(default="", compare=False)
    """The entity's own ETag as read, for conditional writes (not stored as a property)."""
    KEY_FIELDS: ClassVar[frozenset[str]] = frozenset({"run_id"})

    def keys(self) -> dict[str, str]:
        return {"PartitionKey": RUNS, "RowKey": self.run_id}

    @classmethod
    def from_entity(cls, entity: typing.Mapping[str, Any]) -> Self:
        return _decode(cls, entity, run_id=entity["RowKey"])


@dataclass(frozen=True)
class ChunkEntity:
    """One chunk of a run: its byte range planned by the blob stage, its outcome recorded by
    the queue stage."""

    run_id: str
    index: int
    start: int
    end: int
    rows: int
    """Valid rows in the range, as planned."""
    first_row: int = 0
    """1-based number of the chunk's first data row in the file."""
    skip: tuple[tuple[int, int], ...] = ()
    """Byte ranges of invalid rows inside [start, end) that are not uploaded."""
    state: str = PENDING
    attempts: int = 0
    """POSTs made for this chunk, over every delivery of its message."""
    throttled: int = 0
    """Of those, how many the API answered 429."""
    poisoned: bool = False
    """Failed on the message's last delivery with an error a retry could have cured: the
    message went to the poison queue (``ehr-ingest replay`` sends it again)."""
    rows_sent: int = 0
    rows_filtered: int = 0
    duration_ms: int = 0
    uploaded_at: datetime | None = None
    failed_at: datetime | None = None
    replayed_at: datetime | None = None
    last_error: str = ""
    last_status: int = 0
    table_etag: str = field(default="", compare=False)
    KEY_FIELDS: ClassVar[frozenset[str]] = frozenset({"run_id"})

    def keys(self) -> dict[str, str]:
        return {"PartitionKey": self.run_id, "RowKey": chunk_key(self.index)}

    @property
    def size(self) -> int:
        """Bytes of rows uploaded: the range less what it skips."""
        return self.end - self.start - sum(e - s for s, e in self.skip)

    @property
    def final(self) -> bool:
        return self.state in (UPLOADED, FAILED)

    @classmethod
    def from_entity(cls, entity: typing.Mapping[str, Any]) -> Self:
        return _decode(cls, entity, run_id=entity["PartitionKey"])


@dataclass(frozen=True)
class ContentClaim:
    """Which run holds an export's content (by SHA-256): the same bytes are uploaded once."""

    sha256: str
    run_id: str
    blob: str
    table_etag: str = field(default="", compare=False)
    KEY_FIELDS: ClassVar[frozenset[str]] = frozenset({"sha256"})

    def keys(self) -> dict[str, str]:
        return {"PartitionKey": CONTENT_PARTITION, "RowKey": self.sha256}

    @classmethod
    def from_entity(cls, entity: typing.Mapping[str, Any]) -> Self:
        return _decode(cls, entity, sha256=entity["RowKey"])


Entity = RunEntity | ChunkEntity | ContentClaim


def to_entity(record: Entity, before: Entity | None = None) -> dict[str, Any]:
    """The Table Storage entity: keys, then every field (or only those that differ from
    ``before``, for a merge), None and the keys' own fields left out."""
    props: dict[str, Any] = record.keys()
    for f in dataclasses.fields(record):
        if f.name in record.KEY_FIELDS or f.name == "table_etag":
            continue
        value = getattr(record, f.name)
        if before is not None and getattr(before, f.name) == value:
            continue
        if value is None:
            continue
        props[f.name] = _encode(value, _types(type(record))[f.name])
    return props


MAX_PROPERTY_CHARS = 32_000
"""A table property holds at most 64 KiB, a string at most 32K characters (UTF-16), an entity
1 MiB (Azure Table Storage limits): a longer value would fail the write, and the write is what
keeps a run from being planned again and again."""
CUT = " [cut]"


def _encode(value: Any, kind: str) -> Any:
    """The property's value, made to fit one: text cut and marked, a JSON list or count by
    name shortened to its first entries (still JSON, so it still reads)."""
    if kind in _JSON_TYPES:
        entries = sorted(value.items()) if isinstance(value, dict) else list(value)
        keep = len(entries)
        while True:
            kept = dict(entries[:keep]) if isinstance(value, dict) else entries[:keep]
            text = json.dumps(kept, separators=(",", ":"))
            if len(text) <= MAX_PROPERTY_CHARS:
                return text
            keep //= 2
    if isinstance(value, str) and len(value) > MAX_PROPERTY_CHARS:
        return value[: MAX_PROPERTY_CHARS - len(CUT)] + CUT
    return value


def _decode[T: Entity](cls: type[T], entity: typing.Mapping[str, Any], **keys: str) -> T:
    """Every field from its property; a property an older writer did not write takes the
    field's default, one this version does not know is ignored."""
    types = _types(cls)
    values: dict[str, Any] = dict(keys)
    for name, kind in types.items():
        if name in keys or name == "table_etag" or name not in entity:
            continue
        value = entity[name]
        if isinstance(value, EntityProperty):  # a 64-bit integer
            value = value.value
        values[name] = _parse(value, kind) if kind in _JSON_TYPES else value
    metadata = getattr(entity, "metadata", None)
    if metadata:
        values["table_etag"] = metadata.get("etag") or ""
    return cls(**values)


def _parse(text: Any, kind: str) -> Any:
    try:
        value = json.loads(text) if isinstance(text, str) and text else None
    except json.JSONDecodeError:
        value = None
    if kind == "dict[str, int]":
        return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}
    if kind == "tuple[str, ...]":
        return tuple(str(v) for v in value) if isinstance(value, list) else ()
    return tuple((int(s), int(e)) for s, e in value) if isinstance(value, list) else ()


def _types(cls: type) -> dict[str, str]:
    """Field name to its annotation's text (the module uses postponed annotations)."""
    return _TYPES[cls]


_TYPES: dict[type, dict[str, str]] = {
    cls: {f.name: str(f.type) for f in dataclasses.fields(cls)}
    for cls in (RunEntity, ChunkEntity, ContentClaim)
}
