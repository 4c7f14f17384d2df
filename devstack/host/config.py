"""host.json options, ``%SETTING%`` expressions and local.settings.json, read as the host does.

Why mirror the host: the point of the dev host is that what works locally works in Azure, so it
reads the same host.json keys with the same defaults and fails on the same mistakes (an
unresolved ``%SETTING%``, a malformed TimeSpan) instead of guessing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")
_EXPRESSION = re.compile(r"%([^%]+)%")


def parse_timespan(text: str) -> float:
    """A .NET TimeSpan string (``[d.]hh:mm[:ss[.fffffff]]``) in seconds."""
    match = _TIMESPAN.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a TimeSpan (expected hh:mm:ss)")
    days, hours, minutes, seconds, fraction = match.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


@dataclass(frozen=True)
class QueueOptions:
    """``extensions.queues`` with the Functions host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> QueueOptions:
        batch_size = int(raw.get("batchSize", 16))
        if not 1 <= batch_size <= 32:
            raise ValueError(f"host.json queues.batchSize {batch_size} must be 1-32")
        encoding = str(raw.get("messageEncoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise ValueError(f"host.json queues.messageEncoding {encoding!r}: base64 or none")
        options = cls(
            batch_size=batch_size,
            new_batch_threshold=int(raw.get("newBatchThreshold", batch_size // 2)),
            max_dequeue_count=int(raw.get("maxDequeueCount", 5)),
            visibility_timeout=parse_timespan(str(raw.get("visibilityTimeout", "00:00:00"))),
            max_polling_interval=parse_timespan(str(raw.get("maxPollingInterval", "00:01:00"))),
            message_encoding=encoding,
        )
        if options.max_dequeue_count < 1 or options.new_batch_threshold < 0:
            raise ValueError("host.json queues: maxDequeueCount >= 1, newBatchThreshold >= 0")
        return options


@dataclass(frozen=True)
class HostConfig:
    """The parts of host.json this host honours."""

    queues: QueueOptions
    functions: tuple[str, ...] | None = None
    """host.json ``functions``: when present, only these functions are loaded."""
    function_timeout: float | None = None

    @classmethod
    def load(cls, script_root: Path) -> HostConfig:
        path = script_root / "host.json"
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        if raw and raw.get("version") != "2.0":
            raise ValueError(f'{path}: version must be "2.0"')
        apply_overrides(raw, os.environ)
        queues = QueueOptions.from_json(raw.get("extensions", {}).get("queues", {}))
        functions = raw.get("functions")
        timeout = raw.get("functionTimeout")
        return cls(
            queues=queues,
            functions=tuple(functions) if functions is not None else None,
            function_timeout=parse_timespan(timeout) if timeout else None,
        )


OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


def apply_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    """App settings ``AzureFunctionsJobHost__a__b=v`` override host.json ``a.b``, as in Azure.

    Keys match case-insensitively, like the host's configuration system.
    """
    for name, value in environ.items():
        if not name.startswith(OVERRIDE_PREFIX):
            continue
        node = raw
        *parents, leaf = name[len(OVERRIDE_PREFIX) :].split("__")
        for part in parents:
            key = next((k for k in node if k.lower() == part.lower()), part)
            node = node.setdefault(key, {})
        key = next((k for k in node if k.lower() == leaf.lower()), leaf)
        node[key] = value


def resolve(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every ``%NAME%`` with the app setting ``NAME``; a missing one is an error."""
    env = os.environ if environ is None else environ

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(f"binding expression '%{name}%' does not resolve: set {name}")
        return env[name]

    return _EXPRESSION.sub(lookup, value)


def resolve_binding(binding: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict:
    """A binding's dict with every string value's ``%NAME%`` expressions resolved."""
    return {k: resolve(v, environ) if isinstance(v, str) else v for k, v in binding.items()}


def load_settings_file(path: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Copy local.settings.json ``Values`` into the environment, like ``func start``.

    Variables already set win, so a shell or test can override a file value. Returns the names
    that were set (never the values: some are connection strings).
    """
    env = os.environ if environ is None else environ
    raw = json.loads(path.read_text(encoding="utf-8"))
    if raw.get("IsEncrypted"):
        raise ValueError(f"{path}: encrypted settings files are not supported")
    applied = []
    for name, value in (raw.get("Values") or {}).items():
        if name not in env:
            env[name] = "" if value is None else str(value)
            applied.append(name)
    return applied
