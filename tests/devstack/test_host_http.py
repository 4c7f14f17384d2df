"""HTTP triggers on the dev host: routes, methods and function keys, without a stack."""

from __future__ import annotations

import azure.functions as func

from devstack.host.app import FunctionSpec
from devstack.host.http import HttpRoutes
from devstack.host.invoker import Invoker


def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"{req.method} {dict(req.params)}", headers={"X-Seen": "yes"})


def spec(name, route, auth, methods=("GET",)) -> FunctionSpec:
    binding = {"type": "httpTrigger", "route": route, "authLevel": auth, "methods": list(methods)}
    return FunctionSpec(name, "httpTrigger", "req", binding, echo)


def routes() -> HttpRoutes:
    specs = [spec("keyed", "report", func.AuthLevel.FUNCTION), spec("open", "ping", "anonymous")]
    return HttpRoutes(specs, Invoker(["keyed", "open"]), key="k3y")


def test_function_key_in_query_or_header():
    r = routes()
    assert r.handle("GET", "/api/report?format=html", {}, b"")[0] == 401
    assert r.handle("GET", "/api/report?code=nope", {}, b"")[0] == 401
    status, headers, body = r.handle("GET", "/api/report?format=html&code=k3y", {}, b"")
    assert status == 200 and headers["X-Seen"] == "yes"
    assert body == b"GET {'format': 'html'}"  # the key is not passed on to the function
    assert r.handle("GET", "/api/report", {"X-Functions-Key": "k3y"}, b"")[0] == 200


def test_anonymous_routes_methods_and_unknown_paths():
    r = routes()
    assert r.handle("GET", "/api/ping", {}, b"")[0] == 200
    assert r.handle("POST", "/api/ping", {}, b"")[0] == 405
    assert r.handle("GET", "/api/nothing", {}, b"")[0] == 404
    assert r.handle("GET", "/report", {}, b"")[0] == 404


def test_a_failing_function_is_a_500_without_details():
    def boom(req):
        raise RuntimeError("secret detail")

    bad = FunctionSpec("bad", "httpTrigger", "req", {"route": "bad", "authLevel": "anonymous"}, boom)
    status, _, body = HttpRoutes([bad], Invoker(["bad"]), key="k").handle("GET", "/api/bad", {}, b"")
    assert status == 500 and b"secret" not in body


def test_a_generated_key_when_none_is_set(monkeypatch):
    monkeypatch.delenv("DEVSTACK_FUNCTION_KEY", raising=False)
    assert len(HttpRoutes([], Invoker([])).key) >= 32
    monkeypatch.setenv("DEVSTACK_FUNCTION_KEY", "from-env")
    assert HttpRoutes([], Invoker([])).key == "from-env"
