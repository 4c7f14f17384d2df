"""HTTP triggers on the dev host: ``/api/<route>`` served on the admin server, with function keys.

Minimal on purpose: exact routes (no ``{parameters}``), the binding's methods, the
``routePrefix`` ``api`` and the Functions key rules: ``anonymous`` needs no key, ``function``
and ``admin`` need the host's key in ``?code=`` or the ``x-functions-key`` header. The key
comes from ``DEVSTACK_FUNCTION_KEY`` or is generated at start and written to the host's
state file, so tests and scripts can call the function the way a client calls Azure.

The worker gets the request as ``RpcHttp`` (method, URL, headers, query, route parameters,
raw body bytes) and answers with ``RpcHttp`` in the invocation's return value (status code,
headers, body); cookies in a response are not passed on here.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devstack.host import protos
from devstack.host.app import FunctionSpec
from devstack.host.invoker import Invoker, Trigger

log = logging.getLogger("devstack.host.http")

ROUTE_PREFIX = "api"
KEY_SETTING = "DEVSTACK_FUNCTION_KEY"
KEY_HEADER = "x-functions-key"

Response = tuple[int, dict[str, str], bytes]


def _text(status: int, message: str) -> Response:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, (message + "\n").encode()


class HttpRoutes:
    def __init__(self, specs: Sequence[FunctionSpec], invoker: Invoker, key: str | None = None) -> None:
        self._invoker = invoker
        self.key = key or os.environ.get(KEY_SETTING) or secrets.token_urlsafe(32)
        self._routes: dict[str, FunctionSpec] = {}
        for spec in specs:
            route = (spec.binding.get("route") or spec.name).strip("/").lower()
            self._routes[route] = spec

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        url = urlsplit(target)
        prefix = f"/{ROUTE_PREFIX}/"
        if not url.path.startswith(prefix):
            return _text(404, "not found")
        spec = self._routes.get(url.path[len(prefix) :].strip("/").lower())
        if spec is None:
            return _text(404, "no function at this route")
        methods = [str(getattr(m, "value", m)).upper() for m in spec.binding.get("methods") or []]
        if methods and method.upper() not in methods:
            return _text(405, f"method {method} not allowed")
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        level = str(getattr(spec.binding.get("authLevel"), "value", spec.binding.get("authLevel")))
        if level.lower() != "anonymous":
            given = params.pop("code", None) or _header(headers, KEY_HEADER) or ""
            if not hmac.compare_digest(given.encode(), self.key.encode()):
                return _text(401, "a function key is required (?code= or x-functions-key)")
        request = protos.RpcHttp(
            method=method.upper(),
            url=f"http://localhost{url.path}" + (f"?{url.query}" if url.query else ""),
            headers={k.lower(): v for k, v in headers.items()},
            query=params,
            params={},  # route parameters: exact routes only here
            body=protos.TypedData(bytes=body),
        )
        result: list[protos.TypedData] = []
        reason = "This function was programmatically called via the host APIs."
        if not self._invoker.invoke(spec, Trigger(protos.TypedData(http=request)), reason, result=result):
            return _text(500, "function failed; see the host log")
        return _response(result[0] if result else None)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _body(data: protos.TypedData) -> bytes:
    kind = data.WhichOneof("data")
    value: Any = getattr(data, kind) if kind else b""
    return value.encode() if isinstance(value, str) else bytes(value or b"")


def _response(value: protos.TypedData | None) -> Response:
    """The worker's return value: ``RpcHttp`` for an HttpResponse, a string for ``str``."""
    if value is None or value.WhichOneof("data") is None:
        return 204, {}, b""
    if value.WhichOneof("data") == "http":
        http = value.http
        return int(http.status_code or 200), dict(http.headers), _body(http.body)
    return 200, {"Content-Type": "text/plain; charset=utf-8"}, _body(value)
