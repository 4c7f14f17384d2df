"""Offline checks of infra/: the Bicep is parsed with pycep-parser (the parser checkov uses)
and scanned with checkov once per test session. No Bicep CLI and no network are needed."""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@functools.cache
def _parser() -> BicepParser:
    return BicepParser()


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    """pycep's JSON form of one .bicep file, parsed once per session."""
    return cast(dict[str, Any], _parser().parse(file_path=path))


@pytest.fixture(scope="session")
def templates() -> dict[str, dict[str, Any]]:
    """Every .bicep under infra/, parsed, keyed by its path relative to infra/."""
    return {f.relative_to(INFRA).as_posix(): parse(f) for f in bicep_files()}


@pytest.fixture(scope="session")
def main(templates) -> dict[str, Any]:
    return templates["main.bicep"]


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    """One offline checkov scan of infra/ for the whole session (about 3 s)."""
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: run ./dev setup (it creates .venv-checkov)")
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--framework", "bicep", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=240,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov gave no JSON report (exit {proc.returncode}): {proc.stderr[-2000:]}")
    # With nothing to scan checkov prints a bare summary; with results, one report per framework.
    if isinstance(report, list):
        [report] = [r for r in report if r.get("check_type") == "bicep"]
    return report
