"""The security properties a hospital's review asks for, read from the parsed templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep import accessor, evaluate, module_params, only, resolve, resources, walk

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
PEOPLE_ROLES = {
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",  # Key Vault Secrets Officer (the secret administrator)
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",  # Storage Blob Data Reader (the report reader)
}
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
    assert containers == {"exportsContainer", "quarantineContainer", "reportsContainer", "coverageContainer"}
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
    for param in (
        "exportsContainer",
        "quarantineContainer",
        "reportsContainer",
        "coverageContainer",
        "chunkQueue",
        "ledgerTable",
    ):
        assert resolve(main, passed[param]) == names[param]


def test_lifecycle_deletes_only_old_exports_quarantine_and_reports(main, exports, host):
    rules = only(exports, "Microsoft.Storage/storageAccounts/managementPolicies")["properties"]["policy"][
        "rules"
    ]
    by_prefix = {}
    for rule in rules:
        [prefix] = rule["definition"]["filters"]["prefixMatch"]
        by_prefix[prefix] = rule["definition"]["actions"]["baseBlob"]["delete"]
    assert set(by_prefix) == {
        "${exportsContainer}/", "${quarantineContainer}/", "${reportsContainer}/", "${coverageContainer}/",
    }  # fmt: skip
    # The coverage hashes' retention bound (shared/common/hashsets.py RETENTION).
    assert by_prefix["${coverageContainer}/"] == {"daysAfterModificationGreaterThan": 31}
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
    for name, assignment in resources(roles, "Microsoft.Authorization/roleAssignments").items():
        definition = assignment["properties"]["roleDefinitionId"]
        if name == "uploader":  # the custom role defined beside it
            assert accessor(definition) == ["uploaderRole", "id"]
            continue
        assert definition["function"]["type"] == "subscription_resource_id"
    every_id = set(ids.values())
    assert every_id <= APP_ROLES | PEOPLE_ROLES
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


BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def people(roles: dict) -> dict[str, dict]:
    """Assignment symbol -> assignment, for every assignment to a principal other than the app."""
    found = resources(roles, "Microsoft.Authorization/roleAssignments")
    return {k: v for k, v in found.items() if v["properties"]["principalId"] != "principalId"}


def test_three_separate_principals_each_with_one_role_on_one_place(main, templates):
    """Whoever drops files cannot read or delete them, nor read the reports or the secret;
    each principal is its own parameter, and each assignment is optional."""
    roles = templates["modules/roles.bicep"]
    ids = roles["variables"]["role"]["value"]
    found = people(roles)
    assert {k: (v["properties"]["principalId"], v["scope"]) for k, v in found.items()} == {
        "uploader": ("uploaderPrincipalId", "exportsContainer"),
        "reportReader": ("reportReaderPrincipalId", "reportsContainer"),
        "secretAdmin": ("secretAdminPrincipalId", "vault"),
    }
    for who, role in (("reportReader", "storageBlobDataReader"), ("secretAdmin", "keyVaultSecretsOfficer")):
        definition = found[who]["properties"]["roleDefinitionId"]["function"]["parameters"]
        assert resolve(roles, definition["resource_name_1"]) == ids[role], who
    containers = resources(roles, CONTAINER)
    assert containers["exportsContainer"]["name"] == "exportsContainerName"
    assert containers["reportsContainer"]["name"] == "reportsContainerName"
    passed = module_params(main["modules"]["roles"])
    names = main["variables"]["names"]["value"]
    assert resolve(main, passed["exportsContainerName"]) == names["exportsContainer"]
    assert resolve(main, passed["reportsContainerName"]) == names["reportsContainer"]
    for who in ("uploader", "reportReader", "secretAdmin"):
        assert main["parameters"][f"{who}PrincipalId"]["default"] == ""
        assert passed[f"{who}PrincipalId"] == f"{who}PrincipalId"
    for name, res in roles["resources"].items():
        if name in found or name == "uploaderRole":
            assert res["config"]["condition"]["operator"]["type"] == "not", name
    assert not {p for p in main["parameters"] if p.startswith("operator") and "Principal" in p}


def test_the_uploader_may_only_write_blobs(templates):
    """A custom role with the one data action blobs/write (Put Blob, Put Block, Put Block List):
    no read, list, delete or move, and no control-plane action (Storage Blob Data Contributor's
    containers/delete would let it delete the whole container through Resource Manager)."""
    roles = templates["modules/roles.bicep"]
    role = resources(roles, "Microsoft.Authorization/roleDefinitions")["uploaderRole"]["properties"]
    assert role["type"] == "CustomRole"
    [permission] = role["permissions"]
    assert permission["actions"] == [] and permission["notDataActions"] == []
    assert [resolve(roles, a) for a in permission["dataActions"]] == [f"{BLOB}/write"]


def test_the_scm_site_is_restricted_like_the_main_site(templates):
    """Kudu takes code deployments: with privateNetworking it is closed like the main site."""
    fa = templates["modules/function-app.bicep"]
    config = only(fa, "Microsoft.Web/sites")["properties"]["siteConfig"]
    for private in (True, False):
        site = evaluate(
            fa, config, {"privateNetworking": private, "operatorAllowedIpRanges": [], "appSubnetId": ""}
        )
        assert site["scmIpSecurityRestrictionsUseMain"] is True
        assert site["scmIpSecurityRestrictionsDefaultAction"] == site["ipSecurityRestrictionsDefaultAction"]
    assert (
        evaluate(fa, config, {"privateNetworking": True, "operatorAllowedIpRanges": []})[
            "scmIpSecurityRestrictionsDefaultAction"
        ]
        == "Deny"
    )


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
        "hr-profiles-ageing",
        "hr-profiles-expiring",
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
