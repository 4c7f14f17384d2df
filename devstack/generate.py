"""Synthetic EHR audit-log exports for demos, tests and benchmarks.

Writes a file in the shape of either connector (generic Healthcare: 23 columns, CSV/TSV/PSV;
Epic: 22 Clarity columns, pipe- or tab-separated .txt) full of realistic but entirely fake
values. Rows are streamed to disk in blocks, so a 5-million-row (about 1.2 GB) file costs
only a few megabytes of memory.

Guarantees, for any seed:

* the header is the schema's header names in schema order;
* timestamps never decrease and stay within one day from ``start`` (busier in the daytime);
* no two rows are identical: rows sharing a second always get different workstations, and an
  unparseable timestamp is derived injectively from the second it replaces;
* exactly ``bad_rows`` rows are invalid, spread through the file, cycling through three kinds
  (a field dropped, an unparseable timestamp, an empty employee UPN/login);
* the same options give a byte-identical file.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import random
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.common.schema import Schema, schema_for

DELIMITER_NAMES: dict[str, str] = {"comma": ",", "tab": "\t", "pipe": "|"}
ALLOWED_DELIMITERS: dict[str, tuple[str, ...]] = {
    "healthcare": (",", "\t", "|"),
    "epic": ("|", "\t"),
}
DEFAULT_DELIMITER: dict[str, str] = {"healthcare": ",", "epic": "|"}
TIMESTAMP_FORMATS: tuple[str, ...] = ("iso", "iso-local", "us", "epic")
DEFAULT_TIMESTAMP_FORMAT: dict[str, str] = {"healthcare": "iso", "epic": "epic"}
DEFAULT_START = datetime(2026, 11, 22)

BAD_FIELD_COUNT = "field_count"
BAD_TIMESTAMP = "timestamp"
BAD_EMPTY_UPN = "empty_upn"
BAD_KINDS: tuple[str, ...] = (BAD_FIELD_COUNT, BAD_TIMESTAMP, BAD_EMPTY_UPN)

_BLOCK = 8192
_DAY = 86_400

# The column order this generator builds rows in (the schema's, checked at run time).
_ORDER: tuple[str, ...] = (
    "creation_time",
    "event_name",
    "workstation_id",
    "event_section",
    "event_category",
    "patient_reg_id",
    "patient_first_name",
    "patient_middle_name",
    "patient_last_name",
    "patient_address_1",
    "patient_address_2",
    "patient_city",
    "patient_zip",
    "patient_state",
    "patient_country",
    "patient_department",
    "restricted_reason",
    "restricted_comment",
    "employee_upn",
    "employee_user_name",
    "employee_id",
    "employee_last_name",
    "employee_first_name",
)
# Fields a "wrong field count" bad row may lose (never the timestamp or the workstation,
# which keep such rows unique).
_DROPPABLE = (
    "patient_middle_name",
    "patient_address_2",
    "patient_department",
    "restricted_comment",
    "employee_id",
)


# --------------------------------------------------------------------------- public API


@dataclass
class GenerateOptions:
    kind: str = "healthcare"
    """Connector: "healthcare" (generic) or "epic"."""
    rows: int = 1000
    """Data rows, valid and bad together (the header is not counted)."""
    delimiter: str | None = None
    """Field separator (or its name: comma, tab, pipe); default "," for healthcare, "|" for
    epic."""
    bad_rows: int = 0
    """How many of ``rows`` are invalid."""
    bom: bool = False
    crlf: bool = False
    seed: int = 0
    start: datetime | None = None
    """First timestamp; default 2026-11-22T00:00:00. An aware value is converted to UTC for
    the "iso" format; otherwise its wall-clock time is written as is."""
    timestamp_format: str | None = None
    """One of "iso" (2026-11-22T08:15:03Z), "iso-local" (no zone), "us" (11/22/2026 08:15:03 AM)
    or "epic" (2026-11-22 08:15:03); default "iso" for healthcare, "epic" for epic."""
    quote_rate: float = 0.05
    """Share of rows with a field needing quotes (embedded delimiter, quote or newline in an
    address line 2 or, on break-the-glass rows, the restricted-access comment)."""


@dataclass
class GenerateResult:
    path: Path
    rows: int
    valid_rows: int
    bad_row_numbers: list[int]
    """1-based data row numbers (the header is not counted), ascending."""
    bytes: int
    delimiter: str
    bad_row_kinds: dict[int, str] = field(default_factory=dict)
    """Row number -> one of BAD_KINDS."""


def default_extension(kind: str, delimiter: str) -> str:
    """File extension for an export: .csv/.tsv/.psv for healthcare, .txt for epic."""
    schema_for(kind)
    delimiter = _resolve_delimiter(kind, delimiter)
    if kind == "epic":
        return ".txt"
    return {",": ".csv", "\t": ".tsv", "|": ".psv"}[delimiter]


def generate(path: Path, options: GenerateOptions) -> GenerateResult:
    """Write a synthetic export to ``path`` (overwritten) and describe what was written."""
    plan = _Plan(options)
    path = Path(path)
    with open(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as out:
        if options.bom:
            out.write("\ufeff")
        writer = csv.writer(
            out,
            delimiter=plan.delimiter,
            quotechar='"',
            doublequote=True,
            quoting=csv.QUOTE_MINIMAL,
            lineterminator="\r\n" if options.crlf else "\n",
        )
        writer.writerow(plan.headers)
        # Pool values never need quoting (checked in _Pools), so only the rows ``blocks``
        # flags go through the csv writer; the rest are joined directly, which is several
        # times faster and gives the same bytes.
        term = "\r\n" if options.crlf else "\n"
        join = plan.delimiter.join
        for block, quoted in plan.blocks():
            done = 0
            for j in quoted:
                if j > done:
                    out.write(term.join(map(join, block[done:j])) + term)
                writer.writerow(block[j])
                done = j + 1
            if done < len(block):
                out.write(term.join(map(join, block[done:])) + term)
    numbers = sorted(plan.bad)
    return GenerateResult(
        path=path,
        rows=plan.rows,
        valid_rows=plan.rows - len(numbers),
        bad_row_numbers=[i + 1 for i in numbers],
        bytes=path.stat().st_size,
        delimiter=plan.delimiter,
        bad_row_kinds={i + 1: plan.bad[i] for i in numbers},
    )


def iter_rows(options: GenerateOptions) -> Iterator[Sequence[str]]:
    """The data rows ``generate`` would write with these options (header excluded)."""
    for block, _ in _Plan(options).blocks():
        yield from block


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ehr-ingest generate``."""
    parser.add_argument(
        "--kind", choices=("healthcare", "epic", "hr"), default="healthcare", help="hr: employee profiles"
    )
    parser.add_argument("--rows", type=_non_negative_int, default=1000, help="data rows")
    parser.add_argument(
        "--delimiter",
        choices=tuple(DELIMITER_NAMES),
        default=None,
        help="default: comma for healthcare, pipe for epic",
    )
    parser.add_argument("--bad-rows", type=_non_negative_int, default=0, help="how many rows are invalid")
    parser.add_argument("--bom", action="store_true", help="start with a UTF-8 BOM")
    parser.add_argument("--crlf", action="store_true", help="end lines with CRLF")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--timestamp-format",
        choices=TIMESTAMP_FORMATS,
        default=None,
        help="default: iso for healthcare, epic for epic",
    )
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="first timestamp (ISO 8601); default 2026-11-22T00:00:00",
    )
    parser.add_argument("--quote-rate", type=float, default=0.05, help="share of rows with a quoted field")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("."),
        metavar="PATH",
        help="file, or existing directory to write audit-<kind>-<date>.<ext> in (default: .)",
    )
    hr = parser.add_argument_group("--kind hr (employee profiles, CSV)")
    hr.add_argument(
        "--spelling",
        choices=("page", "sample"),
        default="page",
        help="the HR page's column names or its sample file's",
    )
    hr.add_argument(
        "--duplicate-rows", type=_non_negative_int, default=0, help="rows repeating an EmailAddress"
    )
    hr.add_argument(
        "--other-scenarios", type=_non_negative_int, default=0, help="resignation rows (adds HRScenario)"
    )


def run(args: argparse.Namespace) -> int:
    """Generate a file from parsed arguments; print one summary line (no field values)."""
    if args.kind == "hr":
        from devstack.profiles import run_profiles

        return run_profiles(args)
    delimiter = DELIMITER_NAMES[args.delimiter] if args.delimiter else None
    options = GenerateOptions(
        kind=args.kind,
        rows=args.rows,
        delimiter=delimiter,
        bad_rows=args.bad_rows,
        bom=args.bom,
        crlf=args.crlf,
        seed=args.seed,
        start=getattr(args, "start", None),
        timestamp_format=args.timestamp_format,
        quote_rate=getattr(args, "quote_rate", 0.05),
    )
    try:
        _Plan(options)  # validate before touching the file system
        path = Path(args.output)
        if path.is_dir():
            day = (options.start or DEFAULT_START).date().isoformat()
            ext = default_extension(options.kind, delimiter or DEFAULT_DELIMITER[options.kind])
            path = path / f"audit-{options.kind}-{day}{ext}"
        result = generate(path, options)
    except (ValueError, OSError) as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    print_result(result)
    return 0


def print_result(result: GenerateResult) -> None:
    print(
        f"wrote {result.path}: {result.rows} rows, {len(result.bad_row_numbers)} bad, "
        f"{_human_size(result.bytes)}"
    )


def employee_pool(seed: int) -> list[tuple[str, str, str, str]]:
    """(UPN, user name, first name, last name) of the employees in generic exports made with
    ``seed``: what an HR profile file for the same hospital lists (``devstack.profiles``)."""
    pools = _Pools(seed, "healthcare", _WORKSTATIONS)
    return [(upn, user, first, last) for upn, user, _, last, first in pools.employees]


def place_pool(seed: int) -> list[tuple[str, ...]]:
    """(street, line 2, city, zip code, state, country) of the patients of that pool."""
    return [p[4:10] for p in _Pools(seed, "healthcare", _WORKSTATIONS).patients]


_WORKSTATIONS = 997
"""The pool's workstations below the busiest second's rows (about 105 at 5 million rows)."""


# --------------------------------------------------------------------------- planning


class _Plan:
    """Validated options plus everything derived from them before the first row."""

    def __init__(self, options: GenerateOptions) -> None:
        self.schema: Schema = schema_for(options.kind)
        self.kind = options.kind
        self.delimiter = _resolve_delimiter(options.kind, options.delimiter)
        fmt = options.timestamp_format or DEFAULT_TIMESTAMP_FORMAT[options.kind]
        if fmt not in TIMESTAMP_FORMATS:
            raise ValueError(f"unknown timestamp format {fmt!r}: use one of {', '.join(TIMESTAMP_FORMATS)}")
        self.timestamp_format = fmt
        if not isinstance(options.rows, int) or options.rows < 0:
            raise ValueError(f"rows must be a non-negative integer, not {options.rows!r}")
        if not isinstance(options.bad_rows, int) or not 0 <= options.bad_rows <= options.rows:
            raise ValueError(f"bad_rows must be between 0 and rows ({options.rows})")
        if not 0.0 <= options.quote_rate <= 1.0:
            raise ValueError("quote_rate must be between 0 and 1")
        self.rows = options.rows
        self.seed = options.seed
        self.quote_rate = float(options.quote_rate)

        start = options.start or DEFAULT_START
        if start.tzinfo is not None:
            if fmt == "iso":
                start = start.astimezone(UTC)
            start = start.replace(tzinfo=None)
        self.start = start

        keys = tuple(f.key for f in self.schema.fields)
        expected = _ORDER if self.kind == "healthcare" else _ORDER_EPIC
        if keys != expected:  # pragma: no cover - guards against a schema edit
            raise RuntimeError("shared/common/schema.py changed; update devstack/generate.py")
        self.headers = [f.header for f in self.schema.fields]
        self.index = {k: i for i, k in enumerate(keys)}

        self._schedule()
        self._plan_bad_rows(options.bad_rows)

    # Timestamps: row i lands in second s when C(s) <= i < C(s+1), C being the row count
    # scaled cumulative daily profile (integer arithmetic, so exact and deterministic).
    def _schedule(self) -> None:
        weights = _HOURLY_WEIGHTS
        total = sum(weights) * 3600
        secs: list[int] = []
        starts: list[int] = []
        most = 0
        if self.rows:
            rows = self.rows
            acc = 0  # weighted seconds before s
            prev = 0  # ceil(rows * acc / total)
            for hour, w in enumerate(weights):
                base = hour * 3600
                for off in range(3600):
                    acc += w
                    nxt = -((-rows * acc) // total)
                    if nxt > prev:
                        secs.append(base + off)
                        starts.append(prev)
                        most = max(most, nxt - prev)
                        prev = nxt
        self.seconds = secs
        self.second_starts = starts
        self.max_per_second = most

    def row_second(self, i: int) -> int:
        return self.seconds[bisect.bisect_right(self.second_starts, i) - 1]

    def _plan_bad_rows(self, count: int) -> None:
        """Row j of ``count`` bad rows lands at random in the j-th equal slice of the file."""
        rng = random.Random(f"{self.seed}:bad")
        self.bad: dict[int, str] = {}
        self.bad_drop: dict[int, int] = {}
        for j in range(count):
            lo = j * self.rows // count
            hi = (j + 1) * self.rows // count
            i = lo + rng.randrange(hi - lo)
            kind = BAD_KINDS[j % len(BAD_KINDS)]
            self.bad[i] = kind
            if kind == BAD_FIELD_COUNT:
                self.bad_drop[i] = self.index[rng.choice(_DROPPABLE)]

    # ----------------------------------------------------------------------- rows

    def blocks(self) -> Iterator[tuple[list[Sequence[str]], list[int]]]:
        """Rows in blocks, each with the ascending in-block indices of rows needing quotes."""
        pools = _Pools(self.seed, self.kind, _next_prime(max(_WORKSTATIONS, self.max_per_second)))
        rng = random.Random(f"{self.seed}:rows")
        stamps = self._stamps(pools.workstations)
        choices = rng.choices
        rnd = rng.random
        events, event_cum = pools.events, pools.event_cum
        btg = pools.btg_event
        ix_reason = self.index["restricted_reason"]
        ix_comment = self.index["restricted_comment"]
        ix_addr2 = self.index["patient_address_2"]
        quote_rate = self.quote_rate
        bad = sorted(self.bad)
        bad_at = 0
        done = 0
        while done < self.rows:
            n = min(_BLOCK, self.rows - done)
            evs = choices(events, cum_weights=event_cum, k=n)
            pats = choices(pools.patients, k=n)
            emps = choices(pools.employees, k=n)
            block: list[Sequence[str]] = [
                (s[0], e[0], s[1], e[1], e[2], *p, *m)
                for s, e, p, m in zip(itertools.islice(stamps, n), evs, pats, emps, strict=True)
            ]
            for j in [j for j, e in enumerate(evs) if e is btg]:
                row = list(block[j])
                row[ix_reason] = rng.choice(_BTG_REASONS)
                row[ix_comment] = rng.choice(_BTG_COMMENTS)
                block[j] = row
            quoted = [j for j in range(n) if rnd() < quote_rate] if quote_rate else []
            if quoted:
                for j in quoted:
                    row = list(block[j])
                    if evs[j] is btg:
                        row[ix_comment] = self._quoted_comment(rng, row[ix_comment])
                    else:
                        row[ix_addr2] = self._quoted_address(rng)
                    block[j] = row
            while bad_at < len(bad) and bad[bad_at] < done + n:
                i = bad[bad_at]
                block[i - done] = self._corrupt(i, list(block[i - done]))
                bad_at += 1
            done += n
            yield block, quoted

    def _stamps(self, workstations: Sequence[str]) -> Iterator[tuple[str, str]]:
        """(timestamp, workstation) per row; a second's rows get distinct workstations."""
        rng = random.Random(f"{self.seed}:workstations")
        size = len(workstations)
        assert size >= self.max_per_second and _is_prime(size)
        fmt = _FORMATTERS[self.timestamp_format]
        start = self.start
        ends = [*self.second_starts[1:], self.rows]
        for sec, first, end in zip(self.seconds, self.second_starts, ends, strict=True):
            ts = fmt(start + timedelta(seconds=sec))
            at = rng.randrange(size)
            stride = rng.randrange(1, size)  # size is prime, so k * stride is distinct mod size
            for _ in range(end - first):
                yield ts, workstations[at]
                at = (at + stride) % size

    def _corrupt(self, i: int, row: list[str]) -> list[str]:
        kind = self.bad[i]
        if kind == BAD_FIELD_COUNT:
            del row[self.bad_drop[i]]
        elif kind == BAD_TIMESTAMP:
            row[0] = _bad_timestamp(self.start + timedelta(seconds=self.row_second(i)), i)
        else:
            row[self.index["employee_upn"]] = ""
        return row

    def _quoted_address(self, rng: random.Random) -> str:
        d = self.delimiter
        n = rng.randrange(1, 40)
        variant = rng.randrange(3)
        if variant == 0:
            return f"Apt {n}{d} rear entrance"
        if variant == 1:
            return f'Unit {n} "garden level"'
        return f"Apt {n}\nc/o {rng.choice(_LAST_NAMES)}"

    def _quoted_comment(self, rng: random.Random, comment: str) -> str:
        d = self.delimiter
        variant = rng.randrange(3)
        if variant == 0:
            return f"{comment}{d} per {rng.choice(_BTG_BY)}"
        if variant == 1:
            return f'{comment}; patient said "ok to look"'
        return f"{comment}.\nAttending notified."


_ORDER_EPIC = tuple(k for k in _ORDER if k != "employee_user_name")


def _resolve_delimiter(kind: str, delimiter: str | None) -> str:
    if delimiter is None:
        return DEFAULT_DELIMITER[kind]
    delimiter = DELIMITER_NAMES.get(delimiter, delimiter)
    if delimiter not in ALLOWED_DELIMITERS[kind]:
        names = {v: k for k, v in DELIMITER_NAMES.items()}
        allowed = ", ".join(names[d] for d in ALLOWED_DELIMITERS[kind])
        raise ValueError(f"delimiter {delimiter!r} is not used by {kind} exports: use {allowed}")
    return delimiter


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


def _next_prime(n: int) -> int:
    while not _is_prime(n):
        n += 1
    return n


# --------------------------------------------------------------------------- timestamps


def _iso(d: datetime) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}Z"


def _iso_local(d: datetime) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"


def _us(d: datetime) -> str:
    hour = d.hour % 12 or 12
    half = "AM" if d.hour < 12 else "PM"
    return f"{d.month:02d}/{d.day:02d}/{d.year:04d} {hour:02d}:{d.minute:02d}:{d.second:02d} {half}"


def _epic(d: datetime) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"


_FORMATTERS = {"iso": _iso, "iso-local": _iso_local, "us": _us, "epic": _epic}


def _bad_timestamp(d: datetime, i: int) -> str:
    """An unparseable timestamp, injective in ``d``'s time of day (so rows stay unique)."""
    clock = f"{d.minute:02d}:{d.second:02d}"
    variant = i % 3
    if variant == 0:
        return f"yesterday {d.hour:02d}:{clock}"
    if variant == 1:  # hour 24-47
        return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour + 24:02d}:{clock}"
    return f"{d.year:04d}-13-{d.day:02d}T{d.hour:02d}:{clock}"  # month 13


# Relative activity per hour of the day (quiet nights, busy day shift).
_HOURLY_WEIGHTS = (2, 2, 1, 1, 1, 2, 4, 8, 11, 12, 12, 11, 10, 11, 12, 12, 11, 9, 7, 6, 5, 4, 3, 2)


# --------------------------------------------------------------------------- value pools


class _Pools:
    """Fake people, places and events, drawn once per file from the seed."""

    PATIENTS = 5000
    EMPLOYEES = 750

    def __init__(self, seed: int, kind: str, workstations: int) -> None:
        rng = random.Random(f"{seed}:pools")
        epic = kind == "epic"
        self.workstations = self._workstations(rng, workstations)
        self.events = [(name, section, action) for name, section, action, _ in _EVENTS]
        self.event_cum = list(itertools.accumulate(w for *_, w in _EVENTS))
        self.btg_event = next(e for e in self.events if e[0] == _BTG_EVENT)
        self.patients = self._patients(rng, epic)
        self.employees = self._employees(rng, epic)
        values = [*self.workstations, *_BTG_REASONS, *_BTG_COMMENTS]
        values += [v for e in self.events for v in e]
        values += [v for rows in (self.patients, self.employees) for row in rows for v in row]
        text = "\x00".join(values)
        if any(c in text for c in ',\t|"\r\n'):  # pragma: no cover - guards the data tables
            raise RuntimeError("a generator pool value would need quoting")

    @staticmethod
    def _workstations(rng: random.Random, count: int) -> list[str]:
        sites = rng.sample(_SITES, 3)
        return [f"{rng.choice(sites)}-{rng.choice(_UNITS)}-WS{i:04d}" for i in range(1, count + 1)]

    @staticmethod
    def _patients(rng: random.Random, epic: bool) -> list[tuple[str, ...]]:
        ids = rng.sample(range(10**8, 10**9), _Pools.PATIENTS)
        out: list[tuple[str, ...]] = []
        for reg in ids:
            first = rng.choice(_FIRST_NAMES)
            r = rng.random()
            middle = "" if r < 0.55 else rng.choice(_FIRST_NAMES) if r < 0.8 else rng.choice(_INITIALS)
            last = rng.choice(_LAST_NAMES)
            street = f"{rng.randrange(1, 9999)} "
            if rng.random() < 0.2:
                street += rng.choice(("N ", "S ", "E ", "W ", "NE ", "SW "))
            street += f"{rng.choice(_STREETS)} {rng.choice(_STREET_TYPES)}"
            r = rng.random()
            line2 = "" if r < 0.8 else f"{rng.choice(_LINE2)} {rng.randrange(1, 40)}"
            if r > 0.97:
                line2 += rng.choice("ABCD")
            r = rng.random()
            if r < 0.01:
                city, abbr, state, zip_code, country = rng.choice(_FOREIGN)
            else:
                city, abbr, state, zip3 = rng.choice(_CITIES)
                zip_code = f"{zip3}{rng.randrange(100):02d}"
                country = "United States of America" if epic else "United States"
                if r > 0.98:
                    country = ""
            department = rng.choice(DEPARTMENTS)
            out.append(
                (
                    str(reg),
                    first,
                    middle,
                    last,
                    street,
                    line2,
                    city,
                    zip_code,
                    state if epic else abbr,
                    country,
                    department,
                    "",  # restricted access reason: empty unless break-the-glass
                    "",  # restricted access comment
                )
            )
        return out

    @staticmethod
    def _employees(rng: random.Random, epic: bool) -> list[tuple[str, ...]]:
        ids = rng.sample(range(100_000, 1_000_000), _Pools.EMPLOYEES)
        taken: set[str] = set()
        out: list[tuple[str, ...]] = []
        for emp_id in ids:
            first = rng.choice(_FIRST_NAMES)
            last = rng.choice(_LAST_NAMES)
            a_first, a_last = _ascii(first), _ascii(last)
            if epic:
                login = f"{a_first[0]}{a_last}{rng.randrange(10, 1000)}"
                while login in taken:
                    login = f"{a_first[0]}{a_last}{rng.randrange(10, 10000)}"
                taken.add(login)
                out.append((login, str(emp_id), last, first))
            else:
                local = _unused(f"{a_first}.{a_last}", taken)
                user = _unused(f"{a_first[0]}{a_last}", taken)
                out.append((f"{local}@contoso-health.org", user, str(emp_id), last, first))
        return out


def _unused(name: str, taken: set[str]) -> str:
    """``name``, or ``name`` with the smallest number >= 2 appended that is not taken yet."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}{n}"
    taken.add(candidate)
    return candidate


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


_BTG_EVENT = "Break-the-Glass Access"
# (event name, event section, event category/action, weight)
_EVENTS: tuple[tuple[str, str, str, float], ...] = (
    ("Chart Opened", "Chart Review", "View", 20),
    ("Patient Lookup", "Patient Search", "Query", 12),
    ("Lab Results Viewed", "Results", "View", 12),
    ("Medication List Viewed", "Medications", "View", 10),
    ("Encounter Summary Viewed", "Chart Review", "View", 7),
    ("Vital Signs Recorded", "Flowsheets", "Create", 6),
    ("Order Entered", "Orders", "Create", 6),
    ("Progress Note Created", "Notes", "Create", 6),
    ("Imaging Report Viewed", "Results", "View", 5),
    ("Problem List Viewed", "Problem List", "View", 5),
    ("Progress Note Signed", "Notes", "Sign", 4),
    ("Medication Administered", "Medications", "Modify", 4),
    ("Appointment Scheduled", "Scheduling", "Create", 3),
    ("Discharge Summary Viewed", "Notes", "View", 3),
    ("Allergy List Updated", "Allergies", "Modify", 2),
    ("Demographics Updated", "Registration", "Modify", 2),
    ("Insurance Coverage Viewed", "Registration", "View", 2),
    ("Order Discontinued", "Orders", "Modify", 2),
    ("Immunization History Viewed", "Immunizations", "View", 1.5),
    ("Encounter Summary Printed", "Reports", "Print", 1),
    ("Report Exported", "Reports", "Export", 0.5),
    ("Sensitive Note Viewed", "Notes", "View", 0.5),
    (_BTG_EVENT, "Break-the-Glass", "Emergency Access", 0.4),
)
_BTG_REASONS = (
    "Emergency Access",
    "Direct Patient Care",
    "Covering for Another Provider",
    "Consult Request",
    "Continuity of Care",
    "Patient Requested",
)
_BTG_COMMENTS = (
    "Covering overnight for attending",
    "Patient transferred from outside hospital",
    "Consult requested by ED attending",
    "Patient arrived unresponsive via EMS",
    "Reviewing prior imaging before procedure",
    "Verifying home medications with family",
    "Rapid response called on the floor",
    "Cross-cover for primary team",
)
_BTG_BY = ("charge nurse", "ED attending", "on-call resident", "house supervisor")

_SITES = ("NMC", "WSH", "EMC", "RVH", "LKS", "CHC", "SPH", "MTV")
_UNITS = ("ED", "ICU", "4W", "5E", "6N", "OR", "RAD", "LAB", "PHR", "ONC", "PED", "CAR", "REG")
DEPARTMENTS = (
    "Emergency Department",
    "Intensive Care Unit",
    "Neonatal ICU",
    "Cardiology",
    "Oncology",
    "Pediatrics",
    "Labor and Delivery",
    "Orthopedics",
    "Neurology",
    "Radiology",
    "General Surgery",
    "Internal Medicine",
    "Family Medicine",
    "Behavioral Health",
    "Nephrology",
    "Pulmonology",
    "Gastroenterology",
    "Dermatology",
    "Endocrinology",
    "Infectious Disease",
    "Urology",
    "Obstetrics and Gynecology",
    "Ophthalmology",
    "Physical Therapy",
    "Telemetry",
    "Medical-Surgical 4 West",
    "Outpatient Clinic",
    "Urgent Care",
)
_FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Christopher", "Karen", "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty",
    "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew",
    "Emily", "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda",
    "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca",
    "Jason", "Sharon", "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Dorothy", "Jacob",
    "Amy", "Gary", "Kathleen", "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Emma",
    "Stephen", "Brenda", "Larry", "Pamela", "Justin", "Nicole", "Scott", "Anna", "Brandon",
    "Samantha", "Benjamin", "Katherine", "Samuel", "Christine", "Gregory", "Debra", "Alexander",
    "Rachel", "Patrick", "Carolyn", "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia",
    "Dennis", "Heather", "Jerry", "Helen", "Tyler", "Catherine", "Aaron", "Diane", "Adam",
    "Victoria", "Nathan", "Joyce", "Henry", "Lauren", "Zachary", "Kelly", "Douglas", "Christina",
    "Peter", "Ruth", "Kyle", "Joan", "Noah", "Virginia", "Ethan", "Judith", "Jeremy", "Evelyn",
    "Christian", "Hannah", "Walter", "Andrea", "Keith", "Megan", "Austin", "Cheryl", "Roger",
    "Madison", "Sean", "Teresa", "Gerald", "Abigail", "Carl", "Sophia", "Dylan", "Martha",
    "Harold", "Jordan", "Gloria", "Jesse", "Kathryn", "Lawrence", "Isabella", "Gabriel", "Bruce",
    "Charlotte", "Logan", "Julia", "Grace", "Alan", "Alice", "Juan", "Denise", "Albert",
    "Danielle", "Mason", "Natalie", "Vincent", "Diana", "Liam", "Brittany", "Lucas", "Kayla",
    "José", "Zoë", "Renée", "Aarav", "Priya", "Wei", "Mei", "Hiroshi", "Yuki", "Fatima", "Omar",
    "Olumide", "Ngozi", "Santiago", "Valentina", "Dmitri", "Anastasia", "Siobhan", "Seamus",
    "Mohammed", "Aisha", "Thanh", "Minh", "Jae-won", "Ana Sofía",
)  # fmt: skip
_INITIALS = tuple("ABCDEFGHJKLMNPRSTW")
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
    "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler",
    "Henderson", "Barnes", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson",
    "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes",
    "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray",
    "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods",
    "Washington", "Kennedy", "Wells", "Vargas", "Chen", "Freeman", "Webb", "Tucker", "Guzman",
    "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter", "Gordon", "Mendez", "Silva",
    "Shaw", "Snyder", "Dixon", "Muñoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black",
    "Robertson", "Boyd", "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice",
    "Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver",
    "O'Brien", "O'Connor", "Van der Berg", "St. John", "Al-Hassan", "Nakamura", "Okafor",
    "Kowalski", "Novak", "Ivanova", "Schäfer", "Lindqvist", "Smith-Jones", "Peña", "Nguyễn",
)  # fmt: skip
_STREETS = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
    "Walnut", "Sunset", "Lincoln", "Jackson", "Franklin", "Highland", "Madison", "Riverside",
    "Church", "Willow", "Spring", "Meadow", "Forest", "Chestnut", "Jefferson", "Ridge", "Valley",
    "Cherry", "Mill", "Center", "Union", "College", "Harbor", "Magnolia", "Aspen", "Birch",
    "Dogwood", "Hickory", "Juniper", "Laurel", "Orchard", "Prospect", "Summit", "Sycamore",
    "Vine", "Water", "Market", "King", "Queen", "Front", "Second", "Third", "Fourth", "Fifth",
    "Martin Luther King Jr", "Old Mill", "Fox Run", "Deer Creek", "Stony Brook", "Pleasant",
)  # fmt: skip
_STREET_TYPES = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way", "Pl", "Ter", "Pkwy", "Cir")
_LINE2 = ("Apt", "Apt", "Apt", "Unit", "Suite", "Bldg", "Fl", "Lot", "Rm")
# (city, state code, state name, first three digits of the zip code)
_CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("Seattle", "WA", "Washington", "981"),
    ("Tacoma", "WA", "Washington", "984"),
    ("Spokane", "WA", "Washington", "992"),
    ("Portland", "OR", "Oregon", "972"),
    ("Boise", "ID", "Idaho", "837"),
    ("Sacramento", "CA", "California", "958"),
    ("San Jose", "CA", "California", "951"),
    ("Fresno", "CA", "California", "937"),
    ("Phoenix", "AZ", "Arizona", "850"),
    ("Tucson", "AZ", "Arizona", "857"),
    ("Denver", "CO", "Colorado", "802"),
    ("Salt Lake City", "UT", "Utah", "841"),
    ("Albuquerque", "NM", "New Mexico", "871"),
    ("Austin", "TX", "Texas", "787"),
    ("Dallas", "TX", "Texas", "752"),
    ("Houston", "TX", "Texas", "770"),
    ("San Antonio", "TX", "Texas", "782"),
    ("Oklahoma City", "OK", "Oklahoma", "731"),
    ("Omaha", "NE", "Nebraska", "681"),
    ("Kansas City", "MO", "Missouri", "641"),
    ("St. Louis", "MO", "Missouri", "631"),
    ("Minneapolis", "MN", "Minnesota", "554"),
    ("Madison", "WI", "Wisconsin", "537"),
    ("Milwaukee", "WI", "Wisconsin", "532"),
    ("Chicago", "IL", "Illinois", "606"),
    ("Springfield", "IL", "Illinois", "627"),
    ("Indianapolis", "IN", "Indiana", "462"),
    ("Columbus", "OH", "Ohio", "432"),
    ("Cleveland", "OH", "Ohio", "441"),
    ("Detroit", "MI", "Michigan", "482"),
    ("Grand Rapids", "MI", "Michigan", "495"),
    ("Louisville", "KY", "Kentucky", "402"),
    ("Nashville", "TN", "Tennessee", "372"),
    ("Memphis", "TN", "Tennessee", "381"),
    ("Atlanta", "GA", "Georgia", "303"),
    ("Birmingham", "AL", "Alabama", "352"),
    ("Charlotte", "NC", "North Carolina", "282"),
    ("Raleigh", "NC", "North Carolina", "276"),
    ("Richmond", "VA", "Virginia", "232"),
    ("Baltimore", "MD", "Maryland", "212"),
    ("Philadelphia", "PA", "Pennsylvania", "191"),
    ("Pittsburgh", "PA", "Pennsylvania", "152"),
    ("Newark", "NJ", "New Jersey", "071"),
    ("Albany", "NY", "New York", "122"),
    ("Buffalo", "NY", "New York", "142"),
    ("Hartford", "CT", "Connecticut", "061"),
    ("Providence", "RI", "Rhode Island", "029"),
    ("Boston", "MA", "Massachusetts", "021"),
    ("Worcester", "MA", "Massachusetts", "016"),
    ("Portland", "ME", "Maine", "041"),
    ("Burlington", "VT", "Vermont", "054"),
    ("Miami", "FL", "Florida", "331"),
    ("Orlando", "FL", "Florida", "328"),
    ("Tampa", "FL", "Florida", "336"),
    ("New Orleans", "LA", "Louisiana", "701"),
    ("Little Rock", "AR", "Arkansas", "722"),
    ("Des Moines", "IA", "Iowa", "503"),
    ("Anchorage", "AK", "Alaska", "995"),
    ("Honolulu", "HI", "Hawaii", "968"),
    ("Las Vegas", "NV", "Nevada", "891"),
)
# (city, province code, province name, postal code, country)
_FOREIGN: tuple[tuple[str, str, str, str, str], ...] = (
    ("Toronto", "ON", "Ontario", "M5V 2T6", "Canada"),
    ("Vancouver", "BC", "British Columbia", "V6B 1A1", "Canada"),
    ("Montréal", "QC", "Quebec", "H2X 1Y4", "Canada"),
    ("Tijuana", "BC", "Baja California", "22000", "Mexico"),
    ("Monterrey", "NL", "Nuevo León", "64000", "Mexico"),
)
