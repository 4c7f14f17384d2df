"""Run the emulator in the foreground: ``python -m devstack.emulator --config cfg.json ...``.

Once listening it writes ``<state-dir>/emulator.json`` (url, port, CA path, pid) so a dev
stack started in another process can find it without parsing logs; the file is removed
on a clean exit (SIGTERM or SIGINT) so a stale one never points at a dead server.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from devstack.emulator.config import EmulatorConfig
from devstack.emulator.server import Emulator

INFO_FILE = "emulator.json"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.emulator",
        description="Dev-only local emulator of Entra ID, managed identity, Key Vault and "
        "the Purview ingestion API, served over HTTPS on 127.0.0.1.",
    )
    parser.add_argument("--config", type=Path, required=True, help="EmulatorConfig JSON file")
    parser.add_argument("--state-dir", type=Path, required=True, help="TLS files, emulator.json")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--verbose", action="store_true", help="log each request line")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    config = EmulatorConfig.load(args.config)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    emulator = Emulator(config, args.state_dir, port=args.port).start()
    info_path = args.state_dir / INFO_FILE
    try:
        _write_info(
            info_path,
            {
                "url": emulator.url,
                "port": emulator.port,
                "ca": str(emulator.ca_path.resolve()),
                "pid": os.getpid(),
            },
        )
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        try:
            if json.loads(info_path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                info_path.unlink()
        except (OSError, ValueError):
            pass
    return 0


def _write_info(path: Path, info: dict[str, object]) -> None:
    """Write atomically, so a poller never reads a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
