"""One HTTPS server on loopback that routes to every emulated service, plus admin endpoints.

A single origin keeps the dev stack to one port and one CA file, and lets the Key Vault
challenge name the emulator itself as the authority. HTTP/1.1 keep-alive with exact
Content-Length matters: urllib3 and azure-core reuse connections, and a reply without a
correct length would hang or corrupt the next request. Access logs go to the
``devstack.emulator`` logger at DEBUG and never include bodies.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import ssl
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devstack.emulator.appinsights import AppInsightsService
from devstack.emulator.config import STORAGE_RESOURCE, ConfigError, EmulatorConfig, FaultConfig
from devstack.emulator.entra import EntraService
from devstack.emulator.faults import FaultInjector
from devstack.emulator.identity import ManagedIdentityService
from devstack.emulator.ingestion import IngestionService
from devstack.emulator.keyvault import KeyVaultService
from devstack.emulator.tls import TlsPaths, ensure_certificates
from devstack.emulator.tokens import TokenAuthority, normalize_audience
from devstack.emulator.wire import (
    BodyTooLargeError,
    ChunkedReader,
    LimitedReader,
    Request,
    Response,
    parse_query,
)

LOG = logging.getLogger("devstack.emulator")
HOST = "127.0.0.1"
#: Unread request bodies up to this size are drained to keep the connection; larger ones
#: are abandoned by closing it.
MAX_DRAIN_BYTES = 64 * 1024 * 1024
#: Idle keep-alive connections are closed after this many seconds.
IDLE_TIMEOUT_SECONDS = 30

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    """``method`` plus a full-match regex whose named groups become keyword arguments."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Finds the handler for a request; 404 for unknown paths, 405 for wrong methods."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on paths fully matching ``pattern``."""
        self._routes.append(Route(method, re.compile(pattern), handler))

    def __call__(self, request: Request) -> Response:
        allowed: list[str] = []
        for route in self._routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            return route.handler(request, **match.groupdict())
        if allowed:
            return Response.json(
                405,
                {"error": {"code": "MethodNotAllowed", "message": f"use {', '.join(allowed)}"}},
                {"Allow": ", ".join(sorted(set(allowed)))},
            )
        message = f"no emulated endpoint at {request.path}"
        return Response.json(404, {"error": {"code": "NotFound", "message": message}})


class _TLSServer(ThreadingHTTPServer):
    """Threaded server whose connections are TLS, with the handshake done per thread."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, router: Router):
        super().__init__(address, _Handler)
        # Handshakes happen in the connection's own thread (see _Handler.setup), so one
        # slow or broken client cannot stall accept().
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.router = router
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOG.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections so stop() does not wait for their timeout."""
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn, socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "devstack-emulator/1.0"
    timeout = IDLE_TIMEOUT_SECONDS
    # Headers and body go out in separate writes; with Nagle on, each small reply waits
    # for the client's delayed ACK (about 40 ms).
    disable_nagle_algorithm = True
    server: _TLSServer

    def setup(self) -> None:
        self.request.settimeout(IDLE_TIMEOUT_SECONDS)
        self.request.do_handshake()
        with self.server.connections_lock:
            self.server.connections.add(self.request)
        super().setup()

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.request)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s %s", self.client_address[0], format % args)

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw: LimitedReader | ChunkedReader = ChunkedReader(self.rfile)  # type: ignore[arg-type]
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length < 0:
                    raise ValueError(length)
            except ValueError:
                self.close_connection = True
                self._send(Response.json(400, {"error": {"code": "BadContentLength"}}))
                return
            raw = LimitedReader(self.rfile, length)  # type: ignore[arg-type]
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_query(split.query),
            headers=self.headers,
            body=io.BufferedReader(raw),
        )
        try:
            response = self.server.router(request)
        except BodyTooLargeError as exc:
            response = Response.json(413, {"error": {"code": "RequestBodyTooLarge", "message": str(exc)}})
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        except Exception as exc:  # a bug in a service must not kill the connection silently
            # Frames only: an exception message could quote a row of patient data.
            LOG.warning(
                "handler for %s %s failed with %s:\n%s",
                self.command,
                split.path,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            response = Response.json(500, {"error": {"code": "EmulatorError", "message": type(exc).__name__}})
        if not self._drain(raw):
            self.close_connection = True
        self._send(response)

    def _drain(self, raw: LimitedReader | ChunkedReader) -> bool:
        """Discard the unread rest of the body; False when the connection must be closed."""
        if isinstance(raw, LimitedReader) and raw.remaining > MAX_DRAIN_BYTES:
            return False
        scratch = bytearray(64 * 1024)
        drained = 0
        try:
            while raw.remaining and drained <= MAX_DRAIN_BYTES:
                count = raw.readinto(scratch)
                if not count:
                    break
                drained += count
        except (ConnectionError, TimeoutError, OSError):
            return False
        return not raw.remaining

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body)
        self.wfile.flush()


class Emulator:
    """The whole emulated cloud, served from a background thread.

    ``state_dir`` keeps the TLS files (``tls/ca.pem`` is what clients must trust) so they
    survive restarts. Use as a context manager or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, config: EmulatorConfig, state_dir: Path, port: int = 0):
        self.config = config
        self.state_dir = Path(state_dir)
        self._requested_port = port
        self._server: _TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._tls: TlsPaths | None = None
        self._authority = TokenAuthority()
        self._faults = FaultInjector(config.faults)
        resources = set(config.resources)
        self.entra = EntraService(config, self._authority, lambda: self.url, resources)
        self.identity = ManagedIdentityService(config, self._authority, lambda: self.url, resources)
        self.keyvault = KeyVaultService(config, self._authority, lambda: self.url)
        self.ingestion = IngestionService(config, self._authority, self._faults)
        self.appinsights = AppInsightsService()
        self._router = self._build_router()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind on 127.0.0.1 and serve in a daemon thread; returns self once listening."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._tls = ensure_certificates(self.state_dir / "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._tls.server_cert, self._tls.server_key)
        self._server = _TLSServer((HOST, self._requested_port), context, self._router)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        LOG.info("emulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        if self._server is None:
            raise RuntimeError("emulator not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``https://127.0.0.1:<port>``: authority host, vault URL and ingestion host at once."""
        return f"https://{HOST}:{self.port}"

    @property
    def ca_path(self) -> Path:
        """PEM file of the CA that signed the server certificate."""
        if self._tls is None:
            return self.state_dir / "tls" / "ca.pem"
        return self._tls.ca_cert

    # -- in-process admin (the HTTP admin endpoints call these) --------------------------

    def stats(self) -> dict[str, Any]:
        """Counters of every service, in the shape served at ``GET /_emulator/stats``."""
        ingestion = self.ingestion.stats()
        entra = self.entra.stats()
        identity = self.identity.stats()
        return {
            "jobs": ingestion["jobs"],
            "tokens": {
                "v1": entra["v1"],
                "v2": entra["v2"],
                "managed_identity": identity["issued"],
                "refused": entra["errors"] + identity["errors"],
            },
            "keyvault": self.keyvault.stats(),
            "ingestion": ingestion["ingestion"],
            "outages": dict(self._faults.outages),
            "telemetry": self.appinsights.stats(),
        }

    def verify_token(self, token: str, audience: str) -> dict[str, Any]:
        """Claims of a token this emulator issued for ``audience`` (raises TokenError)."""
        return self._authority.verify(token, audience)

    def set_faults(self, **changes: Any) -> FaultConfig:
        """Change some fault settings (others keep their value); reseeds the generator."""
        updated = self._faults.config.updated(changes)
        self._faults.configure(updated)
        return updated

    def reset(self) -> None:
        """Zero every counter, forget record digests and telemetry (secrets and faults are kept)."""
        self.entra.reset()
        self.identity.reset()
        self.keyvault.reset()
        self.ingestion.reset()
        self.appinsights.reset()

    # -- routing -----------------------------------------------------------------------

    def _build_router(self) -> Router:
        tenant = r"/(?P<tenant>[^/]+)"
        router = Router()
        router.add("GET", r"/_emulator/stats", lambda r: Response.json(200, self.stats()))
        router.add("GET", r"/_emulator/faults", self._get_faults)
        router.add("POST", r"/_emulator/faults", self._post_faults)
        router.add("POST", r"/_emulator/reset", self._post_reset)
        router.add(
            "POST",
            r"/_emulator/peaks/reset",
            lambda r: _after(self.ingestion.reset_peaks, Response.json(200, {})),
        )
        router.add("GET", r"/_emulator/health", lambda r: Response.json(200, {"status": "ok"}))
        router.add(
            "GET",
            tenant + r"/v2\.0/\.well-known/openid-configuration",
            lambda r, tenant: self.entra.openid_configuration(r, tenant, "2.0"),
        )
        router.add(
            "GET",
            tenant + r"/\.well-known/openid-configuration",
            lambda r, tenant: self.entra.openid_configuration(r, tenant, "1.0"),
        )
        router.add("GET", tenant + r"/discovery(?:/v2\.0)?/keys", self.entra.keys)
        router.add("POST", tenant + r"/oauth2/v2\.0/token", self._down("token", self.entra.token_v2))
        router.add("POST", tenant + r"/oauth2/token", self._down("token", self.entra.token_v1))
        router.add("GET", r"/msi/token/?", self._down("token", self.identity.token, spare=_for_storage))
        router.add(
            "GET",
            r"/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?",
            self._down("keyvault", self.keyvault.get),
        )
        router.add("PUT", r"/secrets/(?P<name>[^/]+)/?", self.keyvault.put)
        router.add("POST", r"/api/signals/?", self.ingestion.signals)
        # Application Insights: the connection string's IngestionEndpoint is this origin.
        router.add("POST", r"/v2(?:\.1)?/track", self.appinsights.track)
        router.add(
            "GET",
            r"/_emulator/telemetry",
            lambda r: Response.json(200, {"items": self.appinsights.items(), **self.appinsights.stats()}),
        )
        router.add(
            "POST",
            r"/_emulator/telemetry/reset",
            lambda r: _after(self.appinsights.reset, Response.json(200, {"reset": True})),
        )
        return router

    def _down(self, service: str, handler, spare=lambda request: False):
        """Wrap a handler so ``<service>_error_rate`` of its requests meet an outage (503);
        requests ``spare`` picks go through."""

        def handle(request: Request, **groups: str) -> Response:
            if not spare(request) and self._faults.outage(service):
                return Response.json(
                    503,
                    {"error": "temporarily_unavailable", "error_description": f"{service} outage (injected)"},
                    {"Retry-After": "1"},
                )
            return handler(request, **groups)

        return handle

    def _get_faults(self, request: Request) -> Response:
        return Response.json(200, asdict(self._faults.config))

    def _post_faults(self, request: Request) -> Response:
        try:
            changes = request.json() or {}
            if not isinstance(changes, dict):
                raise ConfigError("expected a JSON object of fault settings")
            updated = self.set_faults(**changes)
        except (ValueError, TypeError) as exc:  # ConfigError and JSON errors are ValueErrors
            return Response.json(400, {"error": {"code": "BadFaults", "message": str(exc)}})
        return Response.json(200, asdict(updated))

    def _post_reset(self, request: Request) -> Response:
        self.reset()
        return Response.json(200, {"reset": True})


def _after(action: Callable[[], None], response: Response) -> Response:
    """Run ``action``, then answer ``response`` (a route whose work returns nothing)."""
    action()
    return response


def _for_storage(request: Request) -> bool:
    """A managed-identity token for Storage. The token outage stands for what the upload stage
    must ride out (its Entra token, its Key Vault secret); Storage tokens are spared, because
    the function host, without which nothing runs, takes its own from the same endpoint (the
    local stack reaches Azurite with the managed identity, as Azure does)."""
    return normalize_audience(request.query.get("resource", "")) == STORAGE_RESOURCE
