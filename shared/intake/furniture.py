"""Lines a query tool writes around the rows: not rows, so neither counted nor sent.

SQL Server Management Studio's "Results to Text/File" puts a line of dashes under the header
and ends with "(N rows affected)" (and, from SSMS 18, "Completion time: ..."); exports made
that way are common where the audit log is pulled from Clarity by hand.
"""

from __future__ import annotations

import re

_FOOTER = re.compile(r"\(\d[\d,.]* rows? affected\)|Completion time: .*")

RULE_NOTE = "the line of dashes under the header (SQL Server Management Studio's) was left out"
FOOTER_NOTE = (
    '{n} line(s) such as "(N rows affected)" (SQL Server Management Studio\'s footer) were left out: not rows'
)


def is_rule(line: str, delimiter: str) -> bool:
    """True for the dashes line SSMS writes under the header (dashes, delimiters, spaces)."""
    text = line.strip()
    return "-" in text and not text.replace("-", "").replace(delimiter, "").replace(" ", "")


def is_footer(record: list[str]) -> bool:
    """True for a one-field record that is SSMS's row count or completion time."""
    return len(record) == 1 and _FOOTER.fullmatch(record[0].strip()) is not None
