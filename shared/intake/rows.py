"""What makes a row valid, and a compact record of the rows that are not.

The checks (field count, timestamp, required fields) run inline in the scan's loop; this
module compiles them from the header match and explains a failure after the fact, so the
per-row path stays a handful of C calls. Reasons name columns and counts, never values.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter

from shared.common.errors import Rejected
from shared.common.schema import Schema
from shared.intake.fields import UNIT
from shared.intake.timestamps import parses

FIELD_COUNT, TIME_EMPTY, TIME_BAD = "field-count", "timestamp-empty", "timestamp-invalid"
REQUIRED_EMPTY = "empty"
CODES: tuple[str, ...] = (FIELD_COUNT, TIME_EMPTY, TIME_BAD, REQUIRED_EMPTY)
_CODE_INDEX = {code: i for i, code in enumerate(CODES)}

DUPLICATE_KEY = ("employee_upn", "patient_reg_id", "creation_time")
"""Employee, patient and timestamp: rows repeating all of them are reported (the connector is
reported to drop them silently). The patient is their MRN (Patient Reg Id) when the file has
that column, else their first and last name."""
_PATIENT_BY_NAME = ("employee_upn", "patient_first_name", "patient_last_name", "creation_time")


@dataclass(frozen=True)
class RowRules:
    width: int
    time_index: int
    time_header: str
    required: tuple[tuple[int, str], ...]
    """(column index, column name) of fields that must not be empty."""
    required_values: Callable[[Sequence[str]], tuple[str, ...]]
    duplicate_key: Callable[[Sequence[str]], object]
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
        req = tuple((found[k], columns[found[k]].strip()) for k in required if k != "creation_time")
        indices = [i for i, _ in req]
        if not indices:
            values: Callable[[Sequence[str]], tuple[str, ...]] = lambda _row: ()  # noqa: E731
        else:
            values = itemgetter(*indices, indices[0])  # always a tuple, even for one field
        fields = DUPLICATE_KEY if "patient_reg_id" in found else _PATIENT_BY_NAME
        key_indices = tuple(found[k] for k in fields)
        ti = found["creation_time"]
        return cls(len(columns), ti, columns[ti].strip(), req, values, _joined(key_indices), key_indices)

    def why(self, row: Sequence[str]) -> tuple[int, int]:
        """(code index, detail) of an invalid row; detail is a field count or a column index."""
        if len(row) != self.width:
            return _CODE_INDEX[FIELD_COUNT], len(row)
        ts = row[self.time_index]
        if not ts:
            return _CODE_INDEX[TIME_EMPTY], 0
        if not parses(ts):
            return _CODE_INDEX[TIME_BAD], 0
        for i, _ in self.required:
            if not row[i]:
                return _CODE_INDEX[REQUIRED_EMPTY], i
        raise AssertionError("why() called for a valid row")

    def reason(self, code: str, detail: int, columns: Sequence[str]) -> str:
        if code == FIELD_COUNT:
            return f"has {detail} fields; the header has {self.width}"
        if code == TIME_EMPTY:
            return f"{self.time_header} is empty"
        if code == TIME_BAD:
            return f"{self.time_header} is not a date and time in a supported form"
        return f"{columns[detail].strip()} is empty"


def _joined(indices: tuple[int, ...]) -> Callable[[Sequence[str]], object]:
    """A row's duplicate key as the scan's runs make it (``Fields.joined``): its values joined
    with the unit separator, so that a row checked alone and one checked in a run hash alike.
    A run never holds that separator; a row whose values do is keyed by their tuple instead,
    so that two different rows never join into one key."""
    values = itemgetter(*indices)

    def key(row: Sequence[str]) -> object:
        parts = values(row)
        joined = UNIT.join(parts)
        return joined if joined.count(UNIT) == len(parts) - 1 else parts

    return key


@dataclass
class InvalidRows:
    """Invalid rows as parallel arrays (7 bytes a row), so even millions cost little memory."""

    numbers: array = field(default_factory=lambda: array("L"))
    codes: bytearray = field(default_factory=bytearray)
    details: array = field(default_factory=lambda: array("H"))

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


class DuplicateCounter:
    """Counts rows repeating an earlier row's duplicate key, in bounded memory and in C.

    Each key is reduced to its 64-bit ``hash`` (8 bytes a row, an array per batch: 40 MB at
    the 5-million-row limit, against ~350 MB for a set of ints; one growing array would be
    copied over and over as it grows). Two different keys share a hash with negligible
    probability (about 1e-6 over 5 million rows), which could only over-count by one. The
    scan hands rows over in batches (a run of rows, or the rows taken one by one in between),
    in file order.

    A duplicate has the same timestamp, so while no batch starts before the latest timestamp
    of the batches before it (an audit log is written in time order), a batch can only repeat
    keys of its own or of the rows at that latest timestamp: a set of the batch's keys, in C,
    counts it, with no Python code per row. The key holds the timestamp as written, so this
    compares the timestamps as strings: equal strings are what makes keys equal. Once a batch
    breaks that order, the count is left to the end, over all the hashes, split by their low
    byte into 256 arrays, each deduplicated on its own.
    """

    def __init__(self) -> None:
        self._batches: list[array[int]] = []
        self._latest = ""
        """The latest timestamp so far (as a string); "" before the first row."""
        self._open: set[int] = set()
        """Hashes of the rows at ``_latest``: the only ones a later batch can repeat."""
        self._found = 0
        self._in_order = True

    def add(self, times: Sequence[str], hashes: Sequence[int]) -> None:
        """A batch of valid rows: their timestamps and key hashes, pairwise in any order."""
        if hashes:
            latest = max(times)
            self.add_batch(hashes, min(times), latest, compress(hashes, map(latest.__eq__, times)))

    def add_batch(self, hashes: Sequence[int], earliest: str, latest: str, at_latest: Iterable[int]) -> None:
        """A batch of valid rows given by their key hashes, the batch's earliest and latest
        timestamps, and the hashes of its rows at the latest (read only if they differ): what
        a run of rows checked at once knows without a string per timestamp."""
        if not hashes:
            return
        self._batches.append(array("q", hashes))
        if not self._in_order:
            return
        if earliest < self._latest:
            self._in_order = False
            return
        keys = set(hashes)
        self._found += len(hashes) - len(keys)
        if earliest == self._latest:
            self._found += len(keys & self._open)
        if earliest != latest:
            keys = set(at_latest)
        elif latest == self._latest:
            keys |= self._open
        self._open, self._latest = keys, latest

    def count(self) -> int:
        """The duplicates; asked once, at the end (out of order, it empties the batches into
        the 256 arrays as it goes, so memory stays at 8 bytes a row)."""
        if self._in_order:
            return self._found
        buckets = [array("q") for _ in range(256)]
        while self._batches:
            for h in self._batches.pop():
                buckets[h & 255].append(h)
        return sum(len(b) - len(set(b)) for b in buckets)
