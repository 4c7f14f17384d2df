"""What a review of infra/ against Microsoft's sources found a first deployment would trip on
(issue 15), each checked where a check can fail: the parsed templates, azure.yaml against azd's
published schema, the README's deployment section."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from tests.infra.bicep import Refused, evaluate, module_params, only, resources
from tests.infra.conftest import INFRA, ROOT
from tests.infra.test_drift import bicep_settings

REFERENCE = Path(os.environ.get("EHR_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
AZD_SCHEMA = REFERENCE / "azd-azure.yaml.schema.json"
POLICY = "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
# Azure Storage access tiers overview: no Archive tier on these redundancies.
NO_ARCHIVE_TIER = {"Standard_ZRS", "Standard_GZRS", "Standard_RAGZRS"}


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


# ------------------------------------------------------------------ 1. location on the policies
def test_publishing_credential_policies_have_a_location(templates):
    """Resource Manager refuses them without one ("The parameter location has an invalid
    value") although the published type omits it (bicep-types-az 1317, 1529, 1571)."""
    fa = templates["modules/function-app.bicep"]
    policies = resources(fa, POLICY)
    assert {p["name"] for p in policies.values()} == {"ftp", "scm"}
    for policy in policies.values():
        assert policy["location"] == "location"


def test_the_type_warning_is_silenced_on_that_line_only():
    """The Bicep linter's own way: `#disable-next-line BCP037` right above each `location`
    of a policy, and nowhere else."""
    lines = (INFRA / "modules" / "function-app.bicep").read_text().splitlines()
    disables = [i for i, line in enumerate(lines) if line.strip().startswith("#disable-next-line")]
    assert len(disables) == 2
    for i in disables:
        assert lines[i].split()[1:] == ["BCP037"]
        assert lines[i + 1].strip() == "location: location"
        [declaration, *_] = [line for line in reversed(lines[:i]) if line.startswith("resource ")]
        assert declaration.split("'")[1].startswith(POLICY + "@")


# ------------------------------------------------------------------ 2. archive needs LRS/GRS
def allowed(main, name: str) -> list:
    return next(d["argument"] for d in main["parameters"][name]["decorators"] if d["type"] == "allowed")


def sku_for(main, **params):
    return evaluate(main, main["variables"]["checkedExportsSku"]["value"], params)


def test_archive_retention_cannot_be_deployed_without_an_archive_tier(main):
    skus, retentions = allowed(main, "exportsStorageSku"), allowed(main, "exportRetention")
    assert set(retentions) == {"keep", "archive", "delete"}
    assert set(skus) - NO_ARCHIVE_TIER, "some allowed SKU must support archive"
    for sku, retention in itertools.product(skus, retentions):
        for overrides in ({}, {"EXPORT_RETENTION": retention.upper()}):
            params = {"exportsStorageSku": sku, "settingOverrides": overrides}
            if not overrides:
                params["exportRetention"] = retention
            if retention == "archive" and sku in NO_ARCHIVE_TIER:
                with pytest.raises(Refused, match=r"Standard_GRS or Standard_RAGRS.*ZRS, GZRS or RA-GZRS"):
                    sku_for(main, **params)
            else:
                assert sku_for(main, **params) == sku


def test_the_default_deployment_passes_the_guard(main):
    assert sku_for(main) == main["parameters"]["exportsStorageSku"]["default"]


def test_the_exports_account_gets_the_checked_sku(main, templates):
    assert module_params(main["modules"]["exportsStorage"])["sku"] == "checkedExportsSku"
    account = only(templates["modules/exports-storage.bicep"], "Microsoft.Storage/storageAccounts")
    assert account["sku"] == {"name": "sku"}


def test_retention_setting_comes_from_the_parameter(main):
    assert bicep_settings(main)["EXPORT_RETENTION"] == "exportRetention"


def test_archive_limit_is_documented_where_the_setting_is():
    rows = [
        line for line in readme_section("Settings").splitlines() if line.startswith("| `EXPORT_RETENTION`")
    ]
    assert len(rows) == 1 and "GZRS" in rows[0] and "Standard_GRS" in rows[0]


# ------------------------------------------------------------------ 4. operators reach the report
def test_operators_ip_ranges_reach_the_app_under_private_networking(main, templates):
    fa = templates["modules/function-app.bicep"]
    site = only(fa, "Microsoft.Web/sites")["properties"]["siteConfig"]
    restrictions = site["ipSecurityRestrictions"]["operator"]["operands"]
    assert restrictions["condition"] == "privateNetworking"
    assert restrictions["true_value"]["function"]["type"] == "concat"
    ranges = ["198.51.100.0/24", "203.0.113.7/32"]
    rules = evaluate(fa, restrictions["true_value"], {"operatorAllowedIpRanges": ranges})
    assert [(r["ipAddress"], r["action"], r["priority"]) for r in rules] == [
        ("AzureEventGrid", "Allow", 100),
        ("198.51.100.0/24", "Allow", 200),
        ("203.0.113.7/32", "Allow", 201),
    ]
    assert len({r["name"] for r in rules}) == 3
    assert evaluate(fa, restrictions["true_value"], {"operatorAllowedIpRanges": []})[0]["tag"] == "ServiceTag"
    assert evaluate(fa, site["ipSecurityRestrictionsDefaultAction"], {"privateNetworking": True}) == "Deny"
    assert (
        module_params(main["modules"]["functionApp"])["operatorAllowedIpRanges"] == "operatorAllowedIpRanges"
    )
    assert main["parameters"]["operatorAllowedIpRanges"]["default"] == []
    text = (INFRA / "modules" / "function-app.bicep").read_text()
    assert "serves no HTTP traffic" not in text


# ------------------------------------------------------------------ 5. Microsoft.App, outbound path
def test_app_subnet_has_an_explicit_outbound_path(templates):
    net = templates["modules/network.bicep"]
    nat = only(net, "Microsoft.Network/natGateways")
    assert nat["sku"] == {"name": "Standard"}
    subnets = {
        s["name"]: s["properties"]
        for s in only(net, "Microsoft.Network/virtualNetworks")["properties"]["subnets"]
    }
    assert subnets["app"]["natGateway"]["id"]["operator"]["operands"]["operand_1"] == "nat"
    assert all(s["defaultOutboundAccess"] is False for s in subnets.values())


def test_prerequisites_register_the_app_provider():
    deploy = readme_section("Deploy to Azure")
    assert "az provider register --namespace Microsoft.App" in deploy
    assert "NAT gateway" in deploy


# ------------------------------------------------------------------ 8. host storage SKU
def test_host_storage_sku_default_exists_in_every_region(main, templates):
    param = main["parameters"]["hostStorageSku"]
    assert param["default"] == "Standard_LRS"
    assert module_params(main["modules"]["hostStorage"])["sku"] == "hostStorageSku"
    account = only(templates["modules/host-storage.bicep"], "Microsoft.Storage/storageAccounts")
    assert account["sku"] == {"name": "sku"}


# ------------------------------------------------------------------ 10. Azure Government
def test_readme_states_the_azure_government_limit():
    deploy = readme_section("Deploy to Azure")
    assert "Azure Government" in deploy and "list-flexconsumption-locations" in deploy


# ------------------------------------------------------------------ 12. azd
def azure_yaml() -> dict:
    return yaml.safe_load((ROOT / "azure.yaml").read_text())


@pytest.mark.skipif(not AZD_SCHEMA.exists(), reason=f"no azd schema at {AZD_SCHEMA}")
def test_azure_yaml_is_valid_against_azds_published_schema():
    import jsonschema

    schema = json.loads(AZD_SCHEMA.read_text())
    jsonschema.validate(azure_yaml(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**azure_yaml(), "name": "Not Valid"}, schema)


def test_azd_provisions_infra_deploys_the_app_and_runs_the_post_deploy_step(templates):
    config = azure_yaml()
    assert config["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    [(service, spec)] = config["services"].items()
    assert {k: spec[k] for k in ("project", "language", "host")} == {
        "project": ".",
        "language": "python",
        "host": "function",
    }
    # azd finds the app it deploys to by the azd-service-name tag.
    fa = templates["modules/function-app.bicep"]
    assert fa["variables"]["serviceTag"]["value"] == {"'azd-service-name'": service}
    assert "serviceTag" in json.dumps(only(fa, "Microsoft.Web/sites")["tags"])
    hook = config["hooks"]["postdeploy"]
    assert re.fullmatch(r'bash infra/scripts/post-deploy\.sh "\$AZURE_RESOURCE_GROUP"', hook["run"])
    assert (INFRA / "scripts" / "post-deploy.sh").exists()


def test_readme_gives_azd_up_first_then_the_cli():
    deploy = readme_section("Deploy to Azure")
    assert deploy.index("azd up") < deploy.index("az deployment group create")
    assert "post-deploy.sh" in deploy


def test_azd_deploys_the_package_built_here_as_is():
    """No remote build (it has run pip on the wrong Python for 3.13 apps): the prepackage hook
    builds the package and unpacks it where azd takes the files from."""
    [spec] = azure_yaml()["services"].values()
    assert spec["remoteBuild"] is False
    hook = spec["hooks"]["prepackage"]
    assert hook["run"] == f"./dev package --unpacked {spec['dist']}"
    assert spec["dist"].startswith("dist/") and not hook.get("continueOnError", False)


def test_readme_cli_path_publishes_the_same_zip():
    deploy = readme_section("Deploy to Azure")
    step = deploy[deploy.index("Publish the code") :]
    assert "./dev package" in step
    assert "az functionapp deployment source config-zip" in step and "--src dist/ehr-audit-ingest.zip" in step
    assert "--build-remote" not in step.split("infra/scripts/post-deploy.sh")[0]
    why = deploy[deploy.index("Why not Azure's remote build") :]
    assert "8538" in why and "3081" in why


# ------------------------------------------------------------------ 13. instance count floor
def test_maximum_instance_count_has_no_preview_floor(main):
    bounds = {d["type"]: d["argument"] for d in main["parameters"]["maximumInstanceCount"]["decorators"]}
    assert bounds["min_value"] == 1 and bounds["max_value"] == 1000


# ------------------------------------------------------------------ 7. sampling in OpenTelemetry mode
def test_host_json_carries_no_setting_opentelemetry_mode_ignores():
    """In OpenTelemetry mode the host reads only the connection string, the authentication
    string and an OTLP endpoint: an applicationInsights block would promise sampling and live
    metrics filters that do not happen."""
    host = json.loads((ROOT / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    assert "applicationInsights" not in host.get("logging", {})
    paragraph = readme_section("Application Insights")
    assert "not sampled" in paragraph and "rate-limited" in paragraph and "host.json has no say" in paragraph
