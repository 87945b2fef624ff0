"""Minimal valid instances of a JSON schema: what every emulator dialect answers to a structured-output
request, or a forced tool, when nothing is scripted. Standard library only.
"""

from __future__ import annotations

import math
from typing import Any

from agentos_llm.testing.emulator_types import Reply

__all__ = ["minimal_call", "schema_instance"]

_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "duration": "P1D",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "hostname": "example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}
_MAX_DEPTH = 12


def _resolve_ref(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return {}
    node = root
    for raw in ref[1:].split("/"):
        if not raw:
            continue
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return {}
    return node


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("type") == "null" or schema.get("const", 0) is None)


def _bound(schema: dict[str, Any], key: str) -> float | None:
    value = schema.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(schema: dict[str, Any]) -> int:
    lows = [math.ceil(v) for v in (_bound(schema, "minimum"),) if v is not None]
    lows += [math.floor(v) + 1 for v in (_bound(schema, "exclusiveMinimum"),) if v is not None]
    highs = [math.floor(v) for v in (_bound(schema, "maximum"),) if v is not None]
    highs += [math.ceil(v) - 1 for v in (_bound(schema, "exclusiveMaximum"),) if v is not None]
    value = 1
    if lows:
        value = max(value, *lows)
    if highs:
        value = min(value, *highs)
    return value


def _float(schema: dict[str, Any]) -> float:
    minimum, maximum = _bound(schema, "minimum"), _bound(schema, "maximum")
    ex_min, ex_max = _bound(schema, "exclusiveMinimum"), _bound(schema, "exclusiveMaximum")
    lo = max((v for v in (minimum, ex_min) if v is not None), default=None)
    hi = min((v for v in (maximum, ex_max) if v is not None), default=None)
    value = 1.0
    if minimum is not None and value < minimum:
        value = minimum
    if ex_min is not None and value <= ex_min:
        value = ex_min + 1.0
    if maximum is not None and value > maximum:
        value = maximum
    if ex_max is not None and value >= ex_max:
        value = ex_max - 1.0
    if lo is not None and hi is not None and not lo <= value <= hi:
        value = (lo + hi) / 2
    return value


def minimal_call(name: Any, schema: Any) -> Reply:
    """A reply calling the tool `name` with minimal valid arguments for its parameters' `schema` (an object)."""
    args = schema_instance(schema or {"type": "object"})
    return Reply(tool_calls=[(str(name), args if isinstance(args, dict) else {})])


def schema_instance(schema: Any) -> Any:
    """A minimal instance valid against a JSON schema (the subset used by structured outputs).

    Objects get all required properties, strings ``"example"`` (or a sample of their
    ``format``), integers ``1``, numbers ``1.0``, booleans ``true``, arrays one item, enums their
    first value, ``anyOf``/``oneOf`` their first non-null branch; ``$ref`` is resolved against
    the root schema (``$defs`` / ``definitions``).  Recursive schemas are cut off by preferring
    ``null`` branches and empty arrays where a ``$ref`` would recurse (or when nested deeply).
    """
    return _instance(schema, schema, 0, frozenset({"#"}))


def _recurses(schema: Any, seen: frozenset[str]) -> bool:
    return isinstance(schema, dict) and schema.get("$ref") in seen


def _instance(schema: Any, root: Any, depth: int, seen: frozenset[str]) -> Any:
    if schema is True or schema is None:
        return "example"
    if not isinstance(schema, dict):
        return None
    deep = depth >= _MAX_DEPTH
    if isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        return _instance(_resolve_ref(root, ref), root, depth + 1, seen | {ref})
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            non_null = [b for b in branches if not _is_null_schema(b)]
            cut = deep or _recurses(non_null[0] if non_null else None, seen)
            if not non_null or (cut and len(non_null) < len(branches)):
                return None
            return _instance(non_null[0], root, depth + 1, seen)
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict[str, Any] = {}
        for branch in schema["allOf"]:
            value = _instance(branch, root, depth + 1, seen)
            if not isinstance(value, dict):
                return value
            merged.update(value)
        if "properties" not in schema and "type" not in schema:
            return merged
        own = _instance({k: v for k, v in schema.items() if k != "allOf"}, root, depth + 1, seen)
        return {**merged, **own} if isinstance(own, dict) else merged
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null_types = [t for t in kind if t != "null"]
        if not non_null_types or (deep and "null" in kind):
            return None
        kind = non_null_types[0]
    if kind is None:
        if "properties" in schema or "required" in schema:
            kind = "object"
        elif "items" in schema or "prefixItems" in schema:
            kind = "array"
        else:
            return "example"
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = schema.get("required") or []
        if not isinstance(properties, dict) or not isinstance(required, list):
            return {}
        return {name: _instance(properties.get(name, {}), root, depth + 1, seen) for name in required}
    if kind == "array":
        min_items: int = schema.get("minItems") or 0
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            return [_instance(p, root, depth + 1, seen) for p in prefix]
        items = schema.get("items", {})
        count = min_items if deep or _recurses(items, seen) else max(1, min_items)
        max_items: int | None = schema.get("maxItems")
        if max_items is not None:
            count = min(count, max_items)
        return [_instance(items, root, depth + 1, seen) for _ in range(count)]
    if kind == "string":
        text = _STRING_FORMATS.get(str(schema.get("format")), "example")
        if isinstance(schema.get("minLength"), int) and len(text) < schema["minLength"]:
            text += "x" * (schema["minLength"] - len(text))
        if isinstance(schema.get("maxLength"), int):
            text = text[: schema["maxLength"]]
        return text
    if kind == "integer":
        return _integer(schema)
    if kind == "number":
        return _float(schema)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"
