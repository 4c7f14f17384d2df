"""Storage failing around a successful upload must not send the chunk again.

Found by tests/e2e/test_crash.py::test_azurite_restart_mid_run_loses_nothing: with Azurite
restarting, a chunk the API had accepted was sent again because (1) the ledger write after the
2xx failed at once on "connection refused", or (2) releasing the job's upload slot failed and
the error hid the upload's success. And a run whose last chunk was recorded but whose
completion failed stayed "uploading" for ever, since a redelivery skipped the uploaded chunk.
"""

from __future__ import annotations

from typing import cast

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables import TableClient, UpdateMode

from shared.common import ledger as states
from shared.common.ledger import Ledger

pytestmark = pytest.mark.e2e


class Flaky:
    """A TableClient whose matching writes fail ``times`` times as if Storage were down."""

    def __init__(self, table, times: int, when):
        self._table, self.times, self.when = table, times, when

    def __getattr__(self, name):
        return getattr(self._table, name)

    def update_entity(self, entity, *args, **kwargs):
        if self.times and self.when(entity):
            self.times -= 1
            raise ServiceRequestError("Connection refused (injected)")
        return self._table.update_entity(entity, *args, **kwargs)


def test_ledger_write_after_a_2xx_waits_out_a_storage_blip(bench, tmp_path):
    table = Flaky(bench.ledger.table, 2, lambda e: e.get("state") == states.UPLOADED)
    rid, messages = bench.plan(tmp_path, 700)
    before = bench.job_stats()["requests"]
    up = bench.uploader(ledger=Ledger(cast(TableClient, table)), record_retry_seconds=(0.05, 0.05, 0.05))
    assert up.handle(messages[0], 1) == states.UPLOADED
    assert table.times == 0 and bench.job_stats()["requests"] - before == 1
    assert bench.ledger.get_run(rid).status == states.COMPLETE


def test_a_slot_that_cannot_be_released_does_not_hide_the_upload(bench, tmp_path):
    def is_release(e) -> bool:
        return e["PartitionKey"].startswith("slots-") and not e.get("holder")

    table = Flaky(bench.ledger.table, 1, is_release)
    rid, messages = bench.plan(tmp_path, 700)
    before = bench.job_stats()["requests"]
    up = bench.uploader(ledger=Ledger(cast(TableClient, table)), job_concurrency=4)
    assert up.handle(messages[0], 1) == states.UPLOADED
    assert table.times == 0 and bench.job_stats()["requests"] - before == 1
    assert bench.ledger.get_chunk(rid, 0).state == states.UPLOADED
    # The slot stays held until its lease ends, as designed; free it for the tests that follow.
    partition = f"slots-{bench.job}"
    for slot in bench.ledger.table.query_entities("PartitionKey eq @p", parameters={"p": partition}):
        if slot.get("holder"):
            bench.ledger.table.update_entity(
                {"PartitionKey": partition, "RowKey": slot["RowKey"], "holder": "", "expires": states.now()},
                mode=UpdateMode.MERGE,
            )


def test_a_redelivery_completes_a_run_whose_completion_failed(bench, tmp_path):
    class NoCompletion(Ledger):
        def update_run(self, before, after, *, if_unchanged=False):
            if not if_unchanged:
                return super().update_run(before, after)
            raise ServiceRequestError("Connection refused (injected)")

    rid, messages = bench.plan(tmp_path, 700)
    with pytest.raises(ServiceRequestError):
        bench.uploader(ledger=NoCompletion(bench.ledger.table)).handle(messages[0], 1)
    assert bench.ledger.get_chunk(rid, 0).state == states.UPLOADED
    assert bench.ledger.get_run(rid).status == states.UPLOADING
    before = bench.job_stats()["requests"]
    assert bench.uploader().handle(messages[0], 2) == states.UPLOADED  # the queue's redelivery
    assert bench.job_stats()["requests"] == before
    assert bench.ledger.get_run(rid).status == states.COMPLETE
