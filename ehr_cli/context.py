"""Where a CLI command finds its settings: a settings file, the environment, or the local stack."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from shared.common.settings import Settings


def settings_values(path: str | None) -> dict[str, str]:
    if path:
        return dict(json.loads(Path(path).read_text())["Values"])
    if os.environ.get("CONNECTORS"):
        return dict(os.environ)
    from devstack.demo import DEMO_WORK  # dev-only fallback: the running local stack, or the demo's
    from devstack.stack import DEFAULT_WORK, Stack

    for work in (DEFAULT_WORK, DEMO_WORK):
        if (work / "stack.json").exists():
            return Stack.load(work).settings
    raise FileNotFoundError(
        f"no settings: give --settings local.settings.json, set the app settings in the environment, "
        f"or start a local stack (`ehr-ingest stack up`, or `./dev demo`; none is running in {DEFAULT_WORK} "
        f"or {DEMO_WORK})"
    )


def apply(path: str | None) -> Settings:
    """Put the settings into the environment, as the Functions host does, and return them."""
    values = settings_values(path)
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return Settings(values)


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time
    Subparsers = argparse._SubParsersAction
"""What ``add_subparsers`` returns: each command module registers itself on it."""
