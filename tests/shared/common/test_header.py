import pytest

from shared.common.errors import Rejected
from shared.common.header import match
from shared.common.schema import EPIC, GENERIC


def test_all_columns_found_case_insensitively():
    columns = [f.header.upper() + " " for f in GENERIC.fields]
    found = match(GENERIC, columns, "f.csv")
    assert found["creation_time"] == 0 and len(found) == 23


def test_optional_columns_may_be_absent():
    columns = [f.header for f in EPIC.mandatory]
    assert set(match(EPIC, columns, "f.txt")) == {f.key for f in EPIC.mandatory}


def test_missing_mandatory_column_names_it():
    columns = [f.header for f in GENERIC.fields if f.key != "patient_zip"]
    with pytest.raises(Rejected) as err:
        match(GENERIC, columns, "f.csv")
    assert err.value.code == "missing-columns" and "Patient Zip Code" in err.value.message


def test_duplicate_column_rejected():
    columns = [f.header for f in GENERIC.fields] + ["event name"]
    with pytest.raises(Rejected, match="twice"):
        match(GENERIC, columns, "f.csv")


def test_a_header_over_the_documented_number_of_columns_is_refused_with_a_reason():
    from shared.common.header import MAX_COLUMNS

    columns = [f.header for f in GENERIC.fields] + [
        f"extra {i}" for i in range(MAX_COLUMNS - len(GENERIC.fields))
    ]
    assert match(GENERIC, columns, "x.csv")  # at the limit: fine
    with pytest.raises(Rejected) as err:
        match(GENERIC, [*columns, "one more"], "x.csv")
    assert err.value.code == "too-many-columns" and "1,001 columns" in err.value.message
