"""Every resource in infra/ is a published Azure resource type at its API version and sets only
properties that type has (the check the Bicep CLI's BCP037/BCP035 warnings make, which cannot
run here), against Azure's published Bicep types (Azure/bicep-types-az, in
``bicep-types.json.gz``, outside the project: set ``EHR_REFERENCE_DIR`` or keep it in
``../shared/reference``). Without the file the test is skipped.

Known gaps of the published types are listed with their source; each must still be needed.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import unquote
from tests.infra.conftest import ROOT

REFERENCE = Path(os.environ.get("EHR_REFERENCE_DIR", ROOT.parent / "shared" / "reference"))
TYPES = REFERENCE / "bicep-types.json.gz"

# Bicep keywords inside a resource body, not properties of the type.
KEYWORDS = {"parent", "scope", "dependsOn"}
READ_ONLY = 2

# (resource type, property path) the published types lack although Resource Manager needs it.
KNOWN_GAPS = {
    # "The parameter location has an invalid value" without it: bicep-types-az issues 1317,
    # 1529, 1571; bicep issue 5531 (issue 15, finding 1).
    ("Microsoft.Web/sites/basicPublishingCredentialsPolicies", "location"),
}

# Types the extract lacks because it holds API versions from 2023 on: the newest version of
# Microsoft.Insights/diagnosticSettings is 2021-05-01-preview (Microsoft's template reference,
# learn.microsoft.com/azure/templates/microsoft.insights/diagnosticsettings). Their shape, as
# that page gives it, is checked by tests/infra/test_audit.py instead.
NOT_IN_EXTRACT = {"Microsoft.Insights/diagnosticSettings@2021-05-01-preview"}

pytestmark = pytest.mark.skipif(not TYPES.exists(), reason=f"no published types at {TYPES}")


@functools.cache
def published() -> dict[str, tuple[list, dict]]:
    """'Type@version' -> (the types array it lives in, its body ObjectType)."""
    out = {}
    for array in json.loads(gzip.decompress(TYPES.read_bytes())).values():
        for entry in array:
            if entry.get("$type") == "ResourceType":
                out[entry["name"]] = (array, deref(array, entry["body"]))
    return out


def deref(array: list, ref: dict) -> dict:
    return array[int(ref["$ref"].split("/")[-1])]


def properties_of(array: list, node: dict, value: Any) -> tuple[dict, dict | None] | None:
    """(named properties, additionalProperties type) an object of this type may have; None
    when the type says nothing about names (any, string, ...)."""
    kind = node["$type"]
    if kind == "ObjectType":
        extra = node.get("additionalProperties")
        return node.get("properties", {}), (deref(array, extra) if extra else None)
    if kind == "DiscriminatedObjectType":
        props = dict(node.get("baseProperties", {}))
        chosen = value.get(node["discriminator"]) if isinstance(value, dict) else None
        elements = node["elements"]
        picks = [elements[chosen]] if isinstance(chosen, str) and chosen in elements else elements.values()
        for ref in picks:
            found = properties_of(array, deref(array, ref), value)
            if found:
                props.update(found[0])
        return props, None
    if kind == "UnionType":
        props = {}
        extra = None
        any_object = False
        for ref in node["elements"]:
            found = properties_of(array, deref(array, ref), value)
            if found:
                any_object = True
                props.update(found[0])
                extra = extra or found[1]
        return (props, extra) if any_object else None
    return None


def check(array: list, node: dict, value: Any, path: str, rtype: str, problems: list[str]) -> None:
    """Walk a literal value against its type; expressions are not followed, except both
    branches of a condition and the body of a for-loop."""
    if isinstance(value, dict) and "operator" in value:
        op = value["operator"]
        if op.get("type") == "conditional":
            for branch in ("true_value", "false_value"):
                check(array, node, op["operands"][branch], path, rtype, problems)
        return
    if isinstance(value, dict) and "function" in value:
        return
    if isinstance(value, dict) and "loop_type" in value:
        value = [value["config"]]
    kind = node["$type"]
    if kind == "ArrayType" and isinstance(value, list):
        item = deref(array, node["itemType"])
        for i, element in enumerate(value):
            check(array, item, element, f"{path}[{i}]", rtype, problems)
        return
    if not isinstance(value, dict):
        return
    found = properties_of(array, node, value)
    if found is None:
        return
    props, extra = found
    for raw_key, sub in value.items():
        key = unquote(raw_key)
        where = f"{path}.{key}" if path else key
        if not path and key in KEYWORDS:
            continue
        if key in props:
            prop = props[key]
            if prop.get("flags", 0) & READ_ONLY and not prop.get("flags", 0) & 1:
                problems.append(f"{rtype}: {where} is read-only")
            check(array, deref(array, prop["type"]), sub, where, rtype, problems)
        elif extra is not None:
            check(array, extra, sub, where, rtype, problems)
        elif (rtype, where) not in KNOWN_GAPS:
            problems.append(f"{rtype}: {where} is not a property of the published type")


def declared(templates) -> list[tuple[str, str, dict]]:
    """(file, symbol, resource) for every resource the templates create (not `existing`)."""
    out = []
    for file, template in templates.items():
        for symbol, res in (template.get("resources") or {}).items():
            if res["existing"]:
                continue
            config = res["config"]
            if "config" in config and ("condition" in config or "loop_type" in config):
                config = config["config"]
            out.append((file, symbol, {"type": res["type"], "api_version": res["api_version"], **config}))
    return out


def test_every_resource_is_a_published_type(templates):
    missing = [
        f"{file} {symbol}: {res['type']}@{res['api_version']}"
        for file, symbol, res in declared(templates)
        if f"{res['type']}@{res['api_version']}" not in published().keys() | NOT_IN_EXTRACT
    ]
    assert not missing, missing


def test_types_missing_from_the_extract_are_still_missing_and_used(templates):
    used = {f"{res['type']}@{res['api_version']}" for _, _, res in declared(templates)}
    for key in NOT_IN_EXTRACT:
        assert key in used, f"{key} is no longer used: drop it from NOT_IN_EXTRACT"
        assert key not in published(), f"the extract now has {key}: drop it from NOT_IN_EXTRACT"


def test_every_resource_sets_only_published_properties(templates):
    problems: list[str] = []
    for file, symbol, res in declared(templates):
        key = f"{res['type']}@{res['api_version']}"
        if key not in published():
            continue
        array, body = published()[key]
        value = {k: v for k, v in res.items() if k not in ("type", "api_version", "decorators")}
        before = len(problems)
        check(array, body, value, "", res["type"], problems)
        problems[before:] = [f"{file} {symbol}: {p}" for p in problems[before:]]
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_wrong_property(templates):
    """The walk is not vacuous: a misspelt property at any depth is found."""
    array, body = published()["Microsoft.Storage/storageAccounts@2023-05-01"]
    problems: list[str] = []
    wrong = {"name": "x", "properties": {"networkAcls": {"bypas": "AzureServices"}}}
    check(array, body, wrong, "", "t", problems)
    assert problems == ["t: properties.networkAcls.bypas is not a property of the published type"]


def test_known_gaps_are_still_gaps_and_still_used(templates):
    used = {(res["type"], key) for _, _, res in declared(templates) for key in res}
    for rtype, prop in KNOWN_GAPS:
        assert (rtype, prop) in used, f"{rtype}.{prop} is no longer set: drop it from KNOWN_GAPS"
        versions = [k for k in published() if k.startswith(rtype + "@")]
        assert versions
        for key in versions:
            _, body = published()[key]
            assert prop not in body.get("properties", {}), f"{key} now publishes {prop}: drop the gap"
