"""The status report: what ran, what was saved, what failed. Counts and file names only."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.storage.blob import ContainerClient, ContentSettings

from shared import ledger as states
from shared.ledger import Ledger

SCHEMA = "ehr-ingest-report/1"
LOOKBACK = timedelta(days=14)
STATE_KEY = "report"


def file_entry(run: dict[str, Any], chunks: list[dict[str, Any]]) -> dict[str, Any]:
    received, completed = run.get("received_at"), run.get("completed_at")
    duration = (completed - received).total_seconds() if received and completed else None
    saved = run.get("records_saved", 0) or 0
    return {
        "run_id": run["RowKey"],
        "connector": run.get("connector", ""),
        "file_name": run.get("blob", ""),
        "received_at": _iso(received),
        "completed_at": _iso(completed),
        "status": run.get("status", ""),
        "rows": run.get("rows", 0) or 0,
        "records_saved": saved,
        "chunks": run.get("chunks", 0) or 0,
        "chunks_uploaded": sum(1 for c in chunks if c["state"] == states.UPLOADED),
        "chunks_failed": sum(1 for c in chunks if c["state"] == states.FAILED),
        "chunk_attempts": sum(c.get("attempts", 0) or 0 for c in chunks),
        "reason": run.get("reason", ""),
        "duration_seconds": round(duration, 3) if duration is not None else None,
        "rows_per_second": round(saved / duration, 1) if duration and saved else None,
    }


def build(files: Iterable[dict[str, Any]], period_from: datetime, period_to: datetime) -> dict[str, Any]:
    """Pure: the report from file entries. Overall status is the worst of the files'."""
    files = sorted(files, key=lambda f: f["received_at"] or "")
    reasons: list[str] = []
    for f in files:
        if f["status"] == states.REJECTED:
            reasons.append(f"{f['file_name']} rejected: {f['reason']}")
        elif f["status"] == states.DUPLICATE:
            reasons.append(f"{f['file_name']} skipped: {f['reason']}")
        elif f["chunks_failed"]:
            reasons.append(f"{f['file_name']}: {f['chunks_failed']} chunk(s) failed")
        elif f["status"] != states.COMPLETE:
            reasons.append(f"{f['file_name']} is still {f['status']}")
    failed = any(f["status"] == states.REJECTED or f["chunks_failed"] for f in files)
    status = "FAILED" if failed else ("WARNING" if reasons else "OK")
    connectors: dict[str, dict[str, int]] = {}
    for f in files:
        c = connectors.setdefault(
            f["connector"] or "(none)", {"files": 0, "rows": 0, "records_saved": 0, "rejected_files": 0}
        )
        c["files"] += 1
        c["rows"] += f["rows"]
        c["records_saved"] += f["records_saved"]
        c["rejected_files"] += f["status"] == states.REJECTED
    return {
        "schema": SCHEMA,
        "generated_at": _iso(period_to),
        "period": {"from": _iso(period_from), "to": _iso(period_to)},
        "status": status,
        "reasons": reasons,
        "totals": {
            "files": len(files),
            "rows": sum(f["rows"] for f in files),
            "records_saved": sum(f["records_saved"] for f in files),
            "rejected_files": sum(f["status"] == states.REJECTED for f in files),
            "failed_chunks": sum(f["chunks_failed"] for f in files),
        },
        "connectors": connectors,
        "files": files,
    }


@dataclass
class Reporter:
    ledger: Ledger
    container: ContainerClient

    def collect(self, since: datetime, until: datetime) -> dict[str, Any]:
        """Runs received since the last report, plus earlier ones that finished or are still open."""
        entries = []
        for run in self.ledger.runs(since=until - LOOKBACK):
            done = run.get("completed_at")
            if run["received_at"] >= since or done is None or done >= since:
                entries.append(file_entry(run, self.ledger.chunks(run["RowKey"])))
        return build(entries, since, until)

    def write(self, until: datetime | None = None) -> tuple[dict[str, Any], str]:
        until = until or states.now()
        state = self.ledger.get_state(STATE_KEY)
        since = state["last_to"] if state else until - timedelta(days=1)
        report = self.collect(since, until)
        body = json.dumps(report, indent=2).encode()
        path = f"{until:%Y/%m/%d}/status-{until:%H%M%S}.json"
        json_type = ContentSettings(content_type="application/json")
        if not self.container.exists():
            self.container.create_container()
        self.container.upload_blob(path, body, overwrite=True, content_settings=json_type)
        self.container.upload_blob("latest.json", body, overwrite=True, content_settings=json_type)
        self.ledger.set_state(STATE_KEY, last_to=until, last_path=path)
        return report, path


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
