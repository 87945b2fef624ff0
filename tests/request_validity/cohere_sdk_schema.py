"""The cohere SDK's request types as a closed schema, for checking request bodies.

The SDK (Fern-generated from Cohere's API definition) declares each endpoint's body as the keyword
parameters of its raw client method (`RawV2Client.chat`, `.embed`, `.rerank`, `RawBaseCohere.tokenize`),
typed with its pydantic models (`ChatMessageV2`, `ToolV2`, `ResponseFormatV2`, `Thinking`, `Document` ...).
Those are read closed: a key no parameter or model field declares, a missing required one, a literal the SDK
does not list, or a value of the wrong JSON type is a problem. The SDK leaves its enums open to future values
(`Union[Literal[...], Any]`); a request is held to the listed values.
"""

from __future__ import annotations

import collections.abc as cabc
import inspect
import types
import typing
from typing import Any

from cohere.raw_base_client import RawBaseCohere
from cohere.v2.raw_client import RawV2Client
from pydantic import BaseModel

__all__ = ["CHAT", "EMBED", "RERANK", "TOKENIZE", "check", "check_body"]


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
