"""The security properties a hospital's review asks for, read from the parsed templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep import module_params, only, resolve, resources, walk

STORAGE = "Microsoft.Storage/storageAccounts"
CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"

# Built-in role definition ids (facts.md) the app's identity may hold, and nothing broader.
APP_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner (host storage only)
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor (exports)
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",  # Storage Table Data Contributor
    "3913510d-42f4-4e42-8a64-420c390055eb",  # Monitoring Metrics Publisher
    "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User
}
OPERATOR_ROLES = {"b86a8fe4-44ce-4948-aee5-eccb2c155cd7"}  # Key Vault Secrets Officer
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
    "17d1049b-9a84-46fb-8f53-869881c3d3ab",  # Storage Account Contributor (can list keys)
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",  # Key Vault Administrator
}


@pytest.fixture(scope="module")
def exports(templates):
    return templates["modules/exports-storage.bicep"]


@pytest.fixture(scope="module")
def host(templates):
    return templates["modules/host-storage.bicep"]


@pytest.mark.parametrize("module", ["modules/exports-storage.bicep", "modules/host-storage.bicep"])
def test_storage_accounts_locked_down(templates, module):
    props = only(templates[module], STORAGE)["properties"]
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["allowBlobPublicAccess"] is False
    assert props["allowSharedKeyAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["networkAcls"]["bypass"] == "AzureServices"
    for container in resources(templates[module], CONTAINER).values():
        assert container["properties"]["publicAccess"] == "None"


def test_exports_blobs_versioned_and_soft_deleted(exports):
    blob = only(exports, "Microsoft.Storage/storageAccounts/blobServices")["properties"]
    assert blob["isVersioningEnabled"] is True
    assert blob["deleteRetentionPolicy"]["enabled"] is True
    assert blob["containerDeleteRetentionPolicy"]["enabled"] is True


def test_exports_account_holds_containers_queues_and_ledger(main, exports):
    names = main["variables"]["names"]["value"]
    passed = module_params(main["modules"]["exportsStorage"])
    containers = {c["name"] for c in resources(exports, CONTAINER).values()}
    assert containers == {"exportsContainer", "quarantineContainer", "reportsContainer"}
    queues = {
        q["name"]
        for q in resources(exports, "Microsoft.Storage/storageAccounts/queueServices/queues").values()
    }
    assert queues == {"chunkQueue", "${chunkQueue}-poison"}
    tables = {
        t["name"]
        for t in resources(exports, "Microsoft.Storage/storageAccounts/tableServices/tables").values()
    }
    assert tables == {"ledgerTable"}
    for param in ("exportsContainer", "quarantineContainer", "reportsContainer", "chunkQueue", "ledgerTable"):
        assert resolve(main, passed[param]) == names[param]


def test_lifecycle_deletes_only_old_exports_quarantine_and_reports(main, exports, host):
    rules = only(exports, "Microsoft.Storage/storageAccounts/managementPolicies")["properties"]["policy"][
        "rules"
    ]
    by_prefix = {}
    for rule in rules:
        [prefix] = rule["definition"]["filters"]["prefixMatch"]
        by_prefix[prefix] = rule["definition"]["actions"]["baseBlob"]["delete"]
    assert set(by_prefix) == {"${exportsContainer}/", "${quarantineContainer}/", "${reportsContainer}/"}
    assert by_prefix["${exportsContainer}/"] == {"daysAfterModificationGreaterThan": "exportRetentionDays"}
    assert by_prefix["${quarantineContainer}/"] == {
        "daysAfterModificationGreaterThan": "quarantineRetentionDays"
    }
    # The host's containers (azure-webjobs-*, scm*) and the deployment package live in the
    # host account, which has no lifecycle policy at all.
    assert not resources(host, "Microsoft.Storage/storageAccounts/managementPolicies")
    for prefix in by_prefix:
        assert not prefix.startswith(("azure-webjobs", "scm", "app-package"))
    assert main["parameters"]["exportRetentionDays"]["default"] >= 1


def test_readme_states_each_retention_default_as_deployed(main):
    """PHI at rest is bounded: the README's defaults are the template's."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in ("exportRetentionDays", "quarantineRetentionDays", "softDeleteDays"):
        assert f"`{name}` (default **{main['parameters'][name]['default']}**)" in readme, name


def test_key_vault_rbac_soft_delete_purge_protection(templates):
    props = only(templates["modules/key-vault.bicep"], "Microsoft.KeyVault/vaults")["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enableSoftDelete"] is True
    assert props["enablePurgeProtection"] is True
    assert "accessPolicies" not in props


def test_flex_consumption_app(main, templates):
    fa = templates["modules/function-app.bicep"]
    plan = only(fa, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    app = only(fa, "Microsoft.Web/sites")
    assert app["kind"] == "functionapp,linux"
    assert app["identity"]["type"] == "UserAssigned"
    props = app["properties"]
    assert props["httpsOnly"] is True
    assert props["siteConfig"]["ftpsState"] == "Disabled"
    assert props["siteConfig"]["minTlsVersion"] == "1.2"
    config = props["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.13"}
    assert config["scaleAndConcurrency"] == {
        "maximumInstanceCount": "maximumInstanceCount",
        "instanceMemoryMB": "instanceMemoryMB",
    }
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    memory = main["parameters"]["instanceMemoryMB"]
    assert [d["argument"] for d in memory["decorators"] if d["type"] == "allowed"] == [[512, 2048, 4096]]
    assert "maximumInstanceCount" in main["parameters"]
    policies = resources(fa, "Microsoft.Web/sites/basicPublishingCredentialsPolicies").values()
    assert {p["name"]: p["properties"]["allow"] for p in policies} == {"ftp": False, "scm": False}
    settings = only(fa, "Microsoft.Web/sites/config")
    assert settings["name"] == "appsettings" and settings["properties"] == "appSettings"


def test_least_privilege_roles(templates):
    roles = templates["modules/roles.bicep"]
    ids = roles["variables"]["role"]["value"]
    for assignment in resources(roles, "Microsoft.Authorization/roleAssignments").values():
        assert assignment["properties"]["roleDefinitionId"]["function"]["type"] == "subscription_resource_id"
    every_id = set(ids.values())
    assert every_id <= APP_ROLES | OPERATOR_ROLES
    for name, template in templates.items():
        for value in walk(template):
            assert not (isinstance(value, str) and value in BROAD_ROLES), f"{name} grants a broad role"
    # Blob Data Owner only on the host account; the exports account gets Contributor.
    exports_roles = roles["variables"]["exportsRoles"]["value"]
    assert {resolve(roles, r) for r in exports_roles} == {
        ids["storageBlobDataContributor"],
        ids["storageQueueDataContributor"],
        ids["storageTableDataContributor"],
    }


def test_telemetry_workspace_based_entra_only(templates):
    mon = templates["modules/monitoring.bicep"]
    ai = only(mon, "Microsoft.Insights/components")["properties"]
    assert ai["WorkspaceResourceId"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": "workspace", "operand_2": "id"}}
    }
    assert ai["DisableLocalAuth"] is True


def test_alerts_cover_poison_failures_staleness_errors(templates):
    alerts = templates["modules/alerts.bicep"]
    rules = alerts["variables"]["rules"]["value"]
    assert {r["name"] for r in rules} == {
        "poison-messages",
        "failed-runs",
        "stale-exports",
        "function-errors",
    }
    group = only(alerts, "Microsoft.Insights/actionGroups")
    assert group["properties"]["emailReceivers"][0]["emailAddress"] == "alertEmail"
    rule = only(alerts, "Microsoft.Insights/scheduledQueryRules")
    assert rule["properties"]["actions"]["actionGroups"]


def test_event_grid_system_topic_on_exports_account(main, templates):
    topic = only(templates["modules/event-grid.bicep"], "Microsoft.EventGrid/systemTopics")
    assert topic["properties"]["topicType"] == "Microsoft.Storage.StorageAccounts"
    source = module_params(main["modules"]["eventGrid"])["storageAccountId"]
    assert resolve(main, source) is None and "exportsStorage" in str(source)


def test_private_networking_switch(main, templates):
    assert main["parameters"]["privateNetworking"]["default"] is False
    assert main["modules"]["network"]["config"]["condition"] == "privateNetworking"
    net = templates["modules/network.bicep"]
    groups = {e["groupId"] for e in net["variables"]["endpoints"]["value"]}
    assert groups == {"blob", "queue", "table", "vault"}
    subnets = only(net, "Microsoft.Network/virtualNetworks")["properties"]["subnets"]
    delegations = [
        d["properties"]["serviceName"] for s in subnets for d in s["properties"].get("delegations", [])
    ]
    assert delegations == ["Microsoft.App/environments"]
    for module in ("modules/host-storage.bicep", "modules/key-vault.bicep"):
        kind = STORAGE if "storage" in module else "Microsoft.KeyVault/vaults"
        access = only(templates[module], kind)["properties"]["publicNetworkAccess"]["operator"]["operands"]
        assert access == {
            "condition": "privateNetworking",
            "true_value": "Disabled",
            "false_value": "Enabled",
        }
    app = only(templates["modules/function-app.bicep"], "Microsoft.Web/sites")["properties"]
    assert app["virtualNetworkSubnetId"]["operator"]["operands"]["condition"] == "privateNetworking"
