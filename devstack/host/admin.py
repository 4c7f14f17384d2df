"""A loopback admin API shaped like the Functions host's, for scripts and tests.

``POST /admin/functions/{name}`` runs a non-HTTP function now (202), as
``func start``'s admin endpoint does; ``GET /admin/host/status`` reports state, functions and
invocation counts. It binds 127.0.0.1 only and has no keys: it is a dev tool, never deployed.
``/api/<route>`` serves the app's HTTP triggers, which do check function keys (``http``).
Request bodies are not logged (a queue input may be a real chunk message).
"""

from __future__ import annotations

import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

log = logging.getLogger("devstack.host.admin")

MAX_BODY = 1 << 20


class AdminTarget(Protocol):
    """What the admin API needs from the host."""

    def status(self) -> dict[str, Any]: ...

    def run_function(self, name: str, input_text: str | None) -> None: ...

    def http_request(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]: ...


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("admin: " + format, *args)

    def _reply(self, status: HTTPStatus, payload: dict[str, Any] | None = None) -> None:
        body = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _http_trigger(self) -> None:
        """``/api/...``: the app's HTTP functions (function keys checked by the host)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            return
        body = self.rfile.read(length) if length else b""
        status, headers, data = self.server.target.http_request(
            self.command, self.path, dict(self.headers.items()), body
        )
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/api/"):
            self._http_trigger()
        elif self.path.rstrip("/") == "/admin/host/status":
            self._reply(HTTPStatus.OK, self.server.target.status())
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path.startswith("/api/"):
            self._http_trigger()
            return
        prefix = "/admin/functions/"
        if not self.path.startswith(prefix):
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        name = self.path[len(prefix) :].strip("/")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            return
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw) if raw.strip() else {}
            input_text = payload.get("input") if isinstance(payload, dict) else None
            if input_text is not None and not isinstance(input_text, str):
                raise ValueError('"input" must be a string')
        except ValueError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": f"invalid body: {exc}"})
            return
        try:
            self.server.target.run_function(name, input_text)
        except KeyError:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no function named {name!r}"})
        except ValueError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        else:
            self._reply(HTTPStatus.ACCEPTED)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, target: AdminTarget) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.target = target


class AdminServer:
    """Serves on a background thread; ``url`` is known once constructed (port 0 = any)."""

    def __init__(self, target: AdminTarget, port: int = 0) -> None:
        self._server = _Server(port, target)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
