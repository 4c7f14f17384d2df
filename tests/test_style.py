"""The guide's rule, checked: no function in shared/ or ehr_cli/ needs scrolling (over 60 lines)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60


def long_functions() -> list[str]:
    found = []
    for package in ("shared", "ehr_cli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    found.append(f"{rel}:{node.lineno} {node.name} is {lines} lines")
    return found


def test_no_function_in_shared_or_ehr_cli_is_over_60_lines():
    assert long_functions() == []
