"""The ledger's entities: their Table Storage form round-trips, a merge writes only what
changed, and every field is written by some stage (a field nobody writes cannot exist)."""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from azure.data.tables import EdmType, EntityProperty

from shared.common.entities import ChunkEntity, ContentClaim, RunEntity, to_entity

SHARED = Path(__file__).resolve().parents[3] / "shared"
T = datetime(2026, 11, 23, 6, tzinfo=UTC)
RUN = RunEntity(
    "ab" * 16,
    "uploading",
    blob="generic/a.csv",
    size=3 * 1024**3,
    received_at=T,
    skipped_by_reason={"bad-date": 2},
    columns_dropped=("Patient SSN",),
)
CHUNK = ChunkEntity("ab" * 16, 7, start=10, end=90, rows=3, skip=((20, 30), (40, 41)))


def test_run_and_chunk_round_trip_through_their_table_form():
    stored = to_entity(RUN)
    assert (stored["PartitionKey"], stored["RowKey"]) == ("run", RUN.run_id) and "run_id" not in stored
    assert stored["skipped_by_reason"] == '{"bad-date":2}' and stored["columns_dropped"] == '["Patient SSN"]'
    assert "completed_at" not in stored  # None is left out
    assert RunEntity.from_entity(stored) == RUN
    stored = to_entity(CHUNK)
    assert (stored["PartitionKey"], stored["RowKey"], stored["skip"]) == (
        RUN.run_id,
        "chunk-000007",
        "[[20,30],[40,41]]",
    )
    assert ChunkEntity.from_entity(stored) == CHUNK and CHUNK.size == 80 - 11
    claim = ContentClaim("f" * 64, RUN.run_id, RUN.blob)
    assert ContentClaim.from_entity(to_entity(claim)) == claim


def test_a_merge_writes_only_what_changed():
    done = replace(RUN, status="complete", records_saved=5, completed_at=T)
    changed = {"status": "complete", "records_saved": 5, "completed_at": T}
    assert to_entity(done, RUN) == {"PartitionKey": "run", "RowKey": RUN.run_id, **changed}


def test_what_an_older_or_odd_entity_holds_never_breaks_reading_it():
    stored = {
        "PartitionKey": "run", "RowKey": RUN.run_id, "size": EntityProperty(3 * 1024**3, EdmType.INT64),
        "skipped_by_reason": "not json", "rows": 12, "some_future_field": "x",
    }  # fmt: skip
    run = RunEntity.from_entity(stored)
    assert run.size == 3 * 1024**3 and run.skipped_by_reason == {} and run.status == "planning"


def test_every_field_is_written_by_some_stage():
    written = _written_names()
    for entity in (RunEntity, ChunkEntity, ContentClaim):
        unwritten = {f.name for f in dataclasses.fields(entity)} - written - {"table_etag"}
        assert unwritten == set(), f"{entity.__name__}: nothing in shared/ writes {sorted(unwritten)}"


def _written_names() -> set[str]:
    """Field names given to an entity's constructor (by keyword or position) or to ``replace``."""
    positional = {
        name: [f.name for f in dataclasses.fields(cls)] for name, cls in
        (("RunEntity", RunEntity), ("ChunkEntity", ChunkEntity), ("ContentClaim", ContentClaim))
    }  # fmt: skip
    names: set[str] = set()
    for path in SHARED.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            if node.func.id in positional or node.func.id == "replace":
                names.update(k.arg for k in node.keywords if k.arg)
            if node.func.id in positional:
                names.update(positional[node.func.id][: len(node.args)])
    return names
