"""Synthetic HR employee-profile files (the ``hr`` connector), for demos, tests and benchmarks.

One row per employee of the audit generator's pool for the same seed, so an audit file and a
profile file generated with one seed name the same (fake) people, which is what coverage
counts. The address of each employee is drawn from the same fake places as the patients'.

Guarantees, for any seed: the header is Microsoft's HR page's column names (``spelling="page"``)
or its sample file's (``"sample"``: EmployeeAddLine1, EmployeeDept, UserName...); exactly
``bad_rows`` rows have an empty EmailAddress; ``duplicate_rows`` rows repeat an earlier row's
EmailAddress; with ``other_scenarios`` rows an ``HRScenario`` column says each row's
scenario and that many rows are resignations; the same options give a byte-identical file.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devstack.generate import DEPARTMENTS, GenerateResult, employee_pool, place_pool, print_result
from shared.common.schema import HR

PAGE = tuple(f.header for f in HR.fields if f.key not in ("employee_user_name", "hr_scenario"))
"""The columns as the HR page lists them."""
SAMPLE = (
    "EmailAddress",
    "UserName",
    "EmployeeFirstName",
    "EmployeeLastName",
    "EmployeeAddLine1",
    "EmployeeAddLine2",
    "EmployeeCity",
    "EmployeeState",
    "EmployeeZipCode",
    "EmployeeDept",
    "EmployeeType",
    "EmployeeRole",
)
"""The header of the HR page's own sample file."""
SPELLINGS = {"page": PAGE, "sample": SAMPLE}
PROFILE, RESIGNATION = "Employee profile", "Resignation"
_TYPES = ("Regular", "Regular", "Regular", "Exempt", "Contractor", "Temporary")
_ROLES = ("Nurse", "Physician", "Resident", "Pharmacist", "Registrar", "Technician", "Clerk")


@dataclass
class ProfileOptions:
    rows: int = 100
    """Data rows, every kind together (the header is not counted)."""
    spelling: str = "page"
    bad_rows: int = 0
    """Rows with an empty EmailAddress (invalid)."""
    duplicate_rows: int = 0
    """Rows repeating an earlier row's EmailAddress (valid, counted as duplicates)."""
    other_scenarios: int = 0
    """Resignation rows; any adds an HRScenario column."""
    quote_rate: float = 0.05
    """Share of rows whose address line 2 holds a comma (so it is quoted)."""
    bom: bool = False
    crlf: bool = False
    seed: int = 0


def generate_profiles(path: Path, options: ProfileOptions) -> GenerateResult:
    """Write a synthetic employee-profile CSV to ``path`` (overwritten) and describe it."""
    columns = _columns(options)
    rows = list(_rows(options, columns))
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="") as out:
        if options.bom:
            out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n" if options.crlf else "\n")
        writer.writerow(columns)
        writer.writerows(rows)
    bad = [i + 1 for i, row in enumerate(rows) if not row[0]]
    return GenerateResult(path, len(rows), len(rows) - len(bad), bad, path.stat().st_size, ",")


def _columns(options: ProfileOptions) -> tuple[str, ...]:
    if options.spelling not in SPELLINGS:
        raise ValueError(f"unknown spelling {options.spelling!r}: use one of {', '.join(SPELLINGS)}")
    extra = options.bad_rows + options.duplicate_rows + options.other_scenarios
    if min(options.rows, options.bad_rows, options.duplicate_rows, options.other_scenarios) < 0:
        raise ValueError("row counts must not be negative")
    if extra > options.rows:
        raise ValueError(f"bad, duplicate and other-scenario rows ({extra}) exceed rows ({options.rows})")
    return SPELLINGS[options.spelling] + (("HRScenario",) if options.other_scenarios else ())


def _rows(options: ProfileOptions, columns: tuple[str, ...]) -> list[list[str]]:
    """Unique employees first in a shuffled order, the special rows spread among them."""
    rng = random.Random(f"{options.seed}:profiles")
    employees = employee_pool(options.seed)
    places = place_pool(options.seed)
    unique = options.rows - options.duplicate_rows
    special = ["bad"] * options.bad_rows + ["other"] * options.other_scenarios
    kinds = special + ["profile"] * (unique - len(special))
    rng.shuffle(kinds)
    made: list[list[str]] = []
    for i, kind in enumerate(kinds):
        upn, user, first, last = employees[i % len(employees)]
        if i >= len(employees):
            upn = upn.replace("@", f".{i // len(employees)}@")
        row = _profile(rng, places, (upn, user, first, last), columns, options.quote_rate)
        if kind == "bad":
            row[0] = ""
        if kind == "other":
            row[-1] = RESIGNATION
        made.append(row)
    named = [r for r in made if r[0]]
    for _ in range(options.duplicate_rows):
        made.insert(rng.randrange(1, len(made) + 1), list(rng.choice(named)))
    return made


def _profile(
    rng: random.Random,
    places: Sequence[tuple[str, ...]],
    person: tuple[str, str, str, str],
    columns: tuple[str, ...],
    quote_rate: float,
) -> list[str]:
    upn, user, first, last = person
    street, line2, city, zip_code, state, country = rng.choice(places)
    department = rng.choice(DEPARTMENTS)
    if rng.random() < quote_rate:
        line2 = f"Apt {rng.randrange(1, 40)}, rear entrance"
    values = {
        "EmailAddress": upn,
        "UserName": user,
        "EmployeeFirstName": first,
        "EmployeeLastName": last,
        "EmployeeAddressLine1": street,
        "EmployeeAddLine1": street,
        "EmployeeAddressLine2": line2,
        "EmployeeAddLine2": line2,
        "EmployeeCity": city,
        "EmployeeState": state,
        "EmployeeZipCode": zip_code,
        "EmployeeCountry": country,
        "EmployeeDepartment": department,
        "EmployeeDept": department,
        "EmployeeType": rng.choice(_TYPES),
        "EmployeeRole": rng.choice(_ROLES),
        "HRScenario": PROFILE,
    }
    return [values[c] for c in columns]


def run_profiles(args: argparse.Namespace) -> int:
    """``ehr-ingest generate --kind hr``: one summary line, no field values."""
    options = ProfileOptions(
        rows=args.rows,
        spelling=args.spelling,
        bad_rows=args.bad_rows,
        duplicate_rows=args.duplicate_rows,
        other_scenarios=args.other_scenarios,
        quote_rate=args.quote_rate,
        bom=args.bom,
        crlf=args.crlf,
        seed=args.seed,
    )
    try:
        _columns(options)  # validate before touching the file system
        path = Path(args.output)
        if path.is_dir():
            path = path / "hr-employee-profiles.csv"
        result = generate_profiles(path, options)
    except (ValueError, OSError) as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    print_result(result)
    return 0
