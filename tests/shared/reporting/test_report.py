"""Report content from a ledger of known runs: completes, failures, rejects, duplicates, stale."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from shared.common.entities import ChunkEntity, RunEntity
from shared.reporting.report import HISTORY_DAYS, SCHEMA, Report, build, file_entry

T = datetime(2026, 11, 23, 6, tzinfo=UTC)  # report time
SINCE = T - timedelta(days=1)


def run(rid, blob, status="complete", connector="generic", hours_ago=20.0, minutes=5.0, rows=0, **fields):
    """A run as the stages leave it; ``rows`` valid rows (all of the file's unless ``rows_in_file``)."""
    received = T - timedelta(hours=hours_ago)
    done = received + timedelta(minutes=minutes) if status not in ("planning", "uploading") else None
    fields.setdefault("rows_in_file", rows)
    return RunEntity(
        rid, status, blob=blob, connector=connector or "", received_at=received, completed_at=done,
        rows_valid=rows, **fields,
    )  # fmt: skip


def chunks(n, state="uploaded", rows=100, **fields):
    fields.setdefault("attempts", 1)
    return [ChunkEntity("x", i, start=i, end=i + 1, rows=rows, state=state, **fields) for i in range(n)]


def ledger():
    """A day in the life: what the report has to say about each kind of run."""
    return [
        # complete, 1000 rows in 10 chunks, one chunk retried twice and throttled once
        (
            run("r1", "generic/audit-2026-11-22.csv", rows=1000, records_saved=1000, chunks=10, minutes=2),
            chunks(9) + chunks(1, attempts=3, throttled=1),
        ),
        # complete with skipped rows (the blob stage's validation fields)
        (
            run(
                "r2",
                "epic/epic-2026-11-22.txt",
                connector="epic",
                rows=497,
                rows_in_file=500,
                rows_skipped=3,
                duplicate_rows=4,
                skipped_by_reason={"missing-timestamp": 2, "bad-date": 1},
                records_saved=497,
                chunks=5,
            ),
            chunks(5, rows=100),
        ),
        # rejected
        (
            run(
                "r3",
                "generic/<script>alert(1)</script>.csv",
                connector=None,
                status="rejected",
                minutes=0,
                reason_code="missing-columns",
                quarantined="generic/<script>alert(1)</script>.csv",
                reason="generic/<script>alert(1)</script>.csv: missing mandatory column 'Event Name'",
            ),
            [],
        ),
        # duplicate content of r1
        (run("r4", "generic/audit-2026-11-22 (copy).csv", status="duplicate", duplicate_of="r1"), []),
        # uploads with a failed and a poisoned chunk
        (
            run("r5", "generic/audit-big.csv", status="uploading", rows=300, chunks=3),
            chunks(1)
            + chunks(1, state="failed", attempts=5)
            + chunks(1, state="failed", attempts=5, poisoned=True),
        ),
        # last week's: history only
        (
            run(
                "r6",
                "epic/epic-2026-11-16.txt",
                connector="epic",
                hours_ago=24 * 7,
                rows=50,
                records_saved=50,
                chunks=1,
            ),
            chunks(1, rows=50),
        ),
    ]


def typed_report(**kwargs) -> Report:
    args = {"connectors": ["generic", "epic"], "poison_queue_length": 1, **kwargs}
    return build(ledger(), SINCE, T, **args)


def report(**kwargs):
    """The report in its JSON form."""
    return typed_report(**kwargs).to_dict()


def test_files_in_the_period_with_their_counts():
    r = report()
    assert r["schema"] == SCHEMA
    assert r["period"] == {"from": "2026-11-22T06:00:00Z", "to": "2026-11-23T06:00:00Z"}
    files = {f["run_id"]: f for f in r["files"]}
    assert set(files) == {"r1", "r2", "r3", "r4", "r5"}  # r6 is a week old
    r1 = files["r1"]
    assert (r1["rows"], r1["rows_valid"], r1["records_saved"]) == (1000, 1000, 1000)
    assert (r1["chunks"], r1["chunks_uploaded"], r1["chunks_retried"]) == (10, 10, 1)
    assert (r1["retries"], r1["throttled"]) == (2, 1)
    assert r1["duration_seconds"] == 120.0 and r1["rows_per_second"] == 8.3
    assert r1["outcome"] == "OK"
    r2 = files["r2"]
    assert r2["rows_skipped"] == 3 and r2["skipped_by_reason"] == {"bad-date": 1, "missing-timestamp": 2}
    assert (r2["rows"], r2["rows_valid"], r2["duplicate_rows"]) == (500, 497, 4)
    assert r2["outcome"] == "WARNING"
    assert files["r3"]["reason_code"] == "missing-columns" and files["r3"]["outcome"] == "FAILED"
    assert files["r3"]["quarantined"] == "generic/<script>alert(1)</script>.csv"
    assert files["r4"]["duplicate_of"] == "r1" and files["r4"]["outcome"] == "WARNING"
    r5 = files["r5"]
    assert (r5["chunks_uploaded"], r5["chunks_failed"], r5["chunks_poisoned"]) == (1, 1, 1)
    assert r5["duration_seconds"] is None and r5["outcome"] == "FAILED"


def test_overall_status_is_failed_with_every_reason():
    r = report()
    assert r["status"] == "FAILED"
    text = "\n".join(r["reasons"])
    assert "<script>alert(1)</script>.csv rejected: missing mandatory column 'Event Name'" in text
    assert "audit-big.csv: 1 chunk(s) failed, 1 poisoned" in text
    assert "audit-big.csv is still uploading (1 of 3 chunks uploaded)" in text
    assert "epic-2026-11-22.txt: 3 row(s) skipped: 1 bad-date; 2 missing-timestamp" in text
    assert "1 message(s) in the poison queue" in text
    assert "audit-2026-11-22 (copy).csv skipped: same content as run r1" in text
    assert "stale" not in text and "no export" not in text  # both connectors sent a file


def test_totals_and_connectors():
    r = report()
    t = r["totals"]
    assert t["files"] == 5 and t["rejected_files"] == 1 and t["duplicate_files"] == 1
    assert t["records_saved"] == 1497 and t["rows_skipped"] == 3
    assert t["chunks_failed"] == 1 and t["chunks_poisoned"] == 1
    assert t["skipped_by_reason"] == {"bad-date": 1, "missing-timestamp": 2}
    by_name = {c["name"]: c for c in r["connectors"]}
    assert [c["name"] for c in r["connectors"]] == ["generic", "epic"]
    assert by_name["generic"]["status"] == "FAILED" and by_name["generic"]["files"] == 4
    assert by_name["epic"]["status"] == "WARNING" and by_name["epic"]["records_saved"] == 497
    assert by_name["epic"]["last_received_at"] == "2026-11-22T10:00:00Z"


def test_a_connector_without_a_file_in_26_hours_is_stale():
    runs = [(run("a", "generic/a.csv", rows=1, records_saved=1, chunks=1), chunks(1, rows=1))]
    runs.append((run("b", "epic/b.txt", connector="epic", hours_ago=30, rows=1, records_saved=1, chunks=1),
                 chunks(1, rows=1)))  # fmt: skip
    r = build(runs, SINCE, T, connectors=["generic", "epic", "spare"]).to_dict()
    assert r["status"] == "WARNING"
    stale = {c["name"]: c["stale"] for c in r["connectors"]}
    assert stale == {"generic": False, "epic": True, "spare": True}
    assert any("connector epic: no export received in the last 26 hours" in x for x in r["reasons"])
    assert any("connector spare" in x and "none in the last 14 days" in x for x in r["reasons"])
    # the window is a setting
    r = build(runs, SINCE, T, connectors=["epic"], stale_after=timedelta(hours=48)).to_dict()
    assert r["status"] == "OK" and r["reasons"] == []


def test_everything_fine_is_ok():
    runs = [(run("a", "generic/a.csv", rows=100, records_saved=100, chunks=1), chunks(1))]
    r = build(runs, SINCE, T, connectors=["generic"], poison_queue_length=0).to_dict()
    assert r["status"] == "OK" and r["reasons"] == []


def test_a_run_open_before_the_period_and_one_finished_in_it_are_reported():
    old_open = run("o", "generic/o.csv", status="uploading", hours_ago=40, chunks=1)
    old_done = run("d", "generic/d.csv", hours_ago=25, minutes=120, rows=1, records_saved=1, chunks=1)
    old_closed = run("c", "generic/c.csv", hours_ago=30, minutes=1, rows=1, records_saved=1, chunks=1)
    r = build(
        [(old_open, chunks(1, state="pending")), (old_done, chunks(1)), (old_closed, chunks(1))], SINCE, T
    ).to_dict()
    assert {f["run_id"] for f in r["files"]} == {"o", "d"}


def test_fourteen_days_at_a_glance():
    h = report()["history"]
    assert len(h) == HISTORY_DAYS and h[0]["date"] == "2026-11-23" and h[-1]["date"] == "2026-11-10"
    day = {d["date"]: d for d in h}
    assert day["2026-11-22"]["files"] == 5 and day["2026-11-22"]["status"] == "FAILED"
    assert day["2026-11-16"]["files"] == 1 and day["2026-11-16"]["status"] == "OK"
    assert day["2026-11-15"]["status"] == "NONE" and day["2026-11-15"]["files"] == 0


def test_entities_missing_newer_fields_still_report():
    """Older or partial entities (no rows_valid, chunk states unknown) never break a report."""
    stored_chunk = {
        "PartitionKey": "x",
        "RowKey": "chunk-000000",
        "index": 0,
        "start": 0,
        "end": 1,
        "rows": 1,
    }
    entry = entry_of({"RowKey": "x", "status": "planning", "received_at": T}, [stored_chunk])
    assert entry["rows"] == 0 and entry["chunks_pending"] == 1 and entry["connector"] == "(none)"
    # a rejected run has no connector recorded: its folder says which one it was meant for
    assert entry_of({"RowKey": "z", "blob": "nobody/stray.csv"})["connector"] == "nobody"
    assert entry_of({"RowKey": "y", "skipped_by_reason": "not json"})["skipped_by_reason"] == {}


def entry_of(stored_run, stored_chunks=()):
    """The report's entry for a run and its chunks as Table Storage holds them."""
    chunks = [ChunkEntity.from_entity(c) for c in stored_chunks]
    return asdict(file_entry(RunEntity.from_entity(stored_run), chunks))


def test_hr_freshness_sets_the_status_and_coverage_is_shown_in_every_format():
    from shared.reporting import report_formats
    from shared.reporting.coverage import Coverage
    from shared.reporting.freshness import freshness
    from shared.reporting.model import Report as ReportModel
    from shared.reporting.report import PolicyFeeds

    profiles = run("h1", "hr/profiles.csv", connector="hr", hours_ago=24 * 16, rows=750, records_saved=750)
    lines = freshness([profiles], ["hr"], T)
    coverage = Coverage(7, 1204, 1167, 12, 1180, 7, 1, 0, 0)
    report = build([], SINCE, T, ["hr"], feeds=PolicyFeeds(lines, coverage))
    assert report.status == "WARNING"
    assert any(
        r.startswith("connector hr: employee profiles last uploaded 16.0 days ago") for r in report.reasons
    )
    line = (
        "1,167 of 1,204 employees who opened records in the last 7 days have an HR profile; 37 do not: "
        "their access to family and neighbours' records cannot be matched"
    )
    as_json = report.to_dict()
    assert as_json["coverage"]["line"] == line and as_json["freshness"][0]["status"] == "WARNING"
    assert ReportModel.from_dict(as_json) == report
    assert line in report_formats.to_text(report)
    assert "hr: WARNING, last upload" in report_formats.to_text(report)
    html = report_formats.to_html(report)
    assert "Employee profiles" in html and "37 do not" in html
    assert "12 more logins have no @" in report_formats.to_text(report)


def test_without_an_hr_connector_the_report_has_no_feed_lines():
    report = build([], SINCE, T, ["generic"])
    assert report.freshness == [] and report.coverage is None
    assert report.to_dict()["coverage"] is None
