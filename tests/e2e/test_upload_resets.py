"""Connection resets from the ingestion API (the emulator drops the connection without an
answer): retried like any transport error, never counted as a success, every row once."""

from __future__ import annotations

import pytest

from shared.common import ledger as states

pytestmark = pytest.mark.e2e


def test_connection_resets_are_retried_and_every_row_arrives_once(stack, bench, tmp_path):
    resets = stack.emulator_stats()["outages"].get("reset", 0)
    stack.set_faults(reset_rate=0.5, seed=21)
    try:
        before = bench.job_stats()
        rid, messages = bench.plan(tmp_path, 2800)
        for m in messages:
            bench.queue.send_message(m.encode())
        bench.drain(bench.uploader())
    finally:
        stack.set_faults(reset_rate=0)
    after = bench.job_stats()
    assert stack.emulator_stats()["outages"].get("reset", 0) > resets  # resets really happened
    run = bench.ledger.get_run(rid)
    assert run.status == states.COMPLETE and run.records_saved == 2800
    assert after["rows"] - before["rows"] == 2800
    assert after["duplicate_rows"] == before["duplicate_rows"]
