import json
import logging

from shared import handlers
from shared.common import settings as config
from shared.common import telemetry
from shared.common.settings import Settings


def test_a_bad_connector_is_logged_at_start_and_the_others_work(monkeypatch, caplog):
    entries = [
        {"name": "generic", "kind": "healthcare", "job_id": "j1"},
        {"name": "epic", "kind": "epic", "job_id": "j2", "events": {"include": ["x"], "exclude": ["y"]}},
    ]
    monkeypatch.setattr(telemetry, "configure", lambda settings: False)
    monkeypatch.setattr(config, "load", lambda: Settings({"CONNECTORS": json.dumps(entries)}))
    handlers.reset()
    try:
        with caplog.at_level(logging.ERROR, logger="shared.handlers"):
            rt = handlers.runtime()
        assert list(rt.connectors) == ["generic"]
        assert "both 'include' and 'exclude'" in rt.connector_config[1]["epic"]
        [record] = [r for r in caplog.records if r.name == "shared.handlers"]
        assert "connector epic is not used until CONNECTORS is fixed" in record.getMessage()
    finally:
        handlers.reset()
