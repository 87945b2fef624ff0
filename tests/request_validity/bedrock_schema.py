"""Bedrock runtime requests against botocore's own service model (`bedrock-runtime`, bundled with botocore).

botocore's `ParamValidator` is what boto3 runs before sending: required members, types, unknown keys, tagged
unions (exactly one member) and `min`. It leaves `max`, `pattern` and `enum` to the service, which refuses
them with a ValidationException; they are checked here too, so a body boto3 would send but Bedrock would
refuse is a finding as well. Patterns must match the whole value (the stricter reading of an unanchored
pattern such as ToolUseId's `[a-zA-Z0-9_.:-]+`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidator

__all__ = ["OPERATIONS", "check", "service_model"]

OPERATIONS = ("Converse", "ConverseStream", "CountTokens")


@cache
def service_model() -> Any:
    """botocore's bedrock-runtime service model (its bundled service-2.json)."""
    return botocore.session.get_session().get_service_model("bedrock-runtime")


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _constraints(value: Any, shape: Shape, path: str) -> Iterator[str]:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if getattr(shape, "is_document_type", False) or not isinstance(value, dict):
            return
        for key, item in value.items():
            if key in shape.members:
                yield from _constraints(item, shape.members[key], f"{path}.{key}")
        return
    if kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path}: {len(value)} items, at most {meta['max']} ({shape.name})"
        for i, item in enumerate(value):
            yield from _constraints(item, shape.member, f"{path}[{i}]")
        return
    if kind == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path}: {len(value)} entries, at most {meta['max']} ({shape.name})"
        for key, item in value.items():
            yield from _constraints(key, shape.key, f"{path} key {key!r}")
            yield from _constraints(item, shape.value, f"{path}.{key}")
        return
    if kind == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            yield f"{path}: {value!r} is not one of {shape.enum} ({shape.name})"
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path}: {len(value)} characters, at most {meta['max']} ({shape.name})"
        if "pattern" in meta and not _pattern(meta["pattern"]).fullmatch(value):
            yield f"{path}: {value[:80]!r} does not match {meta['pattern'][:80]!r} ({shape.name})"
        return
    if kind == "blob" and isinstance(value, (bytes, bytearray)) and "max" in meta and len(value) > meta["max"]:
        yield f"{path}: {len(value)} bytes, at most {meta['max']} ({shape.name})"
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)) and "max" in meta \
            and value > meta["max"]:
        yield f"{path}: {value} is above {meta['max']} ({shape.name})"


def check(operation: str, params: dict[str, Any]) -> list[str]:
    """Problems of an operation's keyword arguments (what boto3 takes, blobs as bytes)."""
    shape = service_model().operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    problems = [report.generate_report()] if report.has_errors() else []
    return problems + list(_constraints(params, shape, "$"))
