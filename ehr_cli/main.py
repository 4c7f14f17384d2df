"""`ehr-ingest`: one tool for operators and for the local stack. Every subcommand has --help."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ehr_cli import context

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

    from shared.common.settings import Settings


def _stack_up(args: argparse.Namespace) -> int:
    from devstack.stack import Stack

    stack = Stack(Path(args.work), chunk_rows=args.chunk_rows).up()
    print(
        f"local stack up: emulator {stack.state['emulator']['url']}, host {stack.state['host']['admin_url']}"
    )
    print(f"settings: {stack.work / 'local.settings.json'}   logs: {stack.work / 'logs'}")
    return 0


def _stack_down(args: argparse.Namespace) -> int:
    from devstack.stack import Stack

    try:
        Stack.load(Path(args.work)).down()
    except FileNotFoundError as exc:
        print(exc)
        return 0
    print("local stack stopped")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from devstack import generate

    return generate.run(args)


def _drop(args: argparse.Namespace) -> int:
    """Upload a file into the exports container under its connector's folder.

    Writes only (Put Blob, or Put Block and Put Block List): the uploader's role in Azure has
    no read, so nothing asks first whether the container exists; a missing container (a fresh
    local stack) is created when the write says so."""
    settings = context.apply(args.settings)
    from azure.core.exceptions import ResourceNotFoundError

    from shared.common.settings import STORAGE_CONNECTION
    from shared.common.storage import connection

    path = Path(args.file)
    if problem := _no_connector(settings, args.connector):
        print(f"ehr-ingest drop: {problem}", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"ehr-ingest drop: no such file: {path}", file=sys.stderr)
        return 2
    blob_name = str(PurePosixPath(args.connector) / (args.name or path.name))
    container = (
        connection(STORAGE_CONNECTION).blob_service().get_container_client(settings["EXPORTS_CONTAINER"])
    )
    try:
        _write(container, blob_name, path)
    except ResourceNotFoundError:  # the container itself: a fresh local stack
        container.create_container()
        _write(container, blob_name, path)
    print(f"dropped {path} as {settings['EXPORTS_CONTAINER']}/{blob_name}")
    return 0


def _no_connector(settings: Settings, folder: str) -> str | None:
    """Why a drop into ``folder`` would never be uploaded (no connector reads it), or None; with
    no CONNECTORS in the settings (a bare storage account) there is nothing to check against."""
    if not settings.values.get("CONNECTORS"):
        return None
    connectors = settings.connectors
    if folder in connectors:
        return None
    return (
        f"{folder!r} is no connector's folder; files there are never uploaded. "
        f"Connectors: {', '.join(sorted(connectors))} (CONNECTORS setting)"
    )


def _write(container: ContainerClient, blob_name: str, path: Path) -> None:
    with path.open("rb") as data:
        container.upload_blob(blob_name, data, overwrite=True, max_concurrency=2)


def _demo(args: argparse.Namespace) -> int:
    from devstack.demo import run_demo

    return run_demo(
        rows=args.rows,
        epic_rows=args.epic_rows,
        chunk_rows=args.chunk_rows,
        work=Path(args.work),
        keep=not args.stop,
    )


def build_parser() -> argparse.ArgumentParser:
    from devstack.demo import DEMO_WORK
    from devstack.stack import DEFAULT_WORK

    parser = argparse.ArgumentParser(prog="ehr-ingest", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stack = sub.add_parser("stack", help="start or stop the local stack (Azurite, emulator, host)")
    stack_sub = stack.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = stack_sub.add_parser("up", help="start the local stack in the background")
    up.add_argument("--work", default=str(DEFAULT_WORK), help="folder for its data and logs")
    up.add_argument("--chunk-rows", type=int, default=2000, help="rows per chunk for both connectors")
    up.set_defaults(func=_stack_up)
    down = stack_sub.add_parser("down", help="stop what `stack up` started")
    down.add_argument("--work", default=str(DEFAULT_WORK), help="folder given to `stack up`")
    down.set_defaults(func=_stack_down)

    from devstack import generate

    gen = sub.add_parser("generate", help="write a synthetic export (fake people only)")
    generate.add_arguments(gen)
    gen.set_defaults(func=_generate)

    drop = sub.add_parser("drop", help="drop an export into the exports container")
    drop.add_argument("file", help="the export file")
    drop.add_argument("--connector", required=True, help="connector folder, e.g. generic or epic")
    drop.add_argument("--name", help="blob name inside the folder (default: the file's name)")
    drop.add_argument("--settings", help="local.settings.json to use (default: env, then local stack)")
    drop.set_defaults(func=_drop)

    from ehr_cli import validate

    validate.register(sub)

    demo = sub.add_parser("demo", help="run the whole pipeline locally and print the report")
    demo.add_argument("--rows", type=int, default=50_000, help="rows in the generic CSV export")
    demo.add_argument("--epic-rows", type=int, default=20_000, help="rows in the Epic export")
    demo.add_argument("--chunk-rows", type=int, default=5_000, help="rows per chunk")
    demo.add_argument("--work", default=str(DEMO_WORK), help="folder for the demo's stack")
    demo.add_argument("--stop", action="store_true", help="stop the stack at the end (default: keep it up)")
    demo.set_defaults(func=_demo)
    from ehr_cli import doctor, push, replay, report, status

    for command in (replay, doctor, push, report, status):
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `| head` stopped reading: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"ehr-ingest: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a user sees what failed, not a traceback (names and numbers only)
        print(f"ehr-ingest {args.command}: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
