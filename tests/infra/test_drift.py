"""Settings drift: every setting the code reads is set by Bicep (main.bicep ``appSettings``),
listed in local.settings.sample.json and in README's settings table, and nothing else is.

The list of settings is read at test time from ``shared.common.settings.SETTINGS`` and the storage
connection names, so a setting added there shows up here without editing this test.
"""

from __future__ import annotations

import json
import re

from shared.common.settings import SETTINGS, STORAGE_CONNECTION
from tests.infra.bicep import resolve, unquote
from tests.infra.conftest import INFRA, ROOT

# Identity-based storage connections, resolved by the Functions host and shared/common/storage.py.
CONNECTIONS = {
    f"{STORAGE_CONNECTION}__{key}"
    for key in ("blobServiceUri", "queueServiceUri", "tableServiceUri", "credential", "clientId")
} | {f"AzureWebJobsStorage__{key}" for key in ("accountName", "credential", "clientId")}

# Read by the platform or an SDK, not by shared/: documented in README, set where they apply.
PLATFORM_IN_AZURE = {
    "AZURE_CLIENT_ID",  # DefaultAzureCredential: which user-assigned identity (Key Vault)
    "APPLICATIONINSIGHTS_CONNECTION_STRING",  # the Functions host's telemetry
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",  # Entra auth for it (local auth off)
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",  # the Python worker's OpenTelemetry export
    "PYTHON_THREADPOOL_THREAD_COUNT",  # the Python worker's thread pool (sync functions)
}
# Local only: Flex Consumption rejects it as an app setting (functionAppConfig.runtime instead),
# so it is in local.settings.sample.json for `func start` and not in README's settings table
# (which lists what a deployment may set); the README says so in prose.
LOCAL_ONLY = {"FUNCTIONS_WORKER_RUNTIME"}
# Azure only: the managed identity the connections use. `func start` on a laptop has no managed
# identity; without these the Functions host (and shared/common/storage.py) use the developer's own
# sign-in (DefaultAzureCredential: Azure CLI, ...), so the sample leaves them out.
IDENTITY_ONLY_IN_AZURE = {
    f"{conn}__{key}"
    for conn in (STORAGE_CONNECTION, "AzureWebJobsStorage")
    for key in ("credential", "clientId")
}
# host.json values overridden by app settings (AzureFunctionsJobHost__path__to__key): read by
# the Functions host (and the local host), optional everywhere.
HOST_JSON_OVERRIDE = "AzureFunctionsJobHost__"

REQUIRED = set(SETTINGS) | CONNECTIONS


def unread(names: set[str], *allowed: set[str]) -> set[str]:
    """Names that nothing reads: not required, not in an allowed set, not a host.json override."""
    return {
        n
        for n in names - REQUIRED
        if not any(n in a for a in allowed) and not n.startswith(HOST_JSON_OVERRIDE)
    }


def bicep_settings(main) -> dict:
    """The literal object of main.bicep's ``var appSettings = union({...}, settingOverrides)``."""
    value = main["variables"]["appSettings"]["value"]
    assert value["function"]["type"] == "union", "appSettings is union({...}, settingOverrides)"
    args = value["function"]["parameters"]
    assert args["arg_2"] == "settingOverrides"
    return {unquote(k): v for k, v in args["arg_1"].items()}


def sample_settings() -> set[str]:
    return set(json.loads((ROOT / "local.settings.sample.json").read_text())["Values"])


def readme_settings() -> set[str]:
    """Names in the first column of README's "## Settings" table; `__x` after a full name
    `Prefix__y` in the same cell means `Prefix__x`."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cell = line.split("|")[1]
        prefix = None
        for name in re.findall(r"`([^`]+)`", cell):
            if name.startswith("__") and prefix:
                names.add(prefix + name)
            elif name != "setting":
                names.add(name)
                prefix = name.split("__")[0] if "__" in name else None
    return names


def test_readme_table_parsed():
    names = readme_settings()
    assert {"EXPORTS_CONTAINER", f"{STORAGE_CONNECTION}__queueServiceUri"} <= names


def test_unread_names():
    assert unread({"EXPORTS_CONTAINER", "AzureFunctionsJobHost__extensions__queues__batchSize", "NOPE"}) == {
        "NOPE"
    }


def test_every_setting_the_code_reads_is_deployed(main):
    missing = REQUIRED - set(bicep_settings(main))
    assert not missing, f"add to infra/main.bicep appSettings: {sorted(missing)}"


def test_bicep_sets_nothing_else(main):
    extra = unread(set(bicep_settings(main)), PLATFORM_IN_AZURE)
    assert not extra, f"set by Bicep but read by nothing: {sorted(extra)}"
    assert not LOCAL_ONLY & set(bicep_settings(main))


def test_platform_settings_are_deployed(main):
    assert set(bicep_settings(main)) >= PLATFORM_IN_AZURE


def test_sample_lists_exactly_the_settings():
    sample = sample_settings()
    missing = REQUIRED - IDENTITY_ONLY_IN_AZURE - sample
    assert not missing, f"add to local.settings.sample.json: {sorted(missing)}"
    extra = unread(sample, PLATFORM_IN_AZURE, LOCAL_ONLY)
    assert not extra, f"in local.settings.sample.json but read by nothing: {sorted(extra)}"


def test_sample_works_with_your_own_sign_in():
    """Issue 15 finding 3: with ``__credential=managedidentity`` the Functions host and the
    blob extension ask for a managed identity, which a laptop does not have; the sample must
    leave the identity choice to the developer's sign-in, and say nothing about one."""
    values = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert not IDENTITY_ONLY_IN_AZURE & set(values)
    assert not [k for k, v in values.items() if str(v).strip().lower() == "managedidentity"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"


def test_readme_documents_exactly_the_settings():
    readme = readme_settings()
    documented = REQUIRED | PLATFORM_IN_AZURE
    assert not documented - readme, f"add to README's settings table: {sorted(documented - readme)}"
    extra = unread(readme, PLATFORM_IN_AZURE)
    assert not extra, f"in README's table but read by nothing: {sorted(extra)}"


def test_readme_table_omits_what_flex_consumption_refuses():
    """Issue 15 finding 13: FUNCTIONS_WORKER_RUNTIME must not be an app setting on Flex
    Consumption, so the settings table (what a deployment may set) does not offer it."""
    assert not LOCAL_ONLY & readme_settings()
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    assert "FUNCTIONS_WORKER_RUNTIME" in section.split("\n|", 1)[0], "say in prose where it belongs"


def test_bicep_literals_match_code_defaults(main):
    """Where Bicep writes a fixed value for a setting that has a default in code (container,
    queue and table names, timeouts, hosts), it is that default: one source of truth."""
    for name, value in bicep_settings(main).items():
        default = SETTINGS.get(name, (None,))[0]
        literal = resolve(main, value)
        if default is not None and isinstance(literal, str):
            assert literal == default, f"{name}: Bicep {literal!r} != default {default!r}"


def test_identity_based_connections_only(main):
    settings = bicep_settings(main)
    assert "AzureWebJobsStorage" not in settings and STORAGE_CONNECTION not in settings
    assert resolve(main, settings["AzureWebJobsStorage__credential"]) == "managedidentity"
    assert resolve(main, settings[f"{STORAGE_CONNECTION}__credential"]) == "managedidentity"
    text = (INFRA / "main.bicep").read_text()
    assert "AccountKey" not in text and "InstrumentationKey=" not in text
