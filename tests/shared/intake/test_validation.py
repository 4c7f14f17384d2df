"""The blob stage's verdicts, as pure functions: dialects, schemas, mappings, policies, bad inputs."""

import codecs
import csv
import io
import json

import pytest

from shared.common.schema import EPIC, GENERIC
from shared.common.settings import Connector
from shared.intake.validation import validate

GENERIC_CONNECTOR = Connector("generic", "healthcare", "job", chunk_rows=3)
EPIC_CONNECTOR = Connector("epic", "epic", "job", chunk_rows=3)
SECRET = "Zelda-Q-Patient"
"""A field value that must never appear in any reason or report."""


def row(schema, i, **overrides):
    values = {f.key: f"{f.key[:3]}{i}" for f in schema.fields}
    values["creation_time"] = f"2026-11-22T08:{i // 60 % 60:02d}:{i % 60:02d}Z"
    values["patient_first_name"] = SECRET
    values["restricted_reason"] = ""  # empty on ordinary access, and valid
    values.update(overrides)
    return [values[f.key] for f in schema.fields]


def make(schema=GENERIC, rows=6, delimiter=",", newline="\n", bom=False, header=None, body=None, tail=""):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header if header is not None else [f.header for f in schema.fields])
    for r in body if body is not None else [row(schema, i) for i in range(rows)]:
        writer.writerow(r)
    return (("\ufeff" if bom else "") + out.getvalue() + tail).encode()


def check(data, name="audit.csv", connector=GENERIC_CONNECTOR, block=7, **limits):
    outcome = validate([data[i : i + block] for i in range(0, len(data), block)], name, connector, **limits)
    report = outcome.report()
    text = json.dumps(report)
    assert SECRET not in text, "a field value leaked into the report"
    return outcome, report


def uploaded_bytes(data, chunk):
    """A chunk's byte range less the invalid rows it steps over."""
    kept, position = [], chunk.start
    for start, end in chunk.skip:
        kept.append(data[position:start])
        position = end
    kept.append(data[position : chunk.end])
    return b"".join(kept)


def rows_of(data, outcome, delimiter=","):
    """What the workers would upload: the rows inside every chunk's byte range, less its skips."""
    out = []
    for c in outcome.result.chunks:
        text = uploaded_bytes(data, c).decode()
        part = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        part = [r for r in part if r]
        assert len(part) == c.rows
        out += part
    return out


# --------------------------------------------------------------------------- dialects and schemas


@pytest.mark.parametrize(
    ("name", "schema", "connector", "delimiter", "options"),
    [
        ("a.csv", GENERIC, GENERIC_CONNECTOR, ",", {}),
        ("a.tsv", GENERIC, GENERIC_CONNECTOR, "\t", {}),
        ("a.psv", GENERIC, GENERIC_CONNECTOR, "|", {}),
        ("a.CSV", GENERIC, GENERIC_CONNECTOR, ",", {"bom": True, "newline": "\r\n"}),
        ("a.txt", EPIC, EPIC_CONNECTOR, "|", {}),
        ("a.txt", EPIC, EPIC_CONNECTOR, "\t", {"bom": True, "newline": "\r\n"}),
        ("a.csv", GENERIC, GENERIC_CONNECTOR, ",", {"tail": "\n"}),  # a trailing empty line
    ],
)
def test_every_dialect_and_both_schemas_accepted(name, schema, connector, delimiter, options):
    data = make(schema, rows=7, delimiter=delimiter, **options)
    outcome, report = check(data, name, connector)
    assert outcome.accepted, report["reasons"]
    assert report["rows_total"] == report["rows_valid"] == 7
    assert outcome.result.delimiter == delimiter
    assert [c.rows for c in outcome.result.chunks] == [3, 3, 1]
    assert [c.first_row for c in outcome.result.chunks] == [1, 4, 7]
    assert len(rows_of(data, outcome, delimiter)) == 7


def test_quoted_delimiters_quotes_and_newlines_stay_in_one_row():
    tricky = 'Apt 4, "rear"\r\nentrance|\t'
    body = [row(GENERIC, i, patient_address_2=tricky if i % 2 else "") for i in range(6)]
    data = make(body=body, newline="\r\n")
    outcome, report = check(data, block=3)
    assert outcome.accepted and report["rows_valid"] == 6
    assert [r[10] for r in rows_of(data, outcome)][1] == tricky


def test_header_matching_ignores_case_and_whitespace():
    header = ["  " + f.header.upper() + " " for f in GENERIC.fields]
    outcome, _ = check(make(header=header))
    assert outcome.accepted


def test_explicit_mapping_maps_the_hospitals_own_columns():
    ours = {"When": "creation_time", "What": "Event Name", "Login": "employee_upn"}
    header = [f.header for f in GENERIC.fields]
    header[0], header[1], header[18] = "When", "What", "login"
    connector = Connector("generic", "healthcare", "job", mapping=ours)
    outcome, report = check(make(header=header), connector=connector)
    assert outcome.accepted, report["reasons"]
    without, report = check(make(header=header))
    assert not without.accepted and "Creation Time" in report["reasons"][0]["message"]


def test_only_mandatory_columns_is_enough():
    keys = [f.key for f in EPIC.mandatory]
    header = [f.header for f in EPIC.mandatory]
    body = [[v for f, v in zip(EPIC.fields, row(EPIC, i), strict=True) if f.key in keys] for i in range(4)]
    outcome, report = check(make(EPIC, header=header, body=body, delimiter="|"), "e.txt", EPIC_CONNECTOR)
    assert outcome.accepted, report["reasons"]


# --------------------------------------------------------------------------- invalid rows


BAD_ROWS = [
    (lambda i: row(GENERIC, i)[:-1], "field-count", "has 22 fields where the header has 23"),
    (lambda i: [*row(GENERIC, i), "extra"], "field-count", "has 24 fields"),
    (lambda i: [*row(GENERIC, i), ""], "trailing-delimiter", "ends with a delimiter the header"),
    (lambda i: [f.header for f in GENERIC.fields], "header-row", "repeats the header line"),
    (lambda i: row(GENERIC, i, creation_time=""), "timestamp-empty", "Creation Time is empty"),
    (lambda i: row(GENERIC, i, creation_time="yesterday 08:00:00"), "timestamp-invalid", "Creation Time"),
    (lambda i: row(GENERIC, i, creation_time="2026-13-01T08:00:00"), "timestamp-invalid", "connector reads"),
    (lambda i: row(GENERIC, i, creation_time="2026-11-22"), "timestamp-invalid", "connector reads"),
    (lambda i: row(GENERIC, i, creation_time="11/31/2026 08:00"), "timestamp-invalid", "connector reads"),
    (lambda i: row(GENERIC, i, event_name=""), "empty", "Event Name is empty"),
    (lambda i: row(GENERIC, i, employee_upn=""), "empty", "Email Address (UPN) or SamAccountName is empty"),
    (
        lambda i: row(GENERIC, i, employee_upn="u" * 1025),
        "too-long",
        "(UPN) or SamAccountName is longer than 1,024",
    ),
    (
        lambda i: row(GENERIC, i, patient_reg_id="é" * 513),
        "too-long",
        "Patient Reg Id is longer than 1,024 bytes",
    ),
]


@pytest.mark.parametrize(("make_bad", "code", "reason"), BAD_ROWS)
def test_invalid_rows_are_skipped_between_chunks_with_a_reason(make_bad, code, reason):
    body = [make_bad(i) if i in (3, 4, 8) else row(GENERIC, i) for i in range(12)]
    connector = Connector("generic", "healthcare", "job", chunk_rows=3, max_invalid_share=0.5)
    data = make(body=body)
    outcome, report = check(data, connector=connector)
    assert outcome.accepted, report["reasons"]
    assert report["rows_invalid"] == report["rows_skipped"] == 3 and report["rows_valid"] == 9
    assert [r["row"] for r in report["invalid_rows"]] == [4, 5, 9]
    assert {r["code"] for r in report["invalid_rows"]} == {code}
    assert all(reason in r["reason"] for r in report["invalid_rows"])
    uploaded = rows_of(data, outcome)
    assert [r[1] for r in uploaded] == [f"eve{i}" for i in range(12) if i not in (3, 4, 8)]
    assert [c.first_row for c in outcome.result.chunks] == [1, 6, 10]


@pytest.mark.parametrize("block", [7, 1 << 20])
def test_a_key_value_is_measured_in_bytes_as_csv_reads_it(block):
    """At the limit a key value is valid; a doubled quote counts once, as csv gives it back."""
    at_limit = [
        row(GENERIC, 0, employee_upn="u" * 1024),
        row(GENERIC, 1, patient_reg_id="é" * 512),
        row(GENERIC, 2, employee_upn='"' * 1000),  # 2,002 bytes as written, 1,000 as read
    ]
    body = [*at_limit, *(row(GENERIC, i) for i in range(3, 40))]
    outcome, report = check(make(body=body), connector=Connector("generic", "healthcare", "job"), block=block)
    assert outcome.accepted and report["rows_valid"] == 40 and report["rows_invalid"] == 0
    over = [row(GENERIC, 0, employee_upn="u" * 1025), *body[1:]]
    outcome, report = check(make(body=over), connector=Connector("generic", "healthcare", "job"), block=block)
    assert report["rows_invalid"] == 1 and report["invalid_rows"][0]["code"] == "too-long"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_scattered_invalid_rows_are_stepped_over_not_cut_at(newline):
    bad = (2, 3, 7, 13)
    body = [row(GENERIC, i, creation_time="x") if i in bad else row(GENERIC, i) for i in range(14)]
    connector = Connector("generic", "healthcare", "job", chunk_rows=5, max_invalid_share=0.5)
    data = make(body=body, newline=newline)
    outcome, report = check(data, connector=connector, block=7)
    assert outcome.accepted and report["rows_skipped"] == 4
    chunks = outcome.result.chunks
    # Rows 3-4 (1-based) inside the first chunk are stepped over; row 8 falls between the
    # chunks and row 14 after the last, so neither is part of one.
    assert [(c.rows, c.first_row, len(c.skip)) for c in chunks] == [(5, 1, 2), (5, 9, 0)]
    assert chunks[-1].end < len(data)
    assert [r[1] for r in rows_of(data, outcome)] == [f"eve{i}" for i in range(14) if i not in bad]


def test_a_chunk_steps_over_at_most_max_skips_invalid_rows(monkeypatch):
    monkeypatch.setattr("shared.intake.scan.MAX_SKIPS", 2)
    body = [row(GENERIC, i, creation_time="x") if i % 2 else row(GENERIC, i) for i in range(12)]
    connector = Connector("generic", "healthcare", "job", chunk_rows=100, max_invalid_share=0.6)
    data = make(body=body)
    outcome, _ = check(data, connector=connector)
    chunks = outcome.result.chunks
    assert [(c.rows, len(c.skip)) for c in chunks] == [(3, 2), (3, 2)]
    assert [r[1] for r in rows_of(data, outcome)] == [f"eve{i}" for i in range(0, 12, 2)]


def test_invalid_row_policy_reject_refuses_the_file_with_row_numbers():
    body = [row(GENERIC, i, employee_upn="" if i == 2 else "u") for i in range(5)]
    connector = Connector("generic", "healthcare", "job", invalid_rows="reject")
    outcome, report = check(make(body=body), connector=connector)
    assert not outcome.accepted and report["reasons"][0]["code"] == "invalid-rows"
    assert [(r["row"], r["code"]) for r in report["invalid_rows"]] == [(3, "empty")]
    assert report["invalid_rows"][0]["reason"].startswith("Email Address (UPN) or SamAccountName is empty")


def test_above_the_invalid_share_the_file_is_rejected_anyway():
    body = [row(GENERIC, i, creation_time="x") if i < 2 else row(GENERIC, i) for i in range(10)]
    strict = Connector("generic", "healthcare", "job", max_invalid_share=0.1)
    outcome, report = check(make(body=body), connector=strict)
    assert not outcome.accepted and report["reasons"][0]["code"] == "too-many-invalid-rows"
    assert "20.0%" in report["reasons"][0]["message"]
    lenient = Connector("generic", "healthcare", "job", max_invalid_share=0.2)
    assert check(make(body=body), connector=lenient)[0].accepted


def test_required_fields_are_per_connector():
    body = [row(GENERIC, i, employee_upn="", workstation_id="" if i == 1 else "w") for i in range(4)]
    connector = Connector(
        "generic", "healthcare", "job", required=("event_name", "workstation_id"), max_invalid_share=0.5
    )
    outcome, report = check(make(body=body), connector=connector)
    assert outcome.accepted and report["rows_invalid"] == 1
    assert [r["reason"].split(" and ")[0] for r in report["invalid_rows"]] == ["Workstation Id is empty"]


def test_rows_repeating_employee_patient_and_timestamp_are_counted():
    body = [row(GENERIC, i % 4, workstation_id=f"ws{i}") for i in range(10)]
    outcome, report = check(make(body=body))
    assert outcome.accepted and report["duplicate_rows"] == 6 and report["rows_valid"] == 10


# --------------------------------------------------------------------------- bad inputs


def _utf16():
    return make().decode().encode("utf-16")


def _nested_quote():
    data = make().decode().splitlines(keepends=True)
    data[3] = data[3].replace("eve2", '"eve2"x', 1)
    return "".join(data).encode()


BAD_FILES = [
    ("zero-byte blob", b"", "audit.csv", "empty", "is empty"),
    ("only a newline", b"\n", "audit.csv", "header", "begins with a blank line"),
    ("header only", make(rows=0), "audit.csv", "no-rows", "no data rows"),
    ("header and blank lines", make(rows=0) + b"\n\n\n", "audit.csv", "no-rows", "no data rows"),
    ("binary garbage", bytes(range(256)) * 40, "audit.csv", "encoding", "NUL"),
    ("UTF-16 with BOM", _utf16(), "audit.csv", "encoding", "UTF-16"),
    ("UTF-16 without BOM", make().decode().encode("utf-16-le"), "audit.csv", "encoding", "UTF-16"),
    ("UTF-32", codecs.BOM_UTF32_LE + make().decode().encode("utf-32-le"), "audit.csv", "encoding", "UTF"),
    (
        "Latin-1",
        make(body=[row(GENERIC, 1, patient_city="Montréal")]).decode().encode("latin-1"),
        "audit.csv",
        "encoding",
        "not valid UTF-8",
    ),
    ("truncated UTF-8 at the end", make() + "é".encode()[:1], "audit.csv", "encoding", "UTF-8"),
    (
        "unterminated quote at EOF",
        make() + b'2026-11-22T09:00:00Z,"never closed',
        "audit.csv",
        "malformed",
        "is never closed",
    ),
    ("text after a closing quote", _nested_quote(), "audit.csv", "too-many-invalid-rows", "1 invalid row(s)"),
    ("a NUL row", make() + b"a\x00b\n", "audit.csv", "too-many-invalid-rows", "1 invalid row(s) of 7"),
    ("2 MB single line", make() + b"x" * (2 * 1024 * 1024), "audit.csv", "line-too-long", "longer than"),
    (
        "a quoted field over the csv limit",
        make() + b'"' + (b"y" * 200 + b"\n") * 1_000 + b'"\n',
        "audit.csv",
        "malformed",
        "is never closed",
    ),
    (
        "a record spanning 70,000 lines",
        make() + b'"' + b"y\n" * 70_000 + b'"\n',
        "audit.csv",
        "record-too-long",
        "data row 7 spans more than 10,000 lines",
    ),
    (
        "a record of 10,001 quoted fields",
        make() + b'"a",' * 10_001 + b"\n",
        "audit.csv",
        "record-too-long",
        "data row 7 has more than 10,000 fields",
    ),
    (
        "a record of 1.1 million characters",
        make() + (b'"' + (b"y" * 150 + b"\n") * 800 + b'",') * 9 + b"\n",
        "audit.csv",
        "record-too-long",
        "data row 7 is longer than 1,048,576 characters",
    ),
    (
        "a quoted header of 10,001 columns",
        b",".join(b'"c%d"' % i for i in range(10_001)) + b"\n",
        "audit.csv",
        "record-too-long",
        "the header has more than 10,000 fields",
    ),
    (
        "duplicate header names",
        make(header=[f.header for f in GENERIC.fields] + ["EVENT NAME"]),
        "audit.csv",
        "header",
        "appears twice",
    ),
    (
        "missing header names",
        make(header=[f.header for f in GENERIC.fields][2:]),
        "audit.csv",
        "missing-columns",
        "Creation Time, Event Name",
    ),
    (
        "no header at all, data first",
        make(rows=3)[make(rows=0).index(b"\n") + 1 :],
        "audit.csv",
        "no-header",
        "looks like a data row",
    ),
    ("wrong extension", make(), "audit.xlsx", "extension", "unsupported file type .xlsx"),
    ("no extension", make(), "audit", "extension", "(none)"),
    ("tab-separated .csv", make(delimiter="\t"), "audit.csv", "missing-columns", "separated by tabs"),
    (
        "all rows ragged",
        make(body=[row(GENERIC, i)[:20] for i in range(5)]),
        "audit.csv",
        "invalid-rows",
        "none of its 5 rows",
    ),
    (
        "all timestamps unparseable",
        make(body=[row(GENERIC, i, creation_time="soon") for i in range(3)]),
        "audit.csv",
        "invalid-rows",
        "none of its 3 rows",
    ),
]
EPIC_BAD_FILES = [
    ("Epic export as .csv", make(EPIC, delimiter="|"), "epic.csv", "extension", "must be .txt"),
    ("Epic .txt with commas", make(EPIC), "epic.txt", "delimiter", "neither pipes nor tabs"),
    ("generic header in an Epic file", make(GENERIC, delimiter="|"), "epic.txt", "missing-columns",
     "ACCESS_LOG.ACCESS_TIME"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "name", "connector", "code", "words"),
    [pytest.param(d, n, GENERIC_CONNECTOR, c, w, id=i) for i, d, n, c, w in BAD_FILES]
    + [pytest.param(d, n, EPIC_CONNECTOR, c, w, id=i) for i, d, n, c, w in EPIC_BAD_FILES],
)
def test_bad_inputs_are_rejected_with_a_clear_reason(data, name, connector, code, words):
    outcome, report = check(data, name, connector, block=4096)
    assert not outcome.accepted and report["accepted"] is False
    assert report["reasons"][0]["code"] == code, report["reasons"]
    assert words in report["reasons"][0]["message"]
    assert name in report["reasons"][0]["message"]


def test_at_least_25_bad_inputs():
    assert len(BAD_FILES) + len(EPIC_BAD_FILES) + len(BAD_ROWS) >= 25


# --------------------------------------------------------------------------- limits


def test_size_limit_rejects_before_the_end():
    data = make(rows=50)
    _, report = check(data, max_bytes=len(data) - 1)
    assert report["reasons"][0]["code"] == "too-large"
    assert check(data, max_bytes=len(data))[0].accepted


def test_row_limit_counts_every_data_row():
    data = make(rows=10)
    assert check(data, max_rows=10)[0].accepted
    _, report = check(data, max_rows=9)
    assert report["reasons"][0]["code"] == "too-many-rows" and "9 rows" in report["reasons"][0]["message"]


@pytest.mark.parametrize("bad", [0, 1, 3000])
def test_streamed_json_report_equals_the_report(bad):
    body = [row(GENERIC, i, event_name="" if i < bad else "e") for i in range(bad + 5)]
    outcome, report = check(make(body=body), block=1 << 20)
    pieces = list(outcome.report_json(run_id="r1"))
    assert json.loads(b"".join(pieces)) == {**report, "run_id": "r1"}
    assert max(len(p) for p in pieces) < 80_000
