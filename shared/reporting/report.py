"""The status report: what ran, what was saved, what failed. Counts and file names only.

``build`` is pure: ledger entities in, a ``Report`` out (``shared.reporting.model``; its
JSON form is the versioned schema in ``shared/reporting/report.schema.json``). ``Reporter``
does the I/O: it reads the ledger, keeps "reported up to" in the ledger's state partition
(so a missed day is covered by the next report, never lost) and writes every format under
``reports/YYYY/MM/DD/`` and as ``reports/latest.*``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

from shared.common import ledger as states
from shared.common.entities import ChunkEntity, RunEntity
from shared.common.ledger import Ledger
from shared.common.reasons import row_hint
from shared.reporting.coverage import Coverage, CoverageSource
from shared.reporting.freshness import LOOKBACK as FRESHNESS_LOOKBACK
from shared.reporting.freshness import Freshness, freshness
from shared.reporting.model import (
    FAILED,
    NONE,
    OK,
    SCHEMA,
    WARNING,
    ConnectorEntry,
    Day,
    FileEntry,
    Report,
    Totals,
)

__all__ = ["SCHEMA", "Report", "Reporter", "build", "file_entry"]

HISTORY_DAYS = 14
LOOKBACK = timedelta(days=HISTORY_DAYS)
STATE_KEY = "report"
DEFAULT_STALE_AFTER = timedelta(hours=26)

DUPLICATE = states.DUPLICATE
IN_PROGRESS = (states.PLANNING, states.UPLOADING)
NO_CONNECTOR = "(none)"

CONTENT_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}

RunWithChunks = tuple[RunEntity, Sequence[ChunkEntity]]


# one file ---------------------------------------------------------------------------------
def _folder(blob_name: str) -> str:
    """A rejected run has no connector recorded: its folder names the connector it was meant for."""
    folder, sep, _ = blob_name.partition("/")
    return folder if sep and folder else NO_CONNECTOR


def _retries(chunk: ChunkEntity) -> int:
    """POSTs beyond the first, over every delivery of the chunk's message."""
    return max(chunk.attempts - 1, 0)


def file_entry(run: RunEntity, chunks: Sequence[ChunkEntity]) -> FileEntry:
    received, completed = run.received_at, run.completed_at
    duration = (completed - received).total_seconds() if received and completed else None
    saved = run.records_saved
    by_state = Counter(c.state for c in chunks)
    poisoned = sum(c.state == states.FAILED and c.poisoned for c in chunks)
    entry = FileEntry(
        run_id=run.run_id,
        connector=run.connector or _folder(run.blob),
        file_name=run.blob,
        received_at=_iso(received),
        completed_at=_iso(completed),
        status=run.status,
        size_bytes=run.size,
        rows=run.rows_in_file,
        rows_valid=run.rows_valid,
        records_saved=saved,
        rows_skipped=run.rows_skipped,
        skipped_by_reason=_counts(run.skipped_by_reason),
        rows_filtered=run.rows_filtered,
        filtered_by_event=_counts(run.filtered_by_event),
        rows_sent=run.rows_valid - run.rows_filtered,
        columns_dropped=list(run.columns_dropped),
        duplicate_rows=run.duplicate_rows,
        chunks=run.chunks,
        chunks_uploaded=by_state[states.UPLOADED],
        chunks_retried=sum(1 for c in chunks if _retries(c)),
        chunks_failed=by_state[states.FAILED] - poisoned,
        chunks_poisoned=poisoned,
        chunks_pending=by_state[states.PENDING],
        retries=sum(_retries(c) for c in chunks),
        throttled=sum(c.throttled for c in chunks),
        duplicate_of=run.duplicate_of or None,
        reason_code=run.reason_code or None,
        reason=run.reason or None,
        quarantined=run.quarantined or None,
        validation_report=run.validation_report or None,
        duration_seconds=round(duration, 3) if duration is not None else None,
        rows_per_second=round(saved / duration, 1) if duration and saved else None,
    )
    return replace(entry, outcome=file_problems(entry)[0])


def _counts(by_reason: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sorted(by_reason.items()) if v}


def file_problems(f: FileEntry) -> tuple[str, list[str]]:
    """A file's own status (OK / WARNING / FAILED) and the reasons, in an operator's words."""
    name = f.file_name
    failed, warnings = [], []
    if f.status == states.REJECTED:
        reason = f.reason or f.reason_code or "no reason recorded"
        reason = reason.removeprefix(f"{name}: ")  # the stage's reason often starts with the name
        failed.append(f"{name} rejected: {reason}")
    if f.status == DUPLICATE:
        warnings.append(f"{name} skipped: {f.reason or 'same content as run ' + str(f.duplicate_of)}")
    if f.chunks_failed or f.chunks_poisoned:
        failed.append(
            f"{name}: {f.chunks_failed} chunk(s) failed, {f.chunks_poisoned} poisoned; "
            f"{f.records_saved:,} of {f.rows_sent:,} rows to send saved"
        )
    if f.status in IN_PROGRESS:
        warnings.append(f"{name} is still {f.status} ({f.chunks_uploaded} of {f.chunks} chunks uploaded)")
    if f.rows_skipped:
        detail = "; ".join(f"{n:,} {row_hint(r)}" for r, n in sorted(f.skipped_by_reason.items()))
        where = f"; row numbers in {f.validation_report}" if f.validation_report else ""
        skipped = f"{name}: {f.rows_skipped:,} row(s) skipped"
        warnings.append(skipped + (f": {detail}" if detail else "") + where)
    if f.status == states.COMPLETE and f.records_saved < f.rows_sent and not failed:
        warnings.append(f"{name}: {f.records_saved:,} of {f.rows_sent:,} rows to send saved")
    reasons = failed + warnings
    return (FAILED if failed else WARNING if warnings else OK), reasons


# the whole report ---------------------------------------------------------------------------
def totals(files: Sequence[FileEntry]) -> Totals:
    skipped: Counter[str] = Counter()
    for f in files:
        skipped.update(f.skipped_by_reason)
    saved, seconds = sum(f.records_saved for f in files), sum(f.duration_seconds or 0 for f in files)
    return Totals(
        files=len(files),
        rows=sum(f.rows for f in files),
        rows_valid=sum(f.rows_valid for f in files),
        records_saved=saved,
        rows_skipped=sum(f.rows_skipped for f in files),
        rows_filtered=sum(f.rows_filtered for f in files),
        rows_sent=sum(f.rows_sent for f in files),
        duplicate_rows=sum(f.duplicate_rows for f in files),
        chunks=sum(f.chunks for f in files),
        chunks_uploaded=sum(f.chunks_uploaded for f in files),
        chunks_retried=sum(f.chunks_retried for f in files),
        chunks_failed=sum(f.chunks_failed for f in files),
        chunks_poisoned=sum(f.chunks_poisoned for f in files),
        retries=sum(f.retries for f in files),
        throttled=sum(f.throttled for f in files),
        duplicate_files=sum(f.status == DUPLICATE for f in files),
        rejected_files=sum(f.status == states.REJECTED for f in files),
        skipped_by_reason=dict(sorted(skipped.items())),
        duration_seconds=round(seconds, 3),
        rows_per_second=round(saved / seconds, 1) if seconds and saved else None,
    )


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
    feeds: PolicyFeeds | None = None,
    quarantine_container: str = "quarantine",
) -> Report:
    """Pure: the report from the runs of the last ``HISTORY_DAYS`` days and their chunks, and
    with an hr connector the freshness of its profiles and the coverage of them (``feeds``)."""
    everything = [(run, file_entry(run, chunks)) for run, chunks in runs]
    files = _in_period(everything, period_from, period_to)
    reasons = [reason for f in files for reason in file_problems(f)[1]]
    statuses = [f.outcome for f in files]
    per_connector = _connectors(everything, files, connectors, period_to, stale_after)
    for c in per_connector:
        if c.stale:
            reasons.append(_stale_reason(c.name, c.last_received_at, stale_after))
            statuses.append(WARNING)
    if poison_queue_length:
        reasons.append(
            f"{poison_queue_length} message(s) in the poison queue: chunks that failed every retry"
        )
        statuses.append(WARNING)
    feeds = feeds or PolicyFeeds()
    for line in feeds.freshness:
        if line.status != OK:
            reasons.append(line.reason)
            statuses.append(line.status)
    return Report(
        generated_at=_iso(period_to),
        period_from=_iso(period_from),
        period_to=_iso(period_to),
        status=_worst(statuses),
        reasons=reasons,
        stale_after_hours=round(stale_after.total_seconds() / 3600, 2),
        poison_queue_length=poison_queue_length,
        totals=totals(files),
        connectors=per_connector,
        files=files,
        history=history([e for _, e in everything], period_to.date()),
        freshness=list(feeds.freshness),
        coverage=feeds.coverage,
        quarantine_container=quarantine_container,
    )


def _in_period(
    everything: Sequence[tuple[RunEntity, FileEntry]], period_from: datetime, period_to: datetime
) -> list[FileEntry]:
    """Files received in the period, plus earlier ones that finished in it or are still open
    (an upload that spans the report time is reported twice rather than never)."""
    files = []
    for run, entry in everything:
        received, done = run.received_at, run.completed_at
        if received is None or received > period_to:
            continue
        if received >= period_from or done is None or done >= period_from:
            files.append(entry)
    return sorted(files, key=lambda f: (f.received_at or "", f.file_name))


def _connectors(
    everything: Sequence[tuple[RunEntity, FileEntry]],
    files: Sequence[FileEntry],
    configured: Sequence[str],
    period_to: datetime,
    stale_after: timedelta,
) -> list[ConnectorEntry]:
    """Every configured connector (a silent one is stale) and any other a file named."""
    rows = []
    for name in dict.fromkeys([*configured, *(f.connector for f in files)]):
        mine = [f for f in files if f.connector == name]
        last = max(
            (r.received_at for r, e in everything if e.connector == name and r.received_at), default=None
        )
        stale = name in configured and (last is None or period_to - last > stale_after)
        status = _worst([f.outcome for f in mine] + ([WARNING] if stale else []))
        rows.append(ConnectorEntry(name, name in configured, totals(mine), status, _iso(last), stale))
    return rows


def _stale_reason(name: str, last: str | None, stale_after: timedelta) -> str:
    hours = stale_after.total_seconds() / 3600
    since = f"last file {last}" if last else f"none in the last {HISTORY_DAYS} days"
    return f"connector {name}: no export received in the last {hours:g} hours ({since})"


def history(entries: Sequence[FileEntry], today: date) -> list[Day]:
    """The last ``HISTORY_DAYS`` days at a glance, newest first, by day of receipt (UTC)."""
    days = []
    for back in range(HISTORY_DAYS):
        day = today - timedelta(days=back)
        mine = [f for f in entries if (f.received_at or "")[:10] == day.isoformat()]
        t = totals(mine)
        days.append(
            Day(
                date=day.isoformat(),
                files=t.files,
                rows=t.rows,
                records_saved=t.records_saved,
                rows_skipped=t.rows_skipped,
                rejected_files=t.rejected_files,
                duplicate_files=t.duplicate_files,
                chunks_failed=t.chunks_failed + t.chunks_poisoned,
                status=_worst(f.outcome for f in mine) if mine else NONE,
            )
        )
    return days


@dataclass(frozen=True)
class PolicyFeeds:
    """The healthcare policy's second feed, as the report sees it (README, the two feeds)."""

    freshness: Sequence[Freshness] = ()
    coverage: Coverage | None = None


# I/O -----------------------------------------------------------------------------------------
@dataclass
class Reporter:
    ledger: Ledger
    container: ContainerClient
    connectors: Sequence[str] = ()
    stale_after: timedelta = DEFAULT_STALE_AFTER
    hr_connectors: Sequence[str] = ()
    """Connectors of kind ``hr``: each gets a freshness line."""
    refresh_days: tuple[float, float] = (15, 25)
    """``HR_REFRESH_WARN_DAYS`` and ``HR_REFRESH_FAIL_DAYS``."""
    coverage: CoverageSource | None = None
    quarantine_container: str = "quarantine"

    def collect(self, since: datetime, until: datetime, poison_queue_length: int | None = None) -> Report:
        reach = FRESHNESS_LOOKBACK if self.hr_connectors else LOOKBACK
        every = self.ledger.runs(since=until - reach)
        recent = [r for r in every if r.received_at is None or r.received_at >= until - LOOKBACK]
        runs = [(run, self.ledger.chunks(run.run_id)) for run in recent]
        return build(
            runs,
            since,
            until,
            self.connectors,
            self.stale_after,
            poison_queue_length,
            feeds=self.feeds(every, until),
            quarantine_container=self.quarantine_container,
        )

    def feeds(self, runs: Sequence[RunEntity], until: datetime) -> PolicyFeeds:
        """Freshness from the last 31 days of runs; coverage from the stored hash sets."""
        if not self.hr_connectors:
            return PolicyFeeds()
        warn, fail = self.refresh_days
        lines = freshness(runs, self.hr_connectors, until, warn, fail)
        measured = self.coverage.measure({r.run_id: r for r in runs}, until) if self.coverage else None
        return PolicyFeeds(lines, measured)

    def since(self, until: datetime) -> datetime:
        """Where the next report starts: the end of the previous scheduled one."""
        return self.ledger.reported_up_to(STATE_KEY) or until - timedelta(days=1)

    def preview(self, until: datetime | None = None, poison_queue_length: int | None = None) -> Report:
        """An on-demand report since the last scheduled one; writes nothing, moves nothing."""
        until = until or states.now()
        return self.collect(self.since(until), until, poison_queue_length)

    def write(
        self, until: datetime | None = None, poison_queue_length: int | None = None
    ) -> tuple[Report, str]:
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
        self.ledger.report_written(STATE_KEY, until, f"{stem}.json")
        return report, f"{stem}.json"

    def latest(self, fmt: str = "json") -> bytes | None:
        """The last scheduled report as written, or None before the first one."""
        try:
            return self.container.download_blob(f"latest.{fmt}", decompress=False).readall()
        except ResourceNotFoundError:
            return None


def _iso(value: datetime | None) -> str | None:
    if not value:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
