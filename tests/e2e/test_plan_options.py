"""The blob stage called directly against the stack's Azurite, with options the app's settings
do not reach: small limits (the real 3 GB / 5M rows are for benchmarks) and duplicate
detection off. Blobs go to a container and messages to a queue the host does not watch, so
nothing here is uploaded and the other tests' counters are untouched."""

from __future__ import annotations

import json

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devstack.generate import GenerateOptions, generate
from shared.common.ledger import Ledger
from shared.common.settings import parse_connectors
from shared.intake.plan import PlanOptions, plan_export
from shared.intake.quarantine import Quarantine

pytestmark = pytest.mark.e2e

CONTAINER = "manual-drops"


@pytest.fixture(scope="module")
def parts(stack):
    blobs = stack.admin_client(BlobServiceClient)
    container = blobs.get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()
    ledger = Ledger(stack.admin_client(TableServiceClient).create_table_if_not_exists("ingestledger"))
    queue = stack.admin_client(QueueClient, "manual-chunks", message_encode_policy=TextBase64EncodePolicy())
    queue.create_queue()
    connectors = parse_connectors(stack.settings["CONNECTORS"])
    quarantine = Quarantine(blobs.get_container_client("quarantine"))
    yield container, ledger, queue, connectors, quarantine
    queue.delete_queue()


def put(container, path, name):
    with path.open("rb") as data:
        container.upload_blob(name, data, overwrite=True)
    return container.get_blob_client(name)


@pytest.mark.parametrize(
    ("limits", "code"),
    [({"max_rows": 99}, "too-many-rows"), ({"max_bytes": 5000}, "too-large")],
)
def test_limits_reject_before_any_upload(parts, tmp_path, limits, code):
    container, ledger, queue, connectors, quarantine = parts
    export = generate(tmp_path / f"limit-{code}.csv", GenerateOptions(rows=100, seed=51))
    blob = put(container, export.path, f"generic/limit-{code}.csv")

    outcome = plan_export(blob, connectors, ledger, queue, PlanOptions(quarantine=quarantine, **limits))

    run = ledger.get_run(outcome.run_id)
    assert outcome.status == "rejected" and run.reason_code == code
    assert ledger.chunks(outcome.run_id) == [] and not blob.exists()
    report = quarantine.container.get_blob_client(blob.blob_name + ".report.json").download_blob().readall()
    assert json.loads(report)["reasons"][0]["code"] == code


def test_duplicate_detection_can_be_turned_off(parts, tmp_path):
    container, ledger, queue, connectors, _ = parts
    export = generate(tmp_path / "twice.csv", GenerateOptions(rows=30, seed=52))
    options = PlanOptions(skip_duplicate_content=False)
    first = plan_export(
        put(container, export.path, "generic/twice-a.csv"), connectors, ledger, queue, options
    )
    second = plan_export(
        put(container, export.path, "generic/twice-b.csv"), connectors, ledger, queue, options
    )
    assert first.status == second.status == "uploading" and first.run_id != second.run_id
    again = plan_export(container.get_blob_client("generic/twice-b.csv"), connectors, ledger, queue, options)
    assert again.run_id == second.run_id  # the same event delivered twice is the same run
    assert queue.get_queue_properties().approximate_message_count == first.chunks + second.chunks == 2
