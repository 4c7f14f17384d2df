"""No account key, connection string with a key, SAS signature or private key in any tracked
file: code, settings samples, infra, docs. The local stack's Azurite key is generated at run time
(devstack/azurite.py), never written into the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "account key": re.compile(r"AccountKey=[A-Za-z0-9+/]{20,}={0,2}"),
    "Azurite's well-known key": re.compile(r"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2U"),
    "SAS signature": re.compile(r"[?&;]sig=[A-Za-z0-9%+/]{20,}"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----"),
    "storage key lookup in infra": re.compile(r"\blistKeys\s*\("),
    "client secret literal": re.compile(r"(?i)client_?secret\"?\s*[:=]\s*[\"'][A-Za-z0-9_~.\-]{30,}[\"']"),
}


def tracked_files() -> list[Path]:
    try:
        git = ["git", "ls-files", "-z"]
        out = subprocess.run(git, cwd=ROOT, capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / p for p in out.decode().split("\0") if p]


def test_no_keys_or_keyed_connection_strings_in_tracked_files():
    found = []
    files = tracked_files()
    assert any(p.name == "local.settings.sample.json" for p in files)
    for path in files:
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for what, pattern in FORBIDDEN.items():
            if what.endswith("in infra") and path.suffix != ".bicep":
                continue  # docs may name the function they promise not to use
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}")  # never the value itself
    assert found == []


def test_the_patterns_catch_what_they_are_for():
    samples = {
        "account key": "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "QUJD" * 10 + "==",
        "SAS signature": "https://x.blob.core.windows.net/c?sv=2024&sig=" + "abcd%2B" * 6,
        "private key": "-----BEGIN PRIVATE KEY-----",
        "storage key lookup in infra": "var k = sa.listKeys().keys[0].value",
        "client secret literal": '"client_secret": "' + "Ab3~" * 9 + '"',
    }
    for what, text in samples.items():
        assert FORBIDDEN[what].search(text), what
    assert not FORBIDDEN["account key"].search("AccountKey={self.key};")
