"""The schemas a structured-output request carries, checked as the vendors read them (issue 14).

Scripted emulator replies never read the schema, so these tests take the request body the real converter
builds for each API and each structured mode, pull every schema out of it, and check it with `jsonschema`:
it is a valid JSON Schema, every `$ref` resolves inside it, it accepts a real instance of the model and
refuses a broken one, and it keeps the documented rules of that vendor's field.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from enum import Enum
from typing import Annotated, Any, Literal

import jsonschema
import pytest
from google.genai import types as genai_types
from pydantic import BaseModel, Field
from referencing.exceptions import Unresolvable

import agentos_llm as llm
from agentos_llm.provider import IProvider

# ---------------------------------------------------------------------- target models


class Person(BaseModel):
    """A person and the chain of managers above them."""

    name: str
    manager: Person | None = None


class Color(str, Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    city: str = Field(description="The city, in English.")


class Company(BaseModel):
    name: str
    hq: Address = Field(description="Where the company is registered.")
    offices: list[Address]
    color: Color
    size: Literal["small", "large"]
    motto: str | None = None


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int = Field(ge=0, le=9)


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    breed: str = Field(min_length=1)


class Household(BaseModel):
    pets: list[Annotated[Cat | Dog, Field(discriminator="kind")]]
    owner: Person


class Tree(BaseModel):
    label: str
    children: list[Tree] = []


MODELS: dict[str, tuple[Any, Any, Any]] = {
    # target, a valid instance (as JSON data), a broken one
    "recursive": (Person, {"name": "Ada", "manager": {"name": "Bo", "manager": None}},
                  {"name": "Ada", "manager": {"manager": None}}),
    "nested-enum-optional": (
        Company,
        {"name": "Acme", "hq": {"street": "1 Main", "city": "Oslo"}, "offices": [{"street": "2 Side", "city": "Rome"}],
         "color": "red", "size": "small", "motto": None},
        {"name": "Acme", "hq": {"street": "1 Main", "city": "Oslo"}, "offices": [], "color": "blue", "size": "small",
         "motto": None}),
    "discriminated-union": (
        Household,
        {"pets": [{"kind": "cat", "lives": 3}, {"kind": "dog", "breed": "collie"}],
         "owner": {"name": "Ada", "manager": None}},
        {"pets": [{"kind": "cow", "lives": 3}], "owner": {"name": "Ada", "manager": None}}),
    "recursive-list": (Tree, {"label": "a", "children": [{"label": "b", "children": []}]},
                       {"label": "a", "children": [{"children": []}]}),
    "list-of-model": (list[Person], {"value": [{"name": "Ada", "manager": None}]},
                      {"value": [{"manager": None}]}),
}

# ---------------------------------------------------------------------- providers and bodies

APIS: dict[str, tuple[str, dict[str, Any], str]] = {
    "openai-chat": ("openai", {"api_key": "test-key"}, "gpt-4o"),
    "openai-responses": ("openai", {"api_key": "test-key", "api": "responses"}, "gpt-4o"),
    "anthropic-messages": ("anthropic", {"api_key": "test-key"}, "claude-sonnet-4-5"),
    "gemini-generate": ("gemini", {"api_key": "test-key"}, "gemini-2.5-flash"),
    "bedrock-converse": ("bedrock", {"region": "us-east-1"}, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "cohere-chat": ("cohere", {"api_key": "test-key"}, "command-a-03-2025"),
}
MODES = ("json_schema", "tool", "prompt")


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, IProvider]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
        made = {api: llm.create_provider(pid, base_url="http://127.0.0.1:9", **kw)
                for api, (pid, kw, _) in APIS.items()}
        yield made


def _body(provider: IProvider, model: str, target: Any, mode: str | None) -> tuple[str, Any]:
    call = provider._structured_call(model, "Describe it.", target, {})
    if mode is not None:
        call = replace(call, structured_mode=mode)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        request = provider._build_request(call)
    body = getattr(request, "body", None) or getattr(request, "params", None) or request
    return str(call.structured_mode), body


def _instructions(text: str) -> dict[str, Any]:
    head = "against this JSON schema:\n"
    assert head in text
    return json.loads(text.split(head, 1)[1])  # type: ignore[no-any-return]


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _texts(v)
    elif isinstance(node, list):
        for v in node:
            yield from _texts(v)


def schemas_in(api: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (field, schema) a structured request body carries."""
    found: list[tuple[str, dict[str, Any]]] = []
    if api == "openai-chat":
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            found.append(("openai-strict", fmt["json_schema"]["schema"]))
    elif api == "openai-responses":
        fmt = (body.get("text") or {}).get("format") or {}
        if fmt.get("type") == "json_schema":
            found.append(("openai-strict", fmt["schema"]))
    elif api == "anthropic-messages":
        fmt = (body.get("output_config") or {}).get("format")
        if fmt:
            found.append(("anthropic-output", fmt["schema"]))
        found += [("tool-input", t["input_schema"]) for t in body.get("tools") or ()]
    elif api == "gemini-generate":
        config = body.get("generationConfig") or {}
        if "responseSchema" in config:
            found.append(("gemini-openapi", config["responseSchema"]))
        if "responseJsonSchema" in config:
            found.append(("gemini-json", config["responseJsonSchema"]))
    elif api == "bedrock-converse":
        text_format = (body.get("outputConfig") or {}).get("textFormat")
        if text_format:
            found.append(("anthropic-output", json.loads(text_format["structure"]["jsonSchema"]["schema"])))
        tools = (body.get("toolConfig") or {}).get("tools") or ()
        found += [("tool-input", t["toolSpec"]["inputSchema"]["json"]) for t in tools if "toolSpec" in t]
    elif api == "cohere-chat":
        fmt = body.get("response_format") or {}
        if "json_schema" in fmt:
            found.append(("cohere-response", fmt["json_schema"]))
        found += [("tool-input", t["function"]["parameters"]) for t in body.get("tools") or ()]
    found += [("instructions", _instructions(t)) for t in _texts(body) if "against this JSON schema:\n" in t]
    return found


# ---------------------------------------------------------------------- generic checks


def _nodes(schema: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema with its JSON pointer."""
    if isinstance(schema, list):
        for i, s in enumerate(schema):
            yield from _nodes(s, f"{path}/{i}")
        return
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            yield from _nodes(sub, f"{path}/{key}/{name}")
    for key in ("items", "anyOf", "oneOf", "allOf", "prefixItems"):
        if key in schema:
            yield from _nodes(schema[key], f"{path}/{key}")


def _resolve(root: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} is not a local reference: the schema must be self-contained"
    node: Any = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and token in node, f"{ref} does not resolve inside the schema"
        node = node[token]
    return node


def check_self_contained(schema: dict[str, Any], valid: Any, broken: Any) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    for _, node in _nodes(schema):
        if "$ref" in node:
            assert isinstance(_resolve(schema, node["$ref"]), dict)
    validator = jsonschema.Draft202012Validator(schema)
    try:
        errors = list(validator.iter_errors(valid))
        assert not errors, [e.message for e in errors]
        assert list(validator.iter_errors(broken)), "the schema accepts a broken instance"
    except Unresolvable as exc:  # pragma: no cover - the assertion above names the ref first
        raise AssertionError(f"unresolvable reference: {exc}") from exc


# ---------------------------------------------------------------------- vendor rules

_OPENAI_KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "anyOf", "$ref", "$defs",
                    "definitions", "enum", "description", "title", "pattern", "format", "multipleOf", "maximum",
                    "exclusiveMaximum", "minimum", "exclusiveMinimum", "minItems", "maxItems"}
_OPENAI_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
_ANTHROPIC_KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "anyOf", "allOf", "enum",
                       "const", "$ref", "$defs", "definitions", "description", "title", "format", "minItems"}
_GEMINI_JSON_KEYWORDS = {"$id", "$defs", "$ref", "$anchor", "type", "format", "title", "description", "enum",
                         "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "anyOf", "oneOf",
                         "properties", "additionalProperties", "required", "propertyOrdering", "definitions"}
_COHERE_BANNED = {"anyOf", "oneOf", "allOf", "not", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                  "multipleOf", "minItems", "maxItems", "minLength", "maxLength", "uniqueItems", "pattern"}


def _objects(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    return ((p, n) for p, n in _nodes(schema) if n.get("type") == "object" or "properties" in n)


def check_vendor_rules(field: str, schema: dict[str, Any]) -> None:
    if field != "gemini-openapi":
        assert schema.get("type") == "object", f"{field}: the root must be an object, not {schema}"
        assert "$ref" not in schema and "anyOf" not in schema
    if field == "openai-strict":
        # https://platform.openai.com/docs/guides/structured-outputs#supported-schemas
        for path, node in _nodes(schema):
            assert set(node) <= _OPENAI_KEYWORDS, f"{path}: {set(node) - _OPENAI_KEYWORDS}"
            assert "$ref" not in node or len(node) == 1, f"{path}: keywords beside $ref"
            assert node.get("format", "date") in _OPENAI_FORMATS, path
        for path, node in _objects(schema):
            assert node.get("additionalProperties") is False, path
            assert sorted(node.get("required", [])) == sorted(node["properties"]), path
    elif field == "anthropic-output":
        # structured outputs: JSON schema limitations (docs.claude.com, structured outputs)
        for path, node in _nodes(schema):
            assert set(node) <= _ANTHROPIC_KEYWORDS, f"{path}: {set(node) - _ANTHROPIC_KEYWORDS}"
            assert node.get("minItems", 0) in (0, 1), path
        for path, node in _objects(schema):
            assert node.get("additionalProperties") is False, path
    elif field == "gemini-json":
        for path, node in _nodes(schema):
            assert set(node) <= _GEMINI_JSON_KEYWORDS, f"{path}: {set(node) - _GEMINI_JSON_KEYWORDS}"
    elif field == "cohere-response":
        # docs.cohere.com/docs/structured-outputs, "Unsupported schema features"
        for path, node in _nodes(schema):
            assert not set(node) & _COHERE_BANNED, f"{path}: {set(node) & _COHERE_BANNED}"
        for path, node in _objects(schema):
            assert node.get("required"), f"{path}: Cohere needs at least one required field per object"


def check_gemini_openapi(schema: dict[str, Any]) -> None:
    # The SDK's own `Schema` type forbids unknown fields: the OpenAPI subset, with no $ref anywhere.
    genai_types.Schema.model_validate(schema)
    assert "$ref" not in json.dumps(schema)


# ---------------------------------------------------------------------- the tests


@pytest.mark.parametrize("mode", [None, *MODES])
@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("case", list(MODELS))
def test_every_schema_sent_is_self_contained_and_keeps_the_vendor_rules(
        providers: dict[str, IProvider], api: str, case: str, mode: str | None) -> None:
    target, valid, broken = MODELS[case]
    chosen, body = _body(providers[api], APIS[api][2], target, mode)
    found = schemas_in(api, body)
    assert found, f"{api} sends no schema in {chosen} mode"
    for field, schema in found:
        if field == "gemini-openapi":
            check_gemini_openapi(schema)
            continue
        check_vendor_rules(field, schema)
        # Cohere's response schema leaves optional fields out instead of sending null.
        instance = _without_nulls(valid) if field == "cohere-response" else valid
        check_self_contained(schema, instance, broken)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("api", ["openai-chat", "openai-responses", "anthropic-messages", "bedrock-converse"])
def test_recursive_model_is_sent_as_a_strict_schema(providers: dict[str, IProvider], api: str) -> None:
    """The case the issue found: `$ref` sent without `$defs`; a recursive model still gets the strict field."""
    chosen, body = _body(providers[api], APIS[api][2], Person, None)
    assert chosen == "json_schema"
    (field, schema), *_ = schemas_in(api, body)
    assert field in ("openai-strict", "anthropic-output")
    manager = schema["properties"]["manager"]["anyOf"]
    assert {"$ref": "#/$defs/Person"} in manager
    assert schema["$defs"]["Person"]["properties"]["manager"]["anyOf"] == manager


def test_a_field_description_beside_a_model_survives_strict_mode(providers: dict[str, IProvider]) -> None:
    _, body = _body(providers["openai-chat"], "gpt-4o", Company, None)
    hq = body["response_format"]["json_schema"]["schema"]["properties"]["hq"]
    assert hq["description"] == "Where the company is registered."
    assert hq["properties"]["city"]["description"] == "The city, in English."


def test_constraints_strict_mode_does_not_take_move_into_the_description(providers: dict[str, IProvider]) -> None:
    _, body = _body(providers["openai-chat"], "gpt-4o", Household, None)
    dog = body["response_format"]["json_schema"]["schema"]["$defs"]["Dog"]
    assert dog["properties"]["breed"] == {"type": "string", "title": "Breed", "description": '{minLength: 1}'}
    assert dog["properties"]["kind"]["anyOf"][0]["enum"] == ["dog"]  # a const, which strict mode does not list


def _tool_schemas(api: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools") or (body.get("toolConfig") or {}).get("tools") or ()
    found = []
    for tool in tools:
        if api == "openai-chat" or api == "cohere-chat":
            found.append(tool["function"]["parameters"])
        elif api == "openai-responses":
            found.append(tool["parameters"])
        elif api == "anthropic-messages":
            found.append(tool["input_schema"])
        elif api == "bedrock-converse":
            found.append(tool["toolSpec"]["inputSchema"]["json"])
        else:
            for declaration in tool["functionDeclarations"]:
                found.append(declaration.get("parametersJsonSchema") or declaration["parameters"])
    return found


@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("target", [Person, Tree, Household], ids=lambda t: t.__name__)
def test_a_recursive_model_as_a_function_tool_is_sent_self_contained(providers: dict[str, IProvider], api: str,
                                                                     target: Any) -> None:
    call = providers[api]._make_call(APIS[api][2], "Describe it.", {"tools": [target]})
    request = providers[api]._build_request(call)
    body = getattr(request, "body", None) or getattr(request, "params", None) or request
    (schema,) = _tool_schemas(api, body)
    _, valid, broken = next(v for v in MODELS.values() if v[0] is target)
    assert schema.get("type") == "object" and "$ref" not in schema
    check_self_contained(schema, valid, broken)
