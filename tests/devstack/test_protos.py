"""Our protocol message classes keep the protobuf semantics the Python worker relies on, and the
trigger data the host builds has the shape the real host sends (facts.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from devstack.host import protos
from devstack.host.blobs import model_binding_data
from devstack.host.queues import queue_trigger


def test_defaults_unset_fields_and_oneofs() -> None:
    request = protos.InvocationRequest(invocation_id="i")
    assert request.retry_context.retry_count == 0  # an unset message reads as an empty one
    assert request.trace_context.attributes == {} and request.input_data == []
    data = protos.TypedData(json="{}", string=None)  # None leaves a field unset
    assert data.WhichOneof("data") == "json" and not data.HasField("string")
    assert protos.TypedData().WhichOneof("data") is None
    assert protos.ParameterBinding(name="x", data=data).WhichOneof("rpc_data") == "data"
    assert protos.StatusResult.Success == 1 and protos.StatusResult.Failure == 0
    assert getattr(protos.BindingInfo, "in") == 0 and protos.BindingInfo.out == 1
    with pytest.raises(TypeError):
        protos.RpcHttp(no_such_field=1)
    assert "json" in repr(data) and "{}" not in repr(data)  # names only: values may be payloads


def test_model_binding_data_for_the_sdk_blob_binding() -> None:
    data = model_binding_data("ExportsStorage", "exports", "epic/a.txt")
    assert data.WhichOneof("data") == "model_binding_data"
    mbd = data.model_binding_data
    assert (mbd.source, mbd.content_type) == ("AzureStorageBlobs", "application/json")
    assert json.loads(mbd.content) == {
        "Connection": "ExportsStorage",
        "ContainerName": "exports",
        "BlobName": "epic/a.txt",
    }


def test_queue_trigger_metadata() -> None:
    when = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    message = SimpleNamespace(
        id="m1", pop_receipt="r1", inserted_on=when, expires_on=when, next_visible_on=None
    )
    trigger = queue_trigger(message, b"body", dequeue_count=3, max_count=5)  # type: ignore[arg-type]
    assert trigger.data.string == "body"
    meta = trigger.metadata
    assert meta["Id"].string == "m1" and meta["PopReceipt"].string == "r1"
    assert meta["DequeueCount"].json == "3"
    assert json.loads(meta["InsertionTime"].json) == when.isoformat()
    assert "NextVisibleTime" not in meta  # unknown: not sent
    assert (trigger.retry_count, trigger.max_retry_count) == (2, 4)
    assert queue_trigger(message, b"\xff", 1, 5).data.bytes == b"\xff"  # type: ignore[arg-type]
