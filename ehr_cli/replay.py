"""`ehr-ingest replay RUN`: re-queue the failed or poisoned chunks of a run after the fix."""

from __future__ import annotations

import argparse

from ehr_cli import context
from ehr_cli.context import Subparsers


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "replay",
        help="re-queue the failed (or poisoned) chunks of a run once the cause is fixed",
        description=__doc__,
    )
    p.add_argument("run", help="run id (or its first characters) from the report, or the blob name")
    p.add_argument(
        "--pending",
        action="store_true",
        help="also re-queue chunks still pending (their message was poisoned after a worker died)",
    )
    p.add_argument("--settings", help="local.settings.json to use (default: env, then local stack)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = context.apply(args.settings)
    from shared.common.ledger import Ledger
    from shared.common.settings import STORAGE_CONNECTION
    from shared.common.storage import connection
    from shared.delivery.replay import find_run, replay

    conn = connection(STORAGE_CONNECTION)
    ledger = Ledger(conn.table_service().get_table_client(settings["LEDGER_TABLE"]))
    try:
        found = find_run(ledger, args.run)
    except LookupError as exc:
        print(f"ehr-ingest replay: {exc}")
        return 2
    queue = conn.queue(settings["CHUNK_QUEUE"])
    poison = conn.queue(settings["CHUNK_QUEUE"] + "-poison")
    try:
        result = replay(ledger, queue, found, include_pending=args.pending, poison=poison)
    except LookupError as exc:
        print(f"ehr-ingest replay: {exc}")
        return 2
    print(
        f"run {result.run_id} ({found.blob}): {len(result.requeued)} chunks re-queued"
        + (f" ({', '.join(map(str, result.requeued))})" if result.requeued else "")
        + f"; {result.poison_removed} poison messages removed"
    )
    return 0
