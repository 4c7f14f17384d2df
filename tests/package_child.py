"""Runs inside the unzipped package with a bare Python 3.13 (``-I -S``: no venv, no site-packages,
no PYTHONPATH), started by tests/test_package.py: python package_child.py APP_ROOT PROTOS_FILE.

Only the package is on ``sys.path``: its root (``function_app.py``, ``shared/``) and
``.python_packages/lib/site-packages``, where Azure's worker finds an app's packages. It imports
every module under ``shared/``, then drives Microsoft's worker (``azure_functions_runtime``, from
the package) as the Functions host does: init (the worker indexes ``function_app.py``), metadata,
load, and one invocation of the HTTP function. The protocol's message classes are devstack's
stand-ins, loaded from their one file (PROTOS_FILE) and nothing else of devstack: the app must
not need it. Prints one JSON object for the test to check.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import pkgutil
import sys
import sysconfig
import uuid
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

SITE_PACKAGES = ".python_packages/lib/site-packages"


def load_protos(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("stand_in_protos", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def import_shared() -> list[str]:
    import shared

    names = sorted(m.name for m in pkgutil.walk_packages(shared.__path__, "shared."))
    for name in names:
        importlib.import_module(name)
    return names


class Host:
    """The host's side of the protocol, in the few lines this check needs."""

    def __init__(self, root: Path, protos: ModuleType) -> None:
        from azure_functions_runtime import handle_event

        self.root, self.protos, self.events = root, protos, handle_event

    async def send(self, handler: Any, **content: Any) -> Any:
        message = self.protos.StreamingMessage(request_id=str(uuid.uuid4()), **content)
        reply = await handler(
            SimpleNamespace(request=message, properties={"host": "127.0.0.1", "protos": self.protos})
        )
        if reply.result.status != self.protos.StatusResult.Success:
            raise RuntimeError(reply.result.exception.message or reply.result.result)
        return reply

    async def index(self) -> dict[str, Any]:
        p, root = self.protos, str(self.root)
        init = p.WorkerInitRequest(
            host_version="4.1000.0", capabilities={}, function_app_directory=root, worker_directory=root
        )
        await self.send(self.events.worker_init_request, worker_init_request=init)
        listing = p.FunctionsMetadataRequest(function_app_directory=root)
        metadata = await self.send(self.events.functions_metadata_request, functions_metadata_request=listing)
        functions = {f.name: f for f in metadata.function_metadata_results}
        for f in functions.values():
            load = p.FunctionLoadRequest(function_id=f.function_id, metadata=f)
            await self.send(self.events.function_load_request, function_load_request=load)
        return functions

    async def get(self, function: Any, path: str, query: dict[str, str]) -> tuple[int, str]:
        p = self.protos
        url = f"http://localhost{path}?" + "&".join(f"{k}={v}" for k, v in query.items())
        http = p.RpcHttp(
            method="GET", url=url, headers={}, query=query, params={}, body=p.TypedData(bytes=b"")
        )
        request = p.InvocationRequest(
            invocation_id=str(uuid.uuid4()),
            function_id=function.function_id,
            input_data=[p.ParameterBinding(name="req", data=p.TypedData(http=http))],
            trigger_metadata={},
            trace_context=p.RpcTraceContext(trace_parent="", trace_state="", attributes={}),
            retry_context=p.RetryContext(retry_count=0, max_retry_count=0, exception=p.RpcException()),
        )
        reply = await self.send(self.events.invocation_request, invocation_request=request)
        answer = reply.return_value.http
        body = answer.body
        raw = getattr(body, body.WhichOneof("data"))
        return int(answer.status_code), raw.decode() if isinstance(raw, bytes) else raw


async def drive(root: Path, protos: ModuleType) -> dict[str, Any]:
    import azure_functions_runtime as runtime

    runtime.start_threadpool_executor()
    try:
        host = Host(root, protos)
        functions = await host.index()
        status, body = await host.get(functions["status_report"], "/api/report", {"format": "yaml"})
    finally:
        runtime.stop_threadpool_executor()
    bindings = {name: [json.loads(b) for b in f.raw_bindings] for name, f in functions.items()}
    return {"functions": bindings, "invocation": {"status": status, "body": body}}


def loaded_from_outside(root: Path) -> list[str]:
    """Modules loaded from neither the package nor Python's own library."""
    allowed = (str(root), sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
    files = {getattr(m, "__file__", None) for name, m in list(sys.modules.items()) if name != "__main__"}
    return sorted(f for f in files if f and not f.startswith(allowed))


def main(app_root: str, protos_file: str) -> None:
    root = Path(app_root).resolve()
    sys.path[:0] = [str(root), str(root / SITE_PACKAGES)]
    report: dict[str, Any] = {
        "in_venv": sys.prefix != sys.base_prefix,
        "version": list(sys.version_info[:2]),
        "path": sys.path,
        "devstack_importable": importlib.util.find_spec("devstack") is not None,
    }
    report["shared_modules"] = import_shared()
    report.update(asyncio.run(drive(root, load_protos(protos_file))))
    report["outside"] = loaded_from_outside(root)
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:])
