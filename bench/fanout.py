"""Fan-out: plan and enqueue every chunk message of a 5M-row export in Azurite.

Times the blob function's whole job (scan + ledger rows + queue messages) for a file
already in the exports container, as the blob trigger would run it.

    .venv/bin/python -m bench.fanout [--rows 5000000] [--chunk-rows 5000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import common
from devstack.demo import Pipeline
from devstack.generate import GenerateOptions, generate
from devstack.stack import Stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--chunk-rows", type=int, default=5000)
    parser.add_argument("--name", default="fanout")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        work = Path(tmp)
        export = generate(work / "audit-fanout.csv", GenerateOptions(rows=args.rows, seed=9))
        print(f"generated {export.rows:,} rows, {export.bytes / 1e6:.0f} MB")
        stack = Stack(work / "stack", chunk_rows=args.chunk_rows).up(host=False)
        try:
            os.environ.update(stack.app_env())
            from shared import handlers

            handlers.reset()
            blob = Pipeline(stack).drop(export.path, "generic")
            client = handlers.runtime().storage.blob_service().get_blob_client("exports", blob)
            started = time.monotonic()
            outcome = handlers.on_export(client)
            seconds = time.monotonic() - started
            queued = handlers.runtime().queue.get_queue_properties().approximate_message_count
        finally:
            stack.down()
    result = {
        "rows": args.rows,
        "bytes": export.bytes,
        "chunk_rows": args.chunk_rows,
        "chunks": outcome.chunks,
        "messages_queued": queued,
        "seconds": round(seconds, 2),
        "status": outcome.status,
        "target_seconds": 30,
    }
    print(result)
    common.write(args.name, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
