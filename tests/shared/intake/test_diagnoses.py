"""Files that are not the delimited UTF-8 the connectors read, as other tools write them:
each gets a verdict naming what it is and how to fix it."""

import gzip
import io
import zipfile

import pytest

from tests.shared.intake.exports import EPIC, GENERIC, check, values, written


def csv_export(rows=30):
    return written([values(i) for i in range(rows)])


def xlsx(data_rows=3):
    """An .xlsx as Excel lays it out: a ZIP whose first entry is [Content_Types].xml."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        book.writestr("_rels/.rels", "<Relationships/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet>" + "<row/>" * data_rows + "</worksheet>")
    return out.getvalue()


@pytest.mark.parametrize("name", ["audit.csv", "audit.csv.gz", "audit.gz"])
def test_gzip_whatever_its_name(name):
    outcome = check(gzip.compress(csv_export()), name)
    assert outcome.rejected.code == "compressed"
    assert "gzip" in outcome.rejected.message and "decompress" in outcome.rejected.message
    assert "NUL" not in outcome.rejected.message


@pytest.mark.parametrize("name", ["audit.xlsx", "audit.csv"])
def test_xlsx_whatever_its_name(name):
    outcome = check(xlsx(), name)
    assert outcome.rejected.code == "spreadsheet"
    assert "Excel workbook" in outcome.rejected.message and "CSV UTF-8" in outcome.rejected.message


def test_a_zip_of_an_export_and_an_old_xls():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("audit.csv", csv_export())
    assert check(out.getvalue()).rejected.message.startswith("x.csv is a ZIP archive")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    assert "old Excel workbook (.xls)" in check(ole).rejected.message


def test_windows_1252_names_the_real_offset_and_row():
    rows = [values(i) for i in range(400)]
    rows[0][11] = "Montréal"  # data row 1
    rows[300][11] = "Québec"
    data = written(rows).decode().encode("cp1252")
    outcome = check(data)
    offset = data.index("é".encode("cp1252"))
    assert outcome.rejected.code == "encoding"
    message = outcome.rejected.message
    assert f"byte {offset:,}, on line 2 (data row 1" in message
    assert f"{len(data):,}" not in message
    assert "Windows-1252" in message and "CSV UTF-8" in message


def test_windows_1252_deep_in_a_big_file_names_its_row():
    rows = [values(i) for i in range(20_000)]
    rows[15_000][11] = "Saint-Jérôme"
    data = written(rows).decode().encode("cp1252")
    message = check(data).rejected.message
    assert f"byte {data.index(b'J\xe9r'.replace(b'J', b'')):,}" in message
    assert "on line 15,002 (data row 15,001" in message


@pytest.mark.parametrize("bom", [True, False])
def test_excel_unicode_text_is_utf16_with_how_to_resave(bom):
    """Excel's "Unicode Text (*.txt)": tab-separated UTF-16 LE with a BOM."""
    text = written([values(i, EPIC) for i in range(5)], EPIC, delimiter="\t").decode()
    data = text.encode("utf-16" if bom else "utf-16-le")
    outcome = check(data, "clarity.txt", "epic")
    assert outcome.rejected.code == "encoding"
    assert "UTF-16" in outcome.rejected.message and "Unicode Text" in outcome.rejected.message
    assert "iconv -f UTF-16" in outcome.rejected.message and "Save As" in outcome.rejected.message


def test_semicolons_are_named():
    outcome = check(written([values(i) for i in range(5)], delimiter=";"))
    assert outcome.rejected.code == "missing-columns"
    assert "separated by semicolons" in outcome.rejected.message


def test_an_epic_file_with_commas_says_so():
    outcome = check(written([values(i, EPIC) for i in range(5)], EPIC), "clarity.txt", "epic")
    assert outcome.rejected.code == "delimiter" and "it has commas" in outcome.rejected.message


@pytest.mark.parametrize("rows", [5, 8000])  # small, and past the longest line allowed
def test_cr_only_line_ends_are_named(rows):
    data = written([values(i) for i in range(rows)], newline="\r")
    outcome = check(data)
    assert outcome.rejected.code == "line-endings"
    assert (
        "carriage return alone" in outcome.rejected.message and "tr '\\r' '\\n'" in outcome.rejected.message
    )
    assert "newline=''" not in outcome.rejected.message


def test_a_headerless_export_from_a_sql_job_is_named_without_a_value():
    data = csv_export(10).split(b"\r\n", 1)[1]  # sqlcmd -h -1: the rows alone
    outcome = check(data)
    assert outcome.rejected.code == "no-header"
    message = outcome.rejected.message
    assert "looks like a data row" in message
    assert "Elm" not in message and "user" not in message and "2026" not in message


def test_a_repeated_header_row_is_named_in_its_row_reason():
    """Two exports concatenated (copy /b a.csv+b.csv): the second header is a row."""
    data = csv_export(300) + csv_export(300)
    outcome = check(data)
    assert outcome.accepted
    assert [(r["row"], r["code"]) for r in outcome.invalid_rows()] == [(301, "header-row")]
    assert "repeats the header line" in next(outcome.invalid_rows())["reason"]


def test_a_trailing_delimiter_on_every_row_is_named():
    data = written([[*values(i), ""] for i in range(50)])
    outcome = check(data)
    assert not outcome.accepted
    assert outcome.result.invalid.counts() == {"trailing-delimiter": 50}
    assert "ends with a delimiter" in outcome.rejected.message


def test_a_trailing_delimiter_on_header_and_rows_is_fine():
    header = [f.header for f in GENERIC.fields] + [""]
    outcome = check(written([[*values(i), ""] for i in range(50)], header=header))
    assert outcome.accepted and not outcome.result.invalid


def test_misnamed_columns_point_to_suggest_mapping_with_the_closest_names():
    header = [f.header.replace(" ", "") for f in GENERIC.fields]  # CamelCase: CreationTime
    header[1] = "event_name"
    outcome = check(written([values(i) for i in range(5)], header=header), "audit.csv")
    message = outcome.rejected.message
    assert outcome.rejected.code == "missing-columns"
    assert "ehr-ingest suggest-mapping audit.csv" in message
    assert "Creation Time (closest in the file: 'CreationTime')" in message
    assert "Event Name (closest in the file: 'event_name')" in message


@pytest.mark.parametrize(
    "stamp", ["20261231235959", "1796083199", "46387.5", "12/31/2026 11:59 PM EST", "2026-12-31"]
)
def test_timestamps_in_an_unsupported_form_are_summarised_once_with_the_forms_accepted(stamp):
    """A SQL job's compact stamp, epoch seconds, an Excel serial, a zone name, a date alone."""
    outcome = check(written([values(i, when=stamp) for i in range(40)]))
    assert not outcome.accepted
    summary = outcome.summary().invalid_summary
    assert len(summary) == 1 and summary[0].rows == 40 and summary[0].first_rows == [1, 2, 3, 4, 5]
    assert "ISO 8601" in summary[0].reason and "MM/DD/YYYY" in summary[0].reason
    assert outcome.rejected.message.count("ISO 8601") == 1 and stamp not in outcome.rejected.message


def test_excel_csv_utf8_with_bom_and_crlf_is_accepted():
    """Excel's "CSV UTF-8 (Comma delimited)": a BOM, CRLF, quotes only where needed."""
    rows = [values(i) for i in range(20)]
    rows[4][9] = 'Flat 2, "Elm" House'
    data = b"\xef\xbb\xbf" + written(rows)
    outcome = check(data)
    assert outcome.accepted and not outcome.result.invalid and outcome.result.header_start == 3


@pytest.mark.parametrize(
    ("before", "words"), [(b"\r\n", "begins with a blank line"), (b"sep=,\r\n", 'Excel\'s "sep=" hint')]
)
def test_a_line_above_the_header_is_named(before, words):
    outcome = check(before + csv_export(5))
    assert outcome.rejected.code == "header" and words in outcome.rejected.message
