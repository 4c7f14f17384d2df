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
from shared.reporting.model import Report
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


def long_reasons_report() -> Report:
    """The test report plus what a bad day adds: a file in a folder that is no connector and a
    rejection whose reason runs to several lines."""
    from shared.reporting.report import build
    from tests.shared.reporting.test_report import SINCE, T, ledger, run

    reason = "generic/x.csv is not UTF-8: byte 503, on line 2 (data row 1) is not valid UTF-8. " * 4
    runs = [
        *ledger(),
        (
            run("r7", "pharmacy/audit.csv", connector=None, status="rejected", minutes=0, reason="no folder"),
            [],
        ),
        (
            run(
                "r8",
                "generic/x.csv",
                status="rejected",
                minutes=0,
                reason=reason,
                quarantined="generic/x.csv",
            ),
            [],
        ),
    ]
    return build(runs, SINCE, T, ["generic", "epic"], poison_queue_length=1, quarantine_container="rejects")


def test_every_reason_is_visible_at_1280_px_without_horizontal_scrolling(tmp_path: Path) -> None:
    """The page as a compliance officer opens it on a laptop: the browser's own measure of the
    widest table region must fit the window (no region scrolls sideways)."""
    binary = chromium()
    page = tmp_path / "report.html"
    probe = (  # a copy of the page that writes each scrolling region's widths into the DOM
        "<script>addEventListener('load',()=>{document.body.dataset.widths=[...document."
        "querySelectorAll('.scroll')].map(e=>e.scrollWidth-e.clientWidth).join(' ')+' '+"
        "(document.documentElement.scrollWidth-innerWidth)})</script></body>"
    )
    page.write_text(report_formats.to_html(long_reasons_report()).replace("</body>", probe), encoding="utf-8")
    flags = ("--window-size=1280,900", "--virtual-time-budget=2000", "--dump-dom", page.as_uri())
    dom = run_chromium(binary, tmp_path / "profile", *flags)
    html = dom.stdout.decode()
    widths = [int(w) for w in html.split('data-widths="')[1].split('"')[0].split()]
    assert widths and all(w <= 0 for w in widths), widths
    assert "NOT A CONNECTOR" in html and "moved to the rejects container as generic/x.csv" in html


def test_the_page_prints_to_pdf(tmp_path: Path) -> None:
    binary = chromium()
    page = tmp_path / "report.html"
    page.write_text(report_formats.to_html(long_reasons_report()), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    done = run_chromium(
        binary, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    assert "@media print" in page.read_text() and "size:A4 landscape" in page.read_text()
