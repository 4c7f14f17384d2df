"""The host's side of the worker protocol, driving Microsoft's Python worker library in-process.

In Azure the Functions host (.NET) starts a Python worker process and talks to it over gRPC:
``WorkerInitRequest`` (the worker indexes ``function_app.py``), ``FunctionsMetadataRequest``
(the worker's own indexing: function ids and raw binding JSON, from which the host decides what
to listen to), one ``FunctionLoadRequest`` per function, then one ``InvocationRequest`` per
trigger event. From Python 3.13 on the worker's logic is the library ``azure_functions_runtime``
(pinned in requirements.txt) whose coroutines in ``handle_event`` take those requests; this
channel calls the same coroutines, with our message classes (``devstack.host.protos``), on an
event loop of its own, as the worker's proxy does on its loop. Sync functions run on the
worker's own thread pool (``PYTHON_THREADPOOL_THREAD_COUNT``), async ones on that loop.

What stands in for a process boundary: the library keeps per-process state (its function
registry, the cached ``function_app`` module, whether the deferred-binding extension was
looked for). A new worker process starts without any of it, so ``start`` clears it; only one
worker runs per process at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.host import protos

log = logging.getLogger("devstack.host.worker")

HOST_VERSION = "4.1000.0"
"""What we tell the worker in ``host_version`` (a Functions 4.x host; the worker only logs it)."""

_ACTIVE = threading.Lock()


class WorkerError(RuntimeError):
    """The worker refused a request; ``str()`` is the worker's own message."""


@dataclass(frozen=True)
class _Envelope:
    """What ``handle_event``'s coroutines take: ``.request.<name>`` and ``.properties``."""

    request: protos.StreamingMessage
    properties: dict[str, Any]


@dataclass(frozen=True)
class IndexedFunction:
    """One function as the worker indexed it: its id and its bindings as raw JSON."""

    function_id: str
    name: str
    bindings: tuple[dict[str, Any], ...]
    metadata: protos.RpcFunctionMetadata


def _failure_message(result: protos.StatusResult) -> str:
    return result.exception.message or result.result or "the worker reported a failure"


class Worker:
    """One Python worker, in-process: ``start`` indexes and loads, ``invoke`` runs one event."""

    def __init__(self, script_root: Path) -> None:
        self.script_root = Path(script_root).resolve()
        self.functions: list[IndexedFunction] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runtime: Any = None
        self._owns_lock = False
        self._added_path = False

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> list[IndexedFunction]:
        """Init, metadata, load. Raises ``WorkerError`` with the worker's message on failure."""
        if not _ACTIVE.acquire(blocking=False):
            raise RuntimeError("another worker is running in this process; stop its host first")
        self._owns_lock = True
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> list[IndexedFunction]:
        import azure_functions_runtime as runtime
        from azure_functions_runtime import handle_event
        from azure_functions_runtime.bindings import meta
        from azure_functions_runtime.functions import Registry

        self._runtime = runtime
        # A fresh worker process: no registry, no cached app module, extension not looked up.
        handle_event._functions = Registry()
        handle_event._metadata_result = None
        meta.DEFERRED_BINDING_REGISTRY = None
        meta._DEFERRED_BINDING_REGISTRY_LOADED = False
        sys.modules.pop(_script_module(), None)
        root = str(self.script_root)
        if root not in sys.path:  # the worker imports function_app from the app's folder
            sys.path.insert(0, root)
            self._added_path = True

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="python-worker", daemon=True)
        self._thread.start()
        runtime.start_threadpool_executor()

        init = self._call(
            handle_event.worker_init_request,
            worker_init_request=protos.WorkerInitRequest(
                host_version=HOST_VERSION,
                capabilities={},
                function_app_directory=root,
                worker_directory=root,
            ),
        )
        if init.result.status != protos.StatusResult.Success:
            raise WorkerError(_failure_message(init.result))
        metadata = self._call(
            handle_event.functions_metadata_request,
            functions_metadata_request=protos.FunctionsMetadataRequest(function_app_directory=root),
        )
        if metadata.result.status != protos.StatusResult.Success:
            raise WorkerError(_failure_message(metadata.result))
        functions = []
        for item in metadata.function_metadata_results or []:
            bindings = tuple(json.loads(raw) for raw in item.raw_bindings)
            functions.append(IndexedFunction(item.function_id, item.name, bindings, item))
        for function in functions:
            loaded = self._call(
                handle_event.function_load_request,
                function_load_request=protos.FunctionLoadRequest(
                    function_id=function.function_id, metadata=function.metadata
                ),
            )
            if loaded.result.status != protos.StatusResult.Success:
                raise WorkerError(f"{function.name}: {_failure_message(loaded.result)}")
        self.functions = functions
        return functions

    def stop(self, wait: bool = True) -> None:
        """Stop the worker's pool (waiting for running functions if ``wait``) and its loop."""
        if self._runtime is not None:
            if wait:
                self._runtime.stop_threadpool_executor()
            else:
                pool = self._runtime.get_threadpool_executor()
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
            self._runtime = None
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5.0)
            if not self._loop.is_running():
                self._loop.close()
            self._loop = None
        if self._added_path and str(self.script_root) in sys.path:
            sys.path.remove(str(self.script_root))
            self._added_path = False
        if self._owns_lock:
            self._owns_lock = False
            _ACTIVE.release()

    # -- requests ---------------------------------------------------------------------------

    def invoke(self, request: protos.InvocationRequest) -> protos.InvocationResponse:
        """One ``InvocationRequest``; blocks the calling (listener) thread until the response."""
        from azure_functions_runtime import handle_event

        return self._call(handle_event.invocation_request, invocation_request=request)

    def _call(self, handler: Any, **content: Any) -> Any:
        if self._loop is None:
            raise RuntimeError("worker is not running")
        envelope = _Envelope(
            protos.StreamingMessage(request_id=str(uuid.uuid4()), **content),
            {"host": "127.0.0.1", "protos": protos},
        )
        coroutine: Coroutine[Any, Any, Any] = handler(envelope)
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


def _script_module() -> str:
    """The module name the worker imports: ``PYTHON_SCRIPT_FILE_NAME`` without ``.py``."""
    return Path(os.environ.get("PYTHON_SCRIPT_FILE_NAME", "function_app.py")).stem
