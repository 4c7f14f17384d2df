"""A blob stored with a Content-Encoding is refused as stored, never inflated in memory.

Against a real Azurite (the SDK's own client, nothing mocked): the SDK inflates a gzip blob
unless told ``decompress=False``, so a small blob could grow to any size before a check.
"""

from __future__ import annotations

import ast
import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings
from azure.storage.queue import QueueClient

from devstack.azurite import Azurite
from devstack.generate import GenerateOptions, generate
from shared.common.ledger import Ledger
from shared.common.settings import Connector
from shared.intake.plan import PlanOptions, plan_export

SHARED = Path(__file__).resolve().parents[3] / "shared"
CONNECTORS = {"generic": Connector("generic", "healthcare", "job")}


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server


@pytest.fixture(scope="module")
def parts(azurite: Azurite) -> tuple[ContainerClient, Ledger, QueueClient]:
    conn = azurite.connection_string
    container = BlobServiceClient.from_connection_string(conn).get_container_client("exports")
    container.create_container()
    tables = TableServiceClient.from_connection_string(conn)
    ledger = Ledger(tables.create_table_if_not_exists("ingestledger"))
    queue = QueueClient.from_connection_string(conn, "chunks")
    queue.create_queue()
    return container, ledger, queue


def test_a_gzip_encoded_blob_is_refused_with_its_own_reason(parts, tmp_path):
    container, ledger, queue = parts
    export = generate(tmp_path / "audit.csv", GenerateOptions(rows=200, seed=7))
    body = gzip.compress(export.path.read_bytes())  # a valid export once inflated
    blob = container.get_blob_client("generic/audit.csv")
    blob.upload_blob(body, content_settings=ContentSettings(content_type="text/csv", content_encoding="gzip"))

    outcome = plan_export(blob, CONNECTORS, ledger, queue, PlanOptions())

    run = ledger.get_run(outcome.run_id)
    assert outcome.status == "rejected" and run is not None and run.reason_code == "content-encoding"
    assert "Content-Encoding gzip" in run.reason and "without a Content-Encoding" in run.reason
    assert ledger.chunks(outcome.run_id) == []


def test_a_blob_without_content_encoding_is_planned(parts, tmp_path):
    container, ledger, queue = parts
    export = generate(tmp_path / "plain.csv", GenerateOptions(rows=200, seed=8))
    blob = container.get_blob_client("generic/plain.csv")
    blob.upload_blob(export.path.read_bytes())

    outcome = plan_export(blob, CONNECTORS, ledger, queue, PlanOptions())

    assert outcome.status == "uploading" and outcome.rows == 200


def _download_calls() -> Iterator[tuple[Path, ast.Call]]:
    for path in SHARED.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "download_blob":
                yield path, node


def test_every_download_in_shared_reads_the_blob_as_stored():
    calls = list(_download_calls())
    assert calls
    for path, call in calls:
        flags = {k.arg: k.value for k in call.keywords}
        decompress = flags.get("decompress")
        assert isinstance(decompress, ast.Constant) and decompress.value is False, (
            f"{path.relative_to(SHARED.parent)}:{call.lineno} downloads without decompress=False"
        )
