"""Tests for the synthetic export generator (devstack/generate.py)."""

from __future__ import annotations

import argparse
import csv
import io
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from devstack.generate import (
    BAD_EMPTY_UPN,
    BAD_FIELD_COUNT,
    BAD_KINDS,
    BAD_TIMESTAMP,
    GenerateOptions,
    GenerateResult,
    add_arguments,
    default_extension,
    generate,
    iter_rows,
    run,
)
from shared.common.schema import EPIC, GENERIC, schema_for

STRPTIME = {
    "iso": "%Y-%m-%dT%H:%M:%SZ",
    "iso-local": "%Y-%m-%dT%H:%M:%S",
    "us": "%m/%d/%Y %I:%M:%S %p",
    "epic": "%Y-%m-%d %H:%M:%S",
}
KIND_DELIMITERS = [
    ("healthcare", ","),
    ("healthcare", "\t"),
    ("healthcare", "|"),
    ("epic", "|"),
    ("epic", "\t"),
]


def _read(result: GenerateResult) -> tuple[bytes, list[str], list[list[str]]]:
    raw = result.path.read_bytes()
    text = raw.decode("utf-8-sig")
    header, *rows = csv.reader(io.StringIO(text, newline=""), delimiter=result.delimiter)
    return raw, header, rows


def _parses(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, STRPTIME[fmt])
    except ValueError:
        return False
    return True


def _problem(row: list[str], kind: str, fmt: str) -> str | None:
    schema = schema_for(kind)
    if len(row) != len(schema.fields):
        return BAD_FIELD_COUNT
    if not _parses(row[0], fmt):
        return BAD_TIMESTAMP
    if not row[[f.key for f in schema.fields].index("employee_upn")]:
        return BAD_EMPTY_UPN
    return None


def _column(kind: str, key: str) -> int:
    return [f.key for f in schema_for(kind).fields].index(key)


@pytest.mark.parametrize(("kind", "delimiter"), KIND_DELIMITERS)
def test_header_rows_and_uniqueness(tmp_path: Path, kind: str, delimiter: str) -> None:
    result = generate(
        tmp_path / f"out{default_extension(kind, delimiter)}",
        GenerateOptions(kind=kind, rows=3000, delimiter=delimiter, seed=7),
    )
    raw, header, rows = _read(result)
    schema = schema_for(kind)

    assert header == [f.header for f in schema.fields]
    assert len(rows) == result.rows == result.valid_rows == 3000
    assert result.bad_row_numbers == []
    assert result.delimiter == delimiter
    assert result.bytes == len(raw)
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" not in raw
    assert all(len(r) == len(schema.fields) for r in rows)
    assert len({tuple(r) for r in rows}) == len(rows)


@pytest.mark.parametrize("kind", ["healthcare", "epic"])
def test_values_look_like_an_audit_log(tmp_path: Path, kind: str) -> None:
    result = generate(tmp_path / "out", GenerateOptions(kind=kind, rows=6000, seed=3))
    _, _, rows = _read(result)
    fmt = "iso" if kind == "healthcare" else "epic"
    col = {key: _column(kind, key) for key in (f.key for f in schema_for(kind).fields)}

    stamps = [datetime.strptime(r[0], STRPTIME[fmt]) for r in rows]
    assert stamps[0] == datetime(2026, 11, 22)
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] < timedelta(days=1)
    assert sum(8 <= s.hour < 18 for s in stamps) > len(stamps) / 2  # busier in the daytime

    btg = [r for r in rows if r[col["event_name"]] == "Break-the-Glass Access"]
    assert 0 < len(btg) < len(rows) / 100
    for r in rows:
        restricted = (r[col["restricted_reason"]], r[col["restricted_comment"]])
        if r in btg:
            assert all(restricted)
        else:
            assert restricted == ("", "")
    for key in ("patient_middle_name", "patient_address_2"):
        empty = sum(not r[col[key]] for r in rows)
        assert len(rows) * 0.3 < empty < len(rows)
    for key in ("patient_first_name", "patient_last_name", "patient_address_1", "patient_city"):
        assert all(r[col[key]] for r in rows)
    assert all(re.fullmatch(r"[0-9A-Z]{3}[0-9A-Z ]{2,4}", r[col["patient_zip"]]) for r in rows)
    assert len({r[col["event_name"]] for r in rows}) > 10
    assert len({r[col["patient_department"]] for r in rows}) > 10
    if kind == "healthcare":
        upns = [r[col["employee_upn"]] for r in rows]
        assert all(re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+@contoso-health\.org", u) for u in upns)
        assert {r[col["patient_state"]] for r in rows} >= {"WA", "TX"}
    else:
        logins = [r[col["employee_upn"]] for r in rows]
        assert all(re.fullmatch(r"[a-z]+[0-9]+", u) for u in logins)
        assert "United States of America" in {r[col["patient_country"]] for r in rows}
    # one login/UPN per employee id
    pairs = {(r[col["employee_upn"]], r[col["employee_id"]]) for r in rows}
    assert len(pairs) == len({p[1] for p in pairs}) == len({p[0] for p in pairs})


@pytest.mark.parametrize(("kind", "fmt"), [("healthcare", "us"), ("epic", "iso-local")])
def test_bad_rows_are_exactly_the_reported_ones(tmp_path: Path, kind: str, fmt: str) -> None:
    options = GenerateOptions(kind=kind, rows=3000, bad_rows=31, timestamp_format=fmt, seed=11)
    result = generate(tmp_path / "out", options)
    _, _, rows = _read(result)

    found = {n: p for n, r in enumerate(rows, 1) if (p := _problem(r, kind, fmt))}
    assert sorted(found) == result.bad_row_numbers
    assert found == result.bad_row_kinds
    assert len(result.bad_row_numbers) == 31
    assert result.valid_rows == 3000 - 31
    assert Counter(found.values()) == {BAD_FIELD_COUNT: 11, BAD_TIMESTAMP: 10, BAD_EMPTY_UPN: 10}
    # spread through the file: one in each thirty-first
    for j, n in enumerate(result.bad_row_numbers):
        assert j * 3000 // 31 < n <= (j + 1) * 3000 // 31
    for n, problem in found.items():
        row = rows[n - 1]
        if problem == BAD_FIELD_COUNT:
            assert len(row) == len(schema_for(kind).fields) - 1
        if problem == BAD_TIMESTAMP:
            assert not any(_parses(row[0], f) for f in STRPTIME)
            with pytest.raises(ValueError):
                datetime.fromisoformat(row[0])
    assert len({tuple(r) for r in rows}) == len(rows)


def test_rows_stay_unique_when_seconds_are_shared() -> None:
    rows = list(iter_rows(GenerateOptions(rows=120_000, bad_rows=3000, quote_rate=0, seed=5)))
    per_second = Counter(r[0] for r in rows)
    assert max(per_second.values()) >= 3
    assert len(set(map(tuple, rows))) == len(rows)


@pytest.mark.parametrize(("kind", "delimiter"), KIND_DELIMITERS)
def test_bom_crlf_and_quoted_fields_round_trip(tmp_path: Path, kind: str, delimiter: str) -> None:
    options = GenerateOptions(
        kind=kind, rows=800, delimiter=delimiter, bom=True, crlf=True, quote_rate=1.0, bad_rows=9
    )
    result = generate(tmp_path / "out", options)
    raw, header, rows = _read(result)
    expected = [list(r) for r in iter_rows(options)]

    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.endswith(b"\r\n")
    assert header == [f.header for f in schema_for(kind).fields]
    assert rows == expected
    values = [v for r in rows for v in r]
    assert any(delimiter in v for v in values)
    assert any('"' in v for v in values)
    assert any("\n" in v for v in values)
    # every record ends in CRLF; bare LFs occur only inside quoted fields
    records = raw.count(b"\r\n")
    assert records == len(rows) + 1
    # byte-identical to what a plain csv.writer makes of the same rows
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(expected)
    assert raw == b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def test_no_quoting_needed_when_quote_rate_is_zero(tmp_path: Path) -> None:
    result = generate(tmp_path / "out.csv", GenerateOptions(rows=4000, quote_rate=0.0))
    raw = result.path.read_bytes()
    assert b'"' not in raw
    assert raw.count(b"\n") == 4001


def test_quote_rate_is_roughly_honoured() -> None:
    col = _column("healthcare", "patient_address_2")
    rows = list(iter_rows(GenerateOptions(rows=10_000, quote_rate=0.05, seed=2)))
    special = sum(any(c in v for v in r for c in ',"\n') for r in rows)
    assert 350 < special < 650
    assert any("," in r[col] for r in rows)


@pytest.mark.parametrize("fmt", ["iso", "iso-local", "us", "epic"])
def test_timestamp_formats(fmt: str) -> None:
    start = datetime(2026, 3, 1, 12, 30, 5)
    options = GenerateOptions(rows=50, timestamp_format=fmt, start=start)
    stamps = [datetime.strptime(r[0], STRPTIME[fmt]) for r in iter_rows(options)]
    assert stamps[0] == start
    assert stamps == sorted(stamps)


def test_default_formats_and_delimiters_per_kind(tmp_path: Path) -> None:
    hc = generate(tmp_path / "a", GenerateOptions(kind="healthcare", rows=1))
    ep = generate(tmp_path / "b", GenerateOptions(kind="epic", rows=1))
    assert (hc.delimiter, ep.delimiter) == (",", "|")
    assert hc.path.read_text().splitlines()[1].startswith("2026-11-22T00:00:00Z,")
    assert ep.path.read_text().splitlines()[1].startswith("2026-11-22 00:00:00|")
    assert len(GENERIC.fields) == 23 and len(EPIC.fields) == 22


def test_determinism_per_seed(tmp_path: Path) -> None:
    def make(name: str, seed: int) -> bytes:
        options = GenerateOptions(kind="epic", rows=2000, bad_rows=12, seed=seed)
        return generate(tmp_path / name, options).path.read_bytes()

    assert make("a", 1) == make("b", 1)
    assert make("c", 2) != make("a", 1)


def test_empty_file_and_every_row_bad(tmp_path: Path) -> None:
    empty = generate(tmp_path / "e", GenerateOptions(rows=0))
    assert empty.path.read_text().count("\n") == 1
    assert (empty.rows, empty.valid_rows, empty.bad_row_numbers) == (0, 0, [])
    allbad = generate(tmp_path / "b", GenerateOptions(rows=6, bad_rows=6))
    assert allbad.bad_row_numbers == [1, 2, 3, 4, 5, 6]
    assert set(allbad.bad_row_kinds.values()) == set(BAD_KINDS)


@pytest.mark.parametrize(
    "options",
    [
        GenerateOptions(rows=5, bad_rows=6),
        GenerateOptions(rows=-1),
        GenerateOptions(kind="epic", delimiter=","),
        GenerateOptions(kind="cerner"),
        GenerateOptions(timestamp_format="rfc2822"),
        GenerateOptions(quote_rate=1.5),
    ],
)
def test_invalid_options(tmp_path: Path, options: GenerateOptions) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path / "out", options)
    assert not (tmp_path / "out").exists()


def test_default_extension() -> None:
    assert default_extension("healthcare", ",") == ".csv"
    assert default_extension("healthcare", "\t") == ".tsv"
    assert default_extension("healthcare", "|") == ".psv"
    assert default_extension("epic", "|") == ".txt"
    assert default_extension("epic", "\t") == ".txt"
    with pytest.raises(ValueError):
        default_extension("epic", ",")


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ehr-ingest generate")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_into_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--kind", "epic", "--delimiter", "tab", "--rows", "300", "--bad-rows", "4"]
    args = _cli([*argv, "--bom", "--crlf", "--seed", "9", "--output", str(tmp_path)])
    assert run(args) == 0
    path = tmp_path / "audit-epic-2026-11-22.txt"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfACCESS_LOG.ACCESS_TIME\tACCESS_LOG_METRIC")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert str(path) in out and "300 rows" in out and "4 bad" in out
    first = raw.decode("utf-8-sig").splitlines()[1].split("\t")
    assert not any(value and value in out for value in first[1:])  # no field values


def test_cli_to_file_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "day.psv"
    args = ["--rows", "20", "--delimiter", "pipe", "--timestamp-format", "us"]
    assert run(_cli([*args, "--output", str(target)])) == 0
    assert target.read_text().splitlines()[1].startswith("11/22/2026 12:00:00 AM|")
    assert run(_cli(["--kind", "epic", "--delimiter", "comma", "--output", str(tmp_path)])) == 2
    assert "not used by epic" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli(["--rows", "-3"])
