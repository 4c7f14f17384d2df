"""`ehr-ingest validate` and `suggest-mapping` on local files, run as a user runs them: exit
codes, what they print and JSON, no Azure."""

import json
from dataclasses import dataclass

import pytest

from devstack.generate import GenerateOptions, generate
from tests.ehr_cli.command import ehr_ingest


@dataclass
class Printed:
    out: str
    err: str


def run(*argv):
    done = ehr_ingest(*argv)
    return done.returncode, Printed(done.stdout, done.stderr)


def test_valid_file_exits_0_with_json(tmp_path):
    export = generate(tmp_path / "audit.csv", GenerateOptions(rows=300, bad_rows=2, seed=3))
    code, out = run("validate", export.path, "--json")
    report = json.loads(out.out)
    assert code == 0 and report["accepted"] is True
    assert (report["rows_total"], report["rows_valid"], report["rows_invalid"]) == (300, 298, 2)
    assert [r["row"] for r in report["invalid_rows"]] == export.bad_row_numbers
    assert report["reasons"] == []


def test_rejected_file_exits_1_and_says_why(tmp_path):
    export = generate(tmp_path / "epic.txt", GenerateOptions(kind="epic", rows=50, bad_rows=1, seed=3))
    code, out = run("validate", export.path, "--invalid-rows", "reject")
    assert code == 1 and "REJECTED" in out.out and f"row {export.bad_row_numbers[0]}" in out.out
    code, out = run("validate", export.path, "--kind", "healthcare", "--json")
    assert code == 1 and json.loads(out.out)["reasons"][0]["code"] == "extension"


def test_mapping_file_is_used(tmp_path):
    export = generate(tmp_path / "audit.csv", GenerateOptions(rows=20, seed=3))
    text = export.path.read_text().replace("Creation Time", "When", 1)
    export.path.write_text(text)
    assert run("validate", export.path)[0] == 1
    (tmp_path / "map.json").write_text('{"mapping": {"When": "creation_time"}, "kind": "healthcare"}')
    assert run("validate", export.path, "--mapping", tmp_path / "map.json")[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["validate"],
        ["validate", "missing.csv"],
        ["validate", "{file}", "--kind", "cerner"],
        ["validate", "{file}", "--mapping", "{bad}"],
        ["validate", "{file}", "--max-invalid-share", "3"],
    ],
)
def test_usage_errors_exit_2(tmp_path, argv):
    export = generate(tmp_path / "audit.csv", GenerateOptions(rows=5, seed=3))
    (tmp_path / "bad.json").write_text("{not json")
    argv = [a.format(file=export.path, bad=tmp_path / "bad.json") for a in argv]
    assert ehr_ingest(*argv).returncode == 2


def test_suggest_mapping_prints_a_pasteable_mapping(tmp_path):
    sample = tmp_path / "sample.csv"
    sample.write_text("AccessTime,Event Name,PAT_FIRST_NAME,Shoe Size\nsecret,values,never,read\n")
    code, out = run("suggest-mapping", sample, "--json")
    result = json.loads(out.out)
    assert code == 1  # mandatory fields are missing
    assert result["mapping"] == {"AccessTime": "creation_time", "PAT_FIRST_NAME": "patient_first_name"}
    assert result["unmatched_columns"] == ["Shoe Size"] and "Patient Last Name" in result["missing_mandatory"]
    assert "secret" not in out.out
    code, out = run("suggest-mapping", sample)
    assert '"mapping"' in out.out and "unmatched" in out.out


@pytest.mark.parametrize("kind", ["healthcare", "epic"])
@pytest.mark.parametrize("as_json", [False, True])
def test_suggest_mapping_never_echoes_the_first_row_of_a_header_less_export(tmp_path, kind, as_json):
    from tests.e2e.phi import MARKER, marked

    export = marked(
        tmp_path / ("x.txt" if kind == "epic" else "x.csv"), GenerateOptions(kind=kind, rows=5, seed=3)
    )
    lines = export.path.read_text().splitlines(keepends=True)
    export.path.write_text("".join(lines[1:]))  # the header line dropped, as some EHR jobs do
    assert MARKER in lines[1]
    code, out = run("suggest-mapping", export.path, "--kind", kind, *(["--json"] if as_json else []))
    assert code == 1
    assert "looks like a data row" in out.out + out.err
    assert MARKER not in out.out + out.err
    for value in lines[1].strip().split(export.delimiter):
        if len(value) > 3:
            assert value not in out.out + out.err


def test_a_100000_column_header_is_refused_with_a_short_report(tmp_path):
    """Its names would have made a 1.2 MB report and a ledger row Table Storage refuses."""
    export = generate(tmp_path / "wide.csv", GenerateOptions(rows=3, seed=4)).path
    lines = export.read_text().splitlines()
    extra = ",".join(f"column number {i}" for i in range(100_000))
    export.write_text(f"{lines[0]},{extra}\n" + "".join(f"{line}{',' * 100_000}\n" for line in lines[1:]))
    code, out = run("validate", export, "--kind", "healthcare", "--json")
    report = json.loads(out.out)
    assert code == 1 and [r["code"] for r in report["reasons"]] == ["too-many-columns"]
    assert len(out.out) < 10_000


@pytest.mark.parametrize("spelling", ["page", "sample"])
def test_kind_hr_generate_validate_and_suggest_mapping(tmp_path, spelling):
    path = tmp_path / "profiles.csv"
    counts = ("--bad-rows", 1, "--duplicate-rows", 2, "--other-scenarios", 5)
    code, out = run(
        "generate", "--kind", "hr", "--rows", 200, "--spelling", spelling, *counts, "--output", path
    )
    assert code == 0 and "200 rows, 1 bad" in out.out
    code, out = run("validate", path, "--kind", "hr", "--json")
    report = json.loads(out.out)
    assert code == 0 and report["kind"] == "hr"
    assert (report["rows_invalid"], report["duplicate_rows"], report["rows_filtered"]) == (1, 2, 5)
    code, out = run("validate", path, "--kind", "hr")
    assert "2 repeating an earlier EmailAddress" in out.out
    code, out = run("suggest-mapping", path, "--kind", "hr", "--json")
    suggestion = json.loads(out.out)
    assert code == 0 and suggestion["mapping"] == {} and suggestion["missing_mandatory"] == []


def test_kind_hr_refuses_a_file_missing_a_mandatory_column(tmp_path):
    path = tmp_path / "profiles.csv"
    path.write_text("EmailAddress,EmployeeFirstName,EmployeeLastName,EmployeeZipCode\na@x.org,A,B,02110\n")
    code, out = run("validate", path, "--kind", "hr")
    assert code == 1 and "EmployeeAddressLine1 or EmployeeAddLine1" in out.out
