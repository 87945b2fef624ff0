"""Gemini wire basics the request, response and endpoint converters share (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..types import FinishReason

PROVIDER = "gemini"
"""The `VendorBlock.provider` of Gemini's blocks (thought signatures, function-call ids)."""
EMBED_BATCH_LIMIT = 100
"""`batchEmbedContents` takes at most this many requests."""
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented placeholder signature for function calls that no Gemini model made (a history
moved over from another vendor, or written by hand): Gemini 3 rejects unsigned calls of the current turn."""

_FINISH: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "MODEL_ARMOR": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "IMAGE_RECITATION": FinishReason.CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": FinishReason.ERROR,
    "UNEXPECTED_TOOL_CALL": FinishReason.ERROR,
    "TOO_MANY_TOOL_CALLS": FinishReason.ERROR,
    "MISSING_THOUGHT_SIGNATURE": FinishReason.ERROR,
}
_TASK_TYPES = {
    "query": "RETRIEVAL_QUERY",
    "document": "RETRIEVAL_DOCUMENT",
    "classification": "CLASSIFICATION",
    "clustering": "CLUSTERING",
    "similarity": "SEMANTIC_SIMILARITY",
}
# Token budgets for an effort, on models that take a budget (brought into each model's range).
_EFFORT_BUDGET = {"minimal": 512, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576}
_API = "the Gemini API"


@dataclass(frozen=True)
class GeminiRequest:
    """A request for the API client: the path under the API version, and the JSON body."""

    path: str
    body: dict[str, Any]


def new_tool_call_id() -> str:
    """An id for a function call the API gave none (the Gemini API usually does not)."""
    return f"call_{os.urandom(12).hex()}"  # uuid4's randomness (os.urandom) without the UUID around it


def model_path(model: str, *, vertex: bool = False) -> str:
    """The resource path of a model: `models/x` on the Gemini API, `publishers/google/models/x` on Vertex."""
    if vertex:
        if model.startswith(("projects/", "publishers/", "models/")):
            return model
        if "/" in model:
            publisher, name = model.split("/", 1)
            return f"publishers/{publisher}/models/{name}"
        return f"publishers/google/models/{model}"
    if model.startswith(("models/", "tunedModels/")):
        return model
    return f"models/{model}"


def bare_model_name(name: str) -> str:
    """`models/gemini-2.5-flash` (or a Vertex resource name) as `gemini-2.5-flash`."""
    if "/models/" in name:
        return name.rsplit("/models/", 1)[1]
    return name[len("models/"):] if name.startswith("models/") else name


def finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """The normalized finish reason; STOP on a turn with function calls is `tool_calls`."""
    if not raw:
        return FinishReason.TOOL_CALLS if has_tool_calls else None
    reason = _FINISH.get(raw, FinishReason.OTHER)
    if has_tool_calls and reason is FinishReason.STOP:
        return FinishReason.TOOL_CALLS
    return reason
