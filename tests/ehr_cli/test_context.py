"""Where a command finds its settings when none are given: the running local stack, else the demo's;
the local stack's CA trusted whatever REQUESTS_CA_BUNDLE held."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ehr_cli import context


@pytest.fixture
def works(tmp_path, monkeypatch):
    monkeypatch.delenv("CONNECTORS", raising=False)
    monkeypatch.setattr("devstack.stack.DEFAULT_WORK", tmp_path / "stack")
    monkeypatch.setattr("devstack.demo.DEMO_WORK", tmp_path / "demo")
    return tmp_path


def recorded(work, settings):
    work.mkdir()
    (work / "stack.json").write_text(json.dumps({"settings": settings}))


def test_after_the_demo_its_stack_is_found(works):
    recorded(works / "demo", {"LEDGER_TABLE": "demo"})
    assert context.settings_values(None) == {"LEDGER_TABLE": "demo"}
    recorded(works / "stack", {"LEDGER_TABLE": "stack"})  # `ehr-ingest stack up` comes first
    assert context.settings_values(None) == {"LEDGER_TABLE": "stack"}


def test_without_any_it_says_where_settings_come_from(works):
    with pytest.raises(FileNotFoundError, match="give --settings local"):
        context.settings_values(None)


@pytest.mark.parametrize("held", ["site", "", "/no/such/file.pem", None])
def test_the_stacks_ca_is_trusted_whatever_requests_ca_bundle_held(held, tmp_path, monkeypatch):
    stack_ca, site_ca = tmp_path / "ca-bundle.pem", tmp_path / "site.pem"
    stack_ca.write_text("STACK CA\n")
    site_ca.write_text("SITE CA\n")
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": {"CONNECTORS": "[]", "REQUESTS_CA_BUNDLE": str(stack_ca)}}))
    monkeypatch.delenv("CONNECTORS", raising=False)
    if held is None:
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    else:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(site_ca) if held == "site" else held)
    context.apply(str(settings))
    trusted = Path(os.environ["REQUESTS_CA_BUNDLE"]).read_text()
    assert "STACK CA" in trusted
    assert ("SITE CA" in trusted) == (held == "site")
