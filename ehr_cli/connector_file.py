"""The ``--mapping FILE`` of ``validate`` and ``push``: the same connector options the
pipeline reads from CONNECTORS, so a local check or push behaves as the function app would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.common.settings import Connector

import json
from pathlib import Path

OPTIONS = ("mapping", "invalid_rows", "max_invalid_share", "required", "columns", "events", "date_order")
"""The keys of a connector entry that shape validation and what is sent."""


class UsageError(Exception):
    pass


def connector_options(path: str | None) -> tuple[dict[str, Any], str | None]:
    """The options in the file and the kind it names (if it is a whole connector entry).

    The file holds either a ``{column: field}`` mapping or a whole entry of CONNECTORS (an
    object with a ``mapping``, ``kind``, ``columns`` or ``events`` key)."""
    if not path:
        return {}, None
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read mapping file {path}: {exc}") from None
    if not isinstance(loaded, dict):
        raise UsageError("the mapping file must hold a JSON object")
    entry = isinstance(loaded.get("mapping"), dict) or any(
        k in loaded for k in ("kind", "columns", "events", "date_order")
    )
    if not entry:
        return {"mapping": loaded}, None
    return {k: loaded[k] for k in OPTIONS if k in loaded}, loaded.get("kind")


def build(name: str, kind: str, job_id: str, options: dict[str, Any]) -> Connector:
    """A Connector, or a UsageError naming the key that is wrong."""
    from shared.common.settings import Connector

    try:
        return Connector(name=name, kind=kind, job_id=job_id, **options)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None
