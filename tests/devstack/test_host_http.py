"""HTTP triggers on the dev host through the Python worker: routes, methods, keys; no stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.host.app import describe_functions
from devstack.host.http import HttpRoutes
from devstack.host.invoker import Invoker
from devstack.host.worker import Worker

HTTP_APP = """
import azure.functions as func

app = func.FunctionApp()


@app.function_name("keyed")
@app.route(route="report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def keyed(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"{req.method} {dict(req.params)}", headers={"X-Seen": "yes"})


@app.function_name("open")
@app.route(route="ping", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def open_(req: func.HttpRequest) -> str:
    return "pong"


@app.function_name("bad")
@app.route(route="bad", auth_level=func.AuthLevel.ANONYMOUS)
def bad(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret detail")
"""


@pytest.fixture
def routes(tmp_path: Path) -> Iterator[HttpRoutes]:
    (tmp_path / "function_app.py").write_text(HTTP_APP)
    worker = Worker(tmp_path)
    try:
        specs = describe_functions(worker.start())
        yield HttpRoutes(specs, Invoker(worker, [s.name for s in specs]), key="k3y")
    finally:
        worker.stop()


def test_function_key_in_query_or_header(routes: HttpRoutes) -> None:
    r = routes
    assert r.handle("GET", "/api/report?format=html", {}, b"")[0] == 401
    assert r.handle("GET", "/api/report?code=nope", {}, b"")[0] == 401
    status, headers, body = r.handle("GET", "/api/report?format=html&code=k3y", {}, b"")
    assert status == 200 and headers["X-Seen"] == "yes"
    assert headers["content-type"].startswith("text/plain")
    assert body == b"GET {'format': 'html'}"  # the key is not passed on to the function
    assert r.handle("GET", "/api/report", {"X-Functions-Key": "k3y"}, b"")[0] == 200


def test_anonymous_routes_methods_and_unknown_paths(routes: HttpRoutes) -> None:
    r = routes
    text = {"Content-Type": "text/plain; charset=utf-8"}
    assert r.handle("GET", "/api/ping", {}, b"") == (200, text, b"pong")
    assert r.handle("POST", "/api/ping", {}, b"")[0] == 405
    assert r.handle("GET", "/api/nothing", {}, b"")[0] == 404
    assert r.handle("GET", "/report", {}, b"")[0] == 404


def test_a_failing_function_is_a_500_without_details(routes: HttpRoutes) -> None:
    status, _, body = routes.handle("GET", "/api/bad", {}, b"")
    assert status == 500 and b"secret" not in body


def test_a_generated_key_when_none_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVSTACK_FUNCTION_KEY", raising=False)
    assert len(HttpRoutes([], Invoker(None, [])).key) >= 32
    monkeypatch.setenv("DEVSTACK_FUNCTION_KEY", "from-env")
    assert HttpRoutes([], Invoker(None, [])).key == "from-env"
