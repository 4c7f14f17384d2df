"""The KQL queries in infra/queries and the workbook that shows them stay in step with telemetry.

The workbook is generated from the .kql files: ``python -m tests.shared.common.test_queries`` rewrites
it after a query changes; this test fails until then.
"""

from __future__ import annotations

import json
from pathlib import Path

from shared.common import telemetry

INFRA = Path(__file__).resolve().parents[3] / "infra"
QUERIES = INFRA / "queries"
WORKBOOK = INFRA / "workbook.json"  # deployed by infra/modules/workbook.bicep

TITLES = {
    "failed-today": ("What failed today", "table"),
    "daily-reports": ("Daily status reports", "table"),
    "rows-per-connector-per-day": ("Rows per connector per day", "table"),
    "runs": ("Runs (last 7 days)", "table"),
    "slowest-chunks": ("Slowest chunks (24 h)", "table"),
    "chunk-latency": ("Chunk latency per connector (24 h)", "timechart"),
    "throttling": ("Throttling and retries (24 h)", "table"),
    "poison-queue": ("Poison queue length", "timechart"),
    "profile-freshness": ("Employee profile freshness (HR connectors)", "table"),
}


def workbook() -> dict:
    items: list[dict] = [
        {
            "type": 1,
            "content": {
                "json": "## EHR audit-log ingestion\nWhat ran, what was saved, what failed. "
                "Counts, file names and run ids only: no patient or employee values."
            },
            "name": "intro",
        }
    ]
    for stem, (title, chart) in TITLES.items():
        items.append(
            {
                "type": 3,
                "content": {
                    "version": "KqlItem/1.0",
                    "query": (QUERIES / f"{stem}.kql").read_text(),
                    "size": 0,
                    "title": title,
                    "queryType": 0,
                    "resourceType": "microsoft.insights/components",
                    "visualization": chart,
                },
                "name": stem,
            }
        )
    return {
        "version": "Notebook/1.0",
        "items": items,
        "isLocked": False,
        "fallbackResourceIds": [],
        "$schema": "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json",
    }


def test_every_query_is_in_the_workbook_verbatim():
    assert {p.stem for p in QUERIES.glob("*.kql")} == set(TITLES)
    assert json.loads(WORKBOOK.read_text()) == workbook(), "run: python -m tests.shared.common.test_queries"


def test_queries_use_the_names_telemetry_emits():
    text = "\n".join(p.read_text() for p in QUERIES.glob("*.kql"))
    for name in (
        telemetry.RUN_STARTED,
        telemetry.RUN_COMPLETED,
        telemetry.FILE_REJECTED,
        telemetry.CHUNK_POISONED,
        telemetry.DAILY_REPORT,
        telemetry.PROFILE_FRESHNESS,
        telemetry.ROWS_UPLOADED,
        telemetry.CHUNK_LATENCY,
        telemetry.CHUNK_RETRIES,
        telemetry.CHUNK_THROTTLES,
        telemetry.POISON_QUEUE_LENGTH,
    ):
        assert f'"{name}"' in text, name


if __name__ == "__main__":
    WORKBOOK.write_text(json.dumps(workbook(), indent=2) + "\n")
    print(f"wrote {WORKBOOK}")
