"""`ehr-ingest doctor`: the first thing to run when nothing arrives in Purview.

One line per check, in the order a chunk needs them: settings, Storage, the Key Vault
secret, a token for the ingestion resource, the ingestion host (through the proxy, if
one is set). A failed check prints what to fix; later checks that depend on it are skipped.
"""

from __future__ import annotations

import argparse
import urllib.parse
from collections.abc import Callable

from ehr_cli import context, network
from ehr_cli.context import Subparsers
from shared.common.settings import Settings


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("doctor", help="check settings, Storage, Key Vault, token and API reachability")
    p.add_argument("--settings", help="local.settings.json to use (default: env, then local stack)")
    p.set_defaults(func=run)


class Failed(Exception):
    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.fix = fix

    @classmethod
    def reaching(cls, exc: BaseException, url: str, otherwise: str, what: str = "") -> Failed:
        """A failure to reach ``url``: a network cause (certificate, DNS, proxy, firewall) gets
        its own fix; any other keeps ``otherwise``."""
        host = urllib.parse.urlsplit(url).hostname or url
        problem, fix = network.describe(exc, host)
        return cls(f"{what}{problem}", fix or otherwise)


def _settings(settings: Settings) -> str:
    from shared.delivery import clouds

    missing = [
        n
        for n in ("CONNECTORS", "ENTRA_TENANT_ID", "ENTRA_CLIENT_ID", "KEY_VAULT_URL")
        if not settings.values.get(n)
    ]
    if missing:
        raise Failed(f"missing {', '.join(missing)}", "set them in the function app's settings (see README)")
    try:
        connectors = settings.connectors
        authority, url = clouds.from_settings(settings)
    except ValueError as exc:
        raise Failed(str(exc), "correct CONNECTORS / CLOUD (see README's settings table)") from None
    if not connectors:
        raise Failed("CONNECTORS is empty", "add one connector per Purview connector (name, kind, job_id)")
    return f"{len(connectors)} connectors, cloud {settings['CLOUD']}, authority {authority}, API {url}"


def _storage(settings: Settings) -> str:
    from azure.core.exceptions import ResourceNotFoundError

    from shared.common.settings import STORAGE_CONNECTION
    from shared.common.storage import connection

    notes = []
    try:
        conn = connection(STORAGE_CONNECTION)
        try:
            table = conn.table_service().get_table_client(settings["LEDGER_TABLE"])
            next(table.list_entities(results_per_page=1).by_page(), None)
        except ResourceNotFoundError:
            notes.append("ledger table not created yet (the first run creates it)")
        try:
            conn.queue(settings["CHUNK_QUEUE"]).get_queue_properties()
        except ResourceNotFoundError:
            notes.append("chunk queue not created yet (the first run creates it)")
        exists = conn.blob_service().get_container_client(settings["EXPORTS_CONTAINER"]).exists()
    except Exception as exc:
        raise Failed.reaching(
            exc,
            _storage_url(),
            "check the ExportsStorage__* settings and that the app's identity has the Storage Blob Data "
            "Owner, Queue Data Contributor and Table Data Contributor roles on the account",
        ) from None
    if not exists:
        raise Failed(
            f"container {settings['EXPORTS_CONTAINER']} does not exist",
            "deploy infra/ (it creates the container) or create it; `ehr-ingest stack up` creates it locally",
        )
    return "; ".join(["ledger table, chunk queue and exports container reachable", *notes])


def _storage_url() -> str:
    """The blob endpoint the ExportsStorage connection points at (for naming a network failure)."""
    from shared.common.settings import STORAGE_CONNECTION
    from shared.common.storage import connection

    try:
        return connection(STORAGE_CONNECTION).blob_service().url
    except Exception:  # the settings themselves are wrong: no host to name
        return "the storage account"


def _secret(settings: Settings) -> str:
    from shared.delivery.certificate import msal_credential
    from shared.delivery.vault import SecretCache

    cache = SecretCache(settings)
    try:
        value = cache.get()
        if settings["ENTRA_CERTIFICATE_NAME"]:
            msal_credential(value)
    except Exception as exc:
        raise Failed.reaching(
            exc,
            settings["KEY_VAULT_URL"],
            "check KEY_VAULT_URL, ENTRA_SECRET_NAME (or ENTRA_CERTIFICATE_NAME), the Key Vault Secrets User "
            "role for the app's identity (MANAGED_IDENTITY_CLIENT_ID for a user-assigned one) and the "
            "vault's firewall",
            f"cannot use {cache.name} from {settings['KEY_VAULT_URL']}: ",
        ) from None
    kind = "certificate" if settings["ENTRA_CERTIFICATE_NAME"] else "secret"
    return f"{kind} {cache.name} read (value not shown)"


def _token(settings: Settings) -> str:
    from shared.delivery import clouds
    from shared.delivery.entra import TokenProvider
    from shared.delivery.vault import SecretCache

    try:
        TokenProvider(settings, SecretCache(settings)).token()
    except Exception as exc:
        raise Failed.reaching(
            exc,
            clouds.from_settings(settings)[0],
            "check ENTRA_TENANT_ID, ENTRA_CLIENT_ID, that the secret in Key Vault is the app's current one, "
            "CLOUD / ENTRA_AUTHORITY_HOST, and that the authority host is allowed through the firewall/proxy",
        ) from None
    return f"token for {settings['INGESTION_SCOPE']} acquired"


def _reachable(settings: Settings) -> str:
    import requests

    from shared.delivery import clouds
    from shared.delivery.upload import upload_session

    url = clouds.from_settings(settings)[1]
    host = urllib.parse.urlsplit(url).hostname or url
    session = upload_session()
    proxies = session.merge_environment_settings(url, {}, None, None, None)["proxies"]
    via = f" via proxy {network.address(proxies['https'])}" if proxies.get("https") else ""
    try:
        resp = session.get(url, timeout=(10, 30))
    except (requests.RequestException, OSError) as exc:  # OSError: a REQUESTS_CA_BUNDLE that is no file
        raise Failed.reaching(
            exc,
            url,
            f"allow outbound HTTPS to {host} in the firewall; behind a proxy set HTTPS_PROXY (NO_PROXY "
            "for Storage/Key Vault private endpoints); put a TLS-inspecting proxy's CA in REQUESTS_CA_BUNDLE",
            f"cannot reach {host}{via}: ",
        ) from None
    return f"{host} answered HTTP {resp.status_code}{via}"


CHECKS: list[tuple[str, Callable[[Settings], str]]] = [
    ("settings", _settings),
    ("storage", _storage),
    ("key vault secret", _secret),
    ("token", _token),
    ("ingestion host", _reachable),
]


def run(args: argparse.Namespace) -> int:
    settings = context.apply(args.settings)
    failed: set[str] = set()
    for name, check in CHECKS:
        if name == "token" and "key vault secret" in failed:
            print(f"SKIP  {name}: needs the Key Vault secret")
            failed.add(name)
            continue
        try:
            detail = check(settings)
        except Failed as exc:
            failed.add(name)
            print(f"FAIL  {name}: {exc}\n      fix: {exc.fix}")
            if name == "settings":
                return 1
            continue
        print(f"ok    {name}: {detail}")
    return 1 if failed else 0
