"""The blob function's client as Azure builds it: Microsoft's blob extension, identity settings.

In Azure the ``ExportsStorage`` connection is identity-based (``__blobServiceUri``,
``__credential``, ``__clientId``: infra/main.bicep), and so is the local stack's (the e2e tests
run that way). This checks the client itself, on an Azure account URL: the host sends the model
binding data it sends in Azure, and the worker's blob extension builds a ``BlobClient`` on the
account URL with the user-assigned identity's ``ManagedIdentityCredential``. Building a client
sends no request, so no storage or identity endpoint is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from azure.identity import ManagedIdentityCredential
from azure.storage.blob import BlobClient

from devstack.host.app import describe_functions
from devstack.host.blobs import model_binding_data
from devstack.host.invoker import Invoker, Trigger
from devstack.host.worker import Worker

APP = """
import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

import devstack_binding_probe as probe

app = func.FunctionApp()


@app.function_name("on_blob")
@app.blob_trigger(
    arg_name="client", path="drop/{name}", connection="IdStorage", source=func.BlobSource.EVENT_GRID
)
def on_blob(client: blob.BlobClient) -> None:
    probe.clients.append(client)
"""


def test_the_blob_extension_builds_the_client_from_identity_based_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = SimpleNamespace(clients=[])
    monkeypatch.setitem(sys.modules, "devstack_binding_probe", probe)
    account = "https://exportsacct.blob.core.windows.net"
    monkeypatch.setenv("IdStorage__blobServiceUri", account)
    monkeypatch.setenv("IdStorage__queueServiceUri", "https://exportsacct.queue.core.windows.net")
    monkeypatch.setenv("IdStorage__credential", "managedidentity")
    monkeypatch.setenv("IdStorage__clientId", "11111111-2222-3333-4444-555555555555")
    monkeypatch.delenv("IdStorage", raising=False)
    (tmp_path / "function_app.py").write_text(APP)
    worker = Worker(tmp_path)
    try:
        (spec,) = describe_functions(worker.start())
        trigger = Trigger(model_binding_data("IdStorage", "drop", "clinic/a.csv"))
        assert Invoker(worker, [spec.name]).invoke(spec, trigger, "test")
    finally:
        worker.stop()
    (client,) = probe.clients
    assert isinstance(client, BlobClient)
    assert client.url == f"{account}/drop/clinic/a.csv"
    assert isinstance(client.credential, ManagedIdentityCredential)
