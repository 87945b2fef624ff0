"""Cohere v2 chat, embed, rerank and v1 tokenize bodies against the cohere SDK's own request types.

The SDK (Fern-generated from Cohere's API definition) declares each endpoint's body as the keyword
parameters of its raw client method (`RawV2Client.chat`, `.embed`, `.rerank`, `RawBaseCohere.tokenize`),
typed with its pydantic models (`ChatMessageV2`, `ToolV2`, `ResponseFormatV2`, `Thinking`, `Document` ...).
Those are the schema here, read closed: a key no parameter or model field declares, a missing required one,
a literal the SDK does not list, or a value of the wrong JSON type is a finding. The SDK leaves its enums open
to future values (`Union[Literal[...], Any]`); a request is held to the listed values.
"""

from __future__ import annotations

import collections.abc as cabc
import inspect
import json
import types
import typing
from dataclasses import replace
from typing import Any

import pytest
from cohere.raw_base_client import RawBaseCohere
from cohere.v2.raw_client import RawV2Client
from pydantic import BaseModel

from agentos_llm.options import EmbedOptions
from agentos_llm.types import DocumentPart, Message, TextPart, ToolCall, VendorBlock, tool_result
from request_validity.cases import (
    DOC_TEXT,
    IMAGE_DATA,
    IMAGE_URL,
    MULTI_TURN,
    SYSTEM,
    TOOLS,
    USER,
    Case,
    Person,
    common_cases,
    for_api,
    make_call,
    param,
    provider,
    quiet,
    reasoning_cases,
    with_parts,
)
from request_validity.specs import assert_valid

MODELS = {"chat": "command-a-03-2025", "reasoning": "command-a-reasoning-08-2025",
          "vision": "command-a-vision-07-2025", "small": "command-r7b-12-2024", "legacy": "command-r-plus-08-2024"}

# ---------------------------------------------------------------------- the SDK's types as a closed schema


def _body_schema(method: Any, extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], frozenset[str]]:
    """(field -> annotation, required fields) of a raw client method's keyword parameters."""
    hints = typing.get_type_hints(method, include_extras=True)
    params = inspect.signature(method).parameters
    fields = {n: hints[n] for n, p in params.items() if n not in ("self", "request_options")}
    required = frozenset(n for n, p in params.items() if n in fields and p.default is inspect.Parameter.empty)
    return {**fields, **(extra or {})}, required


CHAT = _body_schema(RawV2Client.chat, {"stream": bool})  # the SDK sets `stream` itself (chat / chat_stream)
EMBED = _body_schema(RawV2Client.embed)
RERANK = _body_schema(RawV2Client.rerank)
TOKENIZE = _body_schema(RawBaseCohere.tokenize)


def _strip(tp: Any) -> tuple[Any, str | None]:
    """The annotation without `Annotated`, and the discriminant its union metadata names (if any)."""
    discriminant = None
    while typing.get_origin(tp) is typing.Annotated:
        for meta in tp.__metadata__:
            discriminant = getattr(meta, "discriminant", discriminant)
        tp = typing.get_args(tp)[0]
    return tp, discriminant


def _kind(annotation: Any) -> type | None:
    """The JSON kind (dict, list, str ...) a value of the annotation has."""
    tp = _strip(annotation)[0]
    origin = typing.get_origin(tp)
    if (isinstance(tp, type) and issubclass(tp, BaseModel)) or origin in (dict, cabc.Mapping) or tp is dict:
        return dict
    if origin in (list, cabc.Sequence) or tp is list:
        return list
    return tp if tp in (str, int, float, bool) else None


def _names(arm: Any, value: Any, discriminant: str | None) -> bool:
    """Whether a model arm's discriminant field (its literal default) is the value's."""
    tp = _strip(arm)[0]
    if discriminant is None or not isinstance(value, dict) or not (isinstance(tp, type) and issubclass(tp, BaseModel)):
        return False
    field = tp.model_fields.get(discriminant)
    return field is not None and field.default == value.get(discriminant)


def _is_enum_arm(arm: Any) -> bool:
    return typing.get_origin(_strip(arm)[0]) is typing.Literal


def check(value: Any, annotation: Any, path: str = "$") -> list[str]:
    """Problems of a JSON value as an SDK annotation (pydantic models read closed, by their wire aliases)."""
    tp, discriminant = _strip(annotation)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return []
    if tp is type(None):
        return [] if value is None else [f"{path}: expected null, got {value!r:.60}"]
    if origin is typing.Union or origin is types.UnionType:
        arms = [a for a in args if not (a is Any and any(_is_enum_arm(b) for b in args))]
        if discriminant is not None and (not isinstance(value, dict) or discriminant not in value):
            return [f"{path}: the union needs its discriminant {discriminant!r}"]
        results = [check(value, arm, path) for arm in arms]
        if any(not r for r in results):
            return []
        # Explain with the arm the value was meant for: its JSON kind, its discriminant, then fewest problems.
        ranked = sorted(zip(arms, results, strict=True),
                        key=lambda pair: (_kind(pair[0]) is not type(value), not _names(pair[0], value, discriminant),
                                          len(pair[1])))
        return ranked[0][1]
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r:.60} is not one of {list(args)}"]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _check_model(value, tp, path)
    if origin in (list, cabc.Sequence) or tp is list:
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [p for i, v in enumerate(value) for p in check(v, args[0] if args else Any, f"{path}[{i}]")]
    if origin in (dict, cabc.Mapping) or tp is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        return [p for k, v in value.items() for p in check(v, args[1] if len(args) == 2 else Any, f"{path}.{k}")]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r:.60}"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r:.60}"]
    if tp is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [
            f"{path}: expected an integer, got {value!r:.60}"]
    if tp is float:
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [
            f"{path}: expected a number, got {value!r:.60}"]
    return [f"{path}: {value!r:.60} cannot be a {tp!r}"]


def _check_model(value: Any, model: type[BaseModel], path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({model.__name__}), got {type(value).__name__}"]
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    problems = [f"{path}.{k}: not a field of {model.__name__}" for k in value if k not in fields]
    problems += [f"{path}: {model.__name__} needs {k!r}" for k, f in fields.items() if f.is_required()
                 and k not in value]
    return problems + [p for k, v in value.items() if k in fields
                       for p in check(v, fields[k].annotation, f"{path}.{k}")]


def check_body(body: Any, schema: tuple[dict[str, Any], frozenset[str]]) -> list[str]:
    """Problems of a whole request body as a raw client method's parameters."""
    fields, required = schema
    if not isinstance(body, dict):
        return [f"$: expected an object, got {type(body).__name__}"]
    problems = [f"$.{k}: not a parameter of the SDK method" for k in body if k not in fields]
    problems += [f"$: {k!r} is required" for k in sorted(required - set(body))]
    return problems + [p for k, v in body.items() if k in fields for p in check(v, fields[k], f"$.{k}")]


# ---------------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(("body", "problem"), [
    ({"model": "m"}, "'messages' is required"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": "required"},
     "is not one of ['REQUIRED', 'NONE']"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi", "name": "x"}]}, "name: not a field"),
    ({"model": "m", "messages": [{"content": "hi"}]}, "discriminant 'role'"),
    ({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "thinking", "text": "x"}]}]},
     "needs 'thinking'"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_p": 0.5}, "$.top_p: not a parameter"),
    ({"model": "m", "messages": [{"role": "user", "content": "hi"}], "thinking": {"budget": 10}},
     "needs 'type'"),
])
def test_the_checker_finds_invalid_bodies(body: dict[str, Any], problem: str) -> None:
    problems = check_body(body, CHAT)
    assert any(problem in p for p in problems), problems


def test_the_checker_takes_a_recorded_request() -> None:
    recorded = {"messages": [{"content": "What's the weather in Paris?", "role": "user"},
                             {"role": "assistant", "tool_calls": [{"function": {"arguments": "{\"city\":\"Paris\"}",
                                                                                 "name": "get_weather"},
                                                                    "id": "get_weather_9gpb31r7h7mj",
                                                                    "type": "function"}]},
                             {"content": "Sunny, 22C in Paris", "role": "tool",
                              "tool_call_id": "get_weather_9gpb31r7h7mj"}],
                "model": "command-r7b-12-2024", "stream": False, "tool_choice": "REQUIRED",
                "tools": [{"function": {"description": "d", "name": "get_weather", "parameters": {"type": "object"}},
                           "type": "function"}]}
    assert check_body(recorded, CHAT) == []


# ---------------------------------------------------------------------- the matrix

OWN_TOOL_LOOP = [
    Message(role="system", content=SYSTEM),
    Message(role="user", content=USER),
    Message(role="assistant", reasoning="The user wants weather.", tool_calls=[
        ToolCall(id="get_weather_abc123", name="get_weather", arguments={"city": "Lisbon"})],
        vendor_blocks=[VendorBlock(provider="cohere", type="thinking",
                                   data={"type": "thinking", "thinking": "The user wants weather."}),
                       VendorBlock(provider="cohere", type="tool_plan", data={"tool_plan": "I will look it up."})]),
    tool_result("get_weather_abc123", {"temperature": 21}),
]
TEXT_DATA = DocumentPart(data="VGhlIGxhdW5jaCBpcyBvbiBUdWVzZGF5Lg==", media_type="text/plain", filename="notes.txt")


def _cases() -> list[Case]:
    cases = for_api([
        *common_cases(),
        *reasoning_cases(efforts=("minimal", "low", "medium", "high", "xhigh")),
        Case("reasoning_effort_none", options={"reasoning_effort": "none"}, model="reasoning"),
        Case("reasoning_own_tool_loop", OWN_TOOL_LOOP, {"tools": TOOLS, "reasoning_budget": 1024},
             model="reasoning"),
        Case("top_k_and_p_bounds", options={"top_k": 900, "top_p": 1.0, "temperature": 0.7}),
        Case("document_text", with_parts(DOC_TEXT)),
        Case("document_text_data", with_parts(TEXT_DATA, DOC_TEXT)),
        Case("document_in_tool_loop", [*MULTI_TURN, Message(role="user", content=[DOC_TEXT, TextPart(text="Sum up")])],
             {"tools": TOOLS}),
        Case("document_in_tool_result", [
            Message(role="user", content=USER),
            Message(role="assistant", tool_calls=[ToolCall(id="c1", name="get_weather", arguments={})]),
            Message(role="tool", tool_call_id="c1", content=[TextPart(text="found:"), DOC_TEXT])], {"tools": TOOLS}),
        Case("structured_with_documents", with_parts(DOC_TEXT), structured=Person),
        Case("structured_json_schema_with_tools", structured=Person, mode="json_schema", options={"tools": TOOLS}),
        Case("small_model_tools", options={"tools": TOOLS, "tool_choice": "required"}, model="small"),
        Case("legacy_model_tool_choice_none", options={"tools": TOOLS, "tool_choice": "none"}, model="legacy"),
        Case("legacy_model_structured", structured=dict[str, int], options={"tools": TOOLS}, model="legacy"),
        Case("vision_structured", with_parts(IMAGE_URL), structured=Person, model="vision"),
        Case("vision_stream", with_parts(IMAGE_DATA), stream=True, model="vision"),
    ], "cohere")
    # Cohere's vision models take images; the others refuse them before sending.
    return [replace(c, model="vision") if c.id.startswith("image_") else c for c in cases]


CASES = _cases()


@pytest.fixture(scope="module")
def cohere_provider():  # type: ignore[no-untyped-def]
    return provider("cohere")


@pytest.mark.parametrize("case", [param(c) for c in CASES])
def test_chat_body_is_valid(case: Case, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    body = quiet(cohere_provider._build_request, make_call(cohere_provider, MODELS[case.model], case))
    assert_valid(check_body(body, CHAT), body)
    json.dumps(body)  # plain JSON, nothing the encoder would have to guess


@pytest.mark.parametrize("case", [param(c) for c in CASES if not c.stream])
def test_tokenize_body_is_valid(case: Case, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    body = quiet(cohere_provider._build_count_request, make_call(cohere_provider, MODELS[case.model], case))
    assert_valid(check_body(body, TOKENIZE), body)
    assert body["text"].strip()


@pytest.mark.parametrize(("texts", "options"), [
    (["one"], EmbedOptions()),
    (["one", "two"], EmbedOptions(input_type="query", dimensions=512)),
    (["a"], EmbedOptions(input_type="classification")),
    (["a"], EmbedOptions(input_type="clustering")),
    (["a"], EmbedOptions(input_type="similarity")),
    (["a"], EmbedOptions(input_type="document", dimensions=1536)),
])
def test_embed_body_is_valid(texts: list[str], options: EmbedOptions, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    body = cohere_provider._build_embed_request("embed-v4.0", texts, options)
    assert_valid(check_body(body, EMBED), body)


@pytest.mark.parametrize("top_n", [None, 1, 3])
def test_rerank_body_is_valid(top_n: int | None, cohere_provider) -> None:  # type: ignore[no-untyped-def]
    body = cohere_provider._build_rerank_request("rerank-v3.5", "launch day", ["a", "b", "c"], top_n)
    assert_valid(check_body(body, RERANK), body)
