"""The ledger against real Table Storage (Azurite): queries the workers rely on."""

from __future__ import annotations

import uuid

from azure.data.tables import TableServiceClient

from shared.common import ledger as states
from shared.common.ledger import Ledger


def test_has_open_chunk_sees_only_unfinished_chunks(stack):
    service = TableServiceClient.from_connection_string(stack.settings["ExportsStorage"])
    ledger = Ledger(service.create_table_if_not_exists(f"t{uuid.uuid4().hex[:12]}"))
    rid = uuid.uuid4().hex
    ledger.add_chunks(rid, [{"index": i, "start": i, "end": i + 1, "rows": 1} for i in range(120)])
    assert ledger.has_open_chunk(rid)
    for index in range(119):
        entity = ledger.get_chunk(rid, index)
        ledger.update_chunk(entity, state=states.UPLOADED if index % 2 else states.FAILED)
    assert ledger.has_open_chunk(rid)
    last = ledger.get_chunk(rid, 119)
    ledger.update_chunk(last, state=states.UPLOADED)
    assert not ledger.has_open_chunk(rid)
    assert not ledger.has_open_chunk("no-such-run")
