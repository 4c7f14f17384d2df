"""Run one invocation the way the Functions host reports it: Executing / Executed lines and counts.

Why only the exception's type and message on failure: trigger payloads and blob contents in
this project are EHR audit rows (patient names and addresses). The host never logs a message
body, a blob's bytes or a traceback's local context; the function's own logging decides what
is safe to say.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from devstack.host.app import FunctionSpec

log = logging.getLogger("devstack.host.functions")


@dataclass
class Counts:
    succeeded: int = 0
    failed: int = 0


class Invoker:
    """Thread-safe: queue and blob invocations run on pool threads concurrently."""

    def __init__(self, names: list[str]) -> None:
        self._lock = threading.Lock()
        self._counts = {name: Counts() for name in names}
        self._running = 0
        self._idle = threading.Condition(self._lock)

    def invoke(
        self, spec: FunctionSpec, value: Any, reason: str, details: str = "", result: list[Any] | None = None
    ) -> bool:
        """Call the function; True on success. Exceptions never escape (they are the result).

        ``result`` receives the function's return value (an HTTP function's response)."""
        invocation_id = str(uuid.uuid4())
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        if details:
            log.info("Trigger Details: %s", details)
        with self._lock:
            self._running += 1
        started = time.monotonic()
        error: BaseException | None = None
        try:
            returned = spec.call(value, invocation_id)
            if result is not None:
                result.append(returned)
        except Exception as exc:  # the function's failure is data to the host
            error = exc
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
            log.error(
                "Result: Failure Exception: %s: %s (Functions.%s, Id=%s)",
                type(error).__name__,
                error,
                spec.name,
                invocation_id,
            )
        return error is None

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
