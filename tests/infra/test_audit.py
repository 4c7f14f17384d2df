"""The data-plane audit trail (HIPAA 164.312(b)): the exports account's blob service, the vault
and the app send their logs to the Log Analytics workspace, and a query answers "who read or
deleted which export"."""

from __future__ import annotations

import re

import pytest

from tests.infra.bicep import accessor, module_params, resources
from tests.infra.conftest import INFRA

DIAGNOSTICS = "Microsoft.Insights/diagnosticSettings"
# The properties Microsoft's template reference gives diagnosticSettings@2021-05-01-preview
# (learn.microsoft.com/azure/templates/microsoft.insights/diagnosticsettings): the published
# types extract lacks this version (tests/infra/test_published_types.py NOT_IN_EXTRACT).
SETTING_PROPERTIES = {
    "eventHubAuthorizationRuleId",
    "eventHubName",
    "logAnalyticsDestinationType",
    "logs",
    "marketplacePartnerId",
    "metrics",
    "serviceBusRuleId",
    "storageAccountId",
    "workspaceId",
}
LOG_PROPERTIES = {"category", "categoryGroup", "enabled", "retentionPolicy"}


def setting(template: dict) -> dict:
    [found] = resources(template, DIAGNOSTICS).values()
    assert set(found["properties"]) <= SETTING_PROPERTIES
    return found


def categories(template: dict, found: dict) -> set[str]:
    logs = found["properties"]["logs"]
    if isinstance(logs, dict) and "loop_type" in logs:
        names = template["variables"][logs["loop_type"]["detail"]["array_name"]]["value"]
        assert set(logs["config"]) <= LOG_PROPERTIES and logs["config"]["enabled"] is True
        return set(names)
    for log in logs:
        assert set(log) <= LOG_PROPERTIES and log["enabled"] is True
    return {log["category"] for log in logs}


@pytest.mark.parametrize(
    ("module", "symbol", "scope", "wanted"),
    [
        (
            "modules/exports-storage.bicep",
            "exportsStorage",
            "blobService",
            {"StorageRead", "StorageWrite", "StorageDelete"},
        ),
        ("modules/key-vault.bicep", "keyVault", "vault", {"AuditEvent"}),
        ("modules/function-app.bicep", "functionApp", "app", {"FunctionAppLogs"}),
    ],
)
def test_audit_logs_go_to_the_workspace(main, templates, module, symbol, scope, wanted):
    """Storage logs data-plane access only through a setting on the blob service
    (``blobServices/default``), Key Vault its AuditEvent only through one on the vault."""
    found = setting(templates[module])
    assert found["scope"] == scope
    assert found["properties"]["workspaceId"] == "workspaceId"
    assert categories(templates[module], found) == wanted
    assert accessor(module_params(main["modules"][symbol])["workspaceId"]) == [
        "monitoring",
        "outputs",
        "workspaceId",
    ]


def test_the_blob_audit_is_on_the_exports_blob_service(templates):
    exports = templates["modules/exports-storage.bicep"]
    service = resources(exports, "Microsoft.Storage/storageAccounts/blobServices")["blobService"]
    assert service["name"] == "default" and service["parent"] == "account"


QUERY = INFRA / "queries" / "audit" / "export-access.kql"
# StorageBlobLogs columns (Azure Monitor's table reference, "StorageBlobLogs").
BLOB_LOG_COLUMNS = {
    "TimeGenerated",
    "AccountName",
    "OperationName",
    "Category",
    "StatusCode",
    "StatusText",
    "AuthenticationType",
    "RequesterObjectId",
    "RequesterAppId",
    "RequesterTenantId",
    "RequesterUpn",
    "CallerIpAddress",
    "ObjectKey",
    "Uri",
    "UserAgentHeader",
}


def test_the_query_answers_who_read_or_deleted_which_export(main):
    text = QUERY.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    assert re.match(r"\s*(let [^;]+;\s*)*StorageBlobLogs\s*\|", code), "reads StorageBlobLogs"
    listed = re.search(r"OperationName in \(([^)]*)\)", code)
    assert listed, "filters on OperationName"
    operations = set(re.findall(r'"(\w+)"', listed.group(1)))
    assert {"GetBlob", "DeleteBlob"} <= operations
    audited = re.search(r"dynamic\(\[([^\]]*)\]\)", code)
    assert audited, "names the audited containers"
    containers = set(re.findall(r'"([\w-]+)"', audited.group(1)))
    names = main["variables"]["names"]["value"]
    assert containers == {names["exportsContainer"], names["quarantineContainer"]}
    unquoted = re.sub(r'"[^"]*"', "", code)
    used = {c for c in re.findall(r"\b([A-Z][A-Za-z]+)\b", unquoted) if c != "StorageBlobLogs"}
    assert used <= BLOB_LOG_COLUMNS, used - BLOB_LOG_COLUMNS
    for column in ("RequesterObjectId", "RequesterUpn", "CallerIpAddress", "ObjectKey"):
        assert column in code, column
