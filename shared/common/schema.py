"""The connector schemas, as data, in one place (from the connector documentation).

The generic (Healthcare) and Epic lists correspond position by position, which lets one
canonical field name stand for both: code speaks of ``creation_time`` and each schema
says which header names that is. The HR connector's employee profile (``hr``) is a third
schema: one row per employee, no timestamp, and the same canonical names for the employee
fields the audit schemas share with it (``employee_upn`` is its EmailAddress).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    key: str
    """Canonical name used in code and configuration."""
    header: str
    """Column name as the connector documentation writes it."""
    mandatory: bool
    aliases: tuple[str, ...] = ()
    """Other spellings Microsoft's own pages use for the column, matched like ``header``."""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.header, *self.aliases)


@dataclass(frozen=True)
class Schema:
    kind: str
    fields: tuple[Field, ...]
    time_key: str | None = "creation_time"
    """The field every row's timestamp is in; None for a schema whose rows have none."""
    event_key: str = "event_name"
    """The field a connector's ``events`` filter reads (it may be absent from a file)."""
    row_required: tuple[str, ...] = ("event_name", "employee_upn")
    """Fields a row is useless without, unless the connector says otherwise."""
    duplicate_key: tuple[str, ...] = ()
    """Fields whose repetition makes a row a duplicate; empty: the audit rows' employee,
    patient and timestamp (``shared.intake.rows``)."""
    duplicate_words: str = "employee+patient+timestamp"
    """What a duplicate row repeats, in an operator's words."""

    @property
    def mandatory(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.mandatory)

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)


# (key, generic header, Epic header or None, mandatory)
_ROWS: tuple[tuple[str, str, str | None, bool], ...] = (
    ("creation_time", "Creation Time", "ACCESS_LOG.ACCESS_TIME", True),
    ("event_name", "Event Name", "ACCESS_LOG_METRIC.METRIC_NAME", True),
    ("workstation_id", "Workstation Id", "ACCESS_LOG.WORKSTATION_ID", False),
    ("event_section", "Event Section", "ZC_METRIC_GROUP.NAME", False),
    ("event_category", "Event Category", "ZC_ACCESS_ACTION.NAME", False),
    ("patient_reg_id", "Patient Reg Id", "PATIENT.PAT_MRN_ID", False),
    ("patient_first_name", "Patient First Name", "PATIENT.PAT_FIRST_NAME", True),
    ("patient_middle_name", "Patient Middle Name", "PATIENT.PAT_MIDDLE_NAME", False),
    ("patient_last_name", "Patient Last Name", "PATIENT.PAT_LAST_NAME", True),
    ("patient_address_1", "Patient Address Line 1", "PATIENT.ADD_LINE_1", True),
    ("patient_address_2", "Patient Address Line 2", "PATIENT.ADD_LINE_2", False),
    ("patient_city", "Patient City", "PATIENT.CITY", True),
    ("patient_zip", "Patient Zip Code", "PATIENT.ZIP", True),
    ("patient_state", "Patient State", "ZC_STATE.NAME", False),
    ("patient_country", "Patient Country", "ZC_COUNTRY.NAME", False),
    ("patient_department", "Patient Department", "CLARITY_DEP.DEPARTMENT_NAME", False),
    ("restricted_reason", "Restricted Access Reason", "ZC_BTG_REASON.NAME", True),
    ("restricted_comment", "Restricted Access Comment", "PAT_BTG_AUDIT.BTG_EXPLANATION", False),
    ("employee_upn", "Email Address (UPN) or SamAccountName", "EMP.SYSTEM_LOGIN", True),
    ("employee_user_name", "Employee User Name", None, False),
    ("employee_id", "Employee Id", "CLARITY_EMP.USER_ID", False),
    ("employee_last_name", "Employee Last Name", "employee_last_name", False),
    ("employee_first_name", "Employee First Name", "employee_first_name", False),
)

GENERIC = Schema("healthcare", tuple(Field(k, g, m) for k, g, _, m in _ROWS))
EPIC = Schema("epic", tuple(Field(k, e, m) for k, _, e, m in _ROWS if e is not None))

HR_SCENARIO = "hr_scenario"
PROFILE_SCENARIOS = ("Employee profile", "EmployeeProfile")
"""HRScenario values of employee-profile rows; a connector's ``events.include`` may name others."""

# (key, header as Microsoft's HR page lists it, spellings of the page's own sample file, mandatory)
_HR_ROWS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("employee_upn", "EmailAddress", (), True),
    ("employee_user_name", "UserName", (), False),
    ("employee_first_name", "EmployeeFirstName", (), True),
    ("employee_last_name", "EmployeeLastName", (), True),
    ("employee_address_1", "EmployeeAddressLine1", ("EmployeeAddLine1",), True),
    ("employee_address_2", "EmployeeAddressLine2", ("EmployeeAddLine2",), False),
    ("employee_city", "EmployeeCity", (), False),
    ("employee_state", "EmployeeState", (), False),
    ("employee_zip", "EmployeeZipCode", (), True),
    ("employee_country", "EmployeeCountry", (), False),
    ("employee_department", "EmployeeDepartment", ("EmployeeDept",), False),
    ("employee_type", "EmployeeType", (), False),
    ("employee_role", "EmployeeRole", (), False),
    (HR_SCENARIO, "HRScenario", (), False),
)

HR = Schema(
    "hr",
    tuple(Field(k, h, m, a) for k, h, a, m in _HR_ROWS),
    time_key=None,
    event_key=HR_SCENARIO,
    row_required=("employee_upn",),
    duplicate_key=("employee_upn",),
    duplicate_words="EmailAddress",
)
SCHEMAS: dict[str, Schema] = {s.kind: s for s in (GENERIC, EPIC, HR)}
KINDS = tuple(SCHEMAS)

PATIENT_KEYS = frozenset(f.key for f in GENERIC.fields if f.key.startswith("patient_"))
EMPLOYEE_KEYS = frozenset(f.key for s in SCHEMAS.values() for f in s.fields if f.key.startswith("employee_"))
"""Fields whose values are PHI or personal data and must never leave the row."""


def normalise(name: str) -> str:
    """Header names match case- and whitespace-insensitively, as the portal does; a space
    around the dot of an Epic name is no difference (the connector's page writes
    ``PATIENT. CITY``)."""
    return " ".join(name.strip().lstrip("\ufeff").split()).replace(". ", ".").replace(" .", ".").casefold()


def schema_for(kind: str) -> Schema:
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise ValueError(
            f"unknown connector kind {kind!r}: use one of {', '.join(sorted(SCHEMAS))}"
        ) from None
