"""The package Azure runs (`./dev package`), built as a user builds it: what it holds, that two
builds are the same bytes, that the wheels inside are the ones Azure's Linux x86-64 CPython 3.13
loads, and that it runs from itself: a bare Python 3.13 with only the unzipped package on its
path imports all of shared/, and Microsoft's worker from the package indexes function_app.py
and runs an invocation (tests/package_child.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ".python_packages/lib/site-packages/"
CHILD = Path(__file__).with_name("package_child.py")
PROTOS = ROOT / "devstack" / "host" / "protos.py"


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


def test_nothing_in_it_names_the_machine_that_built_it(package: Path) -> None:
    """What would make builds on two machines differ: the path of this checkout and its venv
    (console scripts' shebangs, and their hashes in RECORD files)."""
    checkout = f"{ROOT}/".encode()
    with zipfile.ZipFile(package) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            assert checkout not in data, name
            if name.endswith(".dist-info/RECORD"):
                assert not [line for line in data.decode().splitlines() if line.startswith("../")], name


def test_two_builds_of_one_commit_are_the_same_bytes(package: Path, tmp_path: Path) -> None:
    again = build(tmp_path / "again.zip")
    assert again.read_bytes() == package.read_bytes()


@pytest.fixture(scope="module")
def run_from_package(package: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The child's report. The interpreter is the one under .venv, not the venv: -I ignores
    PYTHON* variables and the user's site, -S every site-packages; the working directory is
    empty, so nothing but the package can be found."""
    app = tmp_path_factory.mktemp("wwwroot")
    with zipfile.ZipFile(package) as zf:
        zf.extractall(app)
    python = getattr(sys, "_base_executable", sys.executable)
    proc = subprocess.run(
        [python, "-I", "-S", str(CHILD), str(app), str(PROTOS)],
        cwd=tmp_path_factory.mktemp("empty"),
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["app"] = str(app)
    return report


def test_a_bare_python_313_sees_only_the_package(run_from_package: dict) -> None:
    report = run_from_package
    assert report["version"] == [3, 13] and not report["in_venv"]
    assert not report["devstack_importable"]
    assert report["path"][:2] == [report["app"], f"{report['app']}/{SITE.rstrip('/')}"]
    assert not [p for p in report["path"][2:] if "site-packages" in p]
    # Every module came from the package or Python's own library, but devstack's stand-in
    # protocol messages, which the host (not the app) brings.
    assert report["outside"] == [str(PROTOS)]


def test_every_module_under_shared_imports_from_the_package(run_from_package: dict) -> None:
    expected = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "shared").rglob("*.py")
    )
    assert run_from_package["shared_modules"] == [m for m in expected if m != "shared"]


def test_microsofts_worker_from_the_package_indexes_the_app(run_from_package: dict) -> None:
    functions = run_from_package["functions"]
    assert sorted(functions) == ["daily_report", "plan_export", "status_report", "upload_chunk"]
    [blob] = [b for b in functions["plan_export"] if b["type"] == "blobTrigger"]
    assert blob["source"] == "EventGrid" and blob["connection"] == "ExportsStorage"


def test_one_invocation_runs_through_the_worker_from_the_package(run_from_package: dict) -> None:
    """The HTTP function, with a format it refuses: the worker builds the HttpRequest, our
    handler answers, the worker turns the HttpResponse into the reply; no service is needed."""
    assert run_from_package["invocation"] == {
        "status": 400,
        "body": "unknown format 'yaml'; use one of json, html, csv\n",
    }
