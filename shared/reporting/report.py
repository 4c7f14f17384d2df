"""The status report: what ran, what was saved, what failed. Counts and file names only.

``build`` is pure: ledger entities in, a report dict out (its shape is the versioned JSON
Schema in ``shared/reporting/report.schema.json``). ``Reporter`` does the I/O: it reads the ledger,
keeps "reported up to" in the ledger's state partition (so a missed day is covered by the
next report, never lost) and writes every format under ``reports/YYYY/MM/DD/`` and as
``reports/latest.*``.

Run and chunk entities are written by the blob and queue stages, which grow new fields over
time; every field is read with a default so an older or newer entity never breaks a report.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

from shared.common import ledger as states
from shared.common.ledger import Ledger

SCHEMA = "ehr-ingest-report/1"
HISTORY_DAYS = 14
LOOKBACK = timedelta(days=HISTORY_DAYS)
STATE_KEY = "report"
DEFAULT_STALE_AFTER = timedelta(hours=26)

OK, WARNING, FAILED, NONE = "OK", "WARNING", "FAILED", "NONE"
DUPLICATE = states.DUPLICATE
POISONED = "poisoned"
IN_PROGRESS = (states.PLANNING, states.UPLOADING)
NO_CONNECTOR = "(none)"

CONTENT_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}

RunWithChunks = tuple[dict[str, Any], Sequence[dict[str, Any]]]


# one file ---------------------------------------------------------------------------------
def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _names(value: Any) -> list[str]:
    """A JSON list of column names kept in the ledger (names only, never values)."""
    try:
        names = json.loads(value) if value else []
    except (TypeError, ValueError):
        return []
    return [str(n) for n in names] if isinstance(names, list) else []


def _reasons_count(value: Any) -> dict[str, int]:
    """``skipped_by_reason`` is a JSON string in Table Storage (no nested values there)."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): _int(v) for k, v in sorted(value.items()) if _int(v)}


def _folder(blob_name: str) -> str:
    """A rejected run has no connector recorded: its folder names the connector it was meant for."""
    folder, sep, _ = blob_name.partition("/")
    return folder if sep and folder else NO_CONNECTOR


def _chunk_retries(chunk: dict[str, Any]) -> int:
    """Attempts beyond the first: queue redeliveries plus in-process retries."""
    return max(_int(chunk.get("attempts")) - 1, 0) + _int(chunk.get("retries"))


def file_entry(run: dict[str, Any], chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    received, completed = run.get("received_at"), run.get("completed_at")
    duration = (completed - received).total_seconds() if received and completed else None
    saved = _int(run.get("records_saved"))
    skipped = _int(run.get("rows_skipped"))
    # The blob stage records the valid rows as ``rows`` and every data row as ``rows_in_file``;
    # an entity from before validation has only ``rows`` (all of them valid).
    if run.get("rows_in_file") is not None:
        rows, valid = _int(run.get("rows_in_file")), _int(run.get("rows"))
    else:
        rows = _int(run.get("rows"))
        valid = rows - skipped
    if run.get("rows_valid") is not None:
        valid = _int(run.get("rows_valid"))
    filtered = _int(run.get("rows_filtered"))
    by_state = Counter(c.get("state", states.PENDING) for c in chunks)
    return {
        "run_id": run["RowKey"],
        "connector": run.get("connector") or _folder(run.get("blob", "")),
        "file_name": run.get("blob", ""),
        "received_at": _iso(received),
        "completed_at": _iso(completed),
        "status": run.get("status", ""),
        "size_bytes": _int(run.get("size")),
        "rows": rows,
        "rows_valid": valid,
        "records_saved": saved,
        "rows_skipped": skipped,
        "skipped_by_reason": _reasons_count(run.get("skipped_by_reason")),
        "rows_filtered": filtered,
        "filtered_by_event": _reasons_count(run.get("filtered_by_event")),
        "rows_sent": valid - filtered,
        "columns_dropped": _names(run.get("columns_dropped")),
        "duplicate_rows": _int(run.get("duplicate_rows")),
        "chunks": _int(run.get("chunks")),
        "chunks_uploaded": by_state[states.UPLOADED],
        "chunks_retried": sum(1 for c in chunks if _chunk_retries(c)),
        "chunks_failed": by_state[states.FAILED],
        "chunks_poisoned": by_state[POISONED],
        "chunks_pending": by_state[states.PENDING],
        "retries": sum(_chunk_retries(c) for c in chunks),
        "throttled": sum(_int(c.get("throttled")) for c in chunks),
        "duplicate_of": run.get("duplicate_of") or None,
        "reason_code": run.get("reason_code") or None,
        "reason": run.get("reason") or None,
        "quarantined": run.get("quarantined") or None,
        "validation_report": run.get("validation_report") or None,
        "duration_seconds": round(duration, 3) if duration is not None else None,
        "rows_per_second": round(saved / duration, 1) if duration and saved else None,
    }


def file_problems(f: dict[str, Any]) -> tuple[str, list[str]]:
    """A file's own status (OK / WARNING / FAILED) and the reasons, in an operator's words."""
    name = f["file_name"]
    failed, warnings = [], []
    if f["status"] == states.REJECTED:
        reason = f["reason"] or f["reason_code"] or "no reason recorded"
        reason = reason.removeprefix(f"{name}: ")  # the stage's reason often starts with the name
        failed.append(f"{name} rejected: {reason}")
    if f["status"] == DUPLICATE:
        warnings.append(f"{name} skipped: {f['reason'] or 'same content as run ' + str(f['duplicate_of'])}")
    if f["chunks_failed"] or f["chunks_poisoned"]:
        failed.append(
            f"{name}: {f['chunks_failed']} chunk(s) failed, {f['chunks_poisoned']} poisoned; "
            f"{f['records_saved']:,} of {f['rows_sent']:,} rows to send saved"
        )
    if f["status"] in IN_PROGRESS:
        warnings.append(
            f"{name} is still {f['status']} ({f['chunks_uploaded']} of {f['chunks']} chunks uploaded)"
        )
    if f["rows_skipped"]:
        detail = ", ".join(f"{r}: {n:,}" for r, n in sorted(f["skipped_by_reason"].items()))
        warnings.append(f"{name}: {f['rows_skipped']:,} row(s) skipped" + (f" ({detail})" if detail else ""))
    if f["status"] == states.COMPLETE and f["records_saved"] < f["rows_sent"] and not failed:
        warnings.append(f"{name}: {f['records_saved']:,} of {f['rows_sent']:,} rows to send saved")
    reasons = failed + warnings
    return (FAILED if failed else WARNING if warnings else OK), reasons


# the whole report ---------------------------------------------------------------------------
_COUNTS = (
    "rows",
    "rows_valid",
    "records_saved",
    "rows_skipped",
    "rows_filtered",
    "rows_sent",
    "duplicate_rows",
    "chunks",
    "chunks_uploaded",
    "chunks_retried",
    "chunks_failed",
    "chunks_poisoned",
    "retries",
    "throttled",
)


def _totals(files: Sequence[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {"files": len(files)}
    for key in _COUNTS:
        totals[key] = sum(f[key] for f in files)
    totals["duplicate_files"] = sum(f["status"] == DUPLICATE for f in files)
    totals["rejected_files"] = sum(f["status"] == states.REJECTED for f in files)
    skipped: Counter[str] = Counter()
    for f in files:
        skipped.update(f["skipped_by_reason"])
    totals["skipped_by_reason"] = dict(sorted(skipped.items()))
    saved, seconds = totals["records_saved"], sum(f["duration_seconds"] or 0 for f in files)
    totals["duration_seconds"] = round(seconds, 3)
    totals["rows_per_second"] = round(saved / seconds, 1) if seconds and saved else None
    return totals


def _worst(statuses: Iterable[str]) -> str:
    statuses = set(statuses)
    return FAILED if FAILED in statuses else WARNING if WARNING in statuses else OK


def build(
    runs: Iterable[RunWithChunks],
    period_from: datetime,
    period_to: datetime,
    connectors: Sequence[str] = (),
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    poison_queue_length: int | None = None,
) -> dict[str, Any]:
    """Pure: the report from the runs of the last ``HISTORY_DAYS`` days and their chunks.

    The period's files are those received in it, plus earlier ones that finished in it or are
    still open (an upload that spans the report time is reported twice rather than never).
    """
    everything: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for run, chunks in runs:
        entry = file_entry(run, chunks)
        entry["outcome"] = file_problems(entry)[0]
        everything.append((run, entry))
    files = []
    for run, entry in everything:
        received, done = run.get("received_at"), run.get("completed_at")
        if received is None or received > period_to:
            continue
        if received >= period_from or done is None or done >= period_from:
            files.append(entry)
    files.sort(key=lambda f: (f["received_at"] or "", f["file_name"]))

    reasons: list[str] = []
    statuses = []
    for f in files:
        status, why = file_problems(f)
        statuses.append(status)
        reasons.extend(why)

    names = list(dict.fromkeys([*connectors, *(f["connector"] for f in files)]))
    connector_rows = []
    for name in names:
        mine = [f for f in files if f["connector"] == name]
        last = max(
            (r["received_at"] for r, e in everything if e["connector"] == name and r.get("received_at")),
            default=None,
        )
        configured = name in connectors
        stale = configured and (last is None or period_to - last > stale_after)
        if stale:
            hours = stale_after.total_seconds() / 3600
            since = f"last file {_iso(last)}" if last else f"none in the last {HISTORY_DAYS} days"
            reasons.append(f"connector {name}: no export received in the last {hours:g} hours ({since})")
            statuses.append(WARNING)
        statuses_here = [file_problems(f)[0] for f in mine] + ([WARNING] if stale else [])
        connector_rows.append(
            {
                "name": name,
                "configured": configured,
                **_totals(mine),
                "status": _worst(statuses_here),
                "last_received_at": _iso(last),
                "stale": stale,
            }
        )

    if poison_queue_length:
        reasons.append(
            f"{poison_queue_length} message(s) in the poison queue: chunks that failed every retry"
        )
        statuses.append(WARNING)

    return {
        "schema": SCHEMA,
        "generated_at": _iso(period_to),
        "period": {"from": _iso(period_from), "to": _iso(period_to)},
        "status": _worst(statuses),
        "reasons": reasons,
        "stale_after_hours": round(stale_after.total_seconds() / 3600, 2),
        "poison_queue_length": poison_queue_length,
        "totals": _totals(files),
        "connectors": connector_rows,
        "files": files,
        "history": history([e for _, e in everything], period_to.date()),
    }


def history(entries: Sequence[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """The last ``HISTORY_DAYS`` days at a glance, newest first, by day of receipt (UTC)."""
    days = []
    for back in range(HISTORY_DAYS):
        day = today - timedelta(days=back)
        mine = [f for f in entries if (f["received_at"] or "")[:10] == day.isoformat()]
        totals = _totals(mine)
        days.append(
            {
                "date": day.isoformat(),
                "files": totals["files"],
                "rows": totals["rows"],
                "records_saved": totals["records_saved"],
                "rows_skipped": totals["rows_skipped"],
                "rejected_files": totals["rejected_files"],
                "duplicate_files": totals["duplicate_files"],
                "chunks_failed": totals["chunks_failed"] + totals["chunks_poisoned"],
                "status": _worst(file_problems(f)[0] for f in mine) if mine else NONE,
            }
        )
    return days


# I/O -----------------------------------------------------------------------------------------
@dataclass
class Reporter:
    ledger: Ledger
    container: ContainerClient
    connectors: Sequence[str] = ()
    stale_after: timedelta = DEFAULT_STALE_AFTER

    def collect(
        self, since: datetime, until: datetime, poison_queue_length: int | None = None
    ) -> dict[str, Any]:
        runs = [(run, self.ledger.chunks(run["RowKey"])) for run in self.ledger.runs(since=until - LOOKBACK)]
        return build(runs, since, until, self.connectors, self.stale_after, poison_queue_length)

    def since(self, until: datetime) -> datetime:
        """Where the next report starts: the end of the previous scheduled one."""
        state = self.ledger.get_state(STATE_KEY)
        return state["last_to"] if state and state.get("last_to") else until - timedelta(days=1)

    def preview(
        self, until: datetime | None = None, poison_queue_length: int | None = None
    ) -> dict[str, Any]:
        """An on-demand report since the last scheduled one; writes nothing, moves nothing."""
        until = until or states.now()
        return self.collect(self.since(until), until, poison_queue_length)

    def write(
        self, until: datetime | None = None, poison_queue_length: int | None = None
    ) -> tuple[dict[str, Any], str]:
        """The scheduled report: every format written, then "reported up to" moved forward."""
        from shared.reporting import report_formats

        until = until or states.now()
        report = self.collect(self.since(until), until, poison_queue_length)
        stem = f"{until:%Y/%m/%d}/status-{until:%H%M%S}"
        if not self.container.exists():
            self.container.create_container()
        # latest.json last: whoever sees it change (the HTTP function, `ehr-ingest report
        # --latest`) then finds the HTML and CSV of the same report, not the previous one's.
        for fmt, render in sorted(report_formats.RENDERERS.items(), key=lambda item: item[0] == "json"):
            body = render(report).encode("utf-8")
            settings = ContentSettings(content_type=CONTENT_TYPES[fmt])
            self.container.upload_blob(f"{stem}.{fmt}", body, overwrite=True, content_settings=settings)
            self.container.upload_blob(f"latest.{fmt}", body, overwrite=True, content_settings=settings)
        self.ledger.set_state(STATE_KEY, last_to=until, last_path=f"{stem}.json")
        return report, f"{stem}.json"

    def latest(self, fmt: str = "json") -> bytes | None:
        """The last scheduled report as written, or None before the first one."""
        try:
            return self.container.download_blob(f"latest.{fmt}").readall()
        except ResourceNotFoundError:
            return None


def _iso(value: datetime | None) -> str | None:
    if not value:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
