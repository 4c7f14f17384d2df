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
from shared.common.schema import Schema
from shared.intake.timestamps import parses

FIELD_COUNT, TIME_EMPTY, TIME_BAD = "field-count", "timestamp-empty", "timestamp-invalid"
REQUIRED_EMPTY, KEY_TOO_LONG = "empty", "too-long"
CODES: tuple[str, ...] = (FIELD_COUNT, TIME_EMPTY, TIME_BAD, REQUIRED_EMPTY, KEY_TOO_LONG)
_CODE_INDEX = {code: i for i, code in enumerate(CODES)}

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

    @classmethod
    def build(
        cls, schema: Schema, columns: list[str], found: dict[str, int], required: Sequence[str], name: str
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
        return cls(len(columns), ti, stamp, req, values, key, key_indices)

    def why(self, row: Sequence[str]) -> tuple[int, int]:
        """(code index, detail) of an invalid row; detail is a field count or a column index."""
        if len(row) != self.width:
            return _CODE_INDEX[FIELD_COUNT], len(row)
        ts = None if self.time_index is None else row[self.time_index]
        if ts == "":
            return _CODE_INDEX[TIME_EMPTY], 0
        if ts is not None and not parses(ts):
            return _CODE_INDEX[TIME_BAD], 0
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
        if code == FIELD_COUNT:
            return f"has {detail} fields; the header has {self.width}"
        if code == TIME_EMPTY:
            return f"{self.time_header} is empty"
        if code == TIME_BAD:
            return f"{self.time_header} is not a date and time in a supported form"
        if code == KEY_TOO_LONG:
            column = columns[detail].strip()
            return f"{column} is longer than {MAX_KEY_BYTES:,} bytes; no real value is that long"
        return f"{columns[detail].strip()} is empty"


def _too_long(value: str) -> bool:
    return len(value) > _KEY_CHARS and len(value.encode()) > MAX_KEY_BYTES


def _getter(indices: tuple[int, ...]) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """The values at ``indices`` as a tuple, even for one index (``itemgetter`` gives it bare)."""
    if len(indices) == 1:
        (i,) = indices
        return lambda row: (row[i],)
    return itemgetter(*indices)


@dataclass
class InvalidRows:
    """Invalid rows as parallel arrays (7 bytes a row), so even millions cost little memory."""

    numbers: array[int] = field(default_factory=lambda: array("L"))
    codes: bytearray = field(default_factory=bytearray)
    details: array[int] = field(default_factory=lambda: array("H"))

    def add(self, number: int, code: int, detail: int) -> None:
        self.numbers.append(number)
        self.codes.append(code)
        self.details.append(min(detail, 65535))

    def __len__(self) -> int:
        return len(self.numbers)

    def __iter__(self) -> Iterator[tuple[int, str, int]]:
        for number, code, detail in zip(self.numbers, self.codes, self.details, strict=True):
            yield number, CODES[code], detail

    def counts(self) -> dict[str, int]:
        return {CODES[c]: n for c, n in sorted(Counter(self.codes).items())}
