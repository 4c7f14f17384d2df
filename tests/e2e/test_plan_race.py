"""The same blob event planned by several invocations at once sends each chunk message once.

Found by tests/e2e/test_crash.py::test_the_same_blob_event_delivered_three_times_is_one_run:
concurrent invocations all saw the run "planning", all fanned out, and two workers then posted
the same chunk at the same moment (the ledger guards a chunk against a redelivery, not against
a twin message running concurrently).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace

import pytest

from devstack.generate import GenerateOptions, generate
from shared.common import ledger as states
from shared.intake.plan import plan_export

pytestmark = pytest.mark.e2e


def test_concurrent_plans_of_one_event_fan_out_once(bench, tmp_path):
    export = generate(tmp_path / "race.csv", GenerateOptions(rows=2100, seed=uuid.uuid4().int % 10**9))
    blob = bench.container.get_blob_client(f"generic/race-{uuid.uuid4().hex[:6]}.csv")
    with export.path.open("rb") as data:
        blob.upload_blob(data)
    outcomes = []
    gate = threading.Barrier(4)

    def plan():
        gate.wait()
        outcomes.append(plan_export(blob, bench.settings.connectors, bench.ledger, bench.queue))

    threads = [threading.Thread(target=plan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    messages = bench.receive()
    assert len(messages) == 3  # 2100 rows in chunks of 700, each sent once
    assert len({o.run_id for o in outcomes}) == 1
    assert bench.ledger.get_run(outcomes[0].run_id).status == states.UPLOADING
    # a later repeat of the event finds the run planned and sends nothing
    assert plan_export(blob, bench.settings.connectors, bench.ledger, bench.queue).status == states.UPLOADING
    assert bench.receive() == []


def test_a_plan_that_died_during_its_fan_out_can_be_replayed(bench, tmp_path):
    from shared.delivery.replay import replay

    rid, _ = bench.plan(tmp_path, 1400)  # planned, its messages taken off the queue
    run = bench.ledger.get_run(rid)
    bench.ledger.update_run(
        run, replace(run, status=states.PLANNING)
    )  # as if it died before marking it uploading
    result = replay(bench.ledger, bench.queue, bench.ledger.get_run(rid), include_pending=True)
    assert result.requeued == [0, 1]
    bench.drain(bench.uploader())
    run = bench.ledger.get_run(rid)
    assert run.status == states.COMPLETE and run.records_saved == 1400
