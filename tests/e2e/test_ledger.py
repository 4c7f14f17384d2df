"""The ledger against real Table Storage (Azurite): queries the workers rely on."""

from __future__ import annotations

import uuid
from dataclasses import replace

from azure.data.tables import TableServiceClient

from shared.common import ledger as states
from shared.common.entities import ChunkEntity
from shared.common.ledger import Ledger


def test_has_open_chunk_sees_only_unfinished_chunks(stack):
    service = TableServiceClient.from_connection_string(stack.settings["ExportsStorage"])
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
