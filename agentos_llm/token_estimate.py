"""A local token estimate for hosts without a counting endpoint (`TokenCount.exact` is False).

The rule, documented so callers can judge it: every message costs 3 tokens of framing and its text
about one token per 4 ASCII characters plus one per other character (scripts such as CJK take
about a token a character; accented Latin text is overcounted a little); tool definitions count as
their JSON text; 3 tokens prime the reply. It leans high for English, which is the safe side for
fitting a context window. Images, documents and audio have no sound estimate, so a call that
carries them raises `UnsupportedCapabilityError` instead of guessing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .errors import UnsupportedCapabilityError
from .types import TextPart, TokenCount

if TYPE_CHECKING:
    from .provider import Call

__all__ = ["estimate_text_tokens", "estimate_tokens"]

_PER_MESSAGE = 3
_REPLY_PRIMING = 3


def estimate_text_tokens(text: str) -> int:
    """Tokens of a text by the rule above."""
    if not text:
        return 0
    ascii_chars = len(text.encode("ascii", "ignore"))
    return -(-ascii_chars // 4) + (len(text) - ascii_chars)


def estimate_tokens(call: Call, *, provider: str | None = None) -> TokenCount:
    """The estimate for a whole call: messages, tool calls and results, tool definitions."""
    total = _REPLY_PRIMING
    for msg in call.messages:
        total += _PER_MESSAGE
        content = msg.content
        if isinstance(content, list):
            for part in content:
                if not isinstance(part, TextPart):
                    raise UnsupportedCapabilityError(
                        provider or "", "token counting",
                        f"no exact counting endpoint here and no sound local estimate for {part.type} parts")
                total += estimate_text_tokens(part.text)
        elif content:
            total += estimate_text_tokens(content)
        for tc in msg.tool_calls:
            total += estimate_text_tokens(tc.name) + estimate_text_tokens(
                tc.arguments_raw or json.dumps(tc.arguments, separators=(",", ":")))
    for tool in call.options.tools or ():
        total += estimate_text_tokens(json.dumps(
            {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
            separators=(",", ":")))
    return TokenCount(input_tokens=total, exact=False, model=call.model, provider=provider)
