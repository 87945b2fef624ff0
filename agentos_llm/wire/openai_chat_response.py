"""Chat-completion responses as our types: finish reasons, usage, reasoning (fields or `<think>` spans),
tool calls (pure).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MalformedResponseError, error_from_response
from ..response_pack import assistant_turn
from ..types import CompletionResponse, FinishReason, ToolCall, Usage, parse_tool_arguments

_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
    "error": FinishReason.ERROR,
}
_API = "the chat-completions API"
# Reasoning text arrives under any of these message/delta keys, depending on the host.
_REASONING_KEYS = ("reasoning_content", "reasoning")


def new_tool_call_id() -> str:
    """An id for a tool call the vendor gave none (some hosts omit them)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """The normalized finish reason; a "stop" that carries tool calls is `tool_calls`."""
    if raw is None or raw == "":
        return FinishReason.TOOL_CALLS if has_tool_calls else None
    reason = _FINISH.get(raw, FinishReason.OTHER)
    if has_tool_calls and reason is FinishReason.STOP:
        return FinishReason.TOOL_CALLS
    return reason


# ---------------------------------------------------------------------- response


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    """Usage from an OpenAI usage object: prompt tokens already count cached ones, completion reasoning."""
    if not u:
        return Usage()
    prompt = u.get("prompt_tokens")
    if prompt is None:
        prompt = u.get("total_tokens")  # embeddings on some hosts report only the total
    completion = _int(u.get("completion_tokens"))
    pd = u.get("prompt_tokens_details") or {}
    cd = u.get("completion_tokens_details") or {}
    cost = u.get("cost")
    return Usage(
        input_tokens=_int(prompt),
        output_tokens=completion,
        total_tokens=_int(u.get("total_tokens")),
        cached_input_tokens=_int(pd.get("cached_tokens") if isinstance(pd, Mapping) else 0),
        reasoning_tokens=_int(cd.get("reasoning_tokens") if isinstance(cd, Mapping) else 0),
        cost_usd=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    )


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or the text parts of a list (thinking parts excluded)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return str(content)


def _reasoning_of(container: Mapping[str, Any]) -> str | None:
    for key in _REASONING_KEYS:
        value = container.get(key)
        if isinstance(value, str) and value:
            return value
    details = container.get("reasoning_details")
    if isinstance(details, list):
        text = "".join(d.get("text") or d.get("summary") or "" for d in details if isinstance(d, dict))
        if text:
            return text
    content = container.get("content")
    if isinstance(content, list):
        parts: list[str] = []
        for p in content:
            if isinstance(p, dict) and p.get("type") == "thinking":
                thinking = p.get("thinking")
                if isinstance(thinking, list):
                    parts.extend(t.get("text") or "" for t in thinking if isinstance(t, dict))
                elif isinstance(thinking, str):
                    parts.append(thinking)
        if parts:
            return "".join(parts)
    return None


_OPEN_THINK, _CLOSE_THINK = "<think>", "</think>"


def _partial_tag(text: str, tag: str) -> int:
    """How many trailing characters of `text` could begin `tag` (so must wait for the next piece)."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ThinkTagSplitter:
    """Splits `<think>...</think>` spans (reasoning inlined in the content) out of text fed piece by piece.

    Tags may be cut anywhere between pieces: a trailing fragment that could start a tag is held back
    until the next piece (or `flush`). A `<think>` never closed makes the rest reasoning.
    """

    __slots__ = ("_held", "inside")

    def __init__(self) -> None:
        self.inside = False
        self._held = ""

    def feed(self, piece: str) -> tuple[str, str]:
        """The (text, reasoning) a piece releases."""
        buf = self._held + piece
        self._held = ""
        text: list[str] = []
        reasoning: list[str] = []
        while buf:
            tag = _CLOSE_THINK if self.inside else _OPEN_THINK
            out = reasoning if self.inside else text
            at = buf.find(tag)
            if at >= 0:
                out.append(buf[:at])
                buf = buf[at + len(tag):]
                self.inside = not self.inside
                continue
            keep = _partial_tag(buf, tag)
            if keep:
                self._held = buf[-keep:]
                buf = buf[:-keep]
            out.append(buf)
            break
        return "".join(text), "".join(reasoning)

    def flush(self) -> tuple[str, str]:
        """What is still held back, once no more text will come."""
        held, self._held = self._held, ""
        return ("", held) if self.inside else (held, "")


def split_think_tags(text: str) -> tuple[str, str | None]:
    """A whole content as (text outside `<think>` spans, the spans' reasoning or None); no trimming."""
    if _OPEN_THINK not in text:
        return text, None
    splitter = ThinkTagSplitter()
    outside, inside = splitter.feed(text)
    tail_text, tail_reasoning = splitter.flush()
    return outside + tail_text, (inside + tail_reasoning) or None


def _join_reasoning(*parts: str | None) -> str | None:
    return "".join(p for p in parts if p) or None


def _tool_calls_of(message: Mapping[str, Any]) -> list[ToolCall]:
    calls = []
    for raw in message.get("tool_calls") or ():
        fn = raw.get("function") or {}
        args, args_raw = parse_tool_arguments(fn.get("arguments"))
        calls.append(ToolCall(id=raw.get("id") or new_tool_call_id(), name=fn.get("name") or "",
                              arguments=args, arguments_raw=args_raw))
    return calls


def _raise_error_body(payload: Mapping[str, Any], provider: str) -> None:
    error = payload.get("error")
    if error:
        # The HTTP status the host would have sent: an integer `code`, or `status_code` (Groq in-stream errors).
        candidates = (error.get("code"), error.get("status_code")) if isinstance(error, Mapping) else ()
        status = next((v for v in candidates if isinstance(v, int) and not isinstance(v, bool)), None)
        raise error_from_response(status, payload, provider=provider)


def _first_choice(choices: Sequence[Any]) -> Mapping[str, Any] | None:
    for c in choices:
        if c.get("index", 0) == 0:
            return c  # type: ignore[no-any-return]
    return choices[0] if choices else None


def _upstream(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("provider")
    return value if isinstance(value, str) else None


def parse_chat_completion(payload: Any, *, provider: str, model: str,
                          wire: Mapping[str, Any] | None = None) -> CompletionResponse:
    """A whole chat completion as our response (`model` is the requested one, used when none is served).

    `wire` is the host's quirks (`think_tags`: reasoning inlined in the content as `<think>` spans).
    """
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    _raise_error_body(payload, provider)
    choices = payload.get("choices")
    if not isinstance(choices, list):  # e.g. another API's answer: not an empty success
        raise MalformedResponseError("the response has no choices list", provider=provider)
    choice = _first_choice(choices)
    message: Mapping[str, Any] = (choice or {}).get("message") or {}
    text = _content_text(message.get("content"))
    calls = _tool_calls_of(message)
    reasoning = _reasoning_of(message)
    if wire and wire.get("think_tags"):
        text, inline = split_think_tags(text)
        reasoning = _join_reasoning(reasoning, inline)
    raw_finish = (choice or {}).get("finish_reason")
    return CompletionResponse(
        id=payload.get("id"),
        provider=provider,
        model=payload.get("model") or model,
        text=text,
        reasoning=reasoning,
        tool_calls=calls,
        finish_reason=finish_reason(raw_finish, bool(calls)),
        raw_finish_reason=raw_finish,
        usage=usage_from_wire(payload.get("usage") or _nested_usage(payload)),
        message=assistant_turn(text, calls, reasoning),
        upstream=_upstream(payload),
        raw=payload,
    )


def _nested_usage(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    x = payload.get("x_groq")
    return x.get("usage") if isinstance(x, Mapping) else None
