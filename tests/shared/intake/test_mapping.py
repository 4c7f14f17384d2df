from shared.common.schema import EPIC, GENERIC
from shared.intake.mapping import suggest


def test_exact_normalised_fuzzy_and_unmatched():
    columns = ["Creation Time", "event  NAME", "AccessTime", "PAT_FIRST_NAME", "Patient Zip", "Shoe Size", ""]
    s = suggest(GENERIC, columns)
    assert s.exact == {"Creation Time": "creation_time"}
    assert s.normalised == {"event  NAME": "event_name"}
    assert {c: k for c, (k, _) in s.fuzzy.items()} == {
        "PAT_FIRST_NAME": "patient_first_name",
        "Patient Zip": "patient_zip",
    }
    assert s.unmatched == ["AccessTime", "Shoe Size"]  # creation_time was already taken exactly
    assert "Patient Last Name" in s.missing_mandatory and "Creation Time" not in s.missing_mandatory
    assert s.mapping == {"event  NAME": "event_name", "PAT_FIRST_NAME": "patient_first_name",
                         "Patient Zip": "patient_zip"}  # fmt: skip


def test_generic_names_suggested_for_an_epic_file():
    s = suggest(EPIC, [f.header for f in GENERIC.fields if f.key != "employee_user_name"])
    assert not s.missing_mandatory and not s.unmatched
    assert s.mapping["Email Address (UPN) or SamAccountName"] == "employee_upn"
