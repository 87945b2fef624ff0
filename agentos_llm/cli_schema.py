"""JSON Schema for `agentos-llm structured`: the schema read from a file (or given inline), checked, and made
into a type `generate_structured` validates answers with.

Answers are validated with `jsonschema` when it is installed (every keyword of the schema's draft); without
it, with the core keywords below, enough for the schemas structured output takes (objects, arrays, scalars,
enums, unions and local `$ref`s). Local `$ref`s are inlined in what is sent; recursive schemas are refused.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

from .cli_common import UsageError

__all__ = ["check_instance", "load_schema", "schema_type"]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and math.isfinite(v) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _jsonschema() -> Any:
    """The jsonschema module (untyped here), or None when it is not installed."""
    try:
        return importlib.import_module("jsonschema")
    except ImportError:
        return None


def load_schema(source: str) -> dict[str, Any]:
    """The schema in the file `source` names, or `source` itself when it is inline JSON; checked as a schema."""
    path = Path(source)
    if source.lstrip().startswith(("{", "[")) and not path.is_file():
        text, where = source, "the inline schema"
    else:
        try:
            text, where = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise UsageError(f"cannot read the schema file {source}: {exc.strerror or exc}") from None
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise UsageError(f"{where} must be a JSON object (a JSON Schema), not {type(schema).__name__}")
    jsonschema = _jsonschema()
    if jsonschema is None:
        return schema
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise UsageError(f"{where} is not a valid JSON Schema: {exc.message}") from None
    return schema


def check_instance(value: Any, schema: dict[str, Any]) -> list[str]:
    """What is wrong with `value` against `schema` (empty: it validates)."""
    jsonschema = _jsonschema()
    if jsonschema is None:
        return _check(value, schema, schema, "$")
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{e.json_path}: {e.message}" for e in sorted(validator.iter_errors(value), key=lambda e: e.json_path)]


def schema_type(schema: dict[str, Any]) -> Any:
    """A type whose JSON schema is `schema` and whose validation is `check_instance` (for generate_structured)."""

    def validate(value: Any) -> Any:
        problems = check_instance(value, schema)
        if problems:
            raise ValueError("; ".join(problems[:20]))
        return value

    # pydantic resolves every `$ref` of a schema it builds against its own definitions, so the refs are
    # inlined for it; answers are still validated against the schema as written.
    sent = _inline(schema, schema, ())
    if isinstance(sent, dict):
        sent = {k: v for k, v in sent.items() if k not in ("$defs", "definitions")}
    return Annotated[Any, WithJsonSchema(sent), AfterValidator(validate)]


def _inline(node: Any, root: dict[str, Any], seen: tuple[str, ...]) -> Any:
    """`node` with every local `$ref` replaced by what it points at; a recursive schema is a `UsageError`."""
    if isinstance(node, list):
        return [_inline(item, root, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            raise UsageError(f"the schema is recursive ({ref} refers to itself); structured takes acyclic schemas")
        target = _inline(_resolve(ref, root), root, (*seen, ref))
        rest = {k: _inline(v, root, seen) for k, v in node.items() if k != "$ref"}
        return {**target, **rest} if isinstance(target, dict) else target
    return {k: (v if k in ("$defs", "definitions") else _inline(v, root, seen)) for k, v in node.items()}


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise UsageError(f"only local $refs (#/...) are resolved, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise UsageError(f"the schema's $ref {ref!r} points at nothing")
        node = node[part]
    return node


def _check(value: Any, schema: Any, root: dict[str, Any], at: str) -> list[str]:
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{at}: no value is allowed here"]
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        referred = _check(value, _resolve(schema["$ref"], root), root, at)
        if referred:
            return referred
    problems: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_TYPES.get(k, lambda _: True)(value) for k in kinds):
            return [f"{at}: {json.dumps(value)[:60]} is not of type {' or '.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{at}: {json.dumps(value)[:60]} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{at}: must be {json.dumps(schema['const'])}")
    for key, branches in (("anyOf", schema.get("anyOf")), ("oneOf", schema.get("oneOf"))):
        if branches:
            passing = sum(not _check(value, b, root, at) for b in branches)
            if passing == 0 or (key == "oneOf" and passing > 1):
                problems.append(f"{at}: matches {passing} of the {key} branches")
    for branch in schema.get("allOf", ()):
        problems += _check(value, branch, root, at)
    if isinstance(value, dict):
        problems += _check_object(value, schema, root, at)
    elif isinstance(value, list):
        problems += _check_array(value, schema, root, at)
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", math.inf):
            problems.append(f"{at}: length {len(value)} is out of bounds")
    elif _TYPES["number"](value):
        for key, bad in (("minimum", value < schema.get("minimum", -math.inf)),
                         ("maximum", value > schema.get("maximum", math.inf)),
                         ("exclusiveMinimum", value <= schema.get("exclusiveMinimum", -math.inf)),
                         ("exclusiveMaximum", value >= schema.get("exclusiveMaximum", math.inf))):
            if bad:
                problems.append(f"{at}: {value} breaks {key} {schema[key]}")
    return problems


def _check_object(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], at: str) -> list[str]:
    problems = [f"{at}: {name!r} is a required property" for name in schema.get("required", ()) if name not in value]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        where = f"{at}.{name}"
        if name in properties:
            problems += _check(item, properties[name], root, where)
        elif extra is False:
            problems.append(f"{at}: additional property {name!r} is not allowed")
        else:
            problems += _check(item, extra, root, where)
    return problems


def _check_array(value: list[Any], schema: dict[str, Any], root: dict[str, Any], at: str) -> list[str]:
    problems = []
    if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", math.inf):
        problems.append(f"{at}: {len(value)} items is out of bounds")
    prefix = schema.get("prefixItems", [])
    for i, item in enumerate(value):
        rule = prefix[i] if i < len(prefix) else schema.get("items", True)
        problems += _check(item, rule, root, f"{at}[{i}]")
    if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) < len(value):
        problems.append(f"{at}: items are not unique")
    return problems
