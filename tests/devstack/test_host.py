"""The dev Functions host against Azurite, with a small test app (not the product's).

The app's connection is identity-based, as in Azure and in the local stack: the host and the
worker's blob extension reach Azurite (HTTPS, ``--oauth basic``) with the emulator's managed
identity; the tests' own clients use the account key (``Cloud.admin``).

The test app calls into a probe object the test installs as module ``devstack_test_probe``;
the probe records invocations and decides failures from the payload. Every wait polls with a
deadline, so a busy machine makes the tests slower, not flaky.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import azure.functions as func
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential
from azure.storage.blob import BlobClient, BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from devstack.azurite import REPO_ROOT, Azurite
from devstack.host import FunctionHost
from devstack.host.blobs import POISON_QUEUE, RECEIPTS_CONTAINER
from tests.devstack.conftest import Cloud

TEST_APP = """
import os

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

import devstack_test_probe as probe

app = func.FunctionApp()


@app.function_name("on_blob")
@app.blob_trigger(
    arg_name="client",
    path="%TEST_CONTAINER%/{name}",
    connection="TestStorage",
    source=func.BlobSource.EVENT_GRID,
)
def on_blob(client: blob.BlobClient) -> None:
    probe.on_blob(client)


@app.function_name("on_message")
@app.queue_trigger(arg_name="msg", queue_name="%TEST_QUEUE%", connection="TestStorage")
def on_message(msg: func.QueueMessage) -> None:
    probe.on_message(msg)


@app.function_name("on_timer")
@app.timer_trigger(
    arg_name="timer",
    schedule="%TEST_SCHEDULE%",
    run_on_startup=os.environ.get("TEST_RUN_ON_STARTUP") == "1",
)
def on_timer(timer: func.TimerRequest) -> None:
    probe.on_timer(timer)
"""

HOST_JSON = {
    "version": "2.0",
    "extensions": {
        "queues": {
            "batchSize": 4,
            "newBatchThreshold": 2,
            "maxDequeueCount": 2,
            "visibilityTimeout": "00:00:00",
            "maxPollingInterval": "00:00:00.500",
        }
    },
}

NEVER_IN_THIS_TEST = "0 0 0 1 1 *"


@dataclass
class Probe:
    """What the test app's functions report to; thread-safe (invocations run concurrently)."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    blobs: list[tuple[str, bytes, type]] = field(default_factory=list)
    credentials: list[Any] = field(default_factory=list)
    messages: list[func.QueueMessage] = field(default_factory=list)
    timers: list[bool] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    def on_blob(self, client: BlobClient) -> None:
        data = client.download_blob().readall()
        with self.cond:
            self.blobs.append((client.blob_name, data, type(client)))
            self.credentials.append(client.credential)
            self.cond.notify_all()
        if data.startswith(b"fail"):
            raise RuntimeError("blob asked to fail")

    def on_message(self, msg: func.QueueMessage) -> None:
        body = msg.get_body()
        with self.cond:
            self.messages.append(msg)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.cond.notify_all()
        try:
            if body.startswith(b"hold"):
                time.sleep(float(body.split()[1]))  # outlives the lease: it must be renewed
            if body.startswith(b"slow"):
                # Hold the slot until 4 run together (or give up): proves real concurrency.
                self.wait_for(lambda: self.max_active >= 4, timeout=5.0, raise_=False)
            if body.startswith(b"fail"):
                raise ValueError("message asked to fail")
        finally:
            with self.cond:
                self.active -= 1

    def on_timer(self, timer: func.TimerRequest) -> None:
        with self.cond:
            self.timers.append(timer.past_due)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, raise_: bool = True) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if raise_:
                        raise AssertionError("condition not met in time")
                    return False
                self.cond.wait(min(remaining, 0.1))
        return True

    def blob_calls(self, name: str) -> list[bytes]:
        with self.cond:
            return [data for blob_name, data, _ in self.blobs if blob_name == name]


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@dataclass
class Env:
    root: Path
    cloud: Cloud
    container: str
    queue: str

    def blob(self, name: str) -> BlobClient:
        return self.cloud.admin(BlobServiceClient).get_blob_client(self.container, name)

    def queue_client(self, name: str | None = None, *, base64_text: bool = True) -> QueueClient:
        policies: dict[str, Any] = {}
        if base64_text:
            policies = {
                "message_encode_policy": TextBase64EncodePolicy(),
                "message_decode_policy": TextBase64DecodePolicy(),
            }
        return self.cloud.admin(QueueClient, name or self.queue, **policies)

    def peek(self, name: str, *, base64_text: bool = True) -> list[str]:
        client = self.queue_client(name, base64_text=base64_text)
        try:
            return [m.content for m in client.peek_messages(max_messages=32)]
        except ResourceNotFoundError:
            return []  # not created yet


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Probe:
    instance = Probe()
    monkeypatch.setitem(sys.modules, "devstack_test_probe", instance)
    return instance


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, managed_identity: Cloud, probe: Probe) -> Env:
    root = tmp_path / "app"
    root.mkdir()
    (root / "function_app.py").write_text(TEST_APP)
    (root / "host.json").write_text(json.dumps(HOST_JSON))
    suffix = uuid.uuid4().hex[:10]
    settings = {
        **managed_identity.connection("TestStorage"),
        "TEST_CONTAINER": f"drop{suffix}",
        "TEST_QUEUE": f"work{suffix}",
        "TEST_SCHEDULE": NEVER_IN_THIS_TEST,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    for name in (
        "TestStorage",
        "AzureWebJobsStorage",
        "TEST_RUN_ON_STARTUP",
        "AzureFunctionsWebHost__hostid",
    ):
        monkeypatch.delenv(name, raising=False)
    managed_identity.admin(BlobServiceClient).create_container(settings["TEST_CONTAINER"])
    return Env(root, managed_identity, settings["TEST_CONTAINER"], settings["TEST_QUEUE"])


@pytest.fixture
def start_host(env: Env) -> Iterator[Callable[..., FunctionHost]]:
    hosts: list[FunctionHost] = []

    def start(**options: Any) -> FunctionHost:
        host = FunctionHost(env.root, **{"blob_poll_seconds": 0.2, "admin_port": 0, **options})
        hosts.append(host)
        return host.start()

    yield start
    for host in hosts:
        host.stop(timeout=10)


def counts(host: FunctionHost, name: str) -> dict[str, int]:
    return host.invocation_counts()[name]


# -- blob trigger --------------------------------------------------------------------------


def test_new_blob_fires_once_with_an_sdk_blob_client(env: Env, probe: Probe, start_host) -> None:
    host = start_host()
    assert host.function_names == ["on_blob", "on_message", "on_timer"]
    env.blob("clinic/one.csv").upload_blob(b"header\nrow\n")
    probe.wait_for(lambda: len(probe.blob_calls("clinic/one.csv")) == 1)
    name, data, client_type = probe.blobs[0]
    # Microsoft's blob extension built it with the user-assigned managed identity, as in Azure.
    assert isinstance(probe.credentials[0], ManagedIdentityCredential)
    assert (name, data, client_type) == ("clinic/one.csv", b"header\nrow\n", BlobClient)
    # A later blob fires only after a poll that saw one.csv again: it was not refired.
    env.blob("clinic/two.csv").upload_blob(b"x")
    probe.wait_for(lambda: len(probe.blob_calls("clinic/two.csv")) == 1)
    assert len(probe.blob_calls("clinic/one.csv")) == 1
    eventually(lambda: counts(host, "on_blob") == {"succeeded": 2, "failed": 0})


def test_receipts_survive_restart_and_a_changed_blob_fires_again(env: Env, probe: Probe, start_host) -> None:
    host = start_host()
    env.blob("one.csv").upload_blob(b"first")
    probe.wait_for(lambda: len(probe.blob_calls("one.csv")) == 1)
    assert host.stop(timeout=10)

    receipts = env.cloud.admin(BlobServiceClient)
    receipt_names = [
        b.name
        for b in receipts.get_container_client(RECEIPTS_CONTAINER).list_blobs(
            name_starts_with=f"blobreceipts/{host.host_id}/Host.Functions.on_blob/"
        )
    ]
    assert receipt_names == [f"blobreceipts/{host.host_id}/Host.Functions.on_blob/{env.container}/one.csv"]

    second = start_host()  # same script root, so same host id and receipts
    env.blob("sentinel.csv").upload_blob(b"s")
    probe.wait_for(lambda: len(probe.blob_calls("sentinel.csv")) == 1)
    assert probe.blob_calls("one.csv") == [b"first"]

    env.blob("one.csv").upload_blob(b"second", overwrite=True)  # new ETag
    probe.wait_for(lambda: len(probe.blob_calls("one.csv")) == 2)
    assert probe.blob_calls("one.csv") == [b"first", b"second"]
    eventually(lambda: counts(second, "on_blob") == {"succeeded": 2, "failed": 0})


def test_failing_blob_is_tried_five_times_then_poisoned(env: Env, probe: Probe, start_host) -> None:
    host = start_host()
    blob = env.blob("bad/file.csv")
    blob.upload_blob(b"fail please")
    etag = blob.get_blob_properties().etag.strip('"')

    def poison_message() -> dict | None:
        for text in env.peek(POISON_QUEUE):
            message = json.loads(text)
            if message["ContainerName"] == env.container:
                return message
        return None

    message = eventually(poison_message)
    assert message == {
        "Type": "blob",
        "FunctionId": "Host.Functions.on_blob",
        "BlobType": "BlockBlob",
        "ContainerName": env.container,
        "BlobName": "bad/file.csv",
        "ETag": etag,
    }
    assert len(probe.blob_calls("bad/file.csv")) == 5
    # The receipt was written: a later poll does not start over.
    env.blob("sentinel.csv").upload_blob(b"s")
    probe.wait_for(lambda: len(probe.blob_calls("sentinel.csv")) == 1)
    assert len(probe.blob_calls("bad/file.csv")) == 5
    eventually(lambda: counts(host, "on_blob") == {"succeeded": 1, "failed": 5})


# -- queue trigger -------------------------------------------------------------------------


def test_queue_message_is_delivered_with_its_metadata_and_deleted(env: Env, probe: Probe, start_host) -> None:
    host = start_host()
    sent = env.queue_client().send_message("hello chunk")
    probe.wait_for(lambda: len(probe.messages) == 1)
    msg = probe.messages[0]
    assert isinstance(msg, func.QueueMessage)
    assert msg.get_body() == b"hello chunk"
    assert msg.id == sent.id
    assert msg.dequeue_count == 1
    assert msg.insertion_time is not None and msg.expiration_time is not None
    eventually(lambda: counts(host, "on_message")["succeeded"] == 1)
    eventually(lambda: env.queue_client().get_queue_properties().approximate_message_count == 0)


def test_failing_message_is_retried_then_poisoned(env: Env, probe: Probe, start_host) -> None:
    host = start_host()
    env.queue_client().send_message("fail: chunk 7")
    eventually(lambda: env.peek(f"{env.queue}-poison") == ["fail: chunk 7"])
    assert [m.dequeue_count for m in probe.messages] == [1, 2]  # maxDequeueCount is 2
    assert env.peek(env.queue) == []
    eventually(lambda: counts(host, "on_message") == {"succeeded": 0, "failed": 2})


def test_undecodable_message_goes_to_poison_without_running(env: Env, probe: Probe, start_host) -> None:
    start_host()
    env.queue_client(base64_text=False).send_message("not base64!")
    poison = f"{env.queue}-poison"
    eventually(lambda: env.peek(poison, base64_text=False) == ["not base64!"])
    assert probe.messages == []


def test_batch_runs_concurrently(env: Env, probe: Probe, start_host) -> None:
    host = start_host()
    queue = env.queue_client()
    for i in range(8):
        queue.send_message(f"slow {i}")
    probe.wait_for(lambda: len(probe.messages) == 8, timeout=20)
    eventually(lambda: counts(host, "on_message")["succeeded"] == 8)
    assert 1 < probe.max_active <= 4 + 2  # batchSize + newBatchThreshold


def test_lease_is_renewed_while_a_long_invocation_runs(env: Env, probe: Probe, start_host) -> None:
    host = start_host(queue_lease_seconds=2)
    env.queue_client().send_message("hold 3.5")
    eventually(lambda: counts(host, "on_message")["succeeded"] == 1, timeout=15)
    # Without renewal the message would have reappeared after 2 s and run a second time.
    assert [m.dequeue_count for m in probe.messages] == [1]
    eventually(lambda: env.queue_client().get_queue_properties().approximate_message_count == 0)


# -- timer trigger and admin API -----------------------------------------------------------


def admin_call(method: str, url: str, body: dict | None = None) -> tuple[int, dict | None]:
    """One request to the loopback admin API: (status, JSON body or None)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(method, parts.path, data, {"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw and response.status < 300 else None
    finally:
        connection.close()


def test_admin_api_runs_functions_and_reports_status(env: Env, probe: Probe, start_host) -> None:
    host = start_host()
    url = host.admin_url
    assert url is not None and url.startswith("http://127.0.0.1:")

    assert admin_call("POST", f"{url}/admin/functions/on_timer", {})[0] == 202
    probe.wait_for(lambda: probe.timers == [False])

    assert admin_call("POST", f"{url}/admin/functions/on_message", {"input": "via admin"})[0] == 202
    probe.wait_for(lambda: [m.get_body() for m in probe.messages] == [b"via admin"])

    env.blob("adm.csv").upload_blob(b"a")
    probe.wait_for(lambda: len(probe.blob_calls("adm.csv")) == 1)
    blob_input = {"input": f"{env.container}/adm.csv"}
    assert admin_call("POST", f"{url}/admin/functions/on_blob", blob_input)[0] == 202
    probe.wait_for(lambda: len(probe.blob_calls("adm.csv")) == 2)

    assert admin_call("POST", f"{url}/admin/functions/nope", {})[0] == 404
    assert admin_call("POST", f"{url}/admin/functions/on_message", {})[0] == 400

    def status() -> dict | None:
        code, payload = admin_call("GET", f"{url}/admin/host/status")
        assert code == 200 and payload is not None
        done = payload["invocations"]["on_message"]["succeeded"] == 1
        return payload if done else None

    payload = eventually(status)
    assert payload["state"] == "Running"
    assert payload["functions"] == ["on_blob", "on_message", "on_timer"]
    assert payload["invocations"]["on_timer"] == {"succeeded": 1, "failed": 0}


def test_timer_fires_on_schedule_and_on_startup(
    env: Env, probe: Probe, start_host, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SCHEDULE", "* * * * * *")
    monkeypatch.setenv("TEST_RUN_ON_STARTUP", "1")
    host = start_host()
    probe.wait_for(lambda: len(probe.timers) >= 3, timeout=10)
    assert not any(probe.timers)
    assert counts(host, "on_timer")["failed"] == 0


def test_unresolved_setting_fails_at_start(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_QUEUE")
    with pytest.raises(KeyError, match="TEST_QUEUE"):
        FunctionHost(env.root, admin_port=None).start()


# -- command line --------------------------------------------------------------------------


def test_command_line_host_loads_settings_and_stops_on_sigterm(env: Env, tmp_path: Path) -> None:
    settings = {
        "IsEncrypted": False,
        "Values": {
            **env.cloud.connection("TestStorage"),
            **env.cloud.identity_env(),
            "TEST_CONTAINER": env.container,
            "TEST_QUEUE": env.queue,
            "TEST_SCHEDULE": NEVER_IN_THIS_TEST,
        },
    }
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps(settings))
    state_file = tmp_path / "host.state.json"
    child_env = {k: v for k, v in os.environ.items() if k not in cast(dict[str, str], settings["Values"])}
    child_env["PYTHONPATH"] = str(REPO_ROOT)
    # The test app imports the probe module; give the child a stand-in on its path.
    (tmp_path / "devstack_test_probe.py").write_text("def on_timer(timer):\n    pass\n")
    child_env["PYTHONPATH"] += os.pathsep + str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.host", "--script-root", str(env.root),
         "--settings", str(settings_file), "--state-file", str(state_file),
         "--blob-poll-seconds", "0.2"],
        cwd=REPO_ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        state = eventually(lambda: state_file.exists() and json.loads(state_file.read_text()))
        assert state["pid"] == proc.pid
        assert admin_call("POST", f"{state['admin_url']}/admin/functions/on_timer", {})[0] == 202
        eventually(
            lambda: (
                (admin_call("GET", f"{state['admin_url']}/admin/host/status")[1] or {})["invocations"][
                    "on_timer"
                ]["succeeded"]
                == 1
            )
        )
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output.decode(errors="replace")
    log = output.decode()
    assert "Executing 'Functions.on_timer' (Reason='This function was programmatically" in log
    assert "Executed 'Functions.on_timer' (Succeeded, Id=" in log
    assert "Host stopped" in log
    assert env.cloud.azurite.key not in log and "AccountKey" not in log


# -- Azurite -------------------------------------------------------------------------------


def test_azurite_random_account_serves_all_three_services(cloud: Cloud) -> None:
    from azure.data.tables import TableServiceClient

    azurite, verify = cloud.azurite, cloud.ca
    conn = azurite.connection_string
    assert f"AccountName={azurite.account};" in conn and "devstoreaccount1" not in conn
    assert azurite.key not in repr(azurite)
    name = f"probe{uuid.uuid4().hex[:10]}"
    blobs = BlobServiceClient.from_connection_string(conn, connection_verify=verify)
    blobs.create_container(name).upload_blob("b", b"data")
    assert blobs.get_blob_client(name, "b").download_blob().readall() == b"data"
    queue = QueueClient.from_connection_string(conn, name, connection_verify=verify)
    queue.create_queue()
    queue.send_message("m")
    assert [m.content for m in queue.receive_messages()] == ["m"]
    table = TableServiceClient.from_connection_string(conn, connection_verify=verify).create_table(name)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})
    assert table.get_entity("p", "r")["v"] == 1

    # The published emulator account is gone, and a wrong key is refused by every service.
    well_known = conn.replace(azurite.account, "devstoreaccount1")
    with pytest.raises(HttpResponseError):
        BlobServiceClient.from_connection_string(
            well_known, connection_verify=verify
        ).get_service_properties()
    wrong = conn.replace(azurite.key, base64.b64encode(b"0" * 64).decode())
    with pytest.raises(HttpResponseError):
        BlobServiceClient.from_connection_string(wrong, connection_verify=verify).get_container_client(
            name
        ).exists()
    with pytest.raises(HttpResponseError):
        QueueClient.from_connection_string(wrong, name, connection_verify=verify).get_queue_properties()
    with pytest.raises(HttpResponseError):
        TableServiceClient.from_connection_string(wrong, connection_verify=verify).get_table_client(
            name
        ).get_entity("p", "r")


def test_host_survives_an_azurite_restart_and_state_reattaches(
    tmp_path: Path, env: Env, probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Azurite(tmp_path / "own-azurite", tls=env.cloud.azurite.tls).start()
    try:
        for name, value in env.cloud.connection("TestStorage", server).items():
            monkeypatch.setenv(name, value)
        drop = env.cloud.admin(BlobServiceClient, server=server)
        drop.create_container(env.container)
        host = FunctionHost(env.root, blob_poll_seconds=0.2, admin_port=None).start()
        try:
            drop.get_blob_client(env.container, "before.csv").upload_blob(b"1")
            probe.wait_for(lambda: len(probe.blob_calls("before.csv")) == 1)
            ports = dict(server.ports)
            server.restart()  # same ports, account and data
            assert server.ports == ports
            drop.get_blob_client(env.container, "after.csv").upload_blob(b"2")
            probe.wait_for(lambda: len(probe.blob_calls("after.csv")) == 1, timeout=20)
            assert len(probe.blob_calls("before.csv")) == 1
        finally:
            host.stop(timeout=10)
        other = Azurite.from_state(json.loads(json.dumps(server.state())))
        assert other.running and other.connection_string == server.connection_string
        other.stop()
        eventually(lambda: not server.running)
    finally:
        server.stop()


def test_app_settings_override_host_json(tmp_path, monkeypatch):
    from devstack.host.config import HostConfig

    (tmp_path / "host.json").write_text('{"version": "2.0", "extensions": {"queues": {"batchSize": 16}}}')
    monkeypatch.setenv("AzureFunctionsJobHost__extensions__queues__batchSize", "3")
    monkeypatch.setenv("AzureFunctionsJobHost__extensions__queues__maxDequeueCount", "2")
    queues = HostConfig.load(tmp_path).queues
    assert queues.batch_size == 3 and queues.max_dequeue_count == 2 and queues.new_batch_threshold == 1


def test_azurite_moves_to_new_ports_when_one_is_taken(tmp_path):
    import socket

    from devstack.azurite import Azurite, free_port

    taken = socket.socket()
    taken.bind(("127.0.0.1", free_port()))
    taken.listen()
    try:
        azurite = Azurite(tmp_path / "az", ports={"blob": taken.getsockname()[1]})
        with azurite:
            assert azurite.ports["blob"] != taken.getsockname()[1]
            assert azurite.running
    finally:
        taken.close()


def test_free_ports_avoid_the_ephemeral_range():
    from devstack.azurite import _ephemeral_range, free_port

    low, high = _ephemeral_range()
    assert all(not low <= free_port() <= high for _ in range(20))


def test_an_app_the_worker_cannot_index_stops_the_host_with_the_workers_message(tmp_path: Path) -> None:
    root = tmp_path / "bad-app"
    root.mkdir()
    (root / "function_app.py").write_text(
        "import azure.functions as func\n\napp = func.FunctionApp()\n\n\n"
        '@app.queue_trigger(arg_name="msg", queue_name="q", connection="TestStorage")\n'
        "def takes_too_much(msg: func.QueueMessage, extra: int) -> None:\n    pass\n"
    )
    child_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "devstack.host", "--script-root", str(root), "--admin-port", "0"],
        cwd=REPO_ROOT, env=child_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Worker failed to index or load the functions" in output
    assert "cannot load the takes_too_much function" in output and "extra" in output  # the worker's words
    assert "Traceback" not in output
