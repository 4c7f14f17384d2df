"""What collecting the distinct employee logins (coverage) costs the blob stage's scan.

The same realistic exports as ``bench.scan`` (its shapes, about 210-250 bytes a row, quoted
addresses, every field quoted), validated with and without ``logins=True``, alternately in
one process, best of ``--repeat``; the ratio of the best times is quoted, and the median of
the pairs' ratios (the machine's speed drifts less within a pair).
The generator's pool has 750 employees; ``employees-20k`` gives the same rows 20,000
employees spread through the file (a large hospital's day), so runs keep meeting new logins.

    .venv/bin/python -m bench.coverage [--rows 300000] [--repeat 5] [--shapes ...]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench import common
from bench.scan import BLOCK, SHAPES, make_shape, shape_rows
from shared.common.schema import GENERIC
from shared.common.settings import Connector
from shared.intake.validation import validate

DEFAULT_SHAPES = ("unquoted", "quoted-address", "all-quoted-crlf", "epic-pipe", "employees-20k")
MANY = 20_000


def make_many(path: Path, rows: int) -> None:
    """The unquoted shape with ``MANY`` employees, each met first somewhere in the file."""
    employee = [f.key for f in GENERIC.fields].index("employee_upn")
    with path.open("w", newline="", encoding="utf-8", buffering=1 << 20) as out:
        writer = csv.writer(out)
        writer.writerow([f.header for f in GENERIC.fields])
        for i, row in enumerate(shape_rows(SHAPES["unquoted"], rows)):
            row = list(row)
            row[employee] = f"employee{(i * 7919) % MANY}@contoso-health.org"
            writer.writerow(row)


def blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as src:
        while block := src.read(BLOCK):
            yield block


def timed(path: Path, connector: Connector, logins: bool) -> tuple[float, int]:
    started = time.perf_counter()
    outcome = validate(blocks(path), path.name, connector, logins=logins)
    seconds = time.perf_counter() - started
    assert outcome.accepted, outcome.rejected
    found = outcome.result.logins if outcome.result else None
    return seconds, len(found.values) if found else 0


def compare(path: Path, kind: str, repeat: int) -> dict[str, object]:
    connector = Connector(name="bench", kind=kind, job_id="j")
    without, with_logins, ratios, distinct = [], [], [], 0
    for _ in range(repeat):
        plain, _ = timed(path, connector, False)
        collected, distinct = timed(path, connector, True)
        without.append(plain)
        with_logins.append(collected)
        ratios.append(collected / plain)
    return {
        "bytes": path.stat().st_size,
        "seconds_without": round(min(without), 3),
        "seconds_with_logins": round(min(with_logins), 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_of_best": round(min(with_logins) / min(without), 3),
        "distinct_logins": distinct,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shapes", nargs="*", default=list(DEFAULT_SHAPES))
    args = parser.parse_args(argv)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.shapes:
            shape = SHAPES.get(name, SHAPES["unquoted"])
            path = Path(tmp) / shape["file"]
            if name == "employees-20k":
                make_many(path, args.rows)
            else:
                make_shape(path, shape, args.rows)
            results[name] = compare(path, shape["kind"], args.repeat)
            print(name, results[name], flush=True)
    common.write("coverage-logins", {"rows": args.rows, "repeat": args.repeat, "shapes": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
