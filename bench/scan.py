"""Scan throughput and memory: our validate+plan pass vs a bare csv.reader loop over the same file.

Realistic rows first: exports as they come (about 210-250 bytes a row, no padding), one file
per shape, each timed as a bare ``csv.reader`` loop and as our full pass, alternately and in
separate processes (so each peak RSS is its own), best of ``--repeat``; each pair of runs
also gives a ratio, and the median of those is recorded too (the machine's speed drifts less
within a pair). Then the padded 3 GB / 5M-row file, which proves the limits (both at once,
memory flat) rather than speed on real rows: its ~600-byte rows put less per-row work in
each megabyte than real exports do.

``--baseline REV`` adds a third side to every comparison: the scan as it was at git revision
REV (``shared/`` taken from git into a temporary folder), e.g. the last pure-Python scan, so
that what a change buys is measured in the same run.

    .venv/bin/python -m bench.scan [--rows 600000] [--repeat 3] [--shapes ...] [--no-limits]
                                   [--baseline 9e74af0]

``--shapes invalid-0.1pct invalid-1pct events-exclude`` times files with an invalid row in
1,000 / 100, and a connector whose events filter leaves out a sixth of the rows (not in the
default run).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench import common
from devstack.generate import GenerateOptions, iter_rows
from shared.common.schema import EPIC, GENERIC, schema_for

BLOCK = 8 * 1024 * 1024

SHAPES: dict[str, dict] = {
    # name: how the file is written. Rows come from the export generator (fake people),
    # with no quoting of their own; the shape adds what real exporters do.
    "unquoted": {"kind": "healthcare", "file": "audit.csv"},
    "quoted-address": {"kind": "healthcare", "file": "audit.csv", "address_every": 3},
    "all-quoted-crlf": {"kind": "healthcare", "file": "audit.csv", "quote_all": True, "crlf": True},
    "epic-pipe": {"kind": "epic", "file": "audit.txt", "delimiter": "|"},
    "epic-tab": {"kind": "epic", "file": "audit.txt", "delimiter": "\t"},
    # Not in the default run: an employee left empty (an invalid row) in one row in 1,000 / 100.
    "invalid-0.1pct": {"kind": "healthcare", "file": "audit.csv", "invalid_every": 1000},
    "invalid-1pct": {"kind": "healthcare", "file": "audit.csv", "invalid_every": 100},
    # Not in the default run: the connector's events filter leaves out Chart Opened (a sixth).
    "events-exclude": {"kind": "healthcare", "file": "audit.csv", "events": {"exclude": ["Chart Opened"]}},
}
DEFAULT_SHAPES = ["unquoted", "quoted-address", "all-quoted-crlf", "epic-pipe", "epic-tab"]


def shape_rows(shape: dict, rows: int) -> Iterator[Sequence[str]]:
    options = GenerateOptions(
        kind=shape["kind"], rows=rows, seed=5, quote_rate=0.0, delimiter=shape.get("delimiter")
    )
    every, invalid = shape.get("address_every"), shape.get("invalid_every")
    keys = [f.key for f in schema_for(shape["kind"]).fields]
    address, employee = keys.index("patient_address_2"), keys.index("employee_upn")
    for i, row in enumerate(iter_rows(options)):
        if every and i % every == 0:
            row = list(row)
            row[address] = f"{12 + i % 80} Elm St{shape.get('delimiter', ',')} Apt {i % 9 + 1}"
        if invalid and i % invalid == invalid // 2:
            row = list(row)
            row[employee] = ""
        yield row


def make_shape(path: Path, shape: dict, rows: int) -> int:
    schema = schema_for(shape["kind"])
    with path.open("w", newline="", encoding="utf-8", buffering=1 << 20) as out:
        writer = csv.writer(
            out,
            delimiter=shape.get("delimiter", ","),
            lineterminator="\r\n" if shape.get("crlf") else "\n",
            quoting=csv.QUOTE_ALL if shape.get("quote_all") else csv.QUOTE_MINIMAL,
        )
        writer.writerow([f.header for f in schema.fields])
        writer.writerows(shape_rows(shape, rows))
    return path.stat().st_size


def make_padded(path: Path, rows: int, row_bytes: int) -> int:
    """A generic export of ``rows`` rows, each padded (in Event Section) to about ``row_bytes``:
    the file that reaches both limits at once (3 GB and 5M rows)."""
    header = [f.header for f in GENERIC.fields]
    with path.open("w", newline="", encoding="utf-8", buffering=1 << 20) as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(header)
        pad = None
        for row in iter_rows(GenerateOptions(rows=rows, seed=5, quote_rate=0.02)):
            row = list(row)
            if pad is None:
                pad = "x" * max(0, row_bytes - len(",".join(row)) - 2)
            row[3] = row[3] + pad
            writer.writerow(row)
    return path.stat().st_size


def measure(kind: str, path: Path, schema_kind: str, delimiter: str, events: str = "") -> dict:
    import shared
    from shared.common.events import parse_events
    from shared.intake.scan import scan  # imported before the clock starts, like csv

    started = time.perf_counter()
    rows = 0
    if kind == "csv":
        with path.open(encoding="utf-8", newline="") as src:
            for _ in csv.reader(src, delimiter=delimiter):
                rows += 1
        rows -= 1
    elif kind == "ours":

        def blocks():
            with path.open("rb") as src:
                while block := src.read(BLOCK):
                    yield block

        schema = EPIC if schema_kind == "epic" else GENERIC
        chosen = parse_events(json.loads(events), "--events") if events else None
        try:
            result = scan(blocks(), path.name, schema, 100_000, events=chosen)
            rows = result.rows
        except Exception as exc:  # a limit rejection still scanned the whole file
            rows = -1
            print(f"note: {type(exc).__name__}: {exc}", file=sys.stderr)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": round(seconds, 3),
        "rows": rows,
        "peak_rss_mb": round(peak_mb, 1),
        "code": str(Path(shared.__file__).parent),
    }


def run(
    kind: str, path: Path, schema_kind: str, delimiter: str, baseline: Path | None = None, events: str = ""
) -> dict:
    """One timing in its own process; ``baseline`` (a folder holding an earlier ``shared/``)
    runs the scan found there as "ours"."""
    measure = "ours" if kind == "baseline" else kind
    argv = [sys.executable, "-m", "bench.scan", "--measure", measure, "--file", str(path)]
    argv += ["--kind", schema_kind, "--delimiter", delimiter, "--events", events]
    env, cwd = dict(os.environ), None
    if kind == "baseline" and baseline is not None:  # its shared/ first: run from there
        env["PYTHONPATH"] = os.pathsep.join([str(baseline), str(Path(__file__).resolve().parents[1])])
        cwd = baseline
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env, cwd=cwd)
    return json.loads(out.stdout)


def compare(
    path: Path,
    size: int,
    rows: int,
    schema_kind: str,
    delimiter: str,
    repeat: int,
    baseline: Path | None = None,
    events: str = "",
) -> dict:
    """csv and ours (and the baseline) alternately, ``repeat`` times each; the best of each
    and their ratio, and the median of the ratios within each round."""
    runs: dict[str, list[dict]] = {"csv": [], "ours": [], **({"baseline": []} if baseline else {})}
    for _ in range(repeat):
        for kind in runs:
            runs[kind].append(run(kind, path, schema_kind, delimiter, baseline, events))
    entry: dict = {"bytes": size, "rows": rows, "row_bytes": round(size / max(rows, 1))}
    for kind, ms in runs.items():
        best = min(ms, key=lambda m: m["seconds"])
        entry[kind] = {
            **best,
            "mb_per_s": round(size / 1e6 / best["seconds"], 1),
            "all_seconds": [m["seconds"] for m in ms],
            "peak_rss_mb": max(m["peak_rss_mb"] for m in ms),
        }
        if entry[kind]["rows"] != entry["csv"]["rows"]:
            print(
                f"note: {kind} counted {entry[kind]['rows']} rows, csv {entry['csv']['rows']}",
                file=sys.stderr,
            )
    for kind, against in (("ours", "csv"), ("baseline", "csv"), ("ours", "baseline")):
        if kind in runs and against in runs:
            pairs = [a["seconds"] / k["seconds"] for a, k in zip(runs[against], runs[kind], strict=True)]
            entry[f"{kind}_vs_{against}"] = round(entry[against]["seconds"] / entry[kind]["seconds"], 2)
            entry[f"{kind}_vs_{against}_median_of_rounds"] = round(statistics.median(pairs), 2)
    return entry


def baseline_tree(rev: str, into: Path) -> Path:
    """``shared/`` as it was at ``rev``, in a folder of its own (put first on PYTHONPATH)."""
    git = shutil.which("git") or "git"
    archive = subprocess.run([git, "archive", rev, "shared"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=600_000, help="rows in each realistic file")
    parser.add_argument("--repeat", type=int, default=3, help="timings of each side per file")
    parser.add_argument("--shapes", nargs="+", choices=list(SHAPES), default=DEFAULT_SHAPES)
    parser.add_argument("--no-limits", action="store_true", help="skip the padded 3 GB / 5M-row file")
    parser.add_argument("--limit-rows", type=int, default=5_000_000, help=argparse.SUPPRESS)
    parser.add_argument("--limit-mb", type=int, default=3000, help=argparse.SUPPRESS)
    parser.add_argument("--measure", choices=["csv", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="healthcare", help=argparse.SUPPRESS)
    parser.add_argument("--delimiter", default=",", help=argparse.SUPPRESS)
    parser.add_argument("--events", default="", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", metavar="REV", help="also time the scan as it was at this git revision")
    parser.add_argument("--name", default="scan")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.file, args.kind, args.delimiter, args.events)))
        return 0

    results: dict = {"realistic": {}, "limits": None}
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        baseline = baseline_tree(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        if args.baseline:
            results["baseline"] = {"rev": args.baseline, "what": "shared/ at that git revision, same files"}
        for name in args.shapes:
            shape = SHAPES[name]
            path = Path(tmp) / shape["file"]
            size = make_shape(path, shape, args.rows)
            delimiter = shape.get("delimiter", ",")
            events = json.dumps(shape["events"]) if "events" in shape else ""
            entry = compare(path, size, args.rows, shape["kind"], delimiter, args.repeat, baseline, events)
            print(json.dumps({"shape": name, **entry}), flush=True)
            results["realistic"][name] = entry
            path.unlink()
        if not args.no_limits:
            path = Path(tmp) / "audit-limits.csv"
            row_bytes = args.limit_mb * 1_000_000 // args.limit_rows
            size = make_padded(path, args.limit_rows, row_bytes)
            entry = compare(path, size, args.limit_rows, "healthcare", ",", 1, baseline)
            print(json.dumps({"shape": "padded-limits", **entry}), flush=True)
            results["limits"] = entry
            path.unlink()
    common.write(
        args.name,
        {
            **results,
            "method": "best of --repeat alternate runs per side, each in its own process; "
            "ours = shared.intake.scan.scan (validate + plan), csv = a bare csv.reader loop, "
            "baseline = ours at the git revision named; *_median_of_rounds = median of the "
            "ratios of the runs made one after the other in each round",
            "targets": {"ours_vs_csv": 1.0, "ours_vs_csv_unquoted_stretch": 1.5, "peak_rss_mb": 200},
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
