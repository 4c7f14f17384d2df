import csv
import io

import pytest

from shared.common.events import parse_events
from shared.common.schema import EPIC, GENERIC
from shared.common.settings import Connector
from shared.delivery.projection import SPOOL_MEMORY, Payload, Projection


def export(schema, rows, extra=("Patient SSN", "Diagnosis"), delimiter=",", newline="\n"):
    """Two non-schema columns, one before the schema's and one after: both must go."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    headers = [f.header for f in schema.fields]
    writer.writerow([extra[0], *headers, extra[1]] if extra else headers)
    for i in range(rows):
        values = [f"r{i}c{j}" for j in range(len(schema.fields))]
        values[1] = ("Print Label", "Chart Review")[i % 2]
        values[9] = f'12 "Elm"{delimiter} Apt 3\r\nBack door'  # quotes, delimiter, newline
        writer.writerow([f"SSN{i}", *values, f"DX{i}"] if extra else values)
    return out.getvalue().encode()


def split(data: bytes) -> tuple[bytes, bytes]:
    cut = data.index(b"\n") + 1
    return data[:cut], data[cut:]


def project(data, connector, block=7):
    line, rows = split(data)
    shape = Projection.for_header(line, "x.csv" if connector.kind == "healthcare" else "x.txt", connector)
    out = io.BytesIO()
    sent = shape.write([rows[i : i + block] for i in range(0, len(rows), block)], out)
    return shape, sent, out.getvalue()


@pytest.mark.parametrize(("schema", "delimiter", "newline"), [(GENERIC, ",", "\n"), (EPIC, "|", "\r\n")])
def test_only_the_schema_columns_leave_in_the_file_order(schema, delimiter, newline):
    connector = Connector(name="c", kind=schema.kind, job_id="j")
    _, sent, body = project(export(schema, 5, delimiter=delimiter, newline=newline), connector)
    records = list(csv.reader(io.StringIO(body.decode(), newline=""), delimiter=delimiter))
    assert records[0] == [f.header for f in schema.fields]
    assert sent.rows == 5 and sent.filtered == 0 and len(records) == 6
    assert all(len(r) == len(schema.fields) for r in records)
    assert b"SSN" not in body and b"DX" not in body
    assert records[3][9] == f'12 "Elm"{delimiter} Apt 3\r\nBack door'  # quoting survives
    assert body.decode().split(newline)[0] == delimiter.join(f.header for f in schema.fields)


def test_events_are_filtered_and_counted():
    connector = Connector(
        name="c", kind="healthcare", job_id="j", events=parse_events({"exclude": [" print LABEL"]}, "c")
    )
    _, sent, body = project(export(GENERIC, 6), connector)
    assert (sent.rows, sent.filtered) == (3, 3)
    assert b"Print Label" not in body


def test_columns_all_keeps_every_column():
    connector = Connector(name="c", kind="healthcare", job_id="j", columns="all")
    line, _ = split(export(GENERIC, 1))
    assert Projection.for_header(line, "x.csv", connector).passthrough


def test_a_file_of_schema_columns_only_goes_byte_for_byte():
    connector = Connector(name="c", kind="healthcare", job_id="j")
    data = export(GENERIC, 3, extra=())
    line, rows = split(data)
    shape = Projection.for_header(line, "x.csv", connector)
    assert shape.passthrough
    with Payload.build(shape, line, lambda: iter([rows]), len(rows), 3) as payload:
        assert b"".join(payload.parts()) == data and payload.length == len(data)


@pytest.mark.parametrize("rows", [4, 20_000])  # in memory, and spooled to a temporary file
def test_payload_length_is_the_bytes_sent_and_repeats_for_each_post(rows):
    connector = Connector(name="c", kind="healthcare", job_id="j")
    line, body = split(export(GENERIC, rows))
    shape = Projection.for_header(line, "x.csv", connector)
    with Payload.build(shape, line, lambda: iter([body]), len(body), rows) as payload:
        first, again = b"".join(payload.parts()), b"".join(payload.parts())
        assert first == again and len(first) == payload.length and payload.sent.rows == rows
        assert b"".join(payload.rows()) == first[len(payload.header) :]
    assert (payload.length > SPOOL_MEMORY) == (rows > 4)


def test_a_row_that_does_not_fit_the_header_stops_the_upload():
    connector = Connector(name="c", kind="healthcare", job_id="j")
    line, _ = split(export(GENERIC, 1))
    shape = Projection.for_header(line, "x.csv", connector)
    with pytest.raises(ValueError, match="row 1 of the chunk has 2 fields"):
        shape.write([b"a,b\n"], io.BytesIO())


@pytest.mark.parametrize("seed", range(20))
def test_random_records_come_out_as_csv_reads_them_less_the_dropped_columns(seed):
    """Quoted and unquoted lines mixed, quotes, delimiters, CR and LF inside quoted fields."""
    import random

    rnd = random.Random(seed)
    delimiter = rnd.choice([",", "|", "\t"])
    newline = rnd.choice(["\n", "\r\n"])
    alphabet = ["a", "b", "é", " ", '"', delimiter, "\n", "\r\n", "x"]
    headers = ["Extra A", *(f.header for f in GENERIC.fields), "Extra B"]
    records = []
    for i in range(60):
        row = [
            "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))
            if rnd.random() < 0.3
            else f"v{i}{j}"
            for j in range(len(headers))
        ]
        records.append(row)
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows([headers, *records])
    data = out.getvalue().encode()
    line, rows = (
        split(data) if newline == "\n" else (data[: data.index(b"\r\n") + 2], data[data.index(b"\r\n") + 2 :])
    )
    shape = Projection.for_header(
        line,
        {",": "x.csv", "|": "x.psv", "\t": "x.tsv"}[delimiter],
        Connector(name="c", kind="healthcare", job_id="j"),
    )
    sent = io.BytesIO()
    counts = shape.write([rows[i : i + 13] for i in range(0, len(rows), 13)], sent)
    got = list(csv.reader(io.StringIO(sent.getvalue().decode(), newline=""), delimiter=delimiter))
    assert counts.rows == 60 and got[0] == headers[1:-1]
    assert got[1:] == [r[1:-1] for r in records]


def test_hr_sends_the_profile_columns_and_rows_only():
    connector = Connector(name="hr", kind="hr", job_id="j")
    data = (
        b"EmailAddress,Salary,EmployeeFirstName,EmployeeLastName,EmployeeAddLine1,EmployeeZipCode,"
        b"HRScenario,ResignationDate\n"
        b"a@x.org,90000,A,B,1 Main St,02110,Employee profile,\n"
        b"b@x.org,80000,C,D,2 Elm St,02111,Resignation,2026-11-30T00:00:00.000000+00:00\n"
    )
    line, rows = split(data)
    shape = Projection.for_header(line, "p.csv", connector)
    out = io.BytesIO()
    sent = shape.write([rows], out)
    assert (sent.rows, sent.filtered) == (1, 1)
    assert out.getvalue().decode().splitlines() == [
        "EmailAddress,EmployeeFirstName,EmployeeLastName,EmployeeAddLine1,EmployeeZipCode,HRScenario",
        "a@x.org,A,B,1 Main St,02110,Employee profile",
    ]


def test_hr_without_a_scenario_column_sends_every_row():
    connector = Connector(name="hr", kind="hr", job_id="j")
    line = b"EmailAddress,EmployeeFirstName,EmployeeLastName,EmployeeAddressLine1,EmployeeZipCode\n"
    shape = Projection.for_header(line, "p.csv", connector)
    assert shape.passthrough
