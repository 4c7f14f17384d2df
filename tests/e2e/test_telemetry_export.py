"""Telemetry through Microsoft's own exporter into the emulator's Application Insights endpoint.

One run (``python -m devstack.telemetry`` in a child process, so the global OpenTelemetry
providers never leak into this test process) plans PHI-marked exports, uploads their chunks
(some throttled), rejects a file in no connector's folder, poisons the chunks of another and
writes the daily report; every provider is flushed before it exits. The tests then read the
envelopes back as Application Insights would store them: customEvents from ``Event``
envelopes (``baseData.name``, ``baseData.properties``), traces from ``Message`` envelopes,
customMetrics from ``Metric`` envelopes (``baseData.metrics[]``), customDimensions from
``baseData.properties``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections import Counter
from typing import Any

import pytest
import requests

from devstack import telemetry as runner
from devstack.generate import GenerateOptions
from devstack.profiles import ProfileOptions
from shared.common import telemetry
from tests.e2e.phi import MARKER, leaks, marked, marked_profiles
from tests.infra.conftest import ROOT
from tests.infra.test_queries import DIMENSION, kql_sources

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

EVENT = "Microsoft.ApplicationInsights.Event"
MESSAGE = "Microsoft.ApplicationInsights.Message"
METRIC = "Microsoft.ApplicationInsights.Metric"
GOOD_ROWS, BAD_ROWS, POISON_ROWS, PROFILE_ROWS = 1500, 5, 400, 300


def readme_lists() -> dict[str, list[str]]:
    """The backticked names in the README's Application Insights bullets (for custom events,
    those after the colon: the module name comes first)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Application Insights\n", 1)[1].split("\n## ", 1)[0]
    out = {}
    for label in ("Structured logs", "Custom events", "Metrics"):
        bullet = section.split(f"- **{label}**", 1)[1].split("\n- ", 1)[0]
        if label == "Custom events":
            bullet = bullet.split(":", 1)[1]
        out[label] = re.findall(r"`([A-Za-z_]+)`", bullet)
    return out


@pytest.fixture(scope="module")
def envelopes(stack, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("telemetry")
    good = marked(tmp / "good.csv", GenerateOptions(rows=GOOD_ROWS, bad_rows=BAD_ROWS, seed=151))
    poison = marked(tmp / "poison.csv", GenerateOptions(rows=POISON_ROWS, seed=152))
    profiles = marked_profiles(tmp / "profiles.csv", ProfileOptions(rows=PROFILE_ROWS, seed=153))
    tag = uuid.uuid4().hex[:8]
    url = stack.state["emulator"]["url"]
    requests.post(url + "/_emulator/telemetry/reset", verify=stack.verify, timeout=30).raise_for_status()
    env = runner.environment(
        stack.app_env(),
        url,
        EXPORTS_CONTAINER=f"tel-{tag}",
        CHUNK_QUEUE=f"tel-{tag}",
        LEDGER_TABLE=f"tel{tag}",
        REPORTS_CONTAINER=f"tel-{tag}-reports",
        QUARANTINE_CONTAINER=f"tel-{tag}-quarantine",
        COVERAGE_CONTAINER=f"tel-{tag}-coverage",
        UPLOAD_ATTEMPTS_PER_INVOCATION="1",
        UPLOAD_BACKOFF_SECONDS="0.05",
        UPLOAD_BACKOFF_MAX_SECONDS="0.1",
    )
    argv = [
        sys.executable,
        "-m",
        "devstack.telemetry",
        *("--export", f"generic/{good.path.name}={good.path}"),
        *("--export", f"nobody/{good.path.name}={good.path}"),
        *("--poison", f"generic/{poison.path.name}={poison.path}"),
        *("--export", f"hr/{profiles.path.name}={profiles.path}"),
        *("--throttle-rate", "0.5"),
        *("--out", str(tmp / "summary.json")),
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp / "summary.json").read_text())
    assert summary["flushed"] == {"logs": True, "metrics": True, "traces": True}, summary
    got = requests.get(url + "/_emulator/telemetry", verify=stack.verify, timeout=60).json()
    assert got["refused"] == 0 and got["dropped"] == 0
    return got["items"], summary


def of(items, name):
    return [i for i in items if i["name"] == name]


def props(item) -> dict[str, str]:
    return item["data"]["baseData"].get("properties") or {}


def test_every_readme_event_arrives_as_a_custom_event(envelopes):
    items, summary = envelopes
    events: dict[str, Any] = {}
    for e in of(items, EVENT):
        assert e["data"]["baseType"] == "EventData"
        events.setdefault(e["data"]["baseData"]["name"], []).append(props(e))
    listed = readme_lists()["Custom events"]
    assert set(listed) == {
        "RunStarted", "RunCompleted", "FileRejected", "ChunkPoisoned", "DailyReport", "ProfileFreshness",
    }  # fmt: skip
    assert set(events) == set(listed), events.keys()
    # the hr-profiles alerts read the latest one per connector: profiles uploaded in this run
    (fresh,) = events["ProfileFreshness"]
    assert fresh["connector"] == "hr" and fresh["freshness_status"] == "OK"
    assert float(fresh["days_since_upload"]) < 1 and fresh["last_upload_at"]
    good_run = summary["outcomes"]["generic/good.csv"]["run_id"]
    started = {p["run_id"]: p for p in events["RunStarted"]}[good_run]
    # customDimensions are strings in Application Insights; the exporter stringifies them
    assert started["rows"] == str(GOOD_ROWS) and started["connector"] == "generic"
    assert started["file_name"] == "generic/good.csv" and started["chunks"] == "3"
    completed = {p["run_id"]: p for p in events["RunCompleted"]}[good_run]
    assert completed["records_saved"] == str(GOOD_ROWS - BAD_ROWS)
    assert float(completed["duration_seconds"]) > 0 and float(completed["rows_per_second"]) > 0
    (rejected,) = events["FileRejected"]
    assert rejected["reason_code"] == "unknown-connector" and rejected["file_name"] == "nobody/good.csv"
    poisoned = events["ChunkPoisoned"]
    assert {p["chunk_index"] for p in poisoned} == {"0"} and {p["http_status"] for p in poisoned} == {"500"}
    assert all(p["file_name"] == "generic/poison.csv" and int(p["attempts"]) >= 1 for p in poisoned)
    (daily,) = events["DailyReport"]
    assert daily["report_status"] == summary["report_status"] == "FAILED"
    assert daily["files"] == "4" and daily["records_saved"] == str(GOOD_ROWS - BAD_ROWS + PROFILE_ROWS)


def test_every_readme_log_dimension_arrives_as_a_custom_dimension(envelopes):
    items, _ = envelopes
    traces = of(items, MESSAGE)
    assert all(t["data"]["baseType"] == "MessageData" for t in traces)
    keys = set().union(*(props(t) for t in traces))
    listed = readme_lists()["Structured logs"]
    assert {"run_id", "connector", "file_name", "chunk_index", "rows", "duration_ms", "http_status"} <= set(
        listed
    )
    assert set(listed) <= keys, set(listed) - keys
    messages = [(t["data"]["baseData"]["message"], props(t)) for t in traces]
    uploaded = [p for m, p in messages if m.startswith("chunk uploaded") and p["connector"] == "generic"]
    assert len(uploaded) == 3 and {p["chunk_index"] for p in uploaded} == {"0", "1", "2"}
    assert all(int(p["duration_ms"]) >= 0 and p["file_name"] == "generic/good.csv" for p in uploaded)
    failed = [t for t in traces if t["data"]["baseData"]["message"].startswith("chunk upload failed")]
    # the poison-messages alert reads tostring(customDimensions.final) =~ "true" and severity Error
    assert failed and all(
        props(t)["final"] == "True" and t["data"]["baseData"]["severityLevel"] == 3 for t in failed
    )


def test_no_azure_sdk_trace_at_the_default_level(envelopes):
    """AZURE_SDK_LOG_LEVEL is WARNING: none of the SDK's per-request INFO records (each a
    billed trace row) is exported, and so none of the exporter's own, which would loop."""
    items, _ = envelopes
    loggers = {props(t).get("logger_name", "") for t in of(items, MESSAGE)}
    assert loggers and not {n for n in loggers if n.split(".")[0] == "azure"}, loggers
    assert loggers <= {n for n in loggers if n.startswith("shared.")}


def metric_points(items) -> dict[str, list[tuple[dict, dict]]]:
    out: dict[str, list] = {}
    for m in of(items, METRIC):
        assert m["data"]["baseType"] == "MetricData"
        for point in m["data"]["baseData"]["metrics"]:
            out.setdefault(point["name"], []).append((point, props(m)))
    return out


def test_every_readme_metric_arrives_in_base_data_metrics(envelopes):
    items, _ = envelopes
    points = metric_points(items)
    listed = readme_lists()["Metrics"]
    names = [
        telemetry.ROWS_UPLOADED,
        telemetry.CHUNK_LATENCY,
        telemetry.CHUNK_RETRIES,
        telemetry.CHUNK_THROTTLES,
        telemetry.POISON_QUEUE_LENGTH,
    ]
    assert set(listed) == set(names)
    assert set(names) <= set(points), set(names) - set(points)
    rows: Counter[str] = Counter()
    for p, d in points[telemetry.ROWS_UPLOADED]:
        rows[d["connector"]] += p["value"]
    assert rows == {"generic": GOOD_ROWS - BAD_ROWS, "hr": PROFILE_ROWS}
    latency = [p for p, d in points[telemetry.CHUNK_LATENCY] if d["connector"] == "generic"]
    assert sum(p["count"] for p in latency) == 3 and all("max" in p for p in latency)
    for name in names[:4]:
        assert {d["connector"] for _, d in points[name]} <= {"generic", "hr"}, name
    assert sum(p["value"] for p, _ in points[telemetry.CHUNK_THROTTLES]) >= 1
    assert all(d["queue"].endswith("-poison") for _, d in points[telemetry.POISON_QUEUE_LENGTH])


TABLE_ENVELOPE = {"customEvents": EVENT, "traces": MESSAGE, "customMetrics": METRIC}
HOST_ONLY = {"Executed '[^']+' \\(Failed"}
"""Written by the Functions host, not the app: present only in Azure (tests/infra/test_queries.py)."""


def test_kql_names_only_dimensions_metrics_events_and_messages_in_the_envelopes(envelopes):
    items, _ = envelopes
    dims = set().union(*(props(i) for name in TABLE_ENVELOPE.values() for i in of(items, name)))
    events = {e["data"]["baseData"]["name"] for e in of(items, EVENT)}
    metrics = set(metric_points(items))
    messages = [t["data"]["baseData"]["message"] for t in of(items, MESSAGE)]
    checked = 0
    for source, text in kql_sources().items():
        for key in set(DIMENSION.findall(text)):
            assert key in dims, f"{source}: customDimensions.{key} is in no envelope"
            checked += 1
        for name in re.findall(r'name\s*(?:==|in\s*\()\s*((?:"[^"]+"\s*,?\s*)+)', text):
            for quoted in re.findall(r'"([^"]+)"', name):
                assert quoted in events | metrics, f"{source}: name {quoted!r} is in no envelope"
                checked += 1
        for prefix in re.findall(r'message startswith "([^"]+)"', text):
            assert any(m.startswith(prefix) for m in messages), f"{source}: no trace starts {prefix!r}"
            checked += 1
        for pattern in re.findall(r'message matches regex @"\^([^"]+)"', text):
            assert pattern in HOST_ONLY, f"{source}: {pattern!r}"
    assert checked >= 30


def test_no_phi_marker_in_any_envelope(envelopes):
    items, _ = envelopes
    assert len(items) > 50
    assert leaks({f"envelope {n} ({i['name']})": json.dumps(i) for n, i in enumerate(items)}, [MARKER]) == []
