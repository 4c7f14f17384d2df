"""Every reason code in a few words: its cause and the operator's next step.

The validation report and the CLI carry each row's full reason; the daily report, which
sums rows by code over many files, says each code's cause and fix from this table, so a
count is never a bare code."""

from __future__ import annotations

ROW_CODES: dict[str, str] = {
    "field-count": "a field count other than the header's: quote values holding the delimiter",
    "trailing-delimiter": "a delimiter at the end of the row the header lacks: remove it from the rows",
    "timestamp-empty": "no access time: every row needs one",
    "timestamp-invalid": "an access time in a form the connector does not read: export ISO 8601",
    "empty": "a required value empty: fill it, or drop the field from the connector's required list",
    "nul-byte": "a NUL byte: fix the value at its source",
    "bare-quote": "a quote inside an unquoted value: set the exporter to quote text fields",
    "header-row": "the header line repeated (joined exports): drop them as separate files",
    "date-order": "a slash date in the other date order: set the connector's date_order",
}


def row_hint(code: str) -> str:
    """``code`` with its cause and fix, e.g. ``"nul-byte (a NUL byte: fix the value at its source)"``."""
    hint = ROW_CODES.get(code)
    return f"{code} ({hint})" if hint else code
