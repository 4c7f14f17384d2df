"""One invocation, the way the Functions host runs it: an ``InvocationRequest`` to the worker.

The listener supplies the trigger's data and trigger metadata (as the real host builds them,
see ``blobs``, ``queues``, ``timers``, ``http``); this sends them to the Python worker with a
fresh invocation id, W3C trace context and the retry context, reads the response (status,
exception, return value) and logs Executing / Executed lines and counts as the host does.

Why only the exception's message on failure: trigger payloads and blob contents in this
project are EHR audit rows (patient names and addresses). The host never logs a message body,
a blob's bytes or the worker's stack trace (it carries local context); the function's own
logging decides what is safe to say.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field

from devstack.host import protos
from devstack.host.app import FunctionSpec
from devstack.host.worker import Worker

log = logging.getLogger("devstack.host.functions")


@dataclass
class Counts:
    succeeded: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Trigger:
    """What the host hands the worker for one event: the trigger's data and its metadata."""

    data: protos.TypedData
    metadata: dict[str, protos.TypedData] = field(default_factory=dict)
    retry_count: int = 0
    """Attempts before this one (the host's retry context); 0 on the first."""
    max_retry_count: int = 0


def json_data(text: str) -> protos.TypedData:
    return protos.TypedData(json=text)


def string_data(text: str) -> protos.TypedData:
    return protos.TypedData(string=text)


def _trace_parent() -> str:
    """A new W3C ``traceparent`` per invocation, as the host's activity gives one."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class Invoker:
    """Thread-safe: queue and blob invocations run on listener threads concurrently."""

    def __init__(self, worker: Worker | None, names: list[str]) -> None:
        self._worker = worker
        self._lock = threading.Lock()
        self._counts = {name: Counts() for name in names}
        self._running = 0
        self._idle = threading.Condition(self._lock)

    def invoke(
        self,
        spec: FunctionSpec,
        trigger: Trigger,
        reason: str,
        details: str = "",
        result: list[protos.TypedData] | None = None,
    ) -> bool:
        """Run one invocation through the worker; True on success. Nothing escapes.

        ``result`` receives the response's return value (an HTTP function's ``RpcHttp``)."""
        invocation_id = str(uuid.uuid4())
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        if details:
            log.info("Trigger Details: %s", details)
        with self._lock:
            self._running += 1
        started = time.monotonic()
        error: str | None = None
        try:
            response = self._send(spec, trigger, invocation_id)
            if response.result.status == protos.StatusResult.Success:
                if result is not None and response.HasField("return_value"):
                    result.append(response.return_value)
            else:
                error = response.result.exception.message or "the function failed"
        except Exception as exc:  # the channel itself failed (worker stopped): a failure too
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = round((time.monotonic() - started) * 1000)
        with self._lock:
            self._running -= 1
            counts = self._counts.setdefault(spec.name, Counts())
            if error is None:
                counts.succeeded += 1
            else:
                counts.failed += 1
            self._idle.notify_all()
        status = "Succeeded" if error is None else "Failed"
        log.log(
            logging.INFO if error is None else logging.ERROR,
            "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)",
            spec.name,
            status,
            invocation_id,
            duration_ms,
        )
        if error is not None:
            log.error("Result: Failure Exception: %s (Functions.%s, Id=%s)", error, spec.name, invocation_id)
        return error is None

    def _send(self, spec: FunctionSpec, trigger: Trigger, invocation_id: str) -> protos.InvocationResponse:
        if self._worker is None:
            raise RuntimeError("no worker")
        request = protos.InvocationRequest(
            invocation_id=invocation_id,
            function_id=spec.worker_id,
            input_data=[protos.ParameterBinding(name=spec.arg_name, data=trigger.data)],
            trigger_metadata=dict(trigger.metadata),
            trace_context=protos.RpcTraceContext(trace_parent=_trace_parent(), trace_state="", attributes={}),
            retry_context=protos.RetryContext(
                retry_count=trigger.retry_count,
                max_retry_count=trigger.max_retry_count,
                exception=protos.RpcException(),
            ),
        )
        return self._worker.invoke(request)

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: {"succeeded": c.succeeded, "failed": c.failed} for name, c in self._counts.items()}

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no invocation is running (used by stop)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True
