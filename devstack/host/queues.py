"""Queue trigger with the Functions host's batching, leases, retries and poison queue.

What it mirrors (host.json ``extensions.queues``): fetch up to ``batchSize`` messages and fetch
again once in-flight invocations drop to ``newBatchThreshold``, so up to batchSize +
newBatchThreshold run at once; a failed message becomes visible again after
``visibilityTimeout``, and once it has been dequeued ``maxDequeueCount`` times it is copied to
``<queue>-poison`` and deleted. While a function runs, its message's lease (visibility) is
renewed, as the real host renews its 10-minute lease, so a long upload is never handed to a
second worker. Polling backs off exponentially to ``maxPollingInterval`` while the queue is
empty. Messages are read as stored and decoded here (``messageEncoding``), so a poison copy is
byte-for-byte the original and an undecodable message goes straight to poison instead of
failing every receive. The worker gets the decoded body as the trigger's data and the
message's properties as trigger metadata (``Id``, ``DequeueCount``, ``InsertionTime``,
``ExpirationTime``, ``NextVisibleTime``, ``PopReceipt``), from which it builds the
``func.QueueMessage``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient
from azure.storage.queue import QueueMessage as StorageMessage

from devstack.host import protos
from devstack.host.app import FunctionSpec
from devstack.host.clients import Clients, with_retries
from devstack.host.config import QueueOptions
from devstack.host.invoker import Invoker, Trigger, json_data, string_data

log = logging.getLogger("devstack.host.queues")

MIN_POLLING_INTERVAL = 0.1
"""The host's minimum queue polling interval (100 ms)."""


@dataclass
class _Lease:
    message_id: str
    pop_receipt: str
    renew_at: float
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _json_time(value: datetime | None) -> protos.TypedData | None:
    """Times go as JSON strings, as the host serializes a DateTimeOffset."""
    return json_data(json.dumps(value.isoformat())) if value is not None else None


def queue_trigger(message: StorageMessage, body: bytes, dequeue_count: int, max_count: int) -> Trigger:
    """The body as string data when it is text (bytes otherwise), the message's properties as metadata."""
    try:
        data = string_data(body.decode("utf-8"))
    except UnicodeDecodeError:
        data = protos.TypedData(bytes=body)
    metadata = {
        "Id": string_data(str(message.id)),
        "DequeueCount": json_data(str(dequeue_count)),
        "InsertionTime": _json_time(message.inserted_on),
        "ExpirationTime": _json_time(message.expires_on),
        "NextVisibleTime": _json_time(message.next_visible_on),
        "PopReceipt": string_data(str(message.pop_receipt)),
    }
    return Trigger(
        data=data,
        metadata={k: v for k, v in metadata.items() if v is not None},
        retry_count=dequeue_count - 1,
        max_retry_count=max_count - 1,
    )


def decode_body(text: str, encoding: str) -> bytes:
    """The message body as the function sees it: bytes (base64-decoded unless ``none``)."""
    if encoding == "none":
        return text.encode("utf-8")
    return base64.b64decode("".join(text.split()), validate=True)


class QueueTriggerListener:
    """One queue-triggered function: a fetch thread, a lease-renewal thread and a worker pool."""

    def __init__(
        self,
        spec: FunctionSpec,
        clients: Clients,
        invoker: Invoker,
        options: QueueOptions,
        stopping: threading.Event,
        lease_seconds: int = 60,
    ) -> None:
        self.spec = spec
        self.queue_name: str = spec.binding["queueName"]
        self.poison_name = f"{self.queue_name}-poison"
        self.connection: str | None = spec.binding.get("connection")
        self.options = options
        self.max_concurrency = options.batch_size + options.new_batch_threshold
        self._clients = clients
        self._invoker = invoker
        self._stopping = stopping
        self._lease_seconds = max(2, int(lease_seconds))
        self._pool = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix=f"q-{spec.name}")
        self._capacity = threading.Condition()
        self._in_flight = 0
        self._leases: dict[str, _Lease] = {}
        self._threads = [
            threading.Thread(target=self._fetch_loop, name=f"fetch-{spec.name}", daemon=True),
            threading.Thread(target=self._lease_loop, name=f"lease-{spec.name}", daemon=True),
        ]

    def start(self) -> None:
        for name in (self.queue_name, self.poison_name):
            with contextlib.suppress(ResourceExistsError):
                self._clients.raw_queue(self.connection, name).create_queue()
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._capacity:
            self._capacity.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._pool.shutdown(wait=False, cancel_futures=True)

    def enqueue(self, text: str) -> None:
        """Admin API: add a message the way a producer using host.json's encoding would."""
        queue = self._clients.encoding_queue(self.connection, self.queue_name, self.options.message_encoding)
        queue.send_message(text)

    # -- fetching ---------------------------------------------------------------------------

    def _wait_for_capacity(self) -> None:
        with self._capacity:
            while self._in_flight > self.options.new_batch_threshold:
                if self._stopping.is_set():
                    return
                self._capacity.wait(0.5)

    def _fetch_loop(self) -> None:
        floor = min(MIN_POLLING_INTERVAL, self.options.max_polling_interval)
        delay = floor
        queue = self._clients.raw_queue(self.connection, self.queue_name)
        while not self._stopping.is_set():
            self._wait_for_capacity()
            if self._stopping.is_set():
                break
            try:
                batch = list(
                    queue.receive_messages(
                        messages_per_page=self.options.batch_size,
                        max_messages=self.options.batch_size,
                        visibility_timeout=self._lease_seconds,
                        retry_total=0,  # the loop retries; the SDK's first retry waits ~15 s
                    )
                )
            except Exception as exc:  # storage down (fault tests): back off and retry
                log.warning("receive from %s failed: %s: %s", self.queue_name, type(exc).__name__, exc)
                batch = []
            if not batch:
                self._stopping.wait(delay)
                delay = min(delay * 2, self.options.max_polling_interval)
                continue
            delay = floor
            for message in batch:
                self._dispatch(message)

    def _dispatch(self, message: StorageMessage) -> None:
        lease = _Lease(message.id, str(message.pop_receipt), time.monotonic() + self._lease_seconds / 2)
        with self._capacity:
            self._in_flight += 1
            self._leases[message.id] = lease
        self._pool.submit(self._process, message, lease)

    # -- leases -----------------------------------------------------------------------------

    def _lease_loop(self) -> None:
        """Renew due leases; after stop it keeps going until the last invocation finishes."""
        queue = self._clients.raw_queue(self.connection, self.queue_name)
        interval = min(1.0, self._lease_seconds / 4)
        while True:
            if self._stopping.is_set():
                with self._capacity:
                    if not self._leases:
                        return
                    self._capacity.wait(interval)  # woken as each invocation finishes
            else:
                self._stopping.wait(interval)
            now = time.monotonic()
            with self._capacity:
                due = [lease for lease in self._leases.values() if lease.renew_at <= now]
            for lease in due:
                self._renew(queue, lease, now)

    def _renew(self, queue: QueueClient, lease: _Lease, now: float) -> None:
        with lease.lock:
            if lease.done:
                return
            try:
                updated = queue.update_message(
                    lease.message_id,
                    lease.pop_receipt,
                    visibility_timeout=self._lease_seconds,
                    retry_total=0,  # retried next tick, well before the lease runs out
                )
            except Exception as exc:
                log.warning("lease renewal failed: %s: %s", type(exc).__name__, exc)
                return
            lease.pop_receipt = str(updated.pop_receipt)
            lease.renew_at = now + self._lease_seconds / 2

    # -- processing -------------------------------------------------------------------------

    def _process(self, message: StorageMessage, lease: _Lease) -> None:
        queue = self._clients.raw_queue(self.connection, self.queue_name)
        try:
            self._handle(queue, message, lease)
        except Exception as exc:  # storage failure: the lease expires and the message returns
            log.warning("message %s: %s: %s", message.id, type(exc).__name__, exc)
        finally:
            with self._capacity:
                self._in_flight -= 1
                self._leases.pop(message.id, None)
                self._capacity.notify_all()

    def _handle(self, queue: QueueClient, message: StorageMessage, lease: _Lease) -> None:
        dequeue_count = int(message.dequeue_count or 1)
        max_count = self.options.max_dequeue_count
        if dequeue_count > max_count:
            # Dequeued too often without completing (a crashed host): poison without running.
            self._poison(message, lease, reason=f"has reached MaxDequeueCount of {max_count}")
            return
        try:
            body = decode_body(str(message.content or ""), self.options.message_encoding)
        except (binascii.Error, ValueError):
            self._poison(message, lease, reason="is not valid base64 (messageEncoding)")
            return
        trigger_value = queue_trigger(message, body, dequeue_count, max_count)
        reason = f"New queue message detected on '{self.queue_name}'."
        details = f"MessageId: {message.id}, DequeueCount: {dequeue_count}"
        succeeded = self._invoker.invoke(self.spec, trigger_value, reason, details)
        receipt = self._finish(lease)
        if succeeded:
            with_retries(queue.delete_message, message.id, receipt)
        elif dequeue_count >= max_count:
            self._poison(message, lease, reason=f"has reached MaxDequeueCount of {max_count}")
        else:
            visibility = round(self.options.visibility_timeout)
            with_retries(queue.update_message, message.id, receipt, visibility_timeout=visibility)

    @staticmethod
    def _finish(lease: _Lease) -> str:
        """Stop renewing; returns the current pop receipt (renewals replace it)."""
        with lease.lock:
            lease.done = True
            return lease.pop_receipt

    def _poison(self, message: StorageMessage, lease: _Lease, reason: str) -> None:
        receipt = self._finish(lease)
        poison = self._clients.raw_queue(self.connection, self.poison_name)
        with_retries(poison.send_message, message.content)
        queue = self._clients.raw_queue(self.connection, self.queue_name)
        with_retries(queue.delete_message, message.id, receipt)
        log.warning("Message %s %s. Moved to queue '%s'.", message.id, reason, self.poison_name)
