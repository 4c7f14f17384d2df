"""Load a Python v2 ``function_app.py`` and describe its functions, as the Python worker does.

The worker imports ``function_app`` with the script root on ``sys.path``, finds the one
``FunctionApp`` object in it, and asks it for its functions and bindings. ``get_functions()``
may be called once per app object (a second call raises because the names are no longer
unique), so each load executes the module afresh: a restarted host gets a new app object.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func

from devstack.host.config import resolve_binding

TRIGGERS = ("blobTrigger", "queueTrigger", "timerTrigger", "httpTrigger")


class Context(func.Context):
    """The ``context`` argument the worker passes to a function that asks for one."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


@dataclass(frozen=True)
class FunctionSpec:
    """One function: its trigger binding (``%SETTING%`` resolved) and the Python callable."""

    name: str
    trigger: str
    arg_name: str
    binding: Mapping[str, Any]
    user_function: Callable[..., Any]
    context_arg: str | None = None
    directory: str = ""

    @property
    def function_id(self) -> str:
        """The id the host uses in receipts and poison messages."""
        return f"Host.Functions.{self.name}"

    def call(self, trigger_value: Any, invocation_id: str) -> Any:
        """Run the user function with its trigger argument (and ``context`` if it wants one)."""
        kwargs = {self.arg_name: trigger_value}
        if self.context_arg:
            kwargs[self.context_arg] = Context(invocation_id, self.name, self.directory)
        result = self.user_function(**kwargs)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return result


def script_file(script_root: Path) -> Path:
    """``PYTHON_SCRIPT_FILE_NAME`` overrides ``function_app.py``, as in the worker."""
    return script_root / os.environ.get("PYTHON_SCRIPT_FILE_NAME", "function_app.py")


def import_app_module(script_root: Path) -> ModuleType:
    """Execute the script file afresh as module ``function_app`` (script root on sys.path)."""
    path = script_file(script_root)
    root = str(script_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def find_app(module: ModuleType) -> func.FunctionRegister:
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if len(apps) != 1:
        raise ValueError(f"{module.__file__}: expected one FunctionApp object, found {len(apps)}")
    return apps[0]


def _context_arg(user_function: Callable[..., Any], arg_name: str) -> str | None:
    """Parameters beyond the trigger: only ``context`` / ``func.Context`` is supported here."""
    context = None
    for name, param in inspect.signature(user_function).parameters.items():
        if name == arg_name:
            continue
        if name == "context" or param.annotation in (func.Context, "func.Context"):
            context = name
        else:
            raise ValueError(
                f"{user_function.__name__}: parameter {name!r} needs a binding this dev host "
                "does not implement (only blob, queue, timer and HTTP triggers are supported)"
            )
    return context


def describe_functions(
    app: func.FunctionRegister,
    script_root: Path,
    environ: Mapping[str, str] | None = None,
    only: tuple[str, ...] | None = None,
) -> list[FunctionSpec]:
    """Enumerate the app's functions once; unsupported bindings fail here, not at run time."""
    specs = []
    for function in app.get_functions():
        name = function.get_function_name()
        if only is not None and name not in only:
            continue
        bindings = function.get_bindings()
        triggers = [b for b in bindings if b.type in TRIGGERS]
        others = [b.type for b in bindings if b.type not in TRIGGERS]
        if triggers and triggers[0].type == "httpTrigger" and others == ["http"]:
            others = []  # an HTTP trigger's response is its "$return" http output
        if len(triggers) != 1 or others:
            raise ValueError(
                f"function {name}: this dev host supports one blob, queue, timer or HTTP trigger "
                f"and no other bindings; found {[b.type for b in bindings]}"
            )
        trigger = triggers[0]
        binding = resolve_binding(trigger.get_dict_repr(), environ)
        user_function = function.get_user_function()
        specs.append(
            FunctionSpec(
                name=name,
                trigger=trigger.type,
                arg_name=trigger.name,
                binding=binding,
                user_function=user_function,
                context_arg=_context_arg(user_function, trigger.name),
                directory=str(script_root),
            )
        )
    return specs
