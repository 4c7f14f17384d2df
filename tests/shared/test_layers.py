"""The stage packages import one way: stages import ``shared.common``, never each other;
``common`` imports no stage; only the composition modules (``handlers``, ``push``) see
everything. A cycle or a sideways import would blur which code runs in which trigger."""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
STAGES = ("intake", "delivery", "reporting")
COMPOSITION = ("handlers", "push")


def allowed(package: str) -> set[str]:
    if package in COMPOSITION:
        return {"common", *STAGES}
    if package == "common":
        return {"common"}
    return {"common", package}


def shared_imports(path: Path) -> set[str]:
    """The top-level ``shared`` packages a module imports, from its import statements."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] in {"devstack", "ehr_cli"}:
                found.add(parts[0])
            elif parts[0] == "shared" and len(parts) > 1:
                found.add(parts[1])
    return found


def modules():
    for path in sorted(SHARED.rglob("*.py")):
        rel = path.relative_to(SHARED)
        package = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if package != "__init__":
            yield rel, package, path


def test_stages_import_only_common_and_themselves():
    wrong = [
        f"{rel} imports shared.{name}"
        for rel, package, path in modules()
        for name in sorted(shared_imports(path) - allowed(package))
    ]
    assert wrong == []


def test_every_module_lives_in_a_stage_package_or_composes_them():
    loose = [str(rel) for rel, package, _ in modules() if package not in {"common", *STAGES, *COMPOSITION}]
    assert loose == []


def test_each_package_says_what_it_does():
    for package in ("common", *STAGES):
        init = SHARED / package / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{package}/__init__.py has no docstring"


def test_the_rule_catches_a_sideways_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from shared.intake.scan import scan\nimport devstack.host\n")
    assert shared_imports(module) - allowed("delivery") == {"intake", "devstack"}
