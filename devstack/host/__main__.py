"""``python -m devstack.host --script-root DIR``: the dev stand-in for ``func start``.

Settings file ``Values`` go into the environment first without overriding variables already
set, as ``func start`` does. Once running, ``--state-file`` receives ``{"pid", "admin_url"}`` so
a supervisor can find the admin API; SIGTERM/SIGINT stop the host gracefully.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from devstack.host.config import load_settings_file
from devstack.host.host import FunctionHost
from devstack.host.worker import WorkerError

log = logging.getLogger("devstack.host")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.host", description=__doc__)
    parser.add_argument("--script-root", type=Path, required=True, help="folder of function_app.py")
    parser.add_argument("--settings", type=Path, help="local.settings.json to load Values from")
    parser.add_argument("--admin-port", type=int, default=0, help="admin API port (0: any free)")
    parser.add_argument("--state-file", type=Path, help="write {pid, admin_url} here when running")
    parser.add_argument("--blob-poll-seconds", type=float, default=1.0)
    parser.add_argument("--stop-timeout", type=float, default=60.0)
    parser.add_argument(
        "--queue-lease-seconds",
        type=int,
        default=60,
        help="invisibility of a dequeued message (renewed while it runs; after a crash, this long)",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging (never bodies)")
    return parser.parse_args(argv)


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="[%(asctime)s] %(levelname)s %(message)s",
    )
    # The SDK's HTTP logging policy logs every request at INFO: far too chatty for a host log.
    logging.getLogger("azure").setLevel(logging.WARNING)
    # The Python worker's own log ("azure.functions": indexing, invocations), as the host shows it.
    logging.getLogger("azure.functions").setLevel(logging.DEBUG if verbose else logging.INFO)


def write_state(path: Path, host: FunctionHost) -> None:
    """Atomic (write then rename), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    state = {"pid": os.getpid(), "admin_url": host.admin_url, "function_key": host.function_key}
    tmp.write_text(json.dumps(state))
    tmp.chmod(0o600)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    if args.settings:
        names = load_settings_file(args.settings)
        log.info("Loaded %d settings from %s", len(names), args.settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("Received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    host = FunctionHost(
        args.script_root,
        admin_port=args.admin_port,
        blob_poll_seconds=args.blob_poll_seconds,
        queue_lease_seconds=args.queue_lease_seconds,
    )
    try:
        host.start()
    except WorkerError as exc:
        # As the real host: the worker's own message, no traceback of ours.
        log.error("Worker failed to index or load the functions: %s", exc)
        return 1
    if args.state_file:
        write_state(args.state_file, host)
    log.info("Admin API on %s", host.admin_url)
    while not stop.wait(1.0):
        pass
    if host.stop(args.stop_timeout):
        return 0
    # Invocations still running after the timeout: leave like the real host recycles a worker
    # (pool threads would otherwise keep the interpreter alive until they finish).
    logging.shutdown()
    os._exit(1)


if __name__ == "__main__":
    raise SystemExit(main())
