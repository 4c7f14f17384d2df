"""`ehr-ingest drop` works for the uploader, whose role in Azure writes blobs and nothing else."""

from __future__ import annotations

import json
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ehr_cli.main import main
from shared.common.settings import STORAGE_CONNECTION
from shared.common.storage import connection

ACCOUNT = "devstoreaccount1"
KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # any key: the stand-in does not check signatures


class WriteOnlyBlobs(BaseHTTPRequestHandler):
    """A blob endpoint answering as Azure Storage answers a principal whose only data action is
    blobs/write: every write succeeds, every read (container or blob) is 403
    AuthorizationPermissionMismatch (Azure Storage's error codes)."""

    seen: list[str]

    def _answer(self, status: int, code: str = "") -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(status)
        if code:
            self.send_header("x-ms-error-code", code)
        self.send_header("ETag", '"0x1"')
        self.send_header("Last-Modified", formatdate(usegmt=True))
        self.send_header("x-ms-request-id", "1")
        self.send_header("x-ms-version", "2025-01-05")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        self._answer(201)

    def do_GET(self) -> None:
        self._answer(403, "AuthorizationPermissionMismatch")

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def write_only_account():
    seen: list[str] = []
    handler = type("Handler", (WriteOnlyBlobs,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{ACCOUNT}", seen
    server.shutdown()
    server.server_close()


def test_drop_only_writes(tmp_path, monkeypatch, write_only_account, capsys):
    url, seen = write_only_account
    values = {
        STORAGE_CONNECTION: (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={url};"
        ),
        "EXPORTS_CONTAINER": "exports",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    connection.cache_clear()  # a connection cached by an earlier test would go to its account
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": values}))
    export = tmp_path / "audit.csv"
    export.write_text("Creation Time,Event Name\n2026-12-01T00:00:00Z,Open\n")

    try:
        assert main(["drop", str(export), "--connector", "generic", "--settings", str(settings)]) == 0
    finally:
        connection.cache_clear()

    assert "dropped" in capsys.readouterr().out
    assert seen and all(
        line.startswith("PUT /devstoreaccount1/exports/generic/audit.csv") for line in seen
    ), seen
