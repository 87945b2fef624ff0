"""Anthropic Messages responses as our types: finish reasons, usage, content blocks, model listings and
token counts (pure).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..errors import MalformedResponseError, error_from_response
from ..request_rules import EFFORT_BUDGETS as DEFAULT_EFFORT_BUDGETS
from ..response_pack import assistant_turn
from ..types import (
    Citation,
    CompletionResponse,
    FinishReason,
    ModelInfo,
    ToolCall,
    Usage,
    VendorBlock,
    parse_tool_arguments,
)
from .anthropic_documents import citation_from_wire
from .common import token_count_field

PROVIDER = "anthropic"
DEFAULT_MAX_TOKENS = 4096
"""`max_tokens` for a model the catalog does not know (the API requires one)."""
MIN_THINKING_BUDGET = 1024
"""The smallest `budget_tokens` the API accepts."""
# Thinking budgets for the effort levels, on models with manual thinking (adaptive ones take the effort).
EFFORT_BUDGETS: Mapping[str, int] = DEFAULT_EFFORT_BUDGETS
_API = "the Anthropic Messages API"

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
    "pause_turn": FinishReason.OTHER,
}
_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_NOT_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
# Assistant blocks that must open the turn when sent back (the API checks their position).
_THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})


def finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """The normalized finish reason for a `stop_reason`; unknown values are `other`."""
    if not raw:
        return FinishReason.TOOL_CALLS if has_tool_calls else None
    reason = _FINISH.get(raw, FinishReason.OTHER)
    if has_tool_calls and reason is FinishReason.STOP:
        return FinishReason.TOOL_CALLS
    return reason


def tool_id(raw: str | None) -> str:
    """A tool-use id Anthropic accepts (`^[a-zA-Z0-9_-]+$`), stable for the same input.

    Ids made elsewhere (OpenAI `call_...`, Gemini, hand-written) pass unchanged when already valid;
    others get their invalid characters replaced plus a short hash, so two ids never collide.
    """
    if raw and _TOOL_ID.match(raw):
        return raw
    digest = hashlib.sha256((raw or "").encode()).hexdigest()[:10]
    cleaned = _NOT_ID_CHARS.sub("_", raw or "")[:48]
    return f"{cleaned}_{digest}" if cleaned else f"toolu_{digest}"


# ---------------------------------------------------------------------- response


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    """Usage in our inclusive convention: input counts cache reads and writes.

    Thinking tokens are billed inside `output_tokens`, which is what `output_tokens` reports;
    `reasoning_tokens` stays 0 (Anthropic gives no split the other vendors' counts compare with).
    """
    if not u:
        return Usage()
    read = _int(u.get("cache_read_input_tokens"))
    written = _int(u.get("cache_creation_input_tokens"))
    return Usage(
        input_tokens=_int(u.get("input_tokens")) + read + written,
        output_tokens=_int(u.get("output_tokens")),
        cached_input_tokens=read,
        cache_write_input_tokens=written,
    )


def _response(blocks: Sequence[Mapping[str, Any]], *, message_id: str | None, model: str, stop_reason: Any,
              usage: Mapping[str, Any] | None, provider: str, structured_tool: str | None,
              raw: Any = None) -> CompletionResponse:
    """The whole response from finished content blocks (shared by the whole and streamed paths)."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    vendor: list[VendorBlock] = []
    citations: list[Citation] = []
    answer: str | None = None
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
            cited = block.get("citations")
            if isinstance(cited, list):
                citations.extend(citation_from_wire(c) for c in cited if isinstance(c, Mapping))
        elif kind == "tool_use":
            args, args_raw = parse_tool_arguments(block.get("input"))
            if structured_tool is not None and block.get("name") == structured_tool:
                answer = args_raw if args_raw is not None else json.dumps(args)
                continue
            calls.append(ToolCall(id=block.get("id") or tool_id(None), name=block.get("name") or "",
                                  arguments=args, arguments_raw=args_raw))
        else:
            if kind == "thinking":
                reasoning.append(block.get("thinking") or "")
            vendor.append(VendorBlock(provider=PROVIDER, type=str(kind), data=dict(block)))
    text = answer if answer is not None else "".join(texts)
    thought = "".join(reasoning) or None
    raw_finish = stop_reason if isinstance(stop_reason, str) else None
    reason = finish_reason(raw_finish, bool(calls))
    if answer is not None and raw_finish == "tool_use" and not calls:
        reason = FinishReason.STOP  # the forced tool carried the answer; nothing is left to call
    return CompletionResponse(
        id=message_id,
        provider=provider,
        model=model,
        text=text,
        reasoning=thought,
        tool_calls=calls,
        finish_reason=reason,
        raw_finish_reason=raw_finish,
        usage=usage_from_wire(usage),
        message=assistant_turn(text, calls, thought, vendor),
        citations=citations,
        raw=raw,
    )


def _raise_error_body(payload: Mapping[str, Any], provider: str, status: int | None = None) -> None:
    if payload.get("type") == "error" or isinstance(payload.get("error"), Mapping):
        raise error_from_response(status, payload, provider=provider)


def parse_message(payload: Any, *, provider: str = PROVIDER, model: str,
                  structured_tool: str | None = None) -> CompletionResponse:
    """A whole Messages response as our response (`model` is the requested one, used when none is served)."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    _raise_error_body(payload, provider)
    content = payload.get("content")
    if not isinstance(content, list):
        raise MalformedResponseError("the response has no content list", provider=provider)
    return _response([b for b in content if isinstance(b, Mapping)], message_id=payload.get("id"),
                     model=payload.get("model") or model, stop_reason=payload.get("stop_reason"),
                     usage=payload.get("usage"), provider=provider, structured_tool=structured_tool, raw=payload)


# ---------------------------------------------------------------------- models


def _unix(value: Any) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None


def parse_model_list(payload: Any, *, provider: str = PROVIDER) -> list[ModelInfo]:
    """`GET /v1/models` (one page, or pages merged into one `data` list) as ModelInfo."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_error_body(payload, provider)
    out = []
    for item in payload.get("data") or ():
        if not isinstance(item, Mapping) or not item.get("id"):
            continue
        window = item.get("max_input_tokens")
        limit = item.get("max_tokens")
        out.append(ModelInfo(
            id=item["id"], provider=provider, display_name=item.get("display_name"),
            created=_unix(item.get("created_at")),
            context_window=window if isinstance(window, int) else None,
            max_output_tokens=limit if isinstance(limit, int) else None,
        ))
    return out


def parse_token_count(payload: Any, *, provider: str = PROVIDER) -> int:
    """`input_tokens` of a `count_tokens` answer."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_error_body(payload, provider)
    return token_count_field(payload, "input_tokens", provider=provider)
