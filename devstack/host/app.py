"""The app's functions as the Python worker indexed them, and what this host can listen to.

The Functions host does not read ``function_app.py`` itself: in the v2 model the worker
indexes it and answers ``FunctionsMetadataRequest`` with each function's id and raw binding
JSON (``devstack.host.worker``). The host reads the trigger binding from that JSON, resolves
its ``%SETTING%`` expressions, and starts the matching listener. Bindings this host has no
listener for fail here, at start, not at the first event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.host.config import resolve_binding
from devstack.host.worker import IndexedFunction

TRIGGERS = ("blobTrigger", "queueTrigger", "timerTrigger", "httpTrigger")


@dataclass(frozen=True)
class FunctionSpec:
    """One function: the worker's id for it and its trigger binding (``%SETTING%`` resolved)."""

    name: str
    trigger: str
    arg_name: str
    binding: Mapping[str, Any]
    worker_id: str = ""

    @property
    def function_id(self) -> str:
        """The id the host uses in receipts and poison messages."""
        return f"Host.Functions.{self.name}"


def describe_functions(
    indexed: Iterable[IndexedFunction],
    environ: Mapping[str, str] | None = None,
    only: tuple[str, ...] | None = None,
) -> list[FunctionSpec]:
    """The listeners to start, from the worker's metadata; host.json ``functions`` filters."""
    specs = []
    for function in indexed:
        if only is not None and function.name not in only:
            continue
        bindings = function.bindings
        triggers = [b for b in bindings if b.get("type") in TRIGGERS]
        others = [b.get("type") for b in bindings if b.get("type") not in TRIGGERS]
        if triggers and triggers[0]["type"] == "httpTrigger" and others == ["http"]:
            others = []  # an HTTP trigger's response is its "$return" http output
        if len(triggers) != 1 or others:
            raise ValueError(
                f"function {function.name}: this dev host supports one blob, queue, timer or HTTP "
                f"trigger and no other bindings; found {[b.get('type') for b in bindings]}"
            )
        trigger = triggers[0]
        specs.append(
            FunctionSpec(
                name=function.name,
                trigger=trigger["type"],
                arg_name=trigger["name"],
                binding=resolve_binding(trigger, environ),
                worker_id=function.function_id,
            )
        )
    return specs
