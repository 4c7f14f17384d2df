"""Scan throughput and memory: our validate+plan pass vs a bare csv.reader loop vs a raw read.

Each measurement runs in its own process so its peak RSS is its own.

    .venv/bin/python -m bench.scan [--sizes-mb 100 1000 3000] [--rows-at-max 5000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from devstack.generate import GenerateOptions, iter_rows
from shared.common.schema import GENERIC

BLOCK = 8 * 1024 * 1024


def make_export(path: Path, rows: int, row_bytes: int) -> int:
    """A generic export of ``rows`` rows, each padded (in Event Section) to about ``row_bytes``."""
    header = [f.header for f in GENERIC.fields]
    with path.open("w", newline="", encoding="utf-8") as out:
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


def measure(kind: str, path: Path) -> dict:
    from shared.intake.scan import scan  # imported before the clock starts, like csv

    started = time.perf_counter()
    rows = 0
    if kind == "raw":
        with path.open("rb") as src:
            while src.read(BLOCK):
                pass
    elif kind == "csv":
        with path.open(encoding="utf-8", newline="") as src:
            for _ in csv.reader(src):
                rows += 1
        rows -= 1
    elif kind == "ours":

        def blocks():
            with path.open("rb") as src:
                while block := src.read(BLOCK):
                    yield block

        try:
            result = scan(blocks(), path.name, GENERIC, 100_000)
            rows = result.rows
        except Exception as exc:  # a limit rejection still scanned the whole file
            rows = -1
            print(f"note: {type(exc).__name__}: {exc}", file=sys.stderr)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "seconds": round(seconds, 3), "rows": rows, "peak_rss_mb": round(peak_mb, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[100, 1000, 3000])
    parser.add_argument("--rows-at-max", type=int, default=5_000_000, help="rows in the largest file")
    parser.add_argument("--measure", choices=["raw", "csv", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="scan")
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.file)))
        return 0

    row_bytes = max(args.sizes_mb) * 1_000_000 // args.rows_at_max
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        for size_mb in args.sizes_mb:
            path = Path(tmp) / f"audit-{size_mb}mb.csv"
            rows = size_mb * 1_000_000 // row_bytes
            size = make_export(path, rows, row_bytes)
            entry = {"size_mb": round(size / 1e6), "rows": rows}
            for kind in ("raw", "csv", "ours"):
                out = subprocess.run(
                    [sys.executable, "-m", "bench.scan", "--measure", kind, "--file", str(path)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                m = json.loads(out.stdout)
                m["mb_per_s"] = round(size / 1e6 / m["seconds"], 1)
                entry[kind] = m
            entry["ours_vs_csv"] = round(entry["csv"]["seconds"] / entry["ours"]["seconds"], 2)
            print(json.dumps(entry), flush=True)
            results.append(entry)
            path.unlink()
    common.write(
        args.name,
        {"row_bytes": row_bytes, "sizes": results, "targets": {"ours_vs_csv": 0.9, "peak_rss_mb": 200}},
    )
    chart(results, common.RESULTS / f"{args.name}.png")
    return 0


def chart(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["size_mb"] for r in results]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for kind, label in (("raw", "raw read"), ("csv", "bare csv.reader"), ("ours", "validate + plan")):
        a.plot(sizes, [r[kind]["mb_per_s"] for r in results], "o-", label=label)
        b.plot(sizes, [r[kind]["peak_rss_mb"] for r in results], "o-", label=label)
    a.set(xlabel="file size (MB)", ylabel="MB/s", title="throughput", yscale="log")
    b.set(xlabel="file size (MB)", ylabel="peak RSS (MB)", title="memory")
    b.axhline(200, color="tab:red", ls="--", label="target")
    for ax in (a, b):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
