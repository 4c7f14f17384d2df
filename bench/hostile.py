"""Peak memory and speed of validation over hostile files, and the floors they must hold.

Two floors (security review, issue 24):
- **Memory**: the peak RSS of ``ehr-ingest validate`` and of the blob stage (``plan_export``,
  what the blob function runs, against Azurite) at most 256 MB on any input. Each file is
  validated in a process of its own; its peak RSS is the kernel's (``wait4``), imports
  included.
- **Speed**: on every accepted input, ``validate`` at least 0.25x a bare ``csv.reader`` loop
  over the same file, each side timed inside its own process (imports before the clock),
  alternately, best of ``--repeat``, with the ratio of each pair too.

Realistic rows come first (the export generator's rows, 210-250 bytes, as in ``bench.scan``);
then the hostile shapes, each built as an attacker or a broken exporter would, not shaped to
flatter a figure.

    .venv/bin/python -m bench.hostile [--repeat 3] [--only NAME ...] [--no-blob]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import csv
import gzip
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import common
from bench.scan import SHAPES, make_shape
from devstack.generate import GenerateOptions, iter_rows
from shared.common.schema import GENERIC

MEMORY_FLOOR_MB = 256
SPEED_FLOOR = 0.25
HEADER = [f.header for f in GENERIC.fields]
KEYS = [f.key for f in GENERIC.fields]


def _rows(n: int, seed: int = 11) -> Iterator[list[str]]:
    for row in iter_rows(GenerateOptions(rows=n, seed=seed, quote_rate=0.0)):
        yield list(row)


def _write(path: Path, rows: Iterator[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8", buffering=1 << 20) as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _every(n: int, column: str, value: str, rows: int) -> Callable[[Path], Path]:
    """Realistic rows with ``column`` set to ``value`` in one row in ``n``."""
    index = KEYS.index(column)

    def build(path: Path) -> Path:
        def rows_() -> Iterator[list[str]]:
            for i, row in enumerate(_rows(rows)):
                if i % n == n // 2:
                    row[index] = value
                yield row

        return _write(path, rows_())

    return build


def _realistic(shape: str, rows: int) -> Callable[[Path], Path]:
    return lambda path: (make_shape(path, SHAPES[shape], rows), path)[1]


def _out_of_order(rows: int) -> Callable[[Path], Path]:
    """Realistic rows, the first one stamped after all the others: the duplicate counter then
    keeps every row's hash to count them at the end."""
    ti = KEYS.index("creation_time")

    def build(path: Path) -> Path:
        def rows_() -> Iterator[list[str]]:
            for i, row in enumerate(_rows(rows)):
                if i == 0:
                    row[ti] = "2099-12-31T23:59:59Z"
                yield row

        return _write(path, rows_())

    return build


def _gzip_bomb(path: Path) -> Path:
    """0.3 MB of gzip that inflates to some 300 MB of valid rows (stored with
    Content-Encoding: gzip for the blob stage; as a local file, bytes that are not text)."""
    row = ",".join(next(_rows(1))) + "\n"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write((",".join(HEADER) + "\n").encode())
        block = (row * 10_000).encode()
        for _ in range(300 * 1024**2 // len(block)):
            out.write(block)
    return path


def _multiline_record(path: Path) -> Path:
    """A valid row, then 40 MB of ``"a\\n",`` fields: one record spanning 8 million lines."""
    _write(path, _rows(1))
    with path.open("a") as out:
        for _ in range(80):
            out.write('"a\n",' * 100_000)
        out.write("\n")
    return path


def _wide_header(path: Path) -> Path:
    """A header of 100,000 columns (the schema's and 99,977 more), and 50 rows as wide."""
    header = HEADER + [f"c{i}" for i in range(100_000 - len(HEADER))]
    return _write(path, (row + ["x"] * (len(header) - len(row)) for row in _rows(50)), header)


def _unterminated_quote(path: Path) -> Path:
    """A quote opened in row 2 and never closed, then 60 MB of ordinary rows."""
    with path.open("w", newline="", encoding="utf-8", buffering=1 << 20) as out:
        out.write(",".join(HEADER) + "\n")
        for i, row in enumerate(_rows(260_000)):
            line = ",".join(row) + "\n"
            out.write(line.replace(",", ',"', 1) if i == 1 else line)
    return path


def _no_newline(path: Path) -> Path:
    path.write_bytes((",".join(HEADER) + "\n").encode() + b"x" * (50 * 1024**2))
    return path


def _blank_lines(path: Path) -> Path:
    """Realistic rows, each followed by a blank line (a double-spacing exporter)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        out.write(",".join(HEADER) + "\n")
        for row in _rows(200_000):
            out.write(",".join(row) + "\n\n")
    return path


def _mixed_timestamps(path: Path) -> Path:
    """Realistic rows whose timestamps are all distinct and alternate between two forms."""
    ti = KEYS.index("creation_time")

    def rows() -> Iterator[list[str]]:
        for i, row in enumerate(_rows(300_000)):
            s = i % 86_400
            day = 1 + i // 86_400
            row[ti] = (
                f"2026-11-{day:02d}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z"
                if i % 2
                else f"11/{day:02d}/2026 {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
            )
            yield row

    return _write(path, rows())


FILES: dict[str, Callable[[Path], Path]] = {
    # Accepted inputs (the speed floor applies), realistic first.
    "realistic-unquoted": _realistic("unquoted", 300_000),
    "realistic-quoted-address": _realistic("quoted-address", 300_000),
    "realistic-all-quoted-crlf": _realistic("all-quoted-crlf", 300_000),
    "realistic-5m-rows": _realistic("unquoted", 5_000_000),  # the connector's row limit
    "5m-rows-out-of-time-order": _out_of_order(5_000_000),
    "upn-400kb-every-3000-rows": _every(3000, "employee_upn", "u" * 400_000, 80_000),
    "upn-1000b-every-100-rows": _every(100, "employee_upn", "u" * 1000, 200_000),
    "event-section-900kb-every-3000-rows": _every(3000, "event_section", "s" * 900_000, 80_000),
    "quoted-5000-lines-every-3000-rows": _every(3000, "event_section", "line\n" * 5000, 80_000),
    "blank-line-after-every-row": _blank_lines,
    "distinct-mixed-timestamps": _mixed_timestamps,
    # Refused inputs (the memory floor applies to all).
    "gzip-bomb": _gzip_bomb,
    "record-of-8m-lines": _multiline_record,
    "header-of-100000-columns": _wide_header,
    "unterminated-quote": _unterminated_quote,
    "50mb-without-newline": _no_newline,
}


PEAK_MARK = b"bench.hostile peak kB="


def own_peak_kb() -> int:
    """This process's peak RSS since it started (VmHWM). Not ``ru_maxrss``: a child started by
    ``subprocess`` (vfork) has its parent's peak counted in its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _report_peak() -> None:
    sys.stderr.buffer.write(PEAK_MARK + str(own_peak_kb()).encode() + b"\n")
    sys.stderr.flush()


def peak(argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv`` (a mode of this module that reports its own peak as it exits); its exit
    status, what it printed and its peak RSS."""
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env)
    err = proc.stderr
    if proc.returncode not in (0, 1) or PEAK_MARK not in err:
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
    kb = int(err.rsplit(PEAK_MARK, 1)[1].split()[0]) if PEAK_MARK in err else 0
    return {
        "exit": proc.returncode,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(kb / 1024, 1),
        "out": proc.stdout,
    }


def validate_cli(path: Path) -> dict[str, Any]:
    """``ehr-ingest validate FILE --json`` as a user runs it (``run_cli``)."""
    run = peak([sys.executable, "-m", "bench.hostile", "--cli", str(path)])
    out = run.pop("out")
    try:
        report = json.loads(out)
        run["verdict"] = "accepted" if report.get("accepted") else _codes(report)
    except ValueError:
        run["verdict"] = f"unreadable output ({len(out)} bytes)"
    return run


def run_cli(path: Path) -> int:
    """``ehr-ingest validate FILE --json``, its peak RSS reported as the process exits."""
    atexit.register(_report_peak)
    sys.argv = ["ehr-ingest", "validate", str(path), "--json"]
    runpy.run_module("ehr_cli", run_name="__main__", alter_sys=True)
    return 0


def _codes(report: dict[str, Any]) -> str:
    return "rejected: " + ",".join(r.get("code", "?") for r in report.get("reasons", []))


def measure(kind: str, path: Path) -> dict[str, Any]:
    """One timing, in this process: a bare csv.reader loop or ``validate``."""
    from ehr_cli.validate import _blocks
    from shared.common.settings import Connector
    from shared.intake.validation import validate

    csv.field_size_limit(1 << 30)  # csv's 128 KB default would refuse the long fields
    started = time.perf_counter()
    if kind == "csv":
        with path.open(encoding="utf-8", newline="") as src:
            rows = sum(1 for _ in csv.reader(src)) - 1
        accepted = True
    else:
        outcome = validate(_blocks(path), path.name, Connector("local", "healthcare", ""))
        rows, accepted = (outcome.result.rows if outcome.result else -1), outcome.accepted
    return {"seconds": time.perf_counter() - started, "rows": rows, "accepted": accepted}


def timed(kind: str, path: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.hostile", "--measure", kind, "--file", str(path)]
    return json.loads(subprocess.run(argv, capture_output=True, check=True).stdout)


def speed(path: Path, repeat: int) -> dict[str, Any]:
    """csv and validate alternately, ``repeat`` times; the best of each and the ratios."""
    runs: dict[str, list[dict[str, Any]]] = {"csv": [], "validate": []}
    for _ in range(repeat):
        for kind in runs:
            runs[kind].append(timed(kind, path))
    best = {kind: min(m["seconds"] for m in ms) for kind, ms in runs.items()}
    pairs = sorted(c["seconds"] / v["seconds"] for c, v in zip(runs["csv"], runs["validate"], strict=True))
    return {
        "csv_seconds": round(best["csv"], 3),
        "validate_seconds": round(best["validate"], 3),
        "validate_vs_csv": round(best["csv"] / best["validate"], 2),
        "validate_vs_csv_median_of_rounds": round(pairs[len(pairs) // 2], 2),
        "rows": runs["validate"][0]["rows"],
        "csv_rows": runs["csv"][0]["rows"],
    }


class BlobStage:
    """Azurite, one container, ledger and queue: each file planned by ``plan_export`` in a
    process of its own, as the blob function would plan it."""

    def __init__(self, folder: Path) -> None:
        from devstack.azurite import Azurite

        self.azurite = Azurite(folder).start()
        self.env = {**os.environ, "BENCH_STORAGE": self.azurite.connection_string}

    def run(self, name: str, path: Path) -> dict[str, Any]:
        from azure.storage.blob import BlobServiceClient, ContentSettings

        blobs = BlobServiceClient.from_connection_string(self.azurite.connection_string)
        container = blobs.get_container_client("exports")
        if not container.exists():
            container.create_container()
        encoding = "gzip" if path.suffix == ".gz" else None
        with path.open("rb") as data:
            container.upload_blob(
                f"generic/{name}.csv",
                data,
                overwrite=True,
                content_settings=ContentSettings(content_encoding=encoding),
            )
        argv = [sys.executable, "-m", "bench.hostile", "--plan", f"generic/{name}.csv"]
        run = peak(argv, self.env)
        outcome = json.loads(run.pop("out") or b"{}")
        run["verdict"] = outcome.get("status", "?") + (f": {outcome['code']}" if outcome.get("code") else "")
        return run

    def close(self) -> None:
        self.azurite.stop()


def plan_one(blob_name: str) -> dict[str, Any]:
    """The blob stage over one blob, in this process (the child ``BlobStage.run`` starts)."""
    from azure.core.exceptions import ResourceExistsError
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    from shared.common.ledger import Ledger
    from shared.common.settings import Connector
    from shared.intake.plan import PlanOptions, plan_export

    conn = os.environ["BENCH_STORAGE"]
    blob = BlobServiceClient.from_connection_string(conn).get_blob_client("exports", blob_name)
    ledger = Ledger(TableServiceClient.from_connection_string(conn).create_table_if_not_exists("ledger"))
    queue = QueueClient.from_connection_string(conn, "chunks")
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()
    connectors = {"generic": Connector("generic", "healthcare", "job")}
    outcome = plan_export(blob, connectors, ledger, queue, PlanOptions())
    run = ledger.get_run(outcome.run_id)
    return {"status": outcome.status, "code": run.reason_code if run is not None else ""}


def bench_file(name: str, path: Path, repeat: int, stage: BlobStage | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"bytes": path.stat().st_size, "validate_cli": validate_cli(path)}
    if stage is not None:
        entry["blob_stage"] = stage.run(name, path)
    if entry["validate_cli"]["verdict"] == "accepted":
        entry["speed"] = speed(path, repeat)
    return entry


def floors(results: dict[str, Any]) -> dict[str, Any]:
    """Whether every file held both floors, and the worst figures."""
    rss = [
        r[side]["peak_rss_mb"]
        for r in results.values()
        for side in ("validate_cli", "blob_stage")
        if side in r
    ]
    ratios = [r["speed"]["validate_vs_csv"] for r in results.values() if "speed" in r]
    return {
        "max_peak_rss_mb": max(rss),
        "memory_floor_held": max(rss) <= MEMORY_FLOOR_MB,
        "min_validate_vs_csv": min(ratios) if ratios else None,
        "speed_floor_held": all(x >= SPEED_FLOOR for x in ratios),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=list(FILES), default=list(FILES))
    parser.add_argument("--no-blob", action="store_true", help="skip the blob stage (no Azurite)")
    parser.add_argument("--name", default="hostile")
    parser.add_argument("--measure", choices=["csv", "validate"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--cli", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.file)))
        return 0
    if args.cli:
        return run_cli(args.cli)
    if args.plan:
        atexit.register(_report_peak)
        print(json.dumps(plan_one(args.plan)))
        return 0
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        stage = None if args.no_blob else BlobStage(Path(tmp) / "azurite")
        try:
            for name in args.only:
                path = FILES[name](Path(tmp) / (f"{name}.gz" if name == "gzip-bomb" else f"{name}.csv"))
                results[name] = bench_file(name, path, args.repeat, stage)
                print(json.dumps({"file": name, **results[name]}), flush=True)
                path.unlink()
        finally:
            if stage is not None:
                stage.close()
    summary = floors(results)
    print(json.dumps(summary))
    common.write(
        args.name,
        {
            "floors": {"peak_rss_mb": MEMORY_FLOOR_MB, "validate_vs_csv": SPEED_FLOOR, **summary},
            "files": results,
            "method": "validate_cli = `python -m ehr_cli validate FILE --json`, blob_stage = plan_export "
            "against Azurite, each in its own process, peak RSS from wait4 (imports included); speed = "
            "validate() vs a bare csv.reader loop (field_size_limit raised), each timed inside its own "
            "process, alternately, best of --repeat; *_median_of_rounds = median of the paired ratios",
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
