"""How fresh each HR connector's employee profiles are in Purview: days since the last upload.

Purview deletes employee profiles that are not refreshed within 30 days (Microsoft's HR
connector page; it recommends a refresh every 15 to 20 days), and the healthcare policy then
matches no employee address, with no error anywhere. So the daily report warns at
``HR_REFRESH_WARN_DAYS`` and fails at ``HR_REFRESH_FAIL_DAYS`` without a successful upload:
a run that completed with rows saved. Pure: ledger runs in, one verdict per connector out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.common import ledger as states
from shared.common.entities import RunEntity
from shared.common.settings import Settings

PURVIEW_KEEPS_DAYS = 30
LOOKBACK = timedelta(days=PURVIEW_KEEPS_DAYS + 1)
"""Runs read for freshness: past this, profiles uploaded then are gone from Purview anyway."""
OK, WARNING, FAILED = "OK", "WARNING", "FAILED"


@dataclass(frozen=True)
class Freshness:
    """One HR connector's line of the report (its JSON form is these fields)."""

    connector: str
    last_upload_at: str | None
    """When the last successful upload completed (ISO 8601, UTC); None if none within ``LOOKBACK``."""
    days_since_upload: float | None
    status: str
    reason: str
    """An operator's sentence; empty when OK."""


def last_uploads(runs: Iterable[RunEntity], connectors: Sequence[str]) -> dict[str, datetime]:
    """The completion time of each connector's latest run that saved rows."""
    last: dict[str, datetime] = {}
    for run in runs:
        name, done = run.connector, run.completed_at
        if name in connectors and run.status == states.COMPLETE and done and run.records_saved > 0:
            last[name] = max(done, last.get(name, done))
    return last


def judge(
    connector: str, last: datetime | None, now: datetime, warn_days: float, fail_days: float
) -> Freshness:
    if last is None:
        reason = (
            f"connector {connector}: no employee profiles uploaded in the last {LOOKBACK.days} days; "
            f"Purview deletes profiles not refreshed within {PURVIEW_KEEPS_DAYS} days, so the "
            "healthcare policy may have none: drop an HR export"
        )
        return Freshness(connector, None, None, FAILED, reason)
    days = (now - last).total_seconds() / 86400
    at = last.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if days < warn_days:
        return Freshness(connector, at, round(days, 2), OK, "")
    status = FAILED if days >= fail_days else WARNING
    left = max(PURVIEW_KEEPS_DAYS - days, 0)
    reason = (
        f"connector {connector}: employee profiles last uploaded {days:.1f} days ago "
        f"({last:%Y-%m-%d %H:%M} UTC); Purview deletes profiles not refreshed within "
        f"{PURVIEW_KEEPS_DAYS} days ({left:.1f} days left): drop a fresh HR export"
    )
    return Freshness(connector, at, round(days, 2), status, reason)


def freshness(
    runs: Iterable[RunEntity],
    connectors: Sequence[str],
    now: datetime,
    warn_days: float = 15,
    fail_days: float = 25,
) -> list[Freshness]:
    """One verdict per HR connector, from the runs of the last ``LOOKBACK``."""
    last = last_uploads(runs, connectors)
    return [judge(name, last.get(name), now, warn_days, fail_days) for name in connectors]


def refresh_days(settings: Settings) -> tuple[float, float]:
    """(warn, fail) from the settings; the fail threshold is never below the warning one."""
    warn, fail = float(settings["HR_REFRESH_WARN_DAYS"]), float(settings["HR_REFRESH_FAIL_DAYS"])
    if not 0 < warn <= fail:
        raise ValueError("HR_REFRESH_WARN_DAYS must be above 0 and at most HR_REFRESH_FAIL_DAYS")
    return warn, fail
