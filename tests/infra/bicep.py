"""Helpers to read pycep's JSON form of a Bicep template in tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def resources(template: dict[str, Any], rtype: str | None = None) -> dict[str, dict[str, Any]]:
    """Symbolic name -> resource body (``config``; a conditional resource's inner config)."""
    out = {}
    for name, res in (template.get("resources") or {}).items():
        if rtype is not None and res["type"] != rtype:
            continue
        config = res["config"]
        if "condition" in config and "config" in config:
            config = config["config"]
        out[name] = {"type": res["type"], **config}
    return out


def module_params(module: dict[str, Any]) -> dict[str, Any]:
    """The params a module call passes (through a module's ``if (...)`` condition)."""
    config = module["config"]
    if "condition" in config and "config" in config:
        config = config["config"]
    return config["params"]


def only(template: dict[str, Any], rtype: str) -> dict[str, Any]:
    found = list(resources(template, rtype).values())
    assert len(found) == 1, f"expected one {rtype}, found {len(found)}"
    return found[0]


def walk(node: Any) -> Iterator[Any]:
    """Every value in a parsed template, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def unquote(key: str) -> str:
    return key[1:-1] if key.startswith("'") and key.endswith("'") else key


def accessor(value: Any) -> list[str] | None:
    """``a.b.c`` as ['a', 'b', 'c'] when value is a plain property access, else None."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and value.get("operator", {}).get("type") == "property_accessor":
        ops = value["operator"]["operands"]
        left, right = accessor(ops["operand_1"]), accessor(ops["operand_2"])
        if left is not None and right is not None:
            return left + right
    return None


def resolve(template: dict[str, Any], value: Any) -> Any:
    """The literal a value stands for, following variables; None when it depends on a
    parameter, a resource or a function."""
    params = template.get("parameters") or {}
    variables = template.get("variables") or {}
    path = accessor(value)
    if path is None:
        return value if not isinstance(value, dict) else None
    head, *rest = path
    if head in params:
        return None
    if head in variables:
        current = variables[head]["value"]
    elif not rest:
        return head  # a string literal
    else:
        return None
    for key in rest:
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    return resolve(template, current)
