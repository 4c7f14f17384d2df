"""`ehr-ingest doctor` says which proxy it went through, never the proxy's credentials."""

from __future__ import annotations

import json
import socket

from ehr_cli.main import main
from shared import handlers


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_proxy_is_printed_without_its_user_and_password(tmp_path, monkeypatch, capsys):
    proxy = f"http://ehr-svc:S3cr3t-Pa55@127.0.0.1:{closed_port()}"
    values = {
        "CONNECTORS": json.dumps([{"name": "generic", "kind": "healthcare", "job_id": "job"}]),
        "ENTRA_TENANT_ID": "tenant",
        "ENTRA_CLIENT_ID": "client",
        "KEY_VAULT_URL": "https://127.0.0.1:1/",
        "INGESTION_URL": "https://ingestion.invalid/api/signals",
        "ExportsStorage": "UseDevelopmentStorage=true;BlobEndpoint=http://127.0.0.1:1/x;"
        "QueueEndpoint=http://127.0.0.1:1/x;TableEndpoint=http://127.0.0.1:1/x",
    }
    for key, value in {**values, "HTTPS_PROXY": proxy, "NO_PROXY": ""}.items():
        monkeypatch.setenv(key, value)
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": values}))

    handlers.reset()
    try:
        main(["doctor", "--settings", str(settings)])
    finally:
        handlers.reset()

    out = capsys.readouterr()
    text = out.out + out.err
    assert "via proxy http://127.0.0.1:" in text
    assert "S3cr3t" not in text and "ehr-svc" not in text
