from shared.common.schema import EPIC, GENERIC, normalise, schema_for


def test_field_counts_match_the_connector_documentation():
    assert len(GENERIC.fields) == 23 and len(GENERIC.mandatory) == 9
    assert len(EPIC.fields) == 22 and len(EPIC.mandatory) == 9


def test_epic_and_generic_mandatory_fields_correspond():
    assert [f.key for f in GENERIC.mandatory] == [f.key for f in EPIC.mandatory]
    assert EPIC.field("creation_time").header == "ACCESS_LOG.ACCESS_TIME"
    assert GENERIC.field("restricted_reason").mandatory


def test_normalise_ignores_case_whitespace_and_bom():
    assert normalise("\ufeff  Creation   TIME ") == normalise("creation time")


def test_unknown_kind_is_a_clear_error():
    try:
        schema_for("cerner")
    except ValueError as exc:
        assert "epic" in str(exc) and "healthcare" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_hr_profile_columns_follow_microsofts_hr_page():
    from shared.common.schema import HR

    assert [f.header for f in HR.mandatory] == [
        "EmailAddress", "EmployeeFirstName", "EmployeeLastName", "EmployeeAddressLine1", "EmployeeZipCode",
    ]  # fmt: skip
    spellings = {n for f in HR.fields for n in f.aliases}
    assert spellings == {"EmployeeAddLine1", "EmployeeAddLine2", "EmployeeDept"}
    assert HR.time_key is None and HR.event_key == "hr_scenario"
    assert schema_for("hr") is HR
