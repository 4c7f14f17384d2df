"""The emulator's Application Insights track endpoint, fed by Microsoft's own exporter."""

from __future__ import annotations

import gzip
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.emulator import Emulator, EmulatorConfig
from devstack.telemetry import LOOPBACK_ONLY, connection_string

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    with Emulator(EmulatorConfig.generate(), tmp_path_factory.mktemp("emulator")) as running:
        yield running


def envelope(name: str = "Microsoft.ApplicationInsights.Message", **base) -> dict:
    return {
        "name": name,
        "time": "2026-12-02T06:00:00.000000Z",
        "iKey": "00000000-0000-0000-0000-000000000000",
        "tags": {},
        "data": {"baseType": "MessageData", "baseData": {"ver": 2, "message": "hello", **base}},
    }


def track(emulator: Emulator, body: bytes, **headers: str) -> requests.Response:
    return requests.post(
        emulator.url + "/v2.1/track", data=body, headers=headers, verify=str(emulator.ca_path), timeout=30
    )


def kept(emulator: Emulator) -> dict:
    return requests.get(
        emulator.url + "/_emulator/telemetry", verify=str(emulator.ca_path), timeout=30
    ).json()


def test_json_array_gzip_and_newline_delimited_bodies_are_kept(emulator: Emulator) -> None:
    emulator.reset()
    one, two, three = envelope(message="a"), envelope(message="b"), envelope(message="c")
    reply = track(emulator, json.dumps([one]).encode(), **{"Content-Type": "application/json"})
    assert reply.status_code == 200
    assert reply.json() == {"itemsReceived": 1, "itemsAccepted": 1, "errors": []}
    body = gzip.compress((json.dumps(two) + "\n" + json.dumps(three) + "\n").encode())
    reply = track(emulator, body, **{"Content-Encoding": "gzip", "Content-Type": "application/x-json-stream"})
    assert reply.json() == {"itemsReceived": 2, "itemsAccepted": 2, "errors": []}
    got = kept(emulator)
    assert [i["data"]["baseData"]["message"] for i in got["items"]] == ["a", "b", "c"]
    assert got["accepted"] == 3
    requests.post(emulator.url + "/_emulator/telemetry/reset", verify=str(emulator.ca_path), timeout=30)
    assert kept(emulator)["items"] == []


def test_malformed_envelopes_are_refused_by_index_with_206(emulator: Emulator) -> None:
    emulator.reset()
    bad = envelope()
    del bad["iKey"]
    reply = track(emulator, json.dumps([envelope(), bad, envelope(name="Nope")]).encode())
    assert reply.status_code == 206
    body = reply.json()
    assert (body["itemsReceived"], body["itemsAccepted"]) == (3, 1)
    assert [(e["index"], e["statusCode"]) for e in body["errors"]] == [(1, 400), (2, 400)]
    assert track(emulator, b"{not json").status_code == 400
    assert len(kept(emulator)["items"]) == 1


def test_microsofts_log_exporter_posts_envelopes_the_emulator_keeps(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real exporter (not the distro: no global providers here), pointed by connection string."""
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    for key, value in LOOPBACK_ONLY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_path))
    emulator.reset()
    exporter = AzureMonitorLogExporter(
        connection_string=connection_string(emulator.url), disable_offline_storage=True
    )
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger("tests.appinsights")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    try:
        logger.info("run started", extra={"microsoft.custom_event.name": "RunStarted", "rows": 5})
        logger.warning("plain trace", extra={"file_name": "generic/a.csv"})
        assert provider.force_flush(30_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    items = kept(emulator)["items"]
    event = next(i for i in items if i["name"] == "Microsoft.ApplicationInsights.Event")
    assert event["data"]["baseType"] == "EventData"
    assert event["data"]["baseData"]["name"] == "RunStarted"
    assert event["data"]["baseData"]["properties"]["rows"] == "5"
    trace = next(i for i in items if i["name"] == "Microsoft.ApplicationInsights.Message")
    assert trace["data"]["baseData"]["message"] == "plain trace"
    assert trace["data"]["baseData"]["severityLevel"] == 2
    assert trace["data"]["baseData"]["properties"]["file_name"] == "generic/a.csv"
