from datetime import UTC, datetime, timedelta

import pytest

from shared.common import ledger as states
from shared.common.entities import RunEntity
from shared.common.settings import Settings
from shared.reporting.freshness import FAILED, OK, WARNING, Freshness, freshness, refresh_days

NOW = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)


def run(connector: str, days_ago: float, status: str = states.COMPLETE, saved: int = 750) -> RunEntity:
    done = NOW - timedelta(days=days_ago)
    return RunEntity(f"r{days_ago}", status, connector=connector, records_saved=saved, completed_at=done)


@pytest.mark.parametrize(
    ("days", "status"), [(3, OK), (14.9, OK), (15, WARNING), (24.9, WARNING), (25, FAILED)]
)
def test_warn_at_15_days_fail_at_25(days, status):
    (verdict,) = freshness([run("hr", days), run("hr", 40)], ["hr"], NOW)
    assert verdict.status == status and verdict.days_since_upload == pytest.approx(days)
    if status != OK:
        assert "Purview deletes profiles not refreshed within 30 days" in verdict.reason


def test_only_completed_runs_that_saved_rows_and_of_that_connector_count():
    runs = [
        run("hr", 2, status=states.REJECTED),
        run("hr", 3, status=states.DUPLICATE),
        run("hr", 4, saved=0),
        run("generic", 1),
        run("hr", 20),
    ]
    (verdict,) = freshness(runs, ["hr"], NOW)
    assert verdict.status == WARNING and verdict.days_since_upload == 20


def test_no_upload_at_all_fails_and_says_so():
    (verdict,) = freshness([], ["hr"], NOW)
    assert verdict == Freshness("hr", None, None, FAILED, verdict.reason)
    assert "no employee profiles uploaded in the last 31 days" in verdict.reason


def test_thresholds_come_from_the_settings_and_must_be_ordered():
    assert refresh_days(Settings({})) == (15, 25)
    assert refresh_days(Settings({"HR_REFRESH_WARN_DAYS": "10", "HR_REFRESH_FAIL_DAYS": "20"})) == (10, 20)
    with pytest.raises(ValueError, match="at most HR_REFRESH_FAIL_DAYS"):
        refresh_days(Settings({"HR_REFRESH_WARN_DAYS": "26"}))
