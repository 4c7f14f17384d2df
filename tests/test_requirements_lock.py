"""requirements.lock is requirements.txt resolved: every range there is met by a pin here, every
pin carries hashes (so pip installs it in hash-checking mode), and the .venv the tests run in
holds exactly those pins. A requirements.txt edited without `./dev lock` fails here."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def requirement_lines(path: Path) -> list[str]:
    """Logical lines (backslash continuations joined), comments and options dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and line.strip()[0].isalnum()]


def locked() -> dict[str, tuple[Requirement, list[str]]]:
    pins: dict[str, tuple[Requirement, list[str]]] = {}
    for line in requirement_lines(ROOT / "requirements.lock"):
        spec, *options = line.split(" --hash=")
        req = Requirement(spec)
        pins[canonicalize_name(req.name)] = (req, options)
    return pins


def pinned_version(req: Requirement) -> str:
    [spec] = req.specifier
    assert spec.operator == "==", f"{req.name} is not pinned"
    return spec.version


def test_every_requirement_is_locked_within_its_range():
    pins = locked()
    for line in requirement_lines(ROOT / "requirements.txt"):
        wanted = Requirement(line)
        assert canonicalize_name(wanted.name) in pins, f"{wanted.name}: run ./dev lock"
        req, _ = pins[canonicalize_name(wanted.name)]
        assert wanted.specifier.contains(pinned_version(req), prereleases=True), (
            f"{wanted.name} {pinned_version(req)} is outside {wanted.specifier}: run ./dev lock"
        )


def test_every_pin_has_sha256_hashes():
    for name, (_, hashes) in locked().items():
        assert hashes, name
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h.strip()) for h in hashes), name


def test_the_test_environment_runs_the_locked_versions():
    for name, (req, _) in locked().items():
        if req.marker is not None and not req.marker.evaluate():
            continue
        assert metadata.version(name) == pinned_version(req), f"{name}: run ./dev setup"
