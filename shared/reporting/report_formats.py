"""The report in the forms people read: JSON (machines), HTML (a phone), CSV (a spreadsheet), text.

Pure functions of the ``Report``. Every value that came from outside (a file name, a reason)
is escaped for its format: HTML-escaped in the page, formula-neutralised in the CSV, so a file
named ``<script>...`` or ``=HYPERLINK(...)`` stays text wherever it is opened.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import Any

from shared.reporting.coverage import notes, sentence
from shared.reporting.freshness import Freshness
from shared.reporting.model import ConnectorEntry, Day, FileEntry, Report

FILE_COLUMNS = (
    "connector",
    "file_name",
    "run_id",
    "received_at",
    "completed_at",
    "status",
    "rows",
    "rows_valid",
    "records_saved",
    "rows_skipped",
    "skipped_by_reason",
    "rows_filtered",
    "filtered_by_event",
    "rows_sent",
    "columns_dropped",
    "duplicate_rows",
    "chunks",
    "chunks_uploaded",
    "chunks_retried",
    "chunks_failed",
    "chunks_poisoned",
    "retries",
    "throttled",
    "duplicate_of",
    "reason_code",
    "reason",
    "quarantined",
    "duration_seconds",
    "rows_per_second",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def when(value: str | None) -> str:
    """A timestamp for people: to the second, UTC (the JSON keeps full precision)."""
    return re.sub(r"\.\d+Z$", "Z", value) if value else "-"


def headline(report: Report) -> str:
    """The report in one plain sentence, for whoever reads no further: how many audit events
    reached Purview, how many did not and in how many files."""
    files = [f for f in report.files if f.status != "duplicate"]
    total = sum(f.rows for f in files)
    filtered = sum(f.rows_filtered for f in files)
    reached = sum(f.records_saved for f in files)
    short = [f for f in files if f.rows - f.rows_filtered > f.records_saved or f.status == "rejected"]
    missing = max(total - filtered - reached, 0)
    if not files:
        return "No audit events were received in this period."
    if not short:
        text = f"All {reached:,} audit events reached Purview."
    else:
        text = (
            f"{reached:,} of {total - filtered:,} audit events reached Purview; {missing:,} did not, "
            f"in {len(short):,} file{'s' if len(short) != 1 else ''}: see below."
        )
    if filtered:
        text += f" {filtered:,} more were left out by a connector's events filter, as configured."
    return text


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n"


# CSV ---------------------------------------------------------------------------------------
def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not evaluate: text starting with = + - @ gets an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, dict):
        value = "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, bool | int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(report: Report) -> str:
    """One row per file, each with the report's period and overall status."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["report_from", "report_to", "report_status", *FILE_COLUMNS])
    for f in report.files:
        writer.writerow(
            [csv_cell(report.period_from), csv_cell(report.period_to), csv_cell(report.status)]
            + [csv_cell(getattr(f, c)) for c in FILE_COLUMNS]
        )
    return out.getvalue()


# text (terminal) -------------------------------------------------------------------------------
def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], left: int = 1) -> list[str]:
    cells = [[str(h) for h in headers]] + [[_num(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return [line(cells[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in cells[1:]]


def _short(text: str, width: int = 44) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3) :]


def to_text(report: Report) -> str:
    lines = [f"Status report {when(report.period_from)} .. {when(report.period_to)}: {report.status}"]
    lines.append(headline(report))
    lines += [f"  ! {r}" for r in report.reasons]
    lines.append("")
    lines += _table(
        (
            "connector",
            "files",
            "rows",
            "valid",
            "saved",
            "skipped",
            "chunks ok",
            "failed",
            "dups",
            "last file",
        ),
        (
            (
                c.name,
                c.totals.files,
                c.totals.rows,
                c.totals.rows_valid,
                c.totals.records_saved,
                c.totals.rows_skipped,
                f"{c.totals.chunks_uploaded}/{c.totals.chunks}",
                c.totals.chunks_failed + c.totals.chunks_poisoned,
                c.totals.duplicate_files,
                (when(c.last_received_at)[:16] if c.last_received_at else "never")
                + (" STALE" if c.stale else ""),
            )
            for c in report.connectors
        ),
    )
    lines.append("")
    lines += _table(
        ("file", "status", "rows", "saved", "skipped", "filtered", "chunks ok", "retried", "secs", "rows/s"),
        (
            (
                _short(f.file_name),
                f.status,
                f.rows,
                f.records_saved,
                f.rows_skipped,
                f.rows_filtered,
                f"{f.chunks_uploaded}/{f.chunks}",
                f.chunks_retried,
                f.duration_seconds,
                f.rows_per_second,
            )
            for f in report.files
        ),
        left=2,
    )
    if not report.files:
        lines.append("(no files in this period)")
    return "\n".join(lines + _text_feeds(report)) + "\n"


def _text_feeds(report: Report) -> list[str]:
    """The healthcare policy's employee-profile feed: freshness per HR connector, coverage."""
    if not report.freshness and report.coverage is None:
        return []
    lines = ["", "Employee profiles (HR connectors):"]
    lines += [f"  {f.connector}: {f.status}, last upload {_last_upload(f)}" for f in report.freshness]
    if report.coverage is not None:
        lines += [f"  {sentence(report.coverage)}", *(f"  - {n}" for n in notes(report.coverage))]
    return lines


def _last_upload(f: Freshness) -> str:
    if f.last_upload_at is None:
        return "none in the last 31 days"
    return f"{when(f.last_upload_at)[:16]} ({f.days_since_upload:g} days ago)"


# HTML ---------------------------------------------------------------------------------------------
_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;
color:#1b1b1b;background:#fff;max-width:80rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
.status{display:inline-block;padding:.15rem .6rem;border-radius:.3rem;font-weight:700;border:2px solid}
.OK{color:#0b5d1e;background:#e3f4e6;border-color:#0b5d1e}
.WARNING{color:#6b4700;background:#fff3d6;border-color:#6b4700}
.FAILED{color:#8a1010;background:#fde4e4;border-color:#8a1010}
.NONE{color:#444;background:#eee;border-color:#777}
p.lead{font-size:1.15rem;font-weight:600;margin:.6rem 0}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
.scroll+.scroll{margin-top:1rem}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:right;white-space:nowrap;vertical-align:top}
th[scope=row],td.text,thead th{text-align:left}
td.text{white-space:normal}
th[scope=row],td.long{white-space:normal;overflow-wrap:anywhere}
th[scope=row]{min-width:10rem}
td.long{min-width:18rem}
thead th{background:#f0f0f0;white-space:normal}
dl.totals{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.4rem;margin:0}
dl.totals div{border:1px solid #ccc;border-radius:.3rem;padding:.4rem}
dl.totals dt{font-size:.8rem;color:#444}dl.totals dd{margin:0;font-size:1.2rem;font-weight:600}
ul.reasons li{margin:.2rem 0}
footer{margin-top:2rem;font-size:.8rem;color:#555}
@media print{
@page{size:A4 landscape;margin:12mm}
body{font-size:9pt;padding:0;max-width:none}
p.lead{font-size:11pt}
.scroll{overflow:visible}
th,td{white-space:normal;padding:.12rem .3rem}
td.long{min-width:0}
thead{display:table-header-group}
tr,dl.totals div,li{break-inside:avoid}
h2{break-after:avoid;margin-top:1rem}
.status,thead th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
dl.totals{grid-template-columns:repeat(5,1fr)}
}
"""


def _h(value: Any) -> str:
    return escape(_num(value) if not isinstance(value, str) else value, quote=True)


def _badge(status: str) -> str:
    look = status if status in ("OK", "WARNING", "FAILED") else "NONE"
    return f'<span class="status {look}">{_h(status)}</span>'


def _html_table(
    caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], row_header: int = 0
) -> str:
    """Accessible: caption, column headers with scope, the first cell a row header."""
    head = "".join(f'<th scope="col">{_h(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            if isinstance(value, tuple):  # (status,) renders as a badge
                content, cls = _badge(value[0]), ' class="text"'
            else:
                long = isinstance(value, str) and len(value) > 40  # a reason: wraps, never scrolls
                text = ' class="text long"' if long else ' class="text"'
                content, cls = _h(value), text if isinstance(value, str) else ""
            if i == row_header:
                cells.append(f'<th scope="row">{content}</th>')
            else:
                cells.append(f"<td{cls}>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td class="text" colspan="{len(headers)}">none</td></tr>')
    label = _h(caption)
    return (
        f'<div class="scroll" role="region" aria-label="{label}" tabindex="0"><table>'
        f"<caption>{label}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _skipped(by_reason: dict[str, int]) -> str:
    return "; ".join(f"{k}: {v:,}" for k, v in by_reason.items()) or "-"


def to_html(report: Report) -> str:
    """One self-contained page (no script, no outside resource: the endpoint's CSP forbids
    both), its sections in the order an operator reads them: why, totals, then detail."""
    title = f"EHR ingestion status {(report.period_to or '')[:10]}: {report.status}"
    return _html_page(
        title,
        _html_header(report),
        (
            ("why", "Reasons", _html_reasons(report.reasons)),
            ("tot", "Totals", _html_totals(report)),
            ("con", "Connectors", _html_connectors(report)),
            *_html_feeds(report),
            ("fil", "Files", _html_files(report)),
            (
                "his",
                "History",
                _html_rows(
                    f"Last {len(report.history)} days (by day received, UTC)", _DAY_COLUMNS, report.history
                ),
            ),
        ),
        f"Schema {_h(report.schema)}, generated {_h(when(report.generated_at))}. "
        "Counts, file names and run ids only: no patient or employee values.",
    )


type Column[T] = tuple[str, Callable[[T], Any]]
"""A table column: its heading and how a cell is read from one item. A 1-tuple cell renders
as a status badge."""


def _minute(value: str | None) -> str:
    """A timestamp in a table cell: to the minute, UTC said in the heading ("2026-11-22 10:00")."""
    return when(value)[:16].replace("T", " ") if value else "-"


def _last_received(c: ConnectorEntry) -> str:
    received = _minute(c.last_received_at) if c.last_received_at else "never"
    return received + (" (stale)" if c.stale else "")


NOT_A_CONNECTOR = "NOT A CONNECTOR"
"""The status shown for a folder no connector is configured for: its files are never sent."""


_CONNECTOR_COLUMNS: tuple[Column[ConnectorEntry], ...] = (
    ("connector", lambda c: c.name),
    ("status", lambda c: (c.status if c.configured else NOT_A_CONNECTOR,)),
    ("files", lambda c: c.totals.files),
    ("rows", lambda c: c.totals.rows),
    ("RecordsSaved", lambda c: c.totals.records_saved),
    ("skipped", lambda c: c.totals.rows_skipped),
    ("chunks uploaded", lambda c: f"{c.totals.chunks_uploaded:,} of {c.totals.chunks:,}"),
    ("failed or poisoned", lambda c: c.totals.chunks_failed + c.totals.chunks_poisoned),
    ("duplicates", lambda c: c.totals.duplicate_files),
    ("rejected", lambda c: c.totals.rejected_files),
    ("last file received (UTC)", _last_received),
)

_FILE_COLUMNS: tuple[Column[tuple[FileEntry, str]], ...] = (
    ("file", lambda fr: fr[0].file_name),
    ("status", lambda fr: (fr[0].outcome,)),
    ("received (UTC)", lambda fr: _minute(fr[0].received_at)),
    ("rows", lambda fr: fr[0].rows),
    ("RecordsSaved", lambda fr: fr[0].records_saved),
    ("skipped by reason", lambda fr: _skipped(fr[0].skipped_by_reason)),
    ("chunks uploaded", lambda fr: f"{fr[0].chunks_uploaded:,} of {fr[0].chunks:,}"),
    ("reason", lambda fr: fr[1]),
)
"""What a compliance officer reads, each file with its reason: every reason visible, wrapped,
at 1,280 px."""

_UPLOAD_COLUMNS: tuple[Column[FileEntry], ...] = (
    ("file", lambda f: f.file_name),
    ("connector", lambda f: f.connector),
    ("valid", lambda f: f.rows_valid),
    ("filtered by event", lambda f: _skipped(f.filtered_by_event)),
    ("columns not sent", lambda f: ", ".join(f.columns_dropped) or "-"),
    ("retried", lambda f: f.chunks_retried),
    ("failed", lambda f: f.chunks_failed),
    ("poisoned", lambda f: f.chunks_poisoned),
    ("throttled", lambda f: f.throttled),
    ("seconds", lambda f: f.duration_seconds),
    ("rows/s", lambda f: f.rows_per_second),
)
"""What an engineer reads about the same files."""


def _html_connectors(report: Report) -> str:
    """The connectors, then the folders that are none (files dropped where nothing reads them)."""
    table = _html_rows("Per connector", _CONNECTOR_COLUMNS, report.connectors)
    unknown = [c for c in report.connectors if not c.configured]
    if not unknown:
        return table
    known = ", ".join(c.name for c in report.connectors if c.configured) or "none"
    folders = ", ".join(
        f"{c.name} ({c.totals.files:,} file{'s' if c.totals.files != 1 else ''})" for c in unknown
    )
    return table + (
        f"<p>Folders that are no connector: {_h(folders)}. Files dropped there are never sent to "
        f"Purview: move them into a connector's folder ({_h(known)}), or add the connector to "
        "CONNECTORS.</p>"
    )


def _html_files(report: Report) -> str:
    with_reasons = [(f, _file_reason(f, report.quarantine_container)) for f in report.files]
    return _html_rows("Per file", _FILE_COLUMNS, with_reasons) + _html_rows(
        "Upload detail per file", _UPLOAD_COLUMNS, report.files
    )


_DAY_COLUMNS: tuple[Column[Day], ...] = (
    ("day", lambda d: d.date),
    ("status", lambda d: (d.status,)),
    ("files", lambda d: d.files),
    ("rows", lambda d: d.rows),
    ("RecordsSaved", lambda d: d.records_saved),
    ("skipped", lambda d: d.rows_skipped),
    ("rejected", lambda d: d.rejected_files),
    ("duplicates", lambda d: d.duplicate_files),
    ("chunks failed", lambda d: d.chunks_failed),
)


_FRESHNESS_COLUMNS: tuple[Column[Freshness], ...] = (
    ("HR connector", lambda f: f.connector),
    ("status", lambda f: (f.status,)),
    ("last upload of employee profiles", _last_upload),
)


def _html_feeds(report: Report) -> list[tuple[str, str, str]]:
    """Freshness and coverage, when the deployment has an HR connector."""
    if not report.freshness and report.coverage is None:
        return []
    body = _html_rows(
        "Purview deletes employee profiles not refreshed within 30 days", _FRESHNESS_COLUMNS, report.freshness
    )
    if report.coverage is not None:
        said = [sentence(report.coverage), *notes(report.coverage)]
        body += "".join(f"<p>{_h(line)}</p>" for line in said)
    return [("hr", "Employee profiles", body)]


def _html_rows[T](caption: str, columns: Sequence[Column[T]], items: Iterable[T]) -> str:
    return _html_table(
        caption, [heading for heading, _ in columns], ([cell(i) for _, cell in columns] for i in items)
    )


def _html_header(report: Report) -> str:
    period_from, period_to = _h(when(report.period_from)), _h(when(report.period_to))
    return (
        "<h1>EHR audit-log ingestion: status report</h1>"
        f'<p class="lead">{_h(headline(report))}</p>'
        f"<p>Overall status: {_badge(report.status)}</p>"
        f"<p>From <time>{period_from}</time> to <time>{period_to}</time> (UTC). "
        f"A connector with no export in {report.stale_after_hours:g} hours is flagged stale.</p>"
    )


def _html_reasons(reasons: list[str]) -> str:
    items = "".join(f"<li>{_h(r)}</li>" for r in reasons) or "<li>Nothing to report.</li>"
    return f'<ul class="reasons">{items}</ul>'


def _html_totals(report: Report) -> str:
    totals = report.totals
    facts = (
        ("files", totals.files),
        ("rows", totals.rows),
        ("valid rows", totals.rows_valid),
        ("RecordsSaved", totals.records_saved),
        ("rows skipped", totals.rows_skipped),
        ("rows filtered", totals.rows_filtered),
        ("chunks failed", totals.chunks_failed + totals.chunks_poisoned),
        ("rejected files", totals.rejected_files),
        ("duplicate files", totals.duplicate_files),
        ("poison queue", report.poison_queue_length),
    )
    items = "".join(f"<div><dt>{_h(k)}</dt><dd>{_h(v)}</dd></div>" for k, v in facts)
    return f'<dl class="totals">{items}</dl>'


def _html_page(title: str, header: str, sections: Iterable[tuple[str, str, str]], footer: str) -> str:
    """The page around the parts: each section labelled by its heading for screen readers."""
    body = "".join(
        f'<section aria-labelledby="{sid}"><h2 id="{sid}">{_h(heading)}</h2>{content}</section>'
        for sid, heading, content in sections
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(title)}</title><style>{_CSS}</style></head><body>"
        f"<header>{header}</header><main>{body}</main><footer>{footer}</footer>"
        "</body></html>\n"
    )


def _file_reason(f: FileEntry, container: str) -> str:
    reason = f.reason or (f"same content as run {f.duplicate_of}" if f.duplicate_of else "-")
    if f.quarantined:
        reason += f" (moved to the {container} container as {f.quarantined}, with its .report.json)"
    return reason


RENDERERS: dict[str, Callable[[Report], str]] = {"json": to_json, "html": to_html, "csv": to_csv}
