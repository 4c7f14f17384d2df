"""Where a CLI command finds its settings: a settings file, the environment, or the local stack."""

from __future__ import annotations

import argparse
import hashlib
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
    _trust_both(values.get("REQUESTS_CA_BUNDLE", ""))
    return Settings(values)


if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time
    Subparsers = argparse._SubParsersAction
"""What ``add_subparsers`` returns: each command module registers itself on it."""


def _trust_both(bundle: str) -> None:
    """The settings' CA bundle (the local stack's, with its emulator's CA) trusted whatever
    REQUESTS_CA_BUNDLE already held (a proxied site's CA, as the README advises, a stale path,
    nothing): one bundle of both takes its place, written next to the settings' bundle (the
    stack's own folder, not a shared temporary one another user could plant a file in)."""
    held = os.environ.get("REQUESTS_CA_BUNDLE", "")
    if not bundle or held == bundle or not Path(bundle).is_file():
        return
    pems = [Path(bundle).read_text()]
    if held and Path(held).is_file():
        pems.append(Path(held).read_text(errors="replace"))
    text = "\n".join(pems)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    both = Path(bundle).with_name(f"{Path(bundle).stem}+{digest}.pem")
    try:
        if not both.exists():
            both.write_text(text)
    except OSError:  # a folder we may not write to: leave REQUESTS_CA_BUNDLE as it was
        return
    os.environ["REQUESTS_CA_BUNDLE"] = str(both)
