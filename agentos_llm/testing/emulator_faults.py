"""Faults of the wire emulator that work on any dialect's answer: the bytes a faulty server sends instead of
(or around) a correct answer. Used by :mod:`agentos_llm.testing.emulator`; standard library only.

A :class:`~agentos_llm.testing.emulator.Fault` with one of these fields set answers with the endpoint's
answer to ``Fault.reply`` (its default answer when None), transformed:

- ``raw_body``: exactly these bytes instead, with ``Fault.status`` and ``content_type`` (an HTML page, an
  empty 200, a body that is not JSON or not UTF-8);
- ``content_type``: the answer under a wrong content type;
- ``pad_bytes``: the answer padded with that many bytes of JSON whitespace (a whole body, or the first
  event of an event stream; a binary event stream is not padded), e.g. a 50 MB body;
- ``invalid_utf8``: the answer's text carries bytes that are not UTF-8;
- ``trickle``: the answer's bytes sent in small pieces over that many seconds (the headers at once);
- ``cut_after_events``: an event stream that ends cleanly after that many events (no end marker), a whole
  body cut in half under a matching Content-Length;
- ``reset``: the connection closed before any byte of an answer.

A server that never sends its headers is ``Reply(delay=...)`` (or ``Fault(delay=...)``) longer than the
client's timeout: the emulator stops waiting as soon as the client hangs up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Fault, Reply, WireRequest, WireResponse

__all__ = ["UTF8_MARK", "faulty_answer", "send_slowly", "transforms"]

UTF8_MARK = "zz-not-utf8-zz"
"""The text an ``invalid_utf8`` answer carries, its middle bytes then replaced by bytes that are not UTF-8."""
_NOT_UTF8 = b"zz-\xff\xfe\xfd-utf8-zz"  # as long as the mark, so lengths and framing stay right
_TRICKLE_STEPS = 40


def transforms(fault: Fault) -> bool:
    """Whether `fault` is one of the kinds this module sends."""
    return (fault.raw_body is not None or fault.content_type is not None or fault.pad_bytes > 0
            or fault.invalid_utf8 or fault.trickle is not None or fault.cut_after_events is not None or fault.reset)


def _guess_type(body: bytes) -> str:
    head = body.lstrip()[:1]
    if head == b"<":
        return "text/html; charset=utf-8"
    if head in (b"{", b"["):
        return "application/json"
    return "text/plain; charset=utf-8"


def _pad(response: WireResponse, size: int) -> None:
    content_type = response.headers.get("content-type", "")
    if response.events is None:
        if "json" in content_type:
            response.body += b" " * size  # JSON allows trailing whitespace
    elif "event-stream" in content_type and response.events:
        first = response.events[0]
        data = first.find(b"data:")
        end = first.find(b"\n", data)
        if data < 0 or end < 0:
            return
        if first[end - 1:end] == b"\r":
            end -= 1
        response.events[0] = first[:end] + b" " * size + first[end:]  # after the first event's JSON data


def _spoil_utf8(response: WireResponse) -> None:
    mark = UTF8_MARK.encode()
    if response.events is None:
        response.body = response.body.replace(mark, _NOT_UTF8)
    else:
        response.events = [e.replace(mark, _NOT_UTF8) for e in response.events]


def faulty_answer(handler: Callable[[WireRequest, Reply | Fault | None], WireResponse], request: WireRequest,
                  fault: Fault) -> WireResponse:
    """The response for a `fault` that `transforms`."""
    from .emulator import Reply, WireResponse

    if fault.reset:
        return WireResponse(close_without_response=True)
    if fault.raw_body is not None:
        response = WireResponse(status=fault.status,
                                headers={"content-type": fault.content_type or _guess_type(fault.raw_body)},
                                body=fault.raw_body)
    else:
        reply = fault.reply
        if fault.invalid_utf8:
            reply = Reply(text=f"{UTF8_MARK} {reply.text}" if reply is not None else UTF8_MARK)
        response = handler(request, reply)
        if fault.invalid_utf8:
            _spoil_utf8(response)
        if fault.pad_bytes > 0:
            _pad(response, fault.pad_bytes)
        if fault.content_type is not None:
            response.headers["content-type"] = fault.content_type
    response.trickle = fault.trickle
    response.cut_after_events = fault.cut_after_events
    return response


def send_slowly(write: Callable[[bytes], Any], head: bytes, body: bytes, seconds: float) -> None:
    """Sends `head` at once and `body` in small pieces spread over `seconds` (a write to a client that left
    raises, which ends the answer)."""
    write(head)
    if not body:
        return
    step = max(1, -(-len(body) // _TRICKLE_STEPS))
    pause = seconds / max(1, -(-len(body) // step))
    for start in range(0, len(body), step):
        time.sleep(pause)
        write(body[start:start + step])
