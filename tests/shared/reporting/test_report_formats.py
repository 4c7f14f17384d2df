"""The report's formats: JSON against its schema, HTML escaped and accessible, CSV safe, text."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import jsonschema
import pytest

from shared.reporting import report_formats
from shared.reporting.report import SCHEMA, Report
from tests.shared.reporting.test_report import typed_report as report

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "shared" / "reporting" / "report.schema.json"


@pytest.fixture(scope="module")
def schema():
    return json.loads(SCHEMA_FILE.read_text())


def test_schema_is_a_valid_versioned_json_schema(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA and schema["properties"]["schema"]["const"] == SCHEMA


def test_report_validates_against_the_schema(schema):
    data = json.loads(report_formats.to_json(report()))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)


def test_schema_catches_a_field_nobody_documented(schema):
    data = json.loads(report_formats.to_json(report()))
    data["files"][0]["patient_name"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_html_escapes_every_file_name_and_reason():
    page = report_formats.to_html(report())
    assert "<script>" not in page  # the rejected file is named <script>alert(1)</script>.csv
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.csv" in page
    assert "missing mandatory column &#x27;Event Name&#x27;" in page


def test_html_is_self_contained_and_accessible():
    page = report_formats.to_html(report())
    assert not re.search(r"""(src|href)\s*=|url\(|@import""", page)  # no external assets
    assert '<html lang="en">' in page and 'name="viewport"' in page
    assert page.count("<caption>") == 4 and '<th scope="col">' in page and '<th scope="row">' in page
    assert 'role="region"' in page  # scrollable tables are keyboard reachable
    assert "<script" not in page


def test_csv_neutralises_formulas_and_keeps_every_file():
    data = report().to_dict()
    data["files"][0]["connector"] = '=HYPERLINK("http://x","y")'
    data["files"][1]["file_name"] = "+cmd.csv"
    data["files"][2]["reason"] = "@SUM(A1)"
    data["files"][3]["file_name"] = "-2+3.csv"
    rows = list(csv.DictReader(io.StringIO(report_formats.to_csv(Report.from_dict(data)))))
    assert len(rows) == len(data["files"])
    assert rows[0]["connector"] == '\'=HYPERLINK("http://x","y")'
    assert rows[1]["file_name"] == "'+cmd.csv" and rows[3]["file_name"] == "'-2+3.csv"
    assert rows[2]["reason"] == "'@SUM(A1)"
    assert rows[0]["report_status"] == "FAILED" and "1000" in {r["rows"] for r in rows}


def test_csv_cell():
    assert report_formats.csv_cell("=1+1") == "'=1+1"
    assert report_formats.csv_cell("a=1") == "a=1"
    assert report_formats.csv_cell(-3) == "-3"  # numbers are numbers
    assert report_formats.csv_cell(None) == ""
    assert report_formats.csv_cell({"bad-date": 2}) == "bad-date: 2"


def test_text_table_for_the_terminal():
    text = report_formats.to_text(report())
    assert text.startswith("Status report 2026-11-22T06:00:00Z .. 2026-11-23T06:00:00Z: FAILED")
    assert "connector" in text and "generic" in text and "1,000" in text and "10/10" in text
    assert "  ! " in text
