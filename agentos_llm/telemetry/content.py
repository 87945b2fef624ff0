"""Message content in the GenAI semantic conventions' JSON shape, for spans whose user opted in.

`gen_ai.system_instructions` holds the system turns' parts, `gen_ai.input.messages` the other turns,
`gen_ai.output.messages` the answer with its finish reason, `gen_ai.tool.definitions` the function tools.
Parts: text, reasoning, tool_call, tool_call_response, uri (an image or document by URL or file id) and blob
(inline data: its modality and media type only, the bytes are left out). Keys never appear (they are not part
of messages); the JSON goes through `agentos_llm.redaction` all the same, for keys pasted into prompts.
"""

from __future__ import annotations

import json
from typing import Any

from ..redaction import redact
from ..types import AudioPart, CompletionResponse, DocumentPart, ImagePart, Message, TextPart, ToolDefinition

__all__ = ["input_messages", "output_messages", "system_instructions", "tool_definitions"]


def _dumps(value: Any) -> str:
    return redact(json.dumps(value, ensure_ascii=False, default=str))


def _part(part: Any) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "content": part.text}
    if isinstance(part, ImagePart):
        if part.url and not part.url.startswith("data:"):
            return {"type": "uri", "modality": "image", "uri": part.url}
        return {"type": "blob", "modality": "image", "mime_type": part.media_type}
    if isinstance(part, DocumentPart):
        if part.text is not None:
            return {"type": "text", "content": part.text}
        if part.url or part.file_id:
            return {"type": "uri", "modality": "document", "uri": part.url or part.file_id,
                    "mime_type": part.media_type}
        return {"type": "blob", "modality": "document", "mime_type": part.media_type}
    if isinstance(part, AudioPart):
        return {"type": "blob", "modality": "audio", "mime_type": f"audio/{part.format}"}
    return {"type": str(getattr(part, "type", "unknown"))}


def _parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.reasoning:
        parts.append({"type": "reasoning", "content": message.reasoning})
    content = message.content
    if isinstance(content, str):
        if message.role == "tool":
            parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": content})
        elif content:
            parts.append({"type": "text", "content": content})
    elif content:
        if message.role == "tool":
            parts.append({"type": "tool_call_response", "id": message.tool_call_id,
                          "response": [_part(p) for p in content]})
        else:
            parts.extend(_part(p) for p in content)
    parts.extend({"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments}
                 for c in message.tool_calls)
    return parts


def system_instructions(messages: list[Message]) -> str | None:
    """The system turns' parts as JSON (None without a system turn)."""
    parts = [p for m in messages if m.role == "system" for p in _parts(m)]
    return _dumps(parts) if parts else None


def input_messages(messages: list[Message]) -> str:
    """The conversation's other turns as JSON."""
    return _dumps([{"role": m.role, "parts": _parts(m)} for m in messages if m.role != "system"])


def output_messages(response: CompletionResponse) -> str:
    """The answer as JSON: one assistant message with its finish reason."""
    message = response.message
    finish = str(response.finish_reason) if response.finish_reason is not None else (response.raw_finish_reason or "")
    return _dumps([{"role": message.role, "parts": _parts(message), "finish_reason": finish}])


def tool_definitions(tools: list[ToolDefinition] | None) -> str | None:
    """The function tools offered, as JSON (None without tools)."""
    if not tools:
        return None
    return _dumps([{"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
                   for t in tools])
