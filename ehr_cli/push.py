"""`ehr-ingest push`: upload a local export straight to the ingestion API (no Functions needed).

Its flags mirror the sample script's parameters, so a scheduled task switches by changing
one line. Validation, chunking, parallel upload, retries and resume are the pipeline's own.
Exit code 0 only when every valid row was accepted.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ehr_cli.connector_file import UsageError, build, connector_options

if TYPE_CHECKING:
    from shared.common.settings import Connector, Settings
    from shared.delivery.entra import Secrets, TokenProvider
    from shared.intake.scan import ScanResult
    from shared.push import PushResult, Resume
from ehr_cli.context import Subparsers
from shared.common.schema import KINDS

SECRET_ENV = "EHR_INGEST_APP_SECRET"  # noqa: S105 (a variable name, not a secret)


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("push", help="upload a local export file directly (replaces the sample script)")
    p.add_argument("--tenant-id", required=True, help="tenant (directory) id of the connector's Entra app")
    p.add_argument("--app-id", required=True, help="application (client) id of that app")
    secret = p.add_argument_group("the app's secret (one of)")
    secret.add_argument("--app-secret", help=f"the secret itself (better: the {SECRET_ENV} variable)")
    secret.add_argument("--app-secret-env", default=SECRET_ENV, help="environment variable holding it")
    secret.add_argument(
        "--key-vault-url", help="read it from this Key Vault (Azure identity of this machine)"
    )
    secret.add_argument("--secret-name", default="ingestion-client-secret", help="its Key Vault secret name")
    secret.add_argument(
        "--certificate-name",
        default="",
        help="authenticate with this Key Vault certificate instead of a secret",
    )
    p.add_argument("--job-id", required=True, help="the connector's job id from the Purview portal")
    p.add_argument("--file", required=True, help="the export file (.csv/.psv/.tsv, Epic .txt, HR .csv)")
    p.add_argument(
        "--kind",
        choices=KINDS,
        help="connector kind (default: the mapping file's, or healthcare)",
    )
    p.add_argument("--cloud", default="public", help="public, gcc, gcchigh or dod")
    p.add_argument("--authority-host", default="", help="override the cloud's Entra authority host")
    p.add_argument("--ingestion-url", default="", help="override the cloud's ingestion API URL")
    p.add_argument("--ca-bundle", help="CA file to trust (a TLS-inspecting proxy's CA); default: system")
    p.add_argument("--concurrency", type=int, default=4, help="chunks uploaded at once (default 4)")
    p.add_argument("--chunk-rows", type=int, default=100_000, help="rows per chunk (default 100000)")
    p.add_argument(
        "--mapping",
        help="JSON file: {column: field} or a whole connector entry (mapping, columns, events...), "
        "as validate takes; only the schema's columns and the allowed events are sent",
    )
    p.add_argument(
        "--state-dir",
        default=str(Path.home() / ".ehr-ingest" / "push"),
        help="where resume records are kept (chunk numbers only)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


@dataclass
class StaticSecret:
    """A secret given on the command line or in the environment; nothing to re-read."""

    value: str

    def get(self) -> str:
        return self.value

    def invalidate(self) -> None:
        pass


class Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled and sys.stderr.isatty()
        self._lock = threading.Lock()

    def __call__(self, rows: int) -> None:
        with self._lock:
            self.done += rows
            if self.enabled:
                width = 30
                filled = int(width * self.done / self.total) if self.total else width
                sys.stderr.write(
                    f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done:,}/{self.total:,} rows"
                )
                sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    from shared.delivery.entra import TokenProvider
    from shared.push import Resume

    try:
        settings, url = _settings(args)
        secrets = _secrets(args, settings)
        export, connector = Path(args.file), _connector(args)
        planned = _plan(export, connector)
    except UsageError as exc:
        print(f"ehr-ingest push: {exc}", file=sys.stderr)
        return 2
    resume = Resume.for_file(Path(args.state_dir), export, connector)
    if resume.done:
        print(f"resuming: {len(resume.done)} of {len(planned.chunks)} chunks were accepted before")
    _left_out(export, planned, connector)
    result = _push(args, export, planned, connector, url, TokenProvider(settings, secrets), resume)
    for index, error in sorted(result.errors.items()):
        print(f"chunk {index} failed: {error}", file=sys.stderr)
    print(
        f"{export.name}: {result.rows_accepted:,} of {result.rows:,} valid rows accepted "
        f"({result.chunks} chunks, {result.chunks_skipped} already sent before)"
    )
    if result.errors:
        print(
            "fix the cause and run the same command again: accepted chunks are not sent twice",
            file=sys.stderr,
        )
    return 0 if result.rows_accepted == result.rows else 1


def _settings(args: argparse.Namespace) -> tuple[Settings, str]:
    """The app settings push needs, from its flags; and the ingestion URL they make."""
    from shared.common.settings import PUBLIC_INGESTION_SCOPE, Settings
    from shared.delivery import clouds

    if args.ca_bundle:
        os.environ["REQUESTS_CA_BUNDLE"] = args.ca_bundle  # requests and MSAL both honour it
    verify_challenge = os.environ.get("KEY_VAULT_VERIFY_CHALLENGE_RESOURCE", "true")
    settings = Settings(
        {
            "ENTRA_TENANT_ID": args.tenant_id,
            "ENTRA_CLIENT_ID": args.app_id,
            "CLOUD": args.cloud,
            "ENTRA_AUTHORITY_HOST": args.authority_host,
            "INGESTION_URL": args.ingestion_url,
            "INGESTION_SCOPE": PUBLIC_INGESTION_SCOPE,
            "KEY_VAULT_URL": args.key_vault_url or "",
            "ENTRA_SECRET_NAME": args.secret_name,
            "ENTRA_CERTIFICATE_NAME": args.certificate_name if args.key_vault_url else "",
            "KEY_VAULT_VERIFY_CHALLENGE_RESOURCE": verify_challenge,
        }
    )
    try:
        return settings, clouds.from_settings(settings)[1]
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _secrets(args: argparse.Namespace, settings: Settings) -> Secrets:
    """The app's secret: a Key Vault certificate, the flag, the variable, or a Key Vault secret."""
    from shared.delivery.vault import SecretCache

    if args.certificate_name and args.key_vault_url:
        return SecretCache(settings)
    if args.app_secret:
        return StaticSecret(args.app_secret)
    if os.environ.get(args.app_secret_env):
        return StaticSecret(os.environ[args.app_secret_env])
    if args.key_vault_url:
        return SecretCache(settings)
    raise UsageError(f"the app's secret is needed: --app-secret, ${args.app_secret_env} or --key-vault-url")


def _connector(args: argparse.Namespace) -> Connector:
    options, named_kind = connector_options(args.mapping)
    kind = args.kind or named_kind or "healthcare"
    return build("push", kind, args.job_id, {**options, "chunk_rows": args.chunk_rows})


def _plan(export: Path, connector: Connector) -> ScanResult:
    from shared.common.errors import Rejected
    from shared.push import plan

    try:
        return plan(export, connector)
    except Rejected as exc:
        raise UsageError(f"file rejected, nothing sent: {exc.message}") from None


def _left_out(export: Path, planned: ScanResult, connector: Connector) -> None:
    """Say what of the file is not sent, and why (counts and column names only)."""
    from shared.common.header import unsent

    if planned.invalid:
        print(
            f"{len(planned.invalid):,} invalid rows are not sent; `ehr-ingest validate {export}` "
            "lists them with their row numbers and reasons"
        )
        rules = planned.rules
        for problem in planned.invalid.problems(rules, planned.columns, planned.rows) if rules else []:
            print(f"  {problem.describe(planned.rows)}")
    for note in planned.notes:
        print(f"note: {note}")
    if planned.rows_filtered:
        print(f"{planned.rows_filtered:,} rows are events the events filter leaves out; they are not sent")
    dropped = unsent(planned.columns, planned.found) if connector.columns == "schema" else []
    if dropped:
        print(f"columns not sent (no schema field): {', '.join(dropped)}")


def _push(
    args: argparse.Namespace,
    export: Path,
    planned: ScanResult,
    connector: Connector,
    url: str,
    tokens: TokenProvider,
    resume: Resume,
) -> PushResult:
    from shared.delivery.upload import upload_session
    from shared.push import push

    progress = Progress(planned.rows_to_send, not args.no_progress)
    try:
        return push(
            export,
            planned,
            connector,
            url,
            tokens,
            resume,
            upload_session(),
            concurrency=args.concurrency,
            progress=progress,
        )
    finally:
        progress.close()
