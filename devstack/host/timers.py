"""Timer trigger: NCRONTAB schedule in UTC, ``runOnStartup``, past-due detection.

Like the real host, a timer function never overlaps itself, and when host storage
(``AzureWebJobsStorage``) is configured its schedule status is kept in
``azure-webjobs-hosts/timers/<hostId>/Host.Functions.<name>/status``: a host that was down
when an occurrence was due runs the function once at startup with ``past_due=True``.
Without host storage there is no monitor (nothing to remember a missed occurrence with).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from devstack.host.app import FunctionSpec
from devstack.host.blobs import RECEIPTS_CONTAINER
from devstack.host.invoker import Invoker, Trigger, json_data
from devstack.host.ncrontab import Schedule

log = logging.getLogger("devstack.host.timers")

LATE_IS_PAST_DUE = timedelta(minutes=1)
"""A scheduled run that starts this late (machine asleep, clock jump) is reported past due."""

ADMIN_REASON = "This function was programmatically called via the host APIs."


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class TimerTriggerListener:
    """One timer function; scheduled, startup and admin runs share one lock."""

    def __init__(
        self,
        spec: FunctionSpec,
        invoker: Invoker,
        host_id: str,
        stopping: threading.Event,
        host_storage: BlobServiceClient | None,
    ) -> None:
        self.spec = spec
        self.schedule = Schedule.parse(spec.binding["schedule"])
        self.run_on_startup = bool(spec.binding.get("runOnStartup", False))
        self._invoker = invoker
        self._stopping = stopping
        use_monitor = spec.binding.get("useMonitor")
        self._storage = host_storage if use_monitor in (None, True) else None
        self._status_blob = f"timers/{host_id}/{spec.function_id}/status"
        self._lock = threading.Lock()
        self._last: datetime | None = None
        self._next: datetime | None = None
        self._thread = threading.Thread(target=self._run, name=f"timer-{spec.name}", daemon=True)
        self._admin_threads: list[threading.Thread] = []

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def next_occurrence(self) -> datetime | None:
        return self._next

    def run_now(self) -> None:
        """Admin API: run once now (past_due=False) without disturbing the schedule."""
        thread = threading.Thread(
            target=self._fire, args=(False, ADMIN_REASON), name=f"admin-{self.spec.name}"
        )
        self._admin_threads = [t for t in self._admin_threads if t.is_alive()] + [thread]
        thread.start()

    def _run(self) -> None:
        try:
            self._schedule_loop()
        except Exception as exc:  # e.g. a schedule that never occurs: say so, don't vanish
            log.error("timer %s stopped: %s: %s", self.spec.name, type(exc).__name__, exc)

    def _schedule_loop(self) -> None:
        now = _utcnow()
        status = self._read_status()
        missed = (
            status is not None
            and status.get("Next") is not None
            and (datetime.fromisoformat(status["Next"]) < now)
        )
        if status:
            self._last = datetime.fromisoformat(status["Last"]) if status.get("Last") else None
        if missed or self.run_on_startup:
            self._fire(bool(missed), "Timer fired on host startup" if not missed else "Past due")
        self._next = self.schedule.next_after(_utcnow())
        self._write_status()
        while self._wait_until(self._next):
            scheduled = self._next
            late = _utcnow() - scheduled
            self._fire(late > LATE_IS_PAST_DUE, f"Timer fired at {scheduled.isoformat()}")
            self._last = scheduled
            self._next = self.schedule.next_after(max(_utcnow(), scheduled))
            self._write_status()

    def _wait_until(self, when: datetime) -> bool:
        """Sleep in short slices against the wall clock (monotonic time stops in suspend)."""
        while not self._stopping.is_set():
            remaining = (when - _utcnow()).total_seconds()
            if remaining <= 0:
                return True
            self._stopping.wait(min(remaining, 5.0))
        return False

    def _fire(self, past_due: bool, reason: str) -> None:
        with self._lock:
            # The timer's JSON as the host sends it (the worker builds the TimerRequest from it).
            info = {
                "Schedule": {"AdjustForDST": False},
                "ScheduleStatus": {
                    "Last": _iso(self._last),
                    "Next": _iso(self._next),
                    "LastUpdated": _iso(_utcnow()),
                },
                "IsPastDue": past_due,
            }
            self._invoker.invoke(self.spec, Trigger(json_data(json.dumps(info))), reason)

    def _read_status(self) -> dict[str, Any] | None:
        if self._storage is None:
            return None
        try:
            blob = self._storage.get_blob_client(RECEIPTS_CONTAINER, self._status_blob)
            return json.loads(blob.download_blob().readall())
        except ResourceNotFoundError:
            return None
        except Exception as exc:
            log.warning("timer status for %s: %s: %s", self.spec.name, type(exc).__name__, exc)
            return None

    def _write_status(self) -> None:
        if self._storage is None:
            return
        status = {"Last": _iso(self._last), "Next": _iso(self._next), "LastUpdated": _iso(_utcnow())}
        try:
            blob = self._storage.get_blob_client(RECEIPTS_CONTAINER, self._status_blob)
            blob.upload_blob(json.dumps(status).encode(), overwrite=True)
        except Exception as exc:
            log.warning("timer status for %s: %s: %s", self.spec.name, type(exc).__name__, exc)
