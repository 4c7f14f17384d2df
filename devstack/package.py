"""Build the one zip Azure runs: ``./dev package`` (``python -m devstack.package``).

Why a package built here, not a remote build: Azure's remote build (Oryx) has run pip on the
wrong Python for a 3.13 app (azd issue 8538) and has broken 3.13 builds before (Oryx issues
2833/2834, 3081); our ``azure-functions-runtime`` and ``azure-functions`` 2.x require 3.13. So
the package carries its dependencies, and azd (``remoteBuild: false``, from the same files
unpacked) or ``az functionapp deployment source config-zip`` deploys it as is.

What is in it: the app as committed (``function_app.py``, ``host.json``, ``requirements.txt``,
``shared/``; ``git ls-files``, so no caches or local files) and, under
``.python_packages/lib/site-packages``, every package of ``requirements.lock`` as the wheel for
Linux x86-64 CPython 3.13, its hash checked (where Azure's Python worker looks for an app's
packages when there is no remote build). Nothing else: the zip is the output of an allow-list.

Reproducible: every entry has the timestamp of the commit, fixed permissions, and the entries
are sorted, so two builds of one commit on one machine are byte-identical and on any machine
hold the same files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_FILES = ("function_app.py", "host.json", "requirements.txt", "shared")
SITE_PACKAGES = ".python_packages/lib/site-packages"
DEFAULT_OUTPUT = REPO_ROOT / "dist" / "ehr-audit-ingest.zip"

# Azure runs Python 3.13 apps on Linux x86-64, in an image built on Debian 12, glibc 2.36
# (Azure/azure-functions-docker, host/4/bookworm/python/python313). A manylinux wheel names the
# oldest glibc it needs, and pip takes the tags to accept one --platform at a time: the levels our
# packages publish, all older than 2.36 (numpy ships manylinux_2_27/2_28 wheels, most others
# manylinux2014).
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_27_x86_64", "manylinux_2_28_x86_64")
Stamp = tuple[int, int, int, int, int, int]
ZIP_EPOCH: Stamp = (1980, 1, 1, 0, 0, 0)
"""The oldest time a zip entry can hold; used when there is no commit to date the build."""


def app_files(root: Path) -> list[str]:
    """The app's tracked files: what is committed, never a cache or a local settings file."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--", *APP_FILES],  # noqa: S607 - git from PATH, as a developer runs it
        cwd=root,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return sorted(p for p in out.decode().split("\0") if p and (root / p).is_file())


def commit_time(root: Path) -> Stamp:
    """The commit's time (UTC) as a zip timestamp; SOURCE_DATE_EPOCH wins where it is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        proc = subprocess.run(
            ["git", "log", "-1", "--format=%ct"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        epoch = proc.stdout.strip() or None
    if epoch is None:
        return ZIP_EPOCH
    t = time.gmtime(int(epoch))
    return max(ZIP_EPOCH, (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec))


def install_dependencies(lock: Path, target: Path) -> None:
    """Every locked package as its Linux x86-64 CPython 3.13 wheel, hashes checked, no
    compiling and no resolving: the lock already names every package."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    wheels = ["--python-version", "3.13", "--implementation", "cp", "--abi", "cp313", "--only-binary=:all:"]
    checked = ["--require-hashes", "--no-deps", "--no-compile", "--quiet", "--disable-pip-version-check"]
    pip = [sys.executable, "-m", "pip", "install", "--target", str(target), *platforms, *wheels, *checked]
    subprocess.run([*pip, "-r", str(lock)], check=True, timeout=1800)
    # Console scripts carry this machine's interpreter path and the app never runs them: they
    # go, and so do their lines in each RECORD (whose hashes would differ from machine to machine).
    shutil.rmtree(target / "bin", ignore_errors=True)
    for record in target.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith("../")), encoding="utf-8")


def site_package_files(target: Path) -> list[str]:
    return sorted(
        p.relative_to(target).as_posix()
        for p in target.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def write_zip(output: Path, entries: list[tuple[str, Path]], stamp: Stamp) -> None:
    """Sorted entries, one timestamp, fixed permissions: the same inputs give the same bytes."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as zf:
        for name, source in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # Unix, whatever machine builds it
            with source.open("rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    partial.replace(output)


def build(output: Path = DEFAULT_OUTPUT, root: Path = REPO_ROOT) -> Path:
    with tempfile.TemporaryDirectory(prefix="ehr-package-") as tmp:
        target = Path(tmp) / "site-packages"
        install_dependencies(root / "requirements.lock", target)
        entries = [(name, root / name) for name in app_files(root)]
        entries += [(f"{SITE_PACKAGES}/{name}", target / name) for name in site_package_files(target)]
        write_zip(output, entries, commit_time(root))
    return output


def unpack(package: Path, folder: Path) -> None:
    """The zip's files and nothing else in ``folder`` (under dist/): what azd deploys with
    ``dist:`` (it zips a folder itself, so it is handed exactly this package's files)."""
    dist = DEFAULT_OUTPUT.parent
    if not folder.is_relative_to(dist) or folder == dist:
        raise SystemExit(f"--unpacked must be a folder under {dist}, not {folder}")
    shutil.rmtree(folder, ignore_errors=True)
    with zipfile.ZipFile(package) as zf:
        zf.extractall(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev package", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the zip to write")
    parser.add_argument("--unpacked", type=Path, help="also extract it into this folder under dist/ (azd)")
    args = parser.parse_args(argv)
    output = build(args.output.resolve())
    with zipfile.ZipFile(output) as zf:
        count = len(zf.infolist())
    print(f"{output} ({count} files, {output.stat().st_size / 1e6:.1f} MB)")
    if args.unpacked:
        unpack(output, args.unpacked.resolve())
        print(f"{args.unpacked.resolve()} (the same files, for azd)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
