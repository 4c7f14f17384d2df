"""The HTML report opened in a real headless Chromium: it renders, and the key numbers are on the page.

Chromium comes from the Debian package (``.ci/run`` installs it when missing); without it the
test is skipped with the reason, never failed. Chromium is told not to reach the network.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shared.reporting import report_formats
from tests.shared.reporting.test_report import typed_report as report

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--window-size=412,1600",  # a phone's width: the page must stay readable
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=180,
        check=False,
    )


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    binary = chromium()
    page = tmp_path / "report.html"
    page.write_text(report_formats.to_html(report()), encoding="utf-8")
    shot = tmp_path / "report.png"

    done = run_chromium(binary, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000

    dom = run_chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    html = dom.stdout.decode()
    # the key numbers, as the browser built the page
    assert "FAILED" in html and "1,497" in html  # overall status, RecordsSaved in total
    assert "10 of 10" in html and "bad-date: 1; missing-timestamp: 2" in html
    # the file named <script>...</script> stayed text: no script element in the parsed page
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.csv" in html
