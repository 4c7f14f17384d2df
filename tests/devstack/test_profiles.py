"""The employee-profile generator (``generate --kind hr``)."""

import csv

import pytest

from devstack.generate import employee_pool
from devstack.profiles import PAGE, SAMPLE, ProfileOptions, generate_profiles


def read(path):
    return list(csv.reader(path.open(encoding="utf-8-sig", newline="")))


@pytest.mark.parametrize(("spelling", "header"), [("page", PAGE), ("sample", SAMPLE)])
def test_header_rows_and_special_rows(tmp_path, spelling, header):
    options = ProfileOptions(
        rows=900, spelling=spelling, bad_rows=3, duplicate_rows=4, other_scenarios=6, seed=2
    )
    result = generate_profiles(tmp_path / "p.csv", options)
    rows = read(result.path)
    assert rows[0] == [*header, "HRScenario"] and len(rows) == 901
    assert [i for i, r in enumerate(rows[1:], 1) if not r[0]] == result.bad_row_numbers
    emails = [r[0] for r in rows[1:] if r[0]]
    assert len(emails) - len(set(emails)) == 4
    assert sum(r[-1] == "Resignation" for r in rows[1:]) == 6


def test_employees_are_the_audit_generators_and_the_output_is_deterministic(tmp_path):
    a = generate_profiles(tmp_path / "a.csv", ProfileOptions(rows=50, seed=9, bom=True, crlf=True))
    b = generate_profiles(tmp_path / "b.csv", ProfileOptions(rows=50, seed=9, bom=True, crlf=True))
    assert a.path.read_bytes() == b.path.read_bytes()
    pool = {upn for upn, *_ in employee_pool(9)}
    assert {r[0] for r in read(a.path)[1:]} <= pool


def test_impossible_counts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="exceed rows"):
        generate_profiles(tmp_path / "p.csv", ProfileOptions(rows=3, bad_rows=2, duplicate_rows=2))
