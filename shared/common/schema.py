"""The two connector schemas, as data, in one place (from the connector documentation).

The generic (Healthcare) and Epic lists correspond position by position, which lets one
canonical field name stand for both: code speaks of ``creation_time`` and each schema
says which header names that is.
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


@dataclass(frozen=True)
class Schema:
    kind: str
    fields: tuple[Field, ...]

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
SCHEMAS: dict[str, Schema] = {s.kind: s for s in (GENERIC, EPIC)}

PATIENT_KEYS = frozenset(f.key for f in GENERIC.fields if f.key.startswith("patient_"))
EMPLOYEE_KEYS = frozenset(f.key for f in GENERIC.fields if f.key.startswith("employee_"))
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
