"""The package Azure runs (`./dev package`), built as a user builds it: what it holds, that two
builds are the same bytes, and that the wheels inside are the ones Azure's Linux x86-64
CPython 3.13 can load."""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ".python_packages/lib/site-packages/"


def build(output: Path) -> Path:
    proc = subprocess.run(
        [str(ROOT / "dev"), "package", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert str(output) in proc.stdout
    return output


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield build(tmp_path_factory.mktemp("package") / "app.zip")


def names(package: Path) -> list[str]:
    with zipfile.ZipFile(package) as zf:
        return zf.namelist()


def tracked(*paths: str) -> set[str]:
    git = ["git", "ls-files", "--", *paths]
    out = subprocess.run(git, cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_holds_the_app_and_its_dependencies_and_nothing_else(package: Path) -> None:
    entries = names(package)
    app = {n for n in entries if not n.startswith(SITE)}
    assert app == tracked("function_app.py", "host.json", "requirements.txt", "shared")
    assert {"function_app.py", "host.json", "requirements.txt", "shared/handlers.py"} <= app
    site = {n[len(SITE) :].split("/")[0] for n in entries if n.startswith(SITE)}
    assert {"azure_functions_runtime", "numpy", "azurefunctions", "msal"} <= site
    assert not [n for n in entries if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in entries if n.split("/")[0] in {"devstack", "tests", "bench", "ehr_cli", "infra"}]
    assert not [n for n in entries if "local.settings" in n or "node_modules" in n or ".venv" in n]


def test_numpy_is_the_manylinux_x86_64_cpython_313_build(package: Path) -> None:
    with zipfile.ZipFile(package) as zf:
        [wheel] = [n for n in zf.namelist() if n.startswith(f"{SITE}numpy-") and n.endswith("/WHEEL")]
        lines = zf.read(wheel).decode().splitlines()
        tags = [line.split(": ")[1] for line in lines if line.startswith("Tag:")]
        extensions = [n for n in zf.namelist() if n.startswith(f"{SITE}numpy/") and n.endswith(".so")]
    assert tags and all(t.startswith("cp313-cp313-manylinux") and t.endswith("_x86_64") for t in tags)
    assert extensions and all(n.endswith(".cpython-313-x86_64-linux-gnu.so") for n in extensions)


def test_every_compiled_extension_is_for_linux_x86_64(package: Path) -> None:
    """No wheel of another platform slipped in (a macOS .so, a Windows .pyd, an arm64 build)."""
    with zipfile.ZipFile(package) as zf:
        binaries = [n for n in zf.namelist() if n.endswith((".so", ".pyd", ".dylib"))]
        for name in binaries:
            head = zf.open(name).read(20)
            assert head[:4] == b"\x7fELF", name
            assert int.from_bytes(head[18:20], "little") == 62, name  # e_machine EM_X86_64


def test_two_builds_of_one_commit_are_the_same_bytes(package: Path, tmp_path: Path) -> None:
    again = build(tmp_path / "again.zip")
    assert again.read_bytes() == package.read_bytes()
