"""infra/scripts/post-deploy.sh against a stand-in `az` that records its arguments: the
subscription it creates feeds the blob trigger with BlobCreated events of the exports
container only, one per export (filtered on the call that wrote the blob), it waits for the
key, and never prints the key."""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.infra.conftest import INFRA, ROOT

SCRIPT = INFRA / "scripts" / "post-deploy.sh"
BASH = shutil.which("bash") or "/bin/bash"
KEY = "blobs-extension-key-value"

FAKE_AZ = """#!{python}
import json, os, sys
args = sys.argv[1:]
log = os.environ["FAKE_AZ_LOG"]
with open(log, "a") as f:
    f.write(json.dumps(args) + "\\n")
outputs = {{"functionAppName": "func-x", "functionAppHostName": "func-x.azurewebsites.net",
           "systemTopicName": "evgt-x", "exportsContainer": "exports", "keyVaultName": "kv-x",
           "coverageKeyName": "coverage-hash-key"}}
if args[:3] == ["keyvault", "secret", "show"]:
    sys.exit(0 if any('"set"' in line for line in open(log)) else 3)
if args[:3] == ["keyvault", "secret", "set"]:
    value = open(args[args.index("--file") + 1]).read()
    with open(log + ".key", "a") as f:
        f.write(value + "\\n")
if args[:3] == ["deployment", "group", "show"]:
    query = args[args.index("--query") + 1]
    print(outputs[query.split(".")[2]])
elif args[:3] == ["functionapp", "keys", "list"]:
    calls = sum(1 for line in open(log) if "keys" in line)
    print("" if calls < 2 else "{key}")  # the key appears on the second try
"""


# The calls that finish writing a blob (Microsoft's Blob Storage event schema, data.api); a copy
# into the container counts (the account has no hierarchical namespace, so the CopyBlob event
# comes once the copy is committed).
BLOB_CREATING_APIS = ["PutBlob", "PutBlockList", "FlushWithClose", "CopyBlob"]


def advanced_filters(create):
    """Each --advanced-filter as az reads it: the key, the operator, then its values up to the
    next option."""
    filters = []
    for i, token in enumerate(create):
        if token == "--advanced-filter":
            rest = create[i + 1 :]
            end = next((j for j, t in enumerate(rest) if t.startswith("--")), len(rest))
            filters.append(rest[:end])
    return filters


def run(tmp_path, *args, env=None):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    az = bin_dir / "az"
    az.write_text(FAKE_AZ.format(python=sys.executable, key=KEY))
    az.chmod(0o755)
    log = tmp_path / "az.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_AZ_LOG": str(log),
        "KEY_WAIT_SECONDS": "0",
        **(env or {}),
    }
    proc = subprocess.run(
        [BASH, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def test_creates_the_blob_trigger_subscription(tmp_path):
    proc, calls = run(tmp_path, "rg-ehr")
    assert proc.returncode == 0, proc.stderr
    [create] = [c for c in calls if c[:3] == ["eventgrid", "system-topic", "event-subscription"]]

    def arg(name):
        return create[create.index(name) + 1]

    assert arg("--resource-group") == "rg-ehr"
    assert arg("--system-topic-name") == "evgt-x"
    assert arg("--endpoint-type") == "webhook"
    assert arg("--endpoint") == (
        f"https://func-x.azurewebsites.net/runtime/webhooks/blobs?functionName=Host.Functions.plan_export&code={KEY}"
    )
    assert arg("--included-event-types") == "Microsoft.Storage.BlobCreated"
    assert arg("--subject-begins-with") == "/blobServices/default/containers/exports/"
    assert advanced_filters(create) == [["data.api", "StringIn", *BLOB_CREATING_APIS]]
    assert all(c[c.index("--name") + 1] == "ehr-ingest" for c in calls if c[:2] == ["deployment", "group"])
    assert KEY not in proc.stdout + proc.stderr


def test_reads_names_from_the_named_deployment(tmp_path):
    proc, calls = run(tmp_path, "rg-ehr", "my-deployment")
    assert proc.returncode == 0, proc.stderr
    shows = [c for c in calls if c[:3] == ["deployment", "group", "show"]]
    assert shows and all(c[c.index("--name") + 1] == "my-deployment" for c in shows)


def test_gives_up_with_the_publish_command(tmp_path, monkeypatch):
    monkeypatch.setenv("KEY_WAIT_ATTEMPTS", "1")
    proc, calls = run(tmp_path, "rg-ehr")
    assert proc.returncode == 1
    assert (
        "./dev package && az functionapp deployment source config-zip --resource-group rg-ehr "
        "--name func-x --src dist/ehr-audit-ingest.zip"
    ) in proc.stderr
    assert not [c for c in calls if c[0] == "eventgrid"]


def test_webhook_names_the_blob_triggered_function():
    """The script's default function name is the one function_app.py gives its blob trigger."""
    tree = ast.parse((ROOT / "function_app.py").read_text())
    blob_functions = []
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        calls = [
            d for d in fn.decorator_list if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
        ]
        kinds = {c.func.attr: c for c in calls if isinstance(c.func, ast.Attribute)}
        if "blob_trigger" in kinds:
            name = kinds["function_name"].args[0]
            assert isinstance(name, ast.Constant)
            blob_functions.append(name.value)
    found = re.search(r"FUNCTION_NAME:-(\w+)", SCRIPT.read_text())
    assert found is not None
    default = found.group(1)
    assert blob_functions == [default]


AZD_OUTPUTS = {
    "functionAppName": "func-azd",
    "functionAppHostName": "func-azd.azurewebsites.net",
    "systemTopicName": "evgt-azd",
    "exportsContainer": "exports",
    "keyVaultName": "kv-azd",
    "coverageKeyName": "coverage-hash-key",
}


def test_as_azd_hook_reads_the_names_from_the_azd_environment(tmp_path):
    """azure.yaml's postdeploy hook: azd stores main.bicep's outputs in its environment (under
    the template's casing) and gives them to the hook; no deployment name is needed."""
    proc, calls = run(tmp_path, "rg-ehr", env=AZD_OUTPUTS)
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in calls if c[:3] == ["deployment", "group", "show"]]
    [create] = [c for c in calls if c[:3] == ["eventgrid", "system-topic", "event-subscription"]]
    assert create[create.index("--system-topic-name") + 1] == "evgt-azd"
    assert create[create.index("--endpoint") + 1].startswith("https://func-azd.azurewebsites.net/runtime/")


def test_as_azd_hook_also_reads_upper_cased_names(tmp_path):
    proc, calls = run(tmp_path, "rg-ehr", env={k.upper(): v for k, v in AZD_OUTPUTS.items()})
    assert proc.returncode == 0, proc.stderr
    assert not [c for c in calls if c[:3] == ["deployment", "group", "show"]]
    [create] = [c for c in calls if c[:3] == ["eventgrid", "system-topic", "event-subscription"]]
    assert create[create.index("--system-topic-name") + 1] == "evgt-azd"


def test_one_event_per_export_whatever_wrote_it(tmp_path):
    """The filter lets through every call that finishes a blob and none that only starts one
    (CreateFile on a hierarchical namespace) or changes it (SetBlobTier...)."""
    proc, calls = run(tmp_path, "rg-ehr")
    assert proc.returncode == 0, proc.stderr
    [create] = [c for c in calls if c[:3] == ["eventgrid", "system-topic", "event-subscription"]]
    [[key, operator, *apis]] = advanced_filters(create)
    assert (key, operator) == ("data.api", "StringIn")
    assert "CreateFile" not in apis
    assert sorted(apis) == sorted(BLOB_CREATING_APIS)


def test_creates_the_coverage_key_once_and_never_prints_it(tmp_path):
    proc, calls = run(tmp_path, "rg-ehr")
    assert proc.returncode == 0, proc.stderr
    [created] = [c for c in calls if c[:3] == ["keyvault", "secret", "set"]]
    assert created[created.index("--vault-name") + 1] == "kv-x"
    assert created[created.index("--name") + 1] == "coverage-hash-key"
    [key] = (tmp_path / "az.log.key").read_text().split()
    assert len(base64.b64decode(key)) == 32 and key not in proc.stdout + proc.stderr
    assert not (Path(created[created.index("--file") + 1])).exists()  # the temporary file is gone
    proc, calls = run(tmp_path, "rg-ehr")
    assert proc.returncode == 0 and "already in kv-x, kept" in proc.stdout
    assert len([c for c in calls if c[:3] == ["keyvault", "secret", "set"]]) == 1
