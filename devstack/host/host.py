"""``FunctionHost``: load a function app and run its triggers until stopped.

Why a host of our own: Azure Functions Core Tools cannot be installed on these machines, and
the product's behaviour under retries, poison messages, leases and restarts is what matters,
so this host reproduces those rules (see ``blobs``, ``queues``, ``timers``) and nothing else.
The app itself runs in Microsoft's Python worker (``worker``): the host never imports
``function_app.py`` nor calls a user function; it learns the functions from the worker's
metadata and hands every event to the worker as an invocation request.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError

from devstack.host.admin import AdminServer
from devstack.host.app import FunctionSpec, describe_functions
from devstack.host.blobs import RECEIPTS_CONTAINER, BlobTriggerListener
from devstack.host.clients import HOST_STORAGE, Clients, has_connection
from devstack.host.config import HostConfig
from devstack.host.http import HttpRoutes
from devstack.host.invoker import Invoker
from devstack.host.queues import QueueTriggerListener
from devstack.host.timers import TimerTriggerListener
from devstack.host.worker import Worker

log = logging.getLogger("devstack.host")

Listener = BlobTriggerListener | QueueTriggerListener | TimerTriggerListener


def default_host_id(script_root: Path) -> str:
    """Stable per script root (so receipts survive restarts); the real override wins."""
    explicit = os.environ.get("AzureFunctionsWebHost__hostid")  # noqa: SIM112 (real name)
    if explicit:
        return explicit.lower()[:32]
    digest = hashlib.sha256(str(script_root.resolve()).encode()).hexdigest()[:12]
    return f"devstack-{digest}"


class FunctionHost:
    """Runs the blob, queue, timer and HTTP triggers of ``script_root/function_app.py``.

    Settings (connection strings, ``%NAME%`` values) come from ``os.environ`` when ``start()``
    is called. ``stop()`` stops fetching and waits for in-flight invocations.
    """

    def __init__(
        self,
        script_root: Path,
        *,
        admin_port: int | None = 0,
        blob_poll_seconds: float = 1.0,
        host_id: str | None = None,
        queue_lease_seconds: int = 60,
        blob_concurrency: int = 4,
    ) -> None:
        self.script_root = Path(script_root).resolve()
        self.admin_port = admin_port
        self.blob_poll_seconds = blob_poll_seconds
        self.host_id = host_id or default_host_id(self.script_root)
        self.queue_lease_seconds = queue_lease_seconds
        self.blob_concurrency = blob_concurrency
        self.state = "Created"
        self.functions: list[FunctionSpec] = []
        self.config: HostConfig | None = None
        self._stopping = threading.Event()
        self._listeners: dict[str, Listener] = {}
        self._worker: Worker | None = None
        self._invoker = Invoker(None, [])
        self._admin: AdminServer | None = None
        self._http: HttpRoutes | None = None

    @property
    def admin_url(self) -> str | None:
        return self._admin.url if self._admin else None

    def start(self) -> FunctionHost:
        if self.state != "Created":
            raise RuntimeError(f"host is {self.state}; create a new FunctionHost to restart")
        self.state = "Starting"
        try:
            self._start()
        except BaseException:
            self.stop(timeout=5.0)
            raise
        self.state = "Running"
        log.info("Host started (hostId=%s). Functions: %s", self.host_id, self.function_names)
        return self

    def _start(self) -> None:
        self.config = HostConfig.load(self.script_root)
        self._worker = Worker(self.script_root)
        indexed = self._worker.start()  # WorkerError (the worker's message) if it cannot index
        self.functions = describe_functions(indexed, only=self.config.functions)
        self._invoker = Invoker(self._worker, self.function_names)
        clients = Clients()
        host_storage = clients.blob_service(HOST_STORAGE) if has_connection(HOST_STORAGE) else None
        if host_storage is not None:
            with contextlib.suppress(ResourceExistsError):
                host_storage.create_container(RECEIPTS_CONTAINER)
        http = [spec for spec in self.functions if spec.trigger == "httpTrigger"]
        self._http = HttpRoutes(http, self._invoker)
        for spec in self.functions:
            if spec.trigger != "httpTrigger":
                self._listeners[spec.name] = self._listener(spec, clients, host_storage)
        for listener in self._listeners.values():
            listener.start()
        if self.admin_port is not None:
            self._admin = AdminServer(self, self.admin_port)
            self._admin.start()

    def _listener(self, spec: FunctionSpec, clients: Clients, host_storage: Any) -> Listener:
        assert self.config is not None
        if spec.trigger == "blobTrigger":
            return BlobTriggerListener(
                spec,
                clients,
                self._invoker,
                self.host_id,
                self.blob_poll_seconds,
                self._stopping,
                message_encoding=self.config.queues.message_encoding,
                concurrency=self.blob_concurrency,
            )
        if spec.trigger == "queueTrigger":
            return QueueTriggerListener(
                spec,
                clients,
                self._invoker,
                self.config.queues,
                self._stopping,
                lease_seconds=self.queue_lease_seconds,
            )
        return TimerTriggerListener(spec, self._invoker, self.host_id, self._stopping, host_storage)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop fetching, wait up to ``timeout`` for running invocations; True if all ended."""
        if self.state in ("Stopped", "Created"):
            self.state = "Stopped"
            return True
        self.state = "Stopping"
        deadline = time.monotonic() + timeout
        self._stopping.set()
        for listener in self._listeners.values():
            listener.join(max(0.0, deadline - time.monotonic()))
        idle = self._invoker.wait_idle(max(0.0, deadline - time.monotonic()))
        if not idle:
            log.warning("Host stopped with invocations still running after %.0fs", timeout)
        if self._admin is not None:
            self._admin.stop()
        if self._worker is not None:
            self._worker.stop(wait=idle)
        self.state = "Stopped"
        log.info("Host stopped")
        return idle

    @property
    def function_key(self) -> str | None:
        """The key HTTP functions with authLevel function/admin want (``?code=``)."""
        return self._http.key if self._http else None

    def http_request(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if self._http is None or self.state != "Running":
            return 503, {"Content-Type": "text/plain"}, b"host is not running\n"
        return self._http.handle(method, target, headers, body)

    @property
    def function_names(self) -> list[str]:
        return [spec.name for spec in self.functions]

    def invocation_counts(self) -> dict[str, dict[str, int]]:
        return self._invoker.counts()

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "hostId": self.host_id,
            "functions": self.function_names,
            "invocations": self.invocation_counts(),
        }

    def run_function(self, name: str, input_text: str | None = None) -> None:
        """Run a function now, as the admin API does (timer: past_due=False; queue: enqueue)."""
        matches = [s for s in self.functions if s.name.lower() == name.lower()]
        if not matches:
            raise KeyError(name)
        if matches[0].trigger == "httpTrigger":
            raise ValueError(f"HTTP function: call it at /api/{matches[0].binding.get('route') or name}")
        listener = self._listeners[matches[0].name]
        if isinstance(listener, TimerTriggerListener):
            listener.run_now()
        elif input_text is None:
            raise ValueError(f'{matches[0].trigger} function needs {{"input": "..."}}')
        elif isinstance(listener, QueueTriggerListener):
            listener.enqueue(input_text)
        else:
            listener.run_now(input_text)

    def __enter__(self) -> FunctionHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
