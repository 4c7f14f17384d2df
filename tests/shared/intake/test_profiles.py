"""The HR connector's employee profile (``kind: hr``) through the blob stage's validation:
either spelling of Microsoft's columns, the HRScenario filter, duplicate EmailAddress rows,
and the fast path agreeing with the row-by-row path on files without a timestamp."""

import csv
import io

import pytest

from devstack.profiles import ProfileOptions, generate_profiles
from shared.common.events import parse_events
from shared.common.schema import HR
from shared.common.settings import Connector
from shared.intake import scan as scanning
from shared.intake.validation import validate

HR_CONNECTOR = Connector(name="hr", kind="hr", job_id="j")


def check(data: bytes, name: str = "profiles.csv", connector: Connector = HR_CONNECTOR, block: int = 1 << 20):
    return validate([data[i : i + block] for i in range(0, len(data), block)], name, connector)


def profiles(tmp_path, **options) -> bytes:
    return generate_profiles(tmp_path / "p.csv", ProfileOptions(**options)).path.read_bytes()


@pytest.mark.parametrize("spelling", ["page", "sample"])
def test_either_spelling_validates_without_a_mapping(tmp_path, spelling):
    outcome = check(profiles(tmp_path, rows=300, spelling=spelling, quote_rate=0.3, seed=3))
    summary = outcome.summary()
    assert outcome.accepted, summary.reasons
    assert (summary.rows_total, summary.rows_to_send, summary.columns_dropped) == (300, 300, [])
    assert set(outcome.result.found) >= {f.key for f in HR.mandatory}


def test_a_missing_mandatory_column_is_refused_by_name(tmp_path):
    data = profiles(tmp_path, rows=5, spelling="sample").decode()
    text = "\n".join(",".join(r[:4] + r[5:]) for r in csv.reader(io.StringIO(data)))
    outcome = check(text.encode())
    assert not outcome.accepted
    assert outcome.rejected.code == "missing-columns"
    assert "EmployeeAddressLine1 or EmployeeAddLine1" in outcome.rejected.message


def test_only_profile_rows_are_sent_the_other_scenarios_counted_as_filtered(tmp_path):
    outcome = check(profiles(tmp_path, rows=400, other_scenarios=25, bad_rows=2, duplicate_rows=3))
    summary = outcome.summary()
    assert outcome.accepted
    assert summary.filtered_by_event == {"(other events)": 25}
    assert summary.rows_invalid == 2 and summary.invalid_by_reason == {"empty": 2}
    assert summary.rows_to_send == 400 - 25 - 2
    assert summary.duplicate_rows == 3


def test_a_file_without_hrscenario_is_all_profiles_and_other_values_can_be_named(tmp_path):
    data = b"EmailAddress,EmployeeFirstName,EmployeeLastName,EmployeeAddressLine1,EmployeeZipCode,Scenario\n"
    data += b"a@x.org,A,B,1 Main St,02110,Profile\nb@x.org,A,B,1 Main St,02110,Leaver\n"
    named = Connector(
        name="hr",
        kind="hr",
        job_id="j",
        mapping={"Scenario": "HRScenario"},
        events=parse_events({"include": ["profile"]}, "hr"),
    )
    assert check(data, connector=named).summary().filtered_by_event == {"(other events)": 1}
    unmapped = check(data).summary()
    assert (unmapped.rows_to_send, unmapped.columns_dropped) == (2, ["Scenario"])


def test_hr_files_are_csv_only(tmp_path):
    outcome = check(profiles(tmp_path, rows=3), name="profiles.tsv")
    assert outcome.rejected.code == "extension" and ".csv" in outcome.rejected.message


def test_a_profile_row_needs_its_email_address_only_by_default():
    assert HR_CONNECTOR.required == ("employee_upn",)
    assert Connector(name="g", kind="healthcare", job_id="j").required == ("event_name", "employee_upn")


@pytest.mark.parametrize("block", [7, 301, 1 << 20])
def test_the_fast_path_matches_the_row_by_row_path(tmp_path, monkeypatch, block):
    data = profiles(tmp_path, rows=2000, other_scenarios=40, bad_rows=9, duplicate_rows=11, quote_rate=0.1)

    def summary(fast: bool):
        with monkeypatch.context() as m:
            m.setattr(scanning._Source, "TEXT_PIECE", 4096)
            if not fast:
                m.setattr(scanning._Runs, "valid", lambda self, body: False)
            r = check(data, block=block, connector=Connector(name="hr", kind="hr", job_id="j", chunk_rows=97))
            result = r.result
            assert result is not None
            chunks = [(c.start, c.end, c.rows, c.first_row, c.skip) for c in result.chunks]
            return result.rows, result.duplicates, list(result.invalid), chunks, result.filtered_by_event

    fast = summary(True)
    assert fast == summary(False)
    assert fast[1] == 11 and len(fast[2]) == 9 and fast[4] == {"(other events)": 40}


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("kind", ["healthcare", "epic", "hr"])
def test_the_logins_of_the_rows_to_send_are_collected_on_either_path(tmp_path, monkeypatch, kind, fast):
    from devstack.generate import GenerateOptions, generate

    if kind == "hr":
        path = generate_profiles(
            tmp_path / "p.csv", ProfileOptions(rows=900, other_scenarios=30, bad_rows=5)
        ).path
        events = None
    else:
        options = GenerateOptions(kind=kind, rows=3000, bad_rows=12, quote_rate=0.2, seed=5)
        path = generate(tmp_path / ("a.csv" if kind == "healthcare" else "a.txt"), options).path
        events = parse_events({"exclude": ["Chart Opened"]}, "c")
    connector = Connector(name="c", kind=kind, job_id="j", events=events)
    assert connector.events is not None  # hr: the profile rows only
    with monkeypatch.context() as m:
        m.setattr(scanning._Source, "TEXT_PIECE", 8192)
        if not fast:
            m.setattr(scanning._Runs, "valid", lambda self, body: False)
        result = validate([path.read_bytes()], path.name, connector, logins=True).result
    assert result is not None and result.logins is not None
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline=""), delimiter=result.delimiter))
    found, invalid = result.found, {n for n, _, _ in result.invalid}
    event = found.get("hr_scenario" if kind == "hr" else "event_name")
    sent = [
        r for n, r in enumerate(rows[1:], 1)
        if n not in invalid and (event is None or connector.events.keeps(r[event]))
    ]  # fmt: skip
    assert result.logins.values == {r[found["employee_upn"]] for r in sent}
    assert not result.logins.overflow


def test_logins_stop_growing_past_the_bound(monkeypatch, tmp_path):
    from shared.intake import logins

    monkeypatch.setattr(logins, "MAX_LOGINS", 10)
    data = profiles(tmp_path, rows=50)
    without = check(data, connector=HR_CONNECTOR).result
    assert without is not None and without.logins is None
    result = validate([data], "p.csv", HR_CONNECTOR, logins=True).result
    assert result is not None and result.logins is not None
    assert result.logins.overflow and not result.logins.values
