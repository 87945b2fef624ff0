"""Rules every conversation history must keep, checked before anything is sent (pure, one pass).

Every vendor refuses a history in which tool calls and their results do not line up, each with its own
400 and wording; this module refuses it first, for every API, saying which message is wrong and how to
fix it. The rules:

- An assistant message with tool calls is followed right away by one tool result per call, in any order,
  before any other message (a history may end with an assistant message only when it made no calls).
- A tool result answers a call of the assistant message just before the results, once.
- A user message has content: not None, not "", not an empty list, not only empty text parts.

A call continued from a stored response (`previous_response_id`) may open with tool results: the calls
they answer live on the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import InvalidRequestError
from .types import Message, TextPart

__all__ = ["check_history"]

_LOOP_FIX = "append the assistant message once, then one tool result per call (any order), then the next message"


def check_history(messages: Sequence[Message], *, provider: str | None = None, continued: bool = False) -> None:
    """Raises `InvalidRequestError` naming the first message that breaks the rules above.

    `continued`: the call continues a stored response, so tool results may open the history.
    """
    pending: dict[str, str] = {}  # call id -> tool name, of the open assistant turn
    opened = -1  # index of the assistant message whose calls are being answered
    answered: dict[str, int] = {}  # call id -> index of the tool message that answered it
    leading = continued
    for i, m in enumerate(messages):  # the common case (text turns) costs a few comparisons per message
        role = m.role
        if role == "user":
            if pending:
                _unanswered(messages, i, opened, pending, provider)
            content = m.content
            if not content or (type(content) is not str and _blank(content)):
                raise InvalidRequestError(
                    f"messages[{i}] (user) has no content: give it text or parts, or leave the message out",
                    provider=provider)
            leading = False
        elif role == "tool":
            _check_result(messages, i, m, pending, opened, answered, leading, provider)
        else:
            if pending:
                _unanswered(messages, i, opened, pending, provider)
            leading = False
            if m.tool_calls:
                opened = i
                _open(m, i, pending, provider)
    if pending:
        _unanswered(messages, len(messages), opened, pending, provider)


def _check_result(messages: Sequence[Message], i: int, m: Message, pending: dict[str, str], opened: int,
                  answered: dict[str, int], leading: bool, provider: str | None) -> None:
    call_id = m.tool_call_id or ""
    if call_id in pending:
        del pending[call_id]
        answered[call_id] = i
        return
    if leading:
        return  # answers a call of the stored response this call continues
    if call_id in answered:
        raise InvalidRequestError(
            f"messages[{i}] (tool) answers tool call {call_id!r} a second time (messages[{answered[call_id]}] "
            "answered it already): send one tool result per call", provider=provider)
    if opened < 0:
        raise InvalidRequestError(
            f"messages[{i}] (tool) answers tool call {call_id!r}, but no assistant message before it made a tool "
            "call: a tool result follows the assistant message that made the call", provider=provider)
    made = ", ".join(repr(c.id) for c in messages[opened].tool_calls)
    raise InvalidRequestError(
        f"messages[{i}] (tool) answers tool call {call_id!r}, which matches no call of messages[{opened}] "
        f"(assistant), the turn it follows (it made {made}): use the id of the call it answers "
        f"(ToolCall.id), and put the results right after the assistant message that made the calls",
        provider=provider)


def _unanswered(messages: Sequence[Message], i: int, opened: int, pending: dict[str, str],
                provider: str | None) -> None:
    missing = ", ".join(f"{cid!r} ({name})" for cid, name in pending.items())
    if i == len(messages):
        raise InvalidRequestError(
            f"messages[{opened}] (assistant) made tool call(s) {missing} that no tool result answers: the "
            f"history ends before their results; {_LOOP_FIX}", provider=provider)
    repeated = messages[i].role == "assistant" and [c.id for c in messages[i].tool_calls] == [
        c.id for c in messages[opened].tool_calls]
    what = (f"messages[{i}] (assistant) repeats the assistant turn of messages[{opened}]" if repeated
            else f"messages[{i}] ({messages[i].role}) comes")
    raise InvalidRequestError(
        f"{what} before every tool call of messages[{opened}] (assistant) was answered; missing a tool result "
        f"for {missing}: {_LOOP_FIX}", provider=provider)


def _open(m: Message, i: int, pending: dict[str, str], provider: str | None) -> None:
    for call in m.tool_calls:
        if call.id in pending:
            raise InvalidRequestError(
                f"messages[{i}] (assistant) has two tool calls with the id {call.id!r}: each call needs its own id",
                provider=provider)
        pending[call.id] = call.name


def _blank(parts: Sequence[object]) -> bool:
    """Whether a list of parts holds nothing but empty text."""
    return all(type(p) is TextPart and not p.text for p in parts)
