"""Helpers to read pycep's JSON form of a Bicep template in tests."""

from __future__ import annotations

import json
import re
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


class Refused(Exception):
    """What Resource Manager raises evaluating the expression: a missing property or index."""


def evaluate(template: dict[str, Any], node: Any, params: dict[str, Any]) -> Any:
    """Evaluate a small subset of Bicep expressions as Resource Manager would, with the given
    parameter values (defaults otherwise): literals, parameters, variables, for-loops, ``? :``
    (only the chosen branch, as ARM's if()), ``&&``, ``||``, ``==``, ``!=``, ``+``, property and
    index access, string interpolation of loop names, and the functions any, concat, contains,
    toLower, string and json. pycep writes a string literal and a name the same way, so a
    string is a name when the template (or the loop) declares it."""
    declared = template.get("parameters") or {}
    variables = template.get("variables") or {}

    def ev(n: Any, scope: dict[str, Any]) -> Any:
        if isinstance(n, str):
            for names in (scope, params):
                if n in names:
                    return names[n]
            if n in declared:
                return ev(declared[n]["default"], scope)
            if n in variables:
                return ev(variables[n]["value"], scope)
            return re.sub(r"\$\{(\w+)\}", lambda m: str(ev(m.group(1), scope)), n)
        if isinstance(n, list):
            return [ev(x, scope) for x in n]
        if not isinstance(n, dict):
            return n
        if "loop_type" in n:
            detail = n["loop_type"]["detail"]
            out = []
            for i, item in enumerate(ev(detail["array_name"], scope)):
                inner = {**scope, detail["item_name"]: item}
                if "index_name" in detail:
                    inner[detail["index_name"]] = i
                out.append(ev(n["config"], inner))
            return out
        if "operator" in n:
            kind, ops = n["operator"]["type"], n["operator"]["operands"]
            if kind == "conditional":
                chosen = "true_value" if ev(ops["condition"], scope) else "false_value"
                return ev(ops[chosen], scope)
            left = ev(ops["operand_1"], scope)
            if kind == "and":
                return bool(left) and bool(ev(ops["operand_2"], scope))
            if kind == "or":
                return bool(left) or bool(ev(ops["operand_2"], scope))
            right = ev(ops["operand_2"], scope) if kind != "property_accessor" else ops["operand_2"]
            if kind == "equals":
                return left == right
            if kind == "not_equals":
                return left != right
            if kind == "add":
                return left + right
            if kind in ("property_accessor", "index_accessor"):
                try:
                    return left[right]
                except (KeyError, IndexError, TypeError):
                    raise Refused(f"The language expression property '{right}' doesn't exist") from None
            raise NotImplementedError(kind)
        if "function" in n:
            kind, args = n["function"]["type"], n["function"]["parameters"]
            if kind == "concat":
                return [x for arg in args.values() for x in ev(arg, scope)]
            if kind == "contains":
                return ev(args["item_to_find"], scope) in ev(args["container"], scope)
            if kind == "to_lower":
                return str(ev(args["string_to_change"], scope)).lower()
            if kind == "string":
                return str(ev(args["value_to_convert"], scope))
            if kind == "any":
                return ev(args["value"], scope)
            if kind == "json":
                return json.loads(ev(args["arg_1"], scope))
            raise NotImplementedError(kind)
        return {unquote(k): ev(v, scope) for k, v in n.items()}

    return ev(node, {})
