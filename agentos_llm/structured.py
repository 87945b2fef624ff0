"""Structured output: target schemas, strict-mode schema transforms, validation and re-asking.

Vendor-neutral: a provider only says how it carries a `ResponseFormat` on its wire.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .types import Message

__all__ = ["ResponseFormat", "StructuredPlan", "make_strict", "object_root"]

T = TypeVar("T")
_WRAP_KEY = "value"
_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
# Keywords strict mode rejects, and ones that only make sense to pydantic.
_DROP_KEYWORDS = ("default", "discriminator", "examples", "readOnly", "writeOnly")
# What OpenAI's strict mode documents beside structure; other constraints move into the description, where the
# model still reads them (our validation of the answer enforces them either way).
_STRICT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties", "items", "anyOf", "$ref",
                              "$defs", "definitions", "enum", "description", "title", "pattern", "format",
                              "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
                              "minItems", "maxItems", "prefixItems"})
_STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})
_UNSTRICTABLE = ("patternProperties", "if", "then", "else", "not", "dependentRequired", "dependentSchemas",
                 "unevaluatedProperties", "propertyNames")


@dataclass(frozen=True)
class ResponseFormat:
    """How the answer must be shaped: a named JSON schema, and whether the vendor can enforce it strictly."""

    name: str
    schema: dict[str, Any]
    strict_schema: dict[str, Any] | None
    """The schema transformed for strict mode, or None when it cannot be made strict."""
    description: str | None = None

    def instructions(self) -> str:
        """The prompt text for vendors that only take "some JSON": the schema, spelled out."""
        return ("Respond with a single JSON document, and nothing else, that validates against this JSON "
                f"schema:\n{json.dumps(self.schema, separators=(',', ':'))}")


def _allows_null(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    t = schema.get("type")
    if t == "null" or (isinstance(t, list) and "null" in t):
        return True
    return any(_allows_null(s) for s in schema.get("anyOf", ()))


class _Unstrictable(Exception):
    pass


def _local_ref(ref: Any) -> str | None:
    """The definition name of a local `#/$defs/X` (or `#/definitions/X`) reference, else None."""
    if isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/")) and ref.count("/") == 2:
        return ref.rsplit("/", 1)[-1]
    return None


def _defs_of(schema: dict[str, Any]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        found = schema.get(key)
        if isinstance(found, dict):
            defs.update(found)
    return defs


def object_root(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with a root `$ref` (pydantic's shape for a recursive model) replaced by its definition.

    Vendors want an object at the root of a response or tool schema; the definitions stay beside it, so
    recursive references (`#/$defs/Person` inside Person) still resolve. The input is not modified.
    """
    name = _local_ref(schema.get("$ref"))
    defs = _defs_of(schema)
    if name is None or not isinstance(defs.get(name), dict):
        return schema
    root = {k: v for k, v in schema.items() if k != "$ref"}
    for key, value in defs[name].items():
        root.setdefault(key, value)
    return root


def make_strict(schema: dict[str, Any]) -> dict[str, Any] | None:
    """Transforms a JSON schema as strict structured outputs require, or None if it cannot be.

    Every object gets `additionalProperties: false` and lists all properties as required; a property
    that was optional becomes nullable (and `StructuredPlan` drops those nulls before validation).
    A root `$ref` becomes its definition (`object_root`), `const` a one-value `enum`, and a `$ref` with
    sibling keywords its inlined definition (a recursive one loses the siblings).
    Free-form objects (`dict[str, X]`) and conditional keywords cannot be strict.
    """
    root = object_root(copy.deepcopy(schema))
    try:
        return _strict_node(root, _defs_of(root), ())  # type: ignore[no-any-return]
    except _Unstrictable:
        return None


def _strict_node(node: Any, defs: dict[str, Any], inlining: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_strict_node(n, defs, inlining) for n in node]
    if not isinstance(node, dict):
        return node
    if any(k in node for k in _UNSTRICTABLE):
        raise _Unstrictable
    for k in _DROP_KEYWORDS:
        node.pop(k, None)
    if "oneOf" in node:
        node["anyOf"] = node.pop("oneOf")
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "allOf" in node and len(node["allOf"]) == 1 and not node.get("properties"):
        node.update(node.pop("allOf")[0])
    ref = node.get("$ref")
    if ref is not None and len(node) > 1:
        # Strict mode takes no keywords beside a $ref: inline the definition under them (as the OpenAI SDK
        # does), unless that would recurse forever.
        name = _local_ref(ref)
        if name is None or name in inlining or not isinstance(defs.get(name), dict):
            return {"$ref": ref}
        merged = {**copy.deepcopy(defs[name]), **{k: v for k, v in node.items() if k != "$ref"}}
        return _strict_node(merged, defs, (*inlining, name))
    is_object = node.get("type") == "object" or "properties" in node
    if is_object:
        extra = node.get("additionalProperties")
        if extra not in (None, False):
            raise _Unstrictable
        props = node.get("properties", {})
        required = set(node.get("required", ()))
        for name, prop in list(props.items()):
            prop = _strict_node(prop, defs, inlining)
            if name not in required and not _allows_null(prop):
                prop = {"anyOf": [prop, {"type": "null"}]}
            props[name] = prop
        node["properties"] = props
        node["required"] = list(props)
        node["additionalProperties"] = False
        node.setdefault("type", "object")
    for key in ("items", "anyOf", "prefixItems"):
        if key in node:
            node[key] = _strict_node(node[key], defs, inlining)
    for key in ("$defs", "definitions"):
        if key in node:
            node[key] = {k: _strict_node(v, defs, ()) for k, v in node[key].items()}
    _move_unenforced(node)
    return node


def _move_unenforced(node: dict[str, Any]) -> None:
    """Moves the keywords strict mode does not take into the node's description."""
    moved = {k: v for k, v in node.items()
             if k not in _STRICT_KEYWORDS or (k == "format" and v not in _STRICT_FORMATS)}
    if not moved:
        return
    for k in moved:
        del node[k]
    note = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in moved.items()) + "}"
    node["description"] = f"{node['description']}\n\n{note}" if node.get("description") else note


def _drop_optional_nulls(value: Any, schema: Any, defs: dict[str, Any]) -> Any:
    """Removes nulls that strict mode put where the original schema had an optional field."""
    if isinstance(schema, dict) and "anyOf" in schema and value is not None:
        # `X | None`: a non-null value is an X, so look inside X
        branches = [s for s in schema["anyOf"] if not (isinstance(s, dict) and s.get("type") == "null")]
        if len(branches) == 1:
            schema = branches[0]
    if isinstance(schema, dict) and "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict) and "properties" in schema:
        required = set(schema.get("required", ()))
        props = schema["properties"]
        out = {}
        for k, v in value.items():
            sub = props.get(k)
            if v is None and k not in required and not _allows_null(sub):
                continue
            out[k] = _drop_optional_nulls(v, sub, defs)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_drop_optional_nulls(v, schema["items"], defs) for v in value]
    return value


def _schema_name(target: Any, schema: dict[str, Any]) -> str:
    raw = schema.get("title") or getattr(target, "__name__", None) or "response"
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(raw))[:64]
    return name or "response"


@dataclass
class StructuredPlan(Generic[T]):
    """One structured-output request: the target type, its wire schema, and its validation."""

    target: Any
    adapter: TypeAdapter[Any]
    wrapped: bool
    format: ResponseFormat

    @classmethod
    def for_type(cls, target: Any) -> StructuredPlan[Any]:
        """Builds the plan for a pydantic model or any type pydantic can validate."""
        adapter: TypeAdapter[Any] = TypeAdapter(target)
        schema = adapter.json_schema()
        description = None
        wrapped = not (isinstance(target, type) and issubclass(target, BaseModel)) and schema.get("type") != "object"
        if isinstance(target, type) and issubclass(target, BaseModel):
            description = schema.get("description")
        if not wrapped:
            schema = object_root(schema)
        if wrapped:
            defs = schema.pop("$defs", None)
            schema = {"type": "object", "properties": {_WRAP_KEY: schema}, "required": [_WRAP_KEY],
                      "additionalProperties": False, "title": _schema_name(target, schema)}
            if defs:
                schema["$defs"] = defs
        fmt = ResponseFormat(name=_schema_name(target, schema), schema=schema, strict_schema=make_strict(schema),
                             description=description)
        return cls(target=target, adapter=adapter, wrapped=wrapped, format=fmt)

    def parse(self, text: str) -> tuple[bool, Any]:
        """(True, value) when `text` validates; else (False, a description of what was wrong)."""
        match = _FENCE.match(text)
        body = match.group(1) if match else text.strip()
        try:
            data = json.loads(body)
        except ValueError as exc:
            return False, f"the answer is not valid JSON: {exc}"
        if self.format.strict_schema is not None:
            data = _drop_optional_nulls(data, self.format.schema, self.format.schema.get("$defs", {}))
        if self.wrapped:
            if not isinstance(data, dict) or _WRAP_KEY not in data:
                return False, f"the answer must be a JSON object with the key {_WRAP_KEY!r}"
            data = data[_WRAP_KEY]
        try:
            return True, self.adapter.validate_python(data)
        except ValidationError as exc:
            return False, exc.errors(include_url=False)

    def retry_messages(self, answer: Message, problem: Any) -> list[Message]:
        """What to append to the history to ask again after an invalid answer."""
        detail = problem if isinstance(problem, str) else json.dumps(problem, default=str)
        reply = Message(role="assistant", content=answer.text or "")
        ask = Message(role="user", content=(
            "Your previous answer did not match the required JSON schema. Errors: "
            f"{detail}\nReply again with only the corrected JSON document."))
        return [reply, ask]


StructuredMode = Literal["json_schema", "json_object", "tool", "prompt"]
