"""Blob trigger: a container poll standing in for the Event Grid blob source.

In Azure the app's blob trigger uses ``source=EventGrid``: Storage pushes BlobCreated events.
There is no Event Grid locally, so this polls the container listing and fires for every blob
whose (name, ETag) has no receipt yet. Receipts are blobs in ``azure-webjobs-hosts`` like the
real host's, so a restarted host does not fire again for what it already handled, and an
overwritten blob (new ETag) fires again, as a new BlobCreated event would.

A failing invocation is retried up to ``MAX_ATTEMPTS`` times in all, then a poison message
(the real host's JSON shape) goes to ``webjobs-blobtrigger-poison`` and the receipt is
written, so the blob is not retried forever.

What the worker gets is what the host sends for an SDK-type binding (the function asks for a
``BlobClient``): not the blob's bytes but *model binding data*, source ``AzureStorageBlobs``,
JSON content naming the connection, container and blob. Microsoft's blob extension in the
worker builds the client from that and the app's connection settings, as in Azure.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from devstack.host import protos
from devstack.host.app import FunctionSpec
from devstack.host.clients import HOST_STORAGE, Clients, with_retries
from devstack.host.invoker import Invoker, Trigger, string_data

log = logging.getLogger("devstack.host.blobs")

RECEIPTS_CONTAINER = "azure-webjobs-hosts"
POISON_QUEUE = "webjobs-blobtrigger-poison"
MAX_ATTEMPTS = 5
ETAG_METADATA = "etag"
# Polls pass retry_total=0: the storage SDK's default retry first sleeps ~15 s, and a poll is
# retried anyway a poll interval later, so a restarted Azurite is picked up at once.


def _etag(value: str | None) -> str:
    """Listings give ETags bare, blob properties quoted; compare them bare."""
    return (value or "").strip('"')


def model_binding_data(connection: str, container: str, name: str) -> protos.TypedData:
    """The SDK-type blob binding's data as the host sends it (facts: source, content type, JSON keys)."""
    content = {"Connection": connection, "ContainerName": container, "BlobName": name}
    return protos.TypedData(
        model_binding_data=protos.ModelBindingData(
            version="1.0",
            source="AzureStorageBlobs",
            content_type="application/json",
            content=json.dumps(content).encode(),
        )
    )


def _blob_type(value: object) -> str:
    """``BlobType.BLOCKBLOB`` -> ``BlockBlob``, the name the host puts in poison messages."""
    return str(getattr(value, "value", value) or "BlockBlob")


@dataclass(frozen=True)
class BlobPath:
    """``container/pattern`` from the binding; ``{name}`` style parts match any characters."""

    container: str
    prefix: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, path: str) -> BlobPath:
        container, _, blob_pattern = path.partition("/")
        if not container or "{" in container:
            raise ValueError(f"blob trigger path {path!r} must start with a container name")
        prefix = blob_pattern.split("{", 1)[0]
        regex = "".join(
            _parameter(part) if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]*\})", blob_pattern)
            if part
        )
        return cls(container, prefix, re.compile(f"^{regex or '.+'}$", re.DOTALL))

    def matches(self, blob_name: str) -> bool:
        return bool(self.pattern.match(blob_name))

    def parameters(self, blob_name: str) -> dict[str, str]:
        """``{name}`` and friends: binding data the host adds to the trigger metadata."""
        match = self.pattern.match(blob_name)
        return {k: v for k, v in match.groupdict().items() if v is not None} if match else {}


def _parameter(part: str) -> str:
    name = part[1:-1]
    return f"(?P<{name}>.+)" if name.isidentifier() else ".+"


class BlobTriggerListener:
    """Polls one function's container; invocations run on a small pool, one per blob at once."""

    def __init__(
        self,
        spec: FunctionSpec,
        clients: Clients,
        invoker: Invoker,
        host_id: str,
        poll_seconds: float,
        stopping: threading.Event,
        message_encoding: str = "base64",
        concurrency: int = 4,
    ) -> None:
        self.spec = spec
        self.path = BlobPath.parse(spec.binding["path"])
        self.connection: str | None = spec.binding.get("connection")
        self._clients = clients
        self._invoker = invoker
        self._poll_seconds = poll_seconds
        self._stopping = stopping
        self._encoding = message_encoding
        self._receipt_prefix = f"blobreceipts/{host_id}/{spec.function_id}/{self.path.container}/"
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"blob-{spec.name}")
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight: set[str] = set()
        self._done: dict[str, str] = {}  # blob name -> ETag with a receipt (a cache)
        self._thread = threading.Thread(target=self._run, name=f"poll-{spec.name}", daemon=True)

    @property
    def _service(self) -> BlobServiceClient:
        return self._clients.blob_service(self.connection)

    @property
    def _receipts(self) -> BlobServiceClient:
        return self._clients.host_blob_service(self.connection)

    def start(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            self._receipts.create_container(RECEIPTS_CONTAINER)
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the poller and for in-flight blobs (their receipts included)."""
        deadline = time.monotonic() + timeout
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._idle:
            while self._in_flight and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # storage down (fault tests): keep polling
                log.warning("blob poll for %s failed: %s: %s", self.spec.name, type(exc).__name__, exc)
            self._stopping.wait(self._poll_seconds)

    def poll_once(self) -> int:
        """List the container and dispatch new blobs; returns how many were dispatched."""
        container = self._service.get_container_client(self.path.container)
        try:
            listing = [
                (b.name, _etag(b.etag), _blob_type(b.blob_type))
                for b in container.list_blobs(name_starts_with=self.path.prefix or None, retry_total=0)
                if self.path.matches(b.name)
            ]
        except ResourceNotFoundError:
            return 0  # no container yet: nothing can have been dropped
        with self._lock:
            candidates = [
                (name, etag, blob_type)
                for name, etag, blob_type in listing
                if self._done.get(name) != etag and name not in self._in_flight
            ]
        if not candidates:
            return 0
        receipts = self._read_receipts()
        dispatched = 0
        for name, etag, blob_type in candidates:
            if receipts.get(name) == etag:
                with self._lock:
                    self._done[name] = etag
                continue
            if self._stopping.is_set():
                break
            with self._lock:
                if name in self._in_flight:
                    continue
                self._in_flight.add(name)
            self._pool.submit(self._process, name, etag, blob_type)
            dispatched += 1
        return dispatched

    def run_now(self, blob_path: str) -> None:
        """Admin API: invoke once for ``container/name`` (or a bare name), no receipt, no retry."""
        container, sep, name = blob_path.partition("/")
        if not sep or container != self.path.container:
            container, name = self.path.container, blob_path
        reason = "This function was programmatically called via the host APIs."
        self._pool.submit(self._invoker.invoke, self.spec, self._trigger(container, name, 1), reason)

    def _trigger(self, container: str, name: str, attempt: int) -> Trigger:
        """Model binding data plus the metadata the host sends (BlobTrigger, Uri, path parameters)."""
        uri = self._service.get_blob_client(container, name).url  # no request: only the URL
        metadata = {"BlobTrigger": string_data(f"{container}/{name}"), "Uri": string_data(uri)}
        metadata.update({k: string_data(v) for k, v in self.path.parameters(name).items()})
        return Trigger(
            data=model_binding_data(self.connection or HOST_STORAGE, container, name),
            metadata=metadata,
            retry_count=attempt - 1,
            max_retry_count=MAX_ATTEMPTS - 1,
        )

    def _read_receipts(self) -> dict[str, str]:
        container = self._receipts.get_container_client(RECEIPTS_CONTAINER)
        receipts = {}
        listing = container.list_blobs(
            name_starts_with=self._receipt_prefix, include=["metadata"], retry_total=0
        )
        for blob in listing:
            metadata = {k.lower(): v for k, v in (blob.metadata or {}).items()}
            receipts[blob.name[len(self._receipt_prefix) :]] = _etag(metadata.get(ETAG_METADATA))
        return receipts

    def _process(self, name: str, etag: str, blob_type: str) -> None:
        try:
            self._attempts(name, etag, blob_type)
        except Exception as exc:  # storage failure writing receipt/poison: retried next poll
            log.warning("blob %s/%s: %s: %s", self.path.container, name, type(exc).__name__, exc)
        finally:
            with self._lock:
                self._in_flight.discard(name)
                self._idle.notify_all()

    def _attempts(self, name: str, etag: str, blob_type: str) -> None:
        reason = f"New blob detected(PollingScan): {self.path.container}/{name}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self._stopping.is_set():
                return  # no receipt: the next host fires it again
            details = f"BlobName: {name}, ETag: {etag}, Attempt: {attempt}"
            trigger = self._trigger(self.path.container, name, attempt)
            if self._invoker.invoke(self.spec, trigger, reason, details):
                self._write_receipt(name, etag)
                return
        self._poison(name, etag, blob_type)
        self._write_receipt(name, etag)

    def _write_receipt(self, name: str, etag: str) -> None:
        receipt = self._receipts.get_blob_client(RECEIPTS_CONTAINER, self._receipt_prefix + name)
        with_retries(receipt.upload_blob, b"", overwrite=True, metadata={ETAG_METADATA: etag})
        with self._lock:
            self._done[name] = etag

    def _poison(self, name: str, etag: str, blob_type: str) -> None:
        message = {
            "Type": "blob",
            "FunctionId": self.spec.function_id,
            "BlobType": blob_type,
            "ContainerName": self.path.container,
            "BlobName": name,
            "ETag": etag,
        }
        queue = self._clients.encoding_queue(self.connection, POISON_QUEUE, self._encoding)
        with contextlib.suppress(ResourceExistsError):
            queue.create_queue()
        with_retries(queue.send_message, json.dumps(message))
        log.error(
            "Blob '%s/%s' failed %d times in 'Functions.%s'; moved to queue '%s'",
            self.path.container,
            name,
            MAX_ATTEMPTS,
            self.spec.name,
            POISON_QUEUE,
        )
