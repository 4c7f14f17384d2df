"""What Microsoft's Python worker makes of ``function_app.py``: what the Azure host will see.

The worker library (``azure_functions_runtime``, the version pinned in requirements.txt) indexes
the app exactly as it will on the function app; the host then listens to what these raw
bindings say. A binding that drifted here (a connection name, a setting expression, the blob
source) would only show up after publishing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.host.worker import IndexedFunction, Worker

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def indexed() -> Iterator[dict[str, IndexedFunction]]:
    worker = Worker(REPO_ROOT)
    try:
        yield {f.name: f for f in worker.start()}
    finally:
        worker.stop()


def trigger(function: IndexedFunction) -> dict:
    (binding,) = [b for b in function.bindings if b["type"].endswith("Trigger")]
    return binding


def test_the_worker_indexes_four_functions(indexed: dict[str, IndexedFunction]) -> None:
    assert sorted(indexed) == ["daily_report", "plan_export", "status_report", "upload_chunk"]
    assert all(f.metadata.properties.get("worker_indexed") == "True" for f in indexed.values())


def test_blob_trigger_is_event_grid_with_a_deferred_sdk_binding(indexed: dict[str, IndexedFunction]) -> None:
    binding = trigger(indexed["plan_export"])
    assert binding == {
        "direction": "IN",
        "type": "blobTrigger",
        "name": "client",
        "path": "%EXPORTS_CONTAINER%/{name}",
        "connection": "ExportsStorage",
        "source": "EventGrid",  # the only blob source Flex Consumption supports
        "properties": {"SupportsDeferredBinding": True},  # SDK type: the host sends model binding data
    }


def test_queue_trigger_on_the_chunk_queue(indexed: dict[str, IndexedFunction]) -> None:
    binding = trigger(indexed["upload_chunk"])
    assert binding["queueName"] == "%CHUNK_QUEUE%"
    assert binding["connection"] == "ExportsStorage"
    assert len(indexed["upload_chunk"].bindings) == 1


def test_timer_from_a_setting_never_on_startup(indexed: dict[str, IndexedFunction]) -> None:
    binding = trigger(indexed["daily_report"])
    assert binding["schedule"] == "%REPORT_SCHEDULE%"
    assert binding.get("runOnStartup") is False


def test_http_route_with_function_keys(indexed: dict[str, IndexedFunction]) -> None:
    function = indexed["status_report"]
    binding = trigger(function)
    assert (binding["route"], binding["methods"], binding["authLevel"]) == ("report", ["GET"], "FUNCTION")
    outputs = [b for b in function.bindings if b["direction"] == "OUT"]
    assert outputs == [{"direction": "OUT", "type": "http", "name": "$return"}]
