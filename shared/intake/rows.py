"""What makes a row valid, and a compact record of the rows that are not.

The checks (field count, timestamp, required fields) run inline in the scan's loop; this
module compiles them from the header match and explains a failure after the fact, so the
per-row path stays a handful of C calls. Reasons name columns and counts, never values.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from shared.common.errors import Rejected
from shared.common.records import BARE_QUOTE, NUL_BYTE, Flagged
from shared.common.schema import Schema, normalise
from shared.intake.timestamps import accepted_forms, contradicts, parses

FIELD_COUNT, TIME_EMPTY, TIME_BAD = "field-count", "timestamp-empty", "timestamp-invalid"
REQUIRED_EMPTY, HEADER_ROW, TRAILING_DELIMITER = "empty", "header-row", "trailing-delimiter"
KEY_TOO_LONG = "too-long"
DATE_ORDER = "date-order"
"""Not a row's fault: the scan refuses the whole file (``date_order_rejected``)."""
CODES: tuple[str, ...] = (
    FIELD_COUNT,
    TIME_EMPTY,
    TIME_BAD,
    REQUIRED_EMPTY,
    KEY_TOO_LONG,
    NUL_BYTE,
    BARE_QUOTE,
    HEADER_ROW,
    TRAILING_DELIMITER,
    DATE_ORDER,
)
_CODE_INDEX = {code: i for i, code in enumerate(CODES)}
DATE_ORDER_INDEX = _CODE_INDEX[DATE_ORDER]
NOT_SENT = "the row is not sent"

DUPLICATE_KEY = ("employee_upn", "patient_reg_id", "creation_time")
"""Employee, patient and timestamp: rows repeating all of them are reported (the connector is
reported to drop them silently). The patient is their MRN (Patient Reg Id) when the file has
that column, else their first and last name."""
_PATIENT_BY_NAME = ("employee_upn", "patient_first_name", "patient_last_name", "creation_time")

MAX_KEY_BYTES = 1024
"""The longest value (UTF-8 bytes) of a duplicate-key field: a longer one makes the row invalid.
An Entra user principal name is at most 113 characters; no employee, patient or timestamp
comes near this, and hashing a key costs its length for every row that carries it."""
_KEY_CHARS = MAX_KEY_BYTES // 4
"""A value of this many characters or fewer is within ``MAX_KEY_BYTES`` whatever it holds."""


@dataclass(frozen=True)
class RowRules:
    width: int
    time_index: int | None
    """None for a schema without timestamps (the HR employee profile)."""
    time_header: str
    required: tuple[tuple[int, str], ...]
    """(column index, column name) of fields that must not be empty."""
    required_values: Callable[[Sequence[str]], tuple[str, ...]]
    duplicate_key: Callable[[Sequence[str]], tuple[str, ...]]
    key_indices: tuple[int, ...] = ()
    """Columns of ``duplicate_key``, for the scan's runs of rows checked together."""
    day_first: bool = False
    """Slash dates are DD/MM/YYYY (the connector's ``date_order``)."""
    header: tuple[str, ...] = ()
    """The header's names, normalised: a row equal to it is a repeated header."""

    @classmethod
    def build(
        cls,
        schema: Schema,
        columns: list[str],
        found: dict[str, int],
        required: Sequence[str],
        name: str,
        day_first: bool = False,
    ) -> RowRules:
        absent = [schema.field(k).header for k in required if k not in found]
        if absent:
            raise Rejected(
                "missing-columns",
                f"{name}: column(s) the connector requires a value in are missing: {', '.join(absent)}",
            )
        req = tuple((found[k], columns[found[k]].strip()) for k in required if k != schema.time_key)
        indices = [i for i, _ in req]
        if not indices:
            values: Callable[[Sequence[str]], tuple[str, ...]] = lambda _row: ()  # noqa: E731
        else:
            values = itemgetter(*indices, indices[0])  # always a tuple, even for one field
        fields = schema.duplicate_key or (DUPLICATE_KEY if "patient_reg_id" in found else _PATIENT_BY_NAME)
        key_indices = tuple(found[k] for k in fields)
        key = _getter(key_indices)  # a tuple: duplicates.row_hashes hashes its values
        ti = found[schema.time_key] if schema.time_key else None
        stamp = "" if ti is None else columns[ti].strip()
        names = tuple(map(normalise, columns))
        return cls(len(columns), ti, stamp, req, values, key, key_indices, day_first, names)

    def why(self, row: Sequence[str]) -> tuple[int, int]:
        """(code index, detail) of an invalid row; detail is a field count or a column index."""
        if isinstance(row, Flagged):
            return _CODE_INDEX[row.code], 0
        if len(row) != self.width:
            if len(row) == self.width + 1 and not row[-1].strip():
                return _CODE_INDEX[TRAILING_DELIMITER], len(row)
            return _CODE_INDEX[FIELD_COUNT], len(row)
        if tuple(map(normalise, row)) == self.header:
            return _CODE_INDEX[HEADER_ROW], 0
        ts = None if self.time_index is None else row[self.time_index]
        if ts == "":
            return _CODE_INDEX[TIME_EMPTY], 0
        if ts is not None and not parses(ts, self.day_first):
            return _CODE_INDEX[DATE_ORDER if contradicts(ts, self.day_first) else TIME_BAD], 0
        for i, _ in self.required:
            if not row[i]:
                return _CODE_INDEX[REQUIRED_EMPTY], i
        for i in self.key_indices:
            if _too_long(row[i]):
                return _CODE_INDEX[KEY_TOO_LONG], i
        raise AssertionError("why() called for a valid row")

    def key_too_long(self, row: Sequence[str]) -> bool:
        """True if a value of the duplicate key is longer than ``MAX_KEY_BYTES``."""
        return max(map(len, self.duplicate_key(row))) > _KEY_CHARS and any(
            map(_too_long, self.duplicate_key(row))
        )

    def reason(self, code: str, detail: int, columns: Sequence[str]) -> str:
        """The cause in an operator's words, then what to do about it (never a value)."""
        if code == REQUIRED_EMPTY:
            return (
                f"{columns[detail].strip()} is empty and the connector requires a value there; "
                f"{NOT_SENT}: fill it in the export, or take the field out of the connector's "
                '"required" list'
            )
        if code == KEY_TOO_LONG:
            return (
                f"{columns[detail].strip()} is longer than {MAX_KEY_BYTES:,} bytes; no real value is that "
                f"long; {NOT_SENT}: check the export's columns (a value run together with others?)"
            )
        return _REASONS[code].format(
            fields=detail, width=self.width, time=self.time_header, forms=accepted_forms(self.day_first)
        )

    def date_order_rejected(self, name: str, row: int) -> Rejected:
        """The whole file refused: its slash dates read only in the other order."""
        order, other = ("day-first", "month-first") if self.day_first else ("month-first", "day-first")
        written = "MM/DD/YYYY" if self.day_first else "DD/MM/YYYY"
        return Rejected(
            DATE_ORDER,
            f"{name}: data row {row:,} has a slash date that is not a valid date {order} (the "
            f"connector's date_order setting) but is one {other}: the export writes {written}, so "
            f'every slash date in it would be misread. Nothing was sent. Set "date_order": '
            f'"{other}" in the connector\'s entry in CONNECTORS (validate: --date-order {other}) '
            "and drop the file again.",
        )


def _too_long(value: str) -> bool:
    return len(value) > _KEY_CHARS and len(value.encode()) > MAX_KEY_BYTES


def _getter(indices: tuple[int, ...]) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """The values at ``indices`` as a tuple, even for one index (``itemgetter`` gives it bare)."""
    if len(indices) == 1:
        (i,) = indices
        return lambda row: (row[i],)
    return itemgetter(*indices)


_REASONS = {
    FIELD_COUNT: (
        "has {fields} fields where the header has {width}; " + NOT_SENT + ": a value holding the "
        "delimiter must be quoted (or a value is missing): fix the row or the exporter's quoting"
    ),
    TRAILING_DELIMITER: (
        "ends with a delimiter the header does not have ({fields} fields, the last one empty, where "
        "the header has {width}); " + NOT_SENT + ": remove the trailing delimiter from the rows, or "
        "end the header line with one too"
    ),
    TIME_EMPTY: "{time} is empty; " + NOT_SENT + ": every audit row needs the time of the access",
    TIME_BAD: (
        "{time} is not a date and time in a form the connector reads; " + NOT_SENT + ": export it as {forms}"
    ),
    NUL_BYTE: (
        "holds a NUL byte (0x00), which no text export contains (a binary or corrupt value); "
        + NOT_SENT
        + ": fix the value at its source and export again"
    ),
    BARE_QUOTE: (
        "has a quote inside a value that is not quoted (RFC 4180 wants such a value quoted and its "
        'quotes doubled: "say ""hi"""); ' + NOT_SENT + ": set the exporter to quote text fields"
    ),
    HEADER_ROW: (
        "repeats the header line (exports joined into one file?); " + NOT_SENT + ": join exports "
        "without their header lines, or drop them as separate files"
    ),
    DATE_ORDER: "has a slash date that reads only in the other date order: set the connector's date_order",
}


FIRST_ROWS = 5


@dataclass
class InvalidRows:
    """Invalid rows as parallel arrays (7 bytes a row), so even millions cost little memory."""

    numbers: array[int] = field(default_factory=lambda: array("L"))
    codes: bytearray = field(default_factory=bytearray)
    details: array[int] = field(default_factory=lambda: array("H"))
    first: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """Per code index, the (row, detail) of its first ``FIRST_ROWS`` rows: a file-wide problem
    is summarised from them without going over millions of rows again."""

    def add(self, number: int, code: int, detail: int) -> None:
        self.numbers.append(number)
        self.codes.append(code)
        self.details.append(min(detail, 65535))
        first = self.first.setdefault(code, [])
        if len(first) < FIRST_ROWS:
            first.append((number, detail))

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[tuple[int, str, int]]:
        for number, code, detail in zip(self.numbers, self.codes, self.details, strict=True):
            yield number, CODES[code], detail

    def counts(self) -> dict[str, int]:
        return {CODES[c]: n for c, n in sorted(Counter(self.codes).items())}

    def problems(self, rules: RowRules, columns: Sequence[str], rows: int) -> list[Problem]:
        """The invalid rows by reason, commonest first: each summarised once."""
        found = [
            Problem(
                CODES[c],
                n,
                [r for r, _ in self.first[c]],
                rules.reason(CODES[c], self.first[c][0][1], columns),
            )
            for c, n in Counter(self.codes).items()
        ]
        return sorted(found, key=lambda p: -p.rows)


@dataclass(frozen=True)
class Problem:
    """One reason rows were invalid, summarised: how many, the first row numbers, cause and fix."""

    code: str
    rows: int
    first_rows: list[int]
    reason: str

    def describe(self, total: int) -> str:
        """E.g. "every row (50): ends with a delimiter ..."; "3 rows (4, 5, 9): ..."."""
        listed = ", ".join(f"{r:,}" for r in self.first_rows) + (
            ", ..." if self.rows > len(self.first_rows) else ""
        )
        if self.rows == total:
            return f"every row ({total:,}): {self.reason}"
        return f"{self.rows:,} row(s) (row {listed}): {self.reason}"

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "rows": self.rows, "first_rows": self.first_rows, "reason": self.reason}
