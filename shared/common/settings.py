"""App settings, read once from the environment (Functions app settings become env vars).

Every setting the code reads is declared in ``SETTINGS`` with its default, so the
sample settings file, the README table and the Bicep template can be checked against
one list.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.common.events import EventFilter, event_key, parse_events
from shared.common.schema import PROFILE_SCENARIOS, Schema, normalise, schema_for

DATE_ORDERS = MONTH_FIRST, DAY_FIRST = ("month-first", "day-first")

STORAGE_CONNECTION = "ExportsStorage"
"""Connection name used by every trigger; configured with ``ExportsStorage__*`` settings."""

PUBLIC_INGESTION_SCOPE = "https://microsoft.onmicrosoft.com/86dfdabb-5089-4a0c-880a-cfa5a790c5b1/.default"

# name -> (default, description). A default of None means the setting is required.
SETTINGS: dict[str, tuple[str | None, str]] = {
    "EXPORTS_CONTAINER": ("exports", "Container the EHR exports are dropped into, as <connector>/<file>."),
    "REPORTS_CONTAINER": ("reports", "Container the status reports are written to."),
    "CHUNK_QUEUE": ("ehr-chunks", "Queue of chunk messages; failed ones go to <name>-poison."),
    "LEDGER_TABLE": ("ingestledger", "Table holding one row per run and per chunk."),
    "CONNECTORS": (
        None,
        "JSON list of connectors: name, kind (healthcare|epic|hr), job_id and options (README).",
    ),
    "ENTRA_TENANT_ID": (None, "Tenant (directory) id of the Entra app the connector was created with."),
    "ENTRA_CLIENT_ID": (None, "Application (client) id of that Entra app."),
    "ENTRA_AUTHORITY_HOST": ("", "Entra authority host for the app's tokens; empty: the CLOUD's."),
    "ENTRA_SECRET_NAME": (
        "ingestion-client-secret",
        "Name of the Key Vault secret holding the app's client secret.",
    ),
    "KEY_VAULT_URL": (
        None,
        "URL of the Key Vault holding the client secret, e.g. https://myvault.vault.azure.net/.",
    ),
    "KEY_VAULT_VERIFY_CHALLENGE_RESOURCE": (
        "true",
        "Keep true in Azure; false only for a vault on a loopback address.",
    ),
    "INGESTION_URL": ("", "Purview ingestion API endpoint; empty: the CLOUD's."),
    "INGESTION_SCOPE": (PUBLIC_INGESTION_SCOPE, "Token scope of the ingestion API."),
    "UPLOAD_CONNECT_TIMEOUT_SECONDS": ("10", "Connect timeout of one upload request."),
    "UPLOAD_READ_TIMEOUT_SECONDS": (
        "400",
        "Read timeout of one upload request (the sample script waits 400 s).",
    ),
    "REPORT_SCHEDULE": ("0 0 6 * * *", "NCRONTAB schedule of the daily report, in UTC."),
    # validation, quarantine and duplicate content
    "QUARANTINE_CONTAINER": (
        "quarantine",
        "Container rejected exports are moved to, each with a <file>.report.json saying why.",
    ),
    "SKIP_DUPLICATE_CONTENT": (
        "true",
        "Skip an export whose SHA-256 matches one already planned, under any name.",
    ),
    # the upload stage (clouds, identity, retries, concurrency, retention)
    "CLOUD": (
        "public",
        "Microsoft cloud of the connector: public, gcc, gcchigh or dod (authority and ingestion hosts).",
    ),
    "MANAGED_IDENTITY_CLIENT_ID": (
        "",
        "Client id of a user-assigned managed identity for Key Vault; empty: system-assigned.",
    ),
    "UPLOAD_ATTEMPTS_PER_INVOCATION": (
        "4",
        "Failed POSTs (5xx, timeouts, resets) one invocation makes before handing back.",
    ),
    "UPLOAD_BACKOFF_SECONDS": ("2", "First retry delay; doubles per failure, with jitter."),
    "UPLOAD_BACKOFF_MAX_SECONDS": ("60", "Longest single retry delay."),
    "UPLOAD_RETRY_BUDGET_SECONDS": (
        "240",
        "Longest one invocation waits between retries before handing back.",
    ),
    "JOB_MAX_CONCURRENT_UPLOADS": (
        "8",
        "Uploads in flight at once per connector job, across all workers; 0: no cap.",
    ),
    "UPLOAD_SLOT_WAIT_SECONDS": (
        "30",
        "How long a worker waits for a free upload slot before deferring the chunk.",
    ),
    "EXPORT_RETENTION": (
        "keep",
        "What happens to an export once all its chunks are uploaded: keep, archive or delete.",
    ),
    "ENTRA_CERTIFICATE_NAME": (
        "",
        "Key Vault certificate the Entra app authenticates with instead of the secret; empty: the secret.",
    ),
    # the status report and Application Insights
    "REPORT_STALE_HOURS": (
        "26",
        "A connector with no export received for this many hours is flagged stale (WARNING).",
    ),
    "LEDGER_RETENTION_DAYS": (
        "400",
        "Runs received longer ago than this, with their chunk rows, are deleted from the ledger.",
    ),
    "COVERAGE_DAYS": (
        "7",
        "The report counts the employees seen in this many days of audit rows who have an HR profile.",
    ),
    "COVERAGE_CONTAINER": (
        "coverage",
        "Container of the keyed hashes coverage compares (one blob a run, deleted after 31 days).",
    ),
    "COVERAGE_KEY_SECRET_NAME": (
        "coverage-hash-key",
        "Key Vault secret holding the HMAC key of the coverage hashes (created by infra/).",
    ),
    "HR_REFRESH_WARN_DAYS": (
        "15",
        "Days without a successful upload of an hr connector before the report and alert warn "
        "(Microsoft: refresh profiles every 15 to 20 days).",
    ),
    "HR_REFRESH_FAIL_DAYS": (
        "25",
        "Days without a successful upload of an hr connector before they fail: Purview deletes "
        "employee profiles not refreshed within 30 days.",
    ),
    # what telemetry costs
    "AZURE_SDK_LOG_LEVEL": (
        "WARNING",
        "Level of the Azure SDK's loggers (`azure`); INFO logs every HTTP request as a trace.",
    ),
    "APPLICATIONINSIGHTS_CONNECTION_STRING": (
        "",
        "Application Insights connection string; telemetry is off (silent) when empty.",
    ),
}

DEFAULT_CHUNK_ROWS = 100_000
"""The connector documentation speaks of 100K-row blocks."""


DEFAULT_REQUIRED = ("event_name", "employee_upn")
"""Fields an audit row is useless without. The timestamp is always required (and must parse).
A connector left at this default takes its kind's own (``Schema.row_required``)."""
INVALID_ROW_POLICIES = ("skip", "reject")
COLUMN_POLICIES = ("schema", "all")
DEFAULT_MAX_INVALID_SHARE = 0.01


@dataclass(frozen=True)
class Connector:
    name: str
    kind: str
    job_id: str
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    mapping: dict[str, str] = field(default_factory=dict)
    """The hospital's column name -> schema field (canonical key or the documented header),
    as entered in the portal's mapping step. Columns not named here match by header name."""
    invalid_rows: str = "skip"
    """``skip`` leaves invalid rows out of the upload; ``reject`` refuses the whole file."""
    max_invalid_share: float = DEFAULT_MAX_INVALID_SHARE
    """Above this share of invalid rows the file is rejected whatever the policy."""
    required: tuple[str, ...] = DEFAULT_REQUIRED
    """Fields that must be non-empty in every row (canonical keys); left at the default, the
    kind's own (an HR profile row needs its EmailAddress only)."""
    columns: str = "schema"
    """``schema`` uploads only the connector schema's columns the file has (minimum necessary:
    a column the connector does not read never leaves); ``all`` uploads the file's columns
    unchanged, for a hospital that decides so."""
    login_domain: str = ""
    """Domain that makes a bare EHR login (no ``@``: a SamAccountName, Epic's EMP.SYSTEM_LOGIN)
    the employee's UPN, ``login@login_domain``, to match HR profiles (coverage only)."""
    events: EventFilter | None = None
    """Event Names to send (``include``) or leave out (``exclude``); None sends every event.
    Given in CONNECTORS as ``{"include": [...]}`` or ``{"exclude": [...]}``. For ``hr`` it
    reads the HRScenario column and defaults to the employee-profile rows (``profile_only``)."""
    date_order: str = MONTH_FIRST
    """How the export writes slash dates: ``month-first`` (MM/DD/YYYY) or ``day-first``
    (DD/MM/YYYY, then sent as ISO 8601). A file whose slash dates read only the other way is
    refused whole rather than misread."""

    @property
    def day_first(self) -> bool:
        return self.date_order == DAY_FIRST

    def __post_init__(self) -> None:
        schema = schema_for(self.kind)
        if not self.name or "/" in self.name:
            raise ValueError(f"connector name {self.name!r} must be a single folder name")
        if self.chunk_rows < 1:
            raise ValueError(f"connector {self.name}: chunk_rows must be at least 1")
        if self.invalid_rows not in INVALID_ROW_POLICIES:
            raise ValueError(f"connector {self.name}: invalid_rows must be one of {INVALID_ROW_POLICIES}")
        if not 0 <= self.max_invalid_share <= 1:
            raise ValueError(f"connector {self.name}: max_invalid_share must be between 0 and 1")
        keys = {f.key for f in schema.fields}
        required = tuple(self.required)
        object.__setattr__(
            self, "required", schema.row_required if required == DEFAULT_REQUIRED else required
        )
        unknown = [k for k in self.required if k not in keys]
        if unknown:
            raise ValueError(f"connector {self.name}: unknown required field(s) {unknown}")
        if not isinstance(self.mapping, dict):
            raise ValueError(f"connector {self.name}: mapping must be an object of column -> field")
        object.__setattr__(self, "mapping", resolve_mapping(schema, self.mapping, self.name))
        if self.columns not in COLUMN_POLICIES:
            raise ValueError(
                f"connector {self.name}: columns must be one of {COLUMN_POLICIES}, not {self.columns!r}"
            )
        if not isinstance(self.login_domain, str) or "@" in self.login_domain or " " in self.login_domain:
            raise ValueError(f"connector {self.name}: login_domain must be a domain such as contoso.org")
        events = parse_events(self.events, f"connector {self.name}")
        if events is None and self.kind == "hr":
            events = profile_only()
        object.__setattr__(self, "events", events)
        if self.date_order not in DATE_ORDERS:
            raise ValueError(
                f"connector {self.name}: date_order must be one of {', '.join(DATE_ORDERS)}, "
                f"not {self.date_order!r}"
            )


def profile_only() -> EventFilter:
    """An HR connector sends only employee-profile rows: other HRScenario rows (resignations,
    job changes) are counted as filtered. A file without the column is all profiles."""
    return EventFilter("include", frozenset(event_key(n) for n in PROFILE_SCENARIOS))


def resolve_mapping(schema: Schema, mapping: dict[str, str], where: str) -> dict[str, str]:
    """Column name -> canonical key; the target may be written as the key or the header name."""
    by_name = {normalise(n): f.key for f in schema.fields for n in f.names} | {
        f.key: f.key for f in schema.fields
    }
    resolved: dict[str, str] = {}
    for column, target in mapping.items():
        key = by_name.get(target) or by_name.get(normalise(str(target)))
        if key is None:
            raise ValueError(
                f"{where}: mapping of column {column!r}: {target!r} is not a {schema.kind} field"
            )
        resolved[column] = key
    return resolved


def parse_connectors(text: str, problems: dict[str, str] | None = None) -> dict[str, Connector]:
    """The connectors of the CONNECTORS setting.

    Without ``problems`` any bad entry raises ``ValueError`` (the doctor, the command line).
    With it, a bad entry is left out and its reason kept under its name, so the other
    connectors go on working and that connector's files are refused with the reason."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"CONNECTORS is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("CONNECTORS must be a JSON list of connector objects")
    connectors: dict[str, Connector] = {}
    for item in items:
        try:
            c = connector_from(item)
        except ValueError as exc:
            if problems is None:
                raise
            problems[str(item.get("name"))] = str(exc)
            continue
        connectors[c.name] = c
    return connectors


def connector_from(item: dict[str, Any]) -> Connector:
    try:
        return Connector(**item)
    except TypeError as exc:
        raise ValueError(f"CONNECTORS entry {item.get('name')!r}: {exc}") from None


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, str] = field(repr=False)

    def __getitem__(self, name: str) -> str:
        default = SETTINGS[name][0]
        value = self.values.get(name) or default
        if value is None:
            raise RuntimeError(f"app setting {name} is required but not set")
        return value

    def int(self, name: str) -> int:
        return int(self[name])

    def flag(self, name: str) -> bool:
        return self[name].strip().lower() in ("1", "true", "yes")

    @property
    def connectors(self) -> dict[str, Connector]:
        return parse_connectors(self["CONNECTORS"])

    def working_connectors(self) -> tuple[dict[str, Connector], dict[str, str]]:
        """The connectors that parse, and why each other one does not (by name)."""
        problems: dict[str, str] = {}
        return parse_connectors(self["CONNECTORS"], problems), problems


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings(dict(os.environ if environ is None else environ))
