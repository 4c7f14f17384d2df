from datetime import UTC, datetime, timedelta

from shared.report import SCHEMA, build

T0 = datetime(2026, 11, 22, 6, tzinfo=UTC)


def entry(name, status="complete", rows=10, saved=10, failed=0, reason=""):
    return {
        "run_id": name, "connector": "generic", "file_name": name, "received_at": "2026-11-22T07:00:00Z",
        "completed_at": None, "status": status, "rows": rows, "records_saved": saved, "chunks": 1,
        "chunks_uploaded": 1 - failed, "chunks_failed": failed, "chunk_attempts": 1, "reason": reason,
        "duration_seconds": None, "rows_per_second": None,
    }  # fmt: skip


def test_all_complete_is_ok():
    report = build([entry("a.csv"), entry("b.csv", rows=5, saved=5)], T0, T0 + timedelta(days=1))
    assert report["schema"] == SCHEMA and report["status"] == "OK" and report["reasons"] == []
    assert report["totals"]["records_saved"] == 15 and report["connectors"]["generic"]["files"] == 2


def test_rejected_or_failed_is_failed_with_reasons():
    files = [
        entry("a.csv", status="rejected", rows=0, saved=0, reason="bad header"),
        entry("b.csv", failed=1),
    ]
    report = build(files, T0, T0)
    assert report["status"] == "FAILED"
    assert report["reasons"] == ["a.csv rejected: bad header", "b.csv: 1 chunk(s) failed"]


def test_unfinished_is_warning():
    assert build([entry("a.csv", status="uploading")], T0, T0)["status"] == "WARNING"


def test_duplicate_content_is_a_warning_with_its_reason():
    report = build([entry("b.csv", status="duplicate", saved=0, reason="same content as a.csv")], T0, T0)
    assert report["status"] == "WARNING" and report["reasons"] == ["b.csv skipped: same content as a.csv"]
