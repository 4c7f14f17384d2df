"""The ledger against real Table Storage (Azurite): queries the workers rely on."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from azure.data.tables import TableServiceClient

from shared.common import ledger as states
from shared.common.entities import CUT, MAX_PROPERTY_CHARS, ChunkEntity, ContentClaim, RunEntity
from shared.common.ledger import Ledger


def test_has_open_chunk_sees_only_unfinished_chunks(stack):
    service = stack.admin_client(TableServiceClient)
    ledger = Ledger(service.create_table_if_not_exists(f"t{uuid.uuid4().hex[:12]}"))
    rid = uuid.uuid4().hex
    ledger.add_chunks(rid, [ChunkEntity(rid, i, i, i + 1, 1) for i in range(120)])
    assert ledger.has_open_chunk(rid)
    for index in range(119):
        chunk = ledger.get_chunk(rid, index)
        assert chunk is not None
        ledger.update_chunk(chunk, replace(chunk, state=states.UPLOADED if index % 2 else states.FAILED))
    assert ledger.has_open_chunk(rid)
    last = ledger.get_chunk(rid, 119)
    assert last is not None
    ledger.update_chunk(last, replace(last, state=states.UPLOADED))
    assert not ledger.has_open_chunk(rid)
    assert not ledger.has_open_chunk("no-such-run")


def test_prune_deletes_old_runs_with_their_chunks_and_content_and_keeps_the_rest(stack):
    """The ledger stays bounded (LEDGER_RETENTION_DAYS): old runs go with everything they own."""
    service = stack.admin_client(TableServiceClient)
    ledger = Ledger(service.create_table_if_not_exists(f"t{uuid.uuid4().hex[:12]}"))
    cutoff = states.now() - timedelta(days=400)
    runs = {}
    for age in (401, 500, 399, 1):
        rid = uuid.uuid4().hex
        received = states.now() - timedelta(days=age)
        ledger.create_run(RunEntity(rid, status=states.COMPLETE, received_at=received))
        ledger.add_chunks(rid, [ChunkEntity(rid, i, i, i + 1, 1) for i in range(3)])
        ledger.claim_content(ContentClaim(f"sha-{rid}", rid, f"generic/{age}.csv"))
        runs[age] = rid
    ledger.report_written("report", states.now(), "reports/x.json")

    assert ledger.prune(cutoff, limit=1) == 1
    assert ledger.prune(cutoff) == 1
    assert ledger.prune(cutoff) == 0

    claims = {e["run_id"] for e in ledger.table.query_entities("PartitionKey eq 'sha256'")}
    for age, rid in runs.items():
        kept = age < 400
        assert (ledger.get_run(rid) is not None) is kept
        assert bool(ledger.chunks(rid)) is kept
        assert (rid in claims) is kept
    assert ledger.reported_up_to("report") is not None


def test_values_longer_than_a_property_holds_are_shortened_not_refused(stack):
    """A refusal's reason, thousands of dropped column names, a count per free-text event: the
    write succeeds (and reads back) instead of failing and sending the file to poison."""
    service = stack.admin_client(TableServiceClient)
    ledger = Ledger(service.create_table_if_not_exists(f"t{uuid.uuid4().hex[:12]}"))
    rid = uuid.uuid4().hex
    names = tuple(f"column number {i}" for i in range(100_000))
    ledger.create_run(RunEntity(rid, reason="é" * 200_000, columns_dropped=names))
    before = ledger.get_run(rid)
    assert before is not None
    ledger.update_run(before, replace(before, filtered_by_event={f"event {i}": i for i in range(20_000)}))
    run = ledger.get_run(rid)
    assert run is not None
    assert len(run.reason) == MAX_PROPERTY_CHARS and run.reason.endswith(CUT)
    assert (
        0 < len(run.columns_dropped) < len(names) and run.columns_dropped == names[: len(run.columns_dropped)]
    )
    assert 0 < len(run.filtered_by_event) < 20_000
