"""JSON schemas as Gemini takes them: the OpenAPI subset of `Schema`, or `responseJsonSchema` (pure)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

# ---------------------------------------------------------------------- JSON schema → Gemini schema

_SCHEMA_KEEP = ("description", "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
                "minProperties", "maxProperties")
# The only `format` values the Gemini API accepts for each type; others are rejected with a 400.
_FORMATS = {"STRING": ("date-time", "enum"), "NUMBER": ("float", "double"), "INTEGER": ("int32", "int64")}
_TYPES = {"string": "STRING", "number": "NUMBER", "integer": "INTEGER", "boolean": "BOOLEAN", "array": "ARRAY",
          "object": "OBJECT", "null": "NULL"}


class _Inexpressible(Exception):
    """The schema needs more than Gemini's OpenAPI subset (recursion, free-form objects)."""


def gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """A JSON schema in the OpenAPI subset Gemini's `Schema` takes, or None when it cannot be expressed.

    `$ref`s are inlined from `$defs`, `anyOf` with null becomes `nullable`, `const` an enum, and what
    the subset lacks is dropped (`additionalProperties`, `title`, `default`, `examples`, unsupported
    formats). Recursive schemas and objects without properties (`dict[str, X]`) give None: send those
    as JSON schema (`parametersJsonSchema` / `responseJsonSchema`) instead.
    """
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = schema.get(key)
        if isinstance(found, Mapping):
            defs.update(found)
    try:
        return _schema_node(schema, defs, (), top=True)
    except _Inexpressible:
        return None


def _schema_node(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...], *, top: bool = False) -> dict[str, Any]:
    if node is True or node is None or (isinstance(node, Mapping) and not node):
        raise _Inexpressible  # "anything": the subset has no such schema
    if not isinstance(node, Mapping):
        raise _Inexpressible
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen or name not in defs:
            raise _Inexpressible
        merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _schema_node(merged, defs, (*seen, name))
    out: dict[str, Any] = {}
    nullable = False
    branches = node.get("anyOf") or node.get("oneOf")
    if isinstance(branches, list):
        kept = [b for b in branches if not (isinstance(b, Mapping) and b.get("type") == "null")]
        nullable = len(kept) < len(branches)
        rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        if len(kept) == 1:
            inner = _schema_node({**kept[0], **{k: v for k, v in rest.items() if k == "description"}}, defs, seen)
            if nullable:
                inner["nullable"] = True
            return inner
        if not kept:
            return {"type": "STRING", "nullable": True}
        out["anyOf"] = [_schema_node(b, defs, seen) for b in kept]
        if nullable:
            out["nullable"] = True
        if isinstance(rest.get("description"), str):
            out["description"] = rest["description"]
        return out
    all_of = node.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged = {k: v for k, v in node.items() if k != "allOf"}
        for part in all_of:
            resolved = part
            if isinstance(part, Mapping) and isinstance(part.get("$ref"), str):
                name = part["$ref"].rsplit("/", 1)[-1]
                if name in seen or name not in defs:
                    raise _Inexpressible
                resolved = defs[name]
            if not isinstance(resolved, Mapping):
                raise _Inexpressible
            for key, value in resolved.items():
                if key == "properties" and isinstance(merged.get("properties"), Mapping):
                    merged["properties"] = {**merged["properties"], **value}
                elif key == "required" and isinstance(merged.get("required"), list):
                    merged["required"] = [*merged["required"], *value]
                else:
                    merged.setdefault(key, value)
        return _schema_node(merged, defs, seen)
    kind = node.get("type")
    if isinstance(kind, list):
        nullable = "null" in kind
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != 1:
            if not kinds:
                return {"type": "STRING", "nullable": True}
            out["anyOf"] = [_schema_node({**node, "type": k}, defs, seen) for k in kinds]
            out["nullable"] = nullable or None
            return {k: v for k, v in out.items() if v is not None}
        kind = kinds[0]
    if kind is None:
        if "properties" in node:
            kind = "object"
        elif "items" in node:
            kind = "array"
        elif "enum" in node or "const" in node:
            kind = "string"
        else:
            raise _Inexpressible
    gtype = _TYPES.get(str(kind).lower())
    if gtype is None:
        raise _Inexpressible
    out["type"] = gtype
    if nullable:
        out["nullable"] = True
    for key in _SCHEMA_KEEP:
        if key in node:
            out[key] = node[key]
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(gtype, ()):
        out["format"] = fmt
    values = [node["const"]] if "const" in node else node.get("enum")
    if isinstance(values, list) and values:
        if gtype == "STRING" and all(isinstance(v, str) for v in values):
            out["enum"] = values
        else:
            # The subset takes string enums only: name the allowed values instead.
            allowed = ", ".join(json.dumps(v) for v in values)
            out["description"] = f"{out.get('description', '')} (one of: {allowed})".strip()
    if gtype == "OBJECT":
        props = node.get("properties")
        if not isinstance(props, Mapping) or not props:
            if top:
                return out
            raise _Inexpressible  # a free-form object: the subset rejects OBJECT without properties
        out["properties"] = {name: _schema_node(sub, defs, seen) for name, sub in props.items()}
        required = [r for r in node.get("required", ()) if r in props]
        if required:
            out["required"] = required
        if len(props) > 1:
            out["propertyOrdering"] = list(props)
    elif gtype == "ARRAY":
        items = node.get("items")
        if items is None and isinstance(node.get("prefixItems"), list) and node["prefixItems"]:
            items = node["prefixItems"][0]
        if items is None:
            raise _Inexpressible
        out["items"] = _schema_node(items, defs, seen)
    return out


_JSON_SCHEMA_DROP = frozenset({"$schema", "$id", "default", "examples", "$comment", "discriminator"})
# The JSON Schema keywords Gemini documents for `responseJsonSchema` / `parametersJsonSchema`; other constraints
# move into the description, where the model still reads them (our validation enforces them on the answer).
_JSON_SCHEMA_KEYS = frozenset({"$defs", "definitions", "$ref", "$anchor", "type", "format", "title", "description",
                               "enum", "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf",
                               "properties", "additionalProperties", "required", "propertyOrdering"})
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")
_SUBSCHEMAS = ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems")


def _json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema for `parametersJsonSchema` / `responseJsonSchema`: `const` as an enum, `oneOf` as `anyOf`,
    no annotations the endpoint rejects."""
    return _json_schema_node(schema)  # type: ignore[no-any-return]


def _json_schema_node(node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema_node(n) for n in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    moved: dict[str, Any] = {}
    for key, value in node.items():
        if key in _JSON_SCHEMA_DROP:
            continue
        if key in _SUBSCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: _json_schema_node(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMAS:
            out[key] = _json_schema_node(value)
        elif key in _JSON_SCHEMA_KEYS or key in ("const", "oneOf"):
            out[key] = copy.deepcopy(value)
        else:
            moved[key] = value
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "oneOf" in out:  # the documented subset names anyOf only; the answer is still validated as oneOf
        out["anyOf"] = out.pop("oneOf")
    if moved:
        note = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in moved.items()) + "}"
        out["description"] = f"{out['description']}\n\n{note}" if out.get("description") else note
    return out
