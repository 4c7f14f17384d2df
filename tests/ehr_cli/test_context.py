"""Where a command finds its settings when none are given: the running local stack, else the demo's."""

from __future__ import annotations

import json

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
