"""HTTP triggers on the dev host: ``/api/<route>`` served on the admin server, with function keys.

Minimal on purpose: exact routes (no ``{parameters}``), the binding's methods, the
``routePrefix`` ``api`` and the Functions key rules: ``anonymous`` needs no key, ``function``
and ``admin`` need the host's key in ``?code=`` or the ``x-functions-key`` header. The key
comes from ``DEVSTACK_FUNCTION_KEY`` or is generated at start and written to the host's
state file, so tests and scripts can call the function the way a client calls Azure.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from devstack.host.app import FunctionSpec
from devstack.host.invoker import Invoker

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
        request = func.HttpRequest(
            method=method.upper(),
            url=f"http://localhost{url.path}" + (f"?{url.query}" if url.query else ""),
            headers=dict(headers),
            params=params,
            route_params={},
            body=body,
        )
        result: list[Any] = []
        reason = "This function was programmatically called via the host APIs."
        if not self._invoker.invoke(spec, request, reason, result=result):
            return _text(500, "function failed; see the host log")
        return _response(result[0] if result else None)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _response(value: Any) -> Response:
    if isinstance(value, func.HttpResponse):
        headers = dict(value.headers.items())
        if value.mimetype and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = f"{value.mimetype}; charset={value.charset}"
        return value.status_code, headers, value.get_body() or b""
    if value is None:
        return 204, {}, b""
    data = value.encode() if isinstance(value, str) else bytes(value)
    return 200, {"Content-Type": "text/plain; charset=utf-8"}, data
