"""PHI never leaks into telemetry: see test_phi.py. A module of its own because it runs the
stages in this process with the bench's token provider, after test_pipeline.py (which counts
the session's token requests)."""

from __future__ import annotations

import contextlib
import json
import logging

import pytest

from devstack.generate import GenerateOptions
from tests.e2e.phi import MARKER, leaks, marked

pytestmark = pytest.mark.e2e


def test_no_marker_in_telemetry_or_in_process_logs(stack, bench, tmp_path, caplog):
    """The stages run in this process (test_upload_faults' bench): every log record with all its
    attributes (the ``extra`` keys become App Insights customDimensions) and every metric data
    point's attributes, captured in memory through the good path, skipped rows, a 400 and a
    chunk poisoned on its last delivery."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from shared.common import telemetry
    from shared.common.messages import ChunkMessage
    from shared.delivery.retry import RetryPolicy
    from shared.intake.plan import plan_export

    reader = InMemoryMetricReader()
    telemetry.use_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        with caplog.at_level(logging.DEBUG):
            runs = []
            for seed, status in ((96, None), (97, 400), (98, 500)):
                export = marked(
                    tmp_path / f"phi-{seed}.csv", GenerateOptions(rows=1400, bad_rows=5, seed=seed)
                )
                blob = bench.container.get_blob_client(f"generic/phi-{seed}.csv")
                with export.path.open("rb") as data:
                    blob.upload_blob(data)
                outcome = plan_export(blob, bench.settings.connectors, bench.ledger, bench.queue)
                runs.append(outcome.run_id)
                messages = [ChunkMessage.decode(m.content) for m in bench.receive()]
                if status:
                    stack.set_faults(error_rate=1, error_status=status)
                up = bench.uploader(policy=RetryPolicy(attempts=1, base=0.01, cap=0.01, budget=1))
                try:
                    for m in messages:
                        with contextlib.suppress(Exception):  # the failure path is what is searched
                            up.handle(m, 5)  # the last delivery: a 500 poisons the chunk
                finally:
                    stack.set_faults(error_rate=0, error_status=503)
        metrics = reader.get_metrics_data()
    finally:
        telemetry.use_meter_provider(None)
    assert [bench.ledger.get_run(r).status for r in runs] == ["complete", "failed", "failed"]

    records = {
        f"record {i}": json.dumps({k: str(v) for k, v in vars(r).items()}) + r.getMessage()
        for i, r in enumerate(caplog.records)
    }
    assert any("microsoft.custom_event.name" in t for t in records.values())  # events were captured
    points = json.dumps(metrics.to_json() if metrics else "")
    assert "chunk" in points or "rows" in points  # metrics were captured
    assert leaks({**records, "metrics": points}, [MARKER]) == []
