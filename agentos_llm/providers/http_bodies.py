"""Reading HTTP bodies the way the library's promises need, over any httpx-like response (httpx, httpx2,
requests): whole bodies within the attempt's timeout, and event streams that must be event streams.

- A whole body is read chunk by chunk and given up on (`APITimeoutError`) once the attempt's timeout has
  passed: the HTTP clients' timeouts bound each read only, so a body that trickles in would otherwise
  take as long as the server likes.
- An answer to a stream request that carries no server-sent event at all (an HTML page, a whole JSON
  answer, an empty body) is a `MalformedResponseError` that quotes what came instead.
- Bytes that are not UTF-8 are a `MalformedResponseError`, in a stream as in a whole body (JSON is UTF-8;
  the HTTP clients would replace them silently in a stream's lines).
"""

from __future__ import annotations

import codecs
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from ..errors import APITimeoutError, MalformedResponseError, request_id_of
from ..wire.common import json_loads
from ..wire.sse import ServerSentEvent, SSEDecoder

__all__ = ["aiter_data_batches", "aiter_event_batches", "decode_json_body", "iter_data_batches",
           "iter_event_batches", "iter_events", "read_body", "severer"]

_QUOTED = 200
"""How much of a body that is not what it should be an error quotes."""


def _chunks(response: Any) -> Iterable[bytes]:
    iter_bytes = getattr(response, "iter_bytes", None)
    if iter_bytes is not None:
        return iter_bytes()  # type: ignore[no-any-return]
    return response.iter_content(65536)  # type: ignore[no-any-return]  # requests


def read_body(response: Any, timeout: float | None, started: float, provider: str) -> bytes:
    """The whole body of a response opened as a stream, read by `started + timeout` (monotonic); closes it."""
    end = None if timeout is None else started + timeout
    parts: list[bytes] = []
    try:
        for part in _chunks(response):
            parts.append(part)
            if end is not None and time.monotonic() > end:
                raise APITimeoutError(
                    f"the answer was still arriving when the attempt's timeout of {timeout:g}s ran out",
                    provider=provider, status_code=getattr(response, "status_code", None))
    finally:
        response.close()
    return b"".join(parts)


def decode_json_body(body: bytes | str, response: Any, provider: str) -> Any:
    """A whole body as JSON; `MalformedResponseError` (quoting its start) when it is not, empty included.
    `response` (None: unknown) gives the status and request id for the error."""
    try:
        return json_loads(body)
    except ValueError:  # UnicodeDecodeError (invalid UTF-8) included
        head = body[:_QUOTED]
        what = repr(head.decode("utf-8", "replace") if isinstance(head, bytes) else head) if body else "an empty body"
        raise MalformedResponseError(
            f"the response is not JSON: {what}", provider=provider, status_code=getattr(response, "status_code", None),
            request_id=request_id_of(getattr(response, "headers", None) or {})) from None


def severer(response: Any) -> Callable[[], object] | None:
    """How to cut an open response's connection from another thread, for the sync stream watchdog
    (`agentos_llm.stream_watchdog`): httpx or httpx2 over HTTP/1 (the socket under its `network_stream`), or
    requests (urllib3's `shutdown`). None when it cannot be: another transport, or HTTP/2 (other requests share
    its connection)."""
    shutdown = getattr(getattr(response, "raw", None), "shutdown", None)  # requests: urllib3 2.3+
    if callable(shutdown):
        return shutdown  # type: ignore[no-any-return]  # it refuses once the connection went back to the pool
    extensions = getattr(response, "extensions", None) or {}
    version = extensions.get("http_version")
    get_extra_info = getattr(extensions.get("network_stream"), "get_extra_info", None)
    if not (isinstance(version, bytes) and version.startswith(b"HTTP/1")) or get_extra_info is None:
        return None
    sock = get_extra_info("socket")
    if not isinstance(sock, socket.socket):
        return None

    def sever() -> None:
        # A closed response's connection may be back in the pool, serving another request: leave it alone.
        if not getattr(response, "is_closed", False):
            # The plain socket's shutdown, also under TLS: `SSLSocket.shutdown` would drop its SSL object under
            # the reading thread's feet. The blocked read then sees the end of the connection.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    return sever


class _Kept:
    """The first lines of a body, to quote if it turns out not to be an event stream."""

    __slots__ = ("lines", "size")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0

    def keep(self, lines: list[str]) -> None:
        for line in lines:
            if self.size >= _QUOTED:
                break
            self.lines.append(line)
            self.size += len(line) + 1

    def error(self, response: Any, provider: str | None) -> MalformedResponseError:
        headers = getattr(response, "headers", None) or {}
        content_type = headers.get("content-type") or "no content type"
        text = "\n".join(self.lines).strip()[:_QUOTED]
        quoted = repr(text) if text else "an empty body"
        return MalformedResponseError(
            f"the answer to a stream request is not an event stream ({content_type}): {quoted}",
            provider=provider, status_code=getattr(response, "status_code", None), request_id=request_id_of(headers))


class _Lines:
    """Bytes to lines (`\\n` or `\\r\\n` ended), decoded as strict UTF-8; the first ones kept for `_Kept`."""

    __slots__ = ("decoder", "kept", "parts", "provider")

    def __init__(self, kept: _Kept, provider: str | None) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.parts: list[str] = []
        self.kept = kept
        self.provider = provider

    def feed(self, data: bytes, final: bool = False) -> list[str]:
        try:
            text = self.decoder.decode(data, final)
        except UnicodeDecodeError:
            raise MalformedResponseError("the stream is not UTF-8", provider=self.provider) from None
        if "\n" not in text:
            if text:
                self.parts.append(text)  # a long line arriving in pieces is joined once, at its end
            if not final or not self.parts:
                return []
            text = ""
        self.parts.append(text)
        joined = "".join(self.parts)
        if "\r" in joined:  # `\r\n` endings (Gemini's): one C-level replace, not a check per line
            joined = joined.replace("\r\n", "\n")
        lines = joined.split("\n")
        self.parts = [] if final else [lines.pop()]
        if final and lines:
            if not lines[-1]:
                lines.pop()
            elif lines[-1][-1] == "\r":  # the body's last line, ended by a lone `\r`
                lines[-1] = lines[-1][:-1]
        if self.kept.size < _QUOTED:
            self.kept.keep(lines)
        return lines


def _byte_chunks(response: Any) -> Iterable[bytes]:
    return _chunks(response) if hasattr(response, "iter_bytes") else response.iter_content(None)


def _tail(lines: _Lines, decoder: SSEDecoder, data_only: bool) -> list[Any]:
    """What the end of the body completes: its last line, and an event without a final blank line."""
    last_lines = lines.feed(b"", final=True)
    batch: list[Any] = decoder.datas(last_lines) if data_only else decoder.lines(last_lines)
    last = decoder.flush()
    if last is not None:
        if not data_only:
            batch.append(last)
        elif last.data:
            batch.append(last.data)
        else:
            decoder.dispatched_empty = True
    return batch


def _batches(response: Any, provider: str | None, data_only: bool) -> Iterator[list[Any]]:
    kept = _Kept()
    lines = _Lines(kept, provider)
    decoder = SSEDecoder()
    seen = False
    for data in _byte_chunks(response):
        got = lines.feed(data)
        batch = decoder.datas(got) if data_only else decoder.lines(got)
        if batch:
            seen = True
            yield batch
    tail = _tail(lines, decoder, data_only)
    if not (seen or tail or decoder.dispatched_empty):
        raise kept.error(response, provider)
    if tail:
        yield tail


async def _abatches(response: Any, provider: str | None, data_only: bool) -> AsyncIterator[list[Any]]:
    kept = _Kept()
    lines = _Lines(kept, provider)
    decoder = SSEDecoder()
    seen = False
    chunks = response.aiter_bytes() if hasattr(response, "aiter_bytes") else response.content.iter_any()  # aiohttp
    async for data in chunks:
        got = lines.feed(data)
        batch = decoder.datas(got) if data_only else decoder.lines(got)
        if batch:
            seen = True
            yield batch
    tail = _tail(lines, decoder, data_only)
    if not (seen or tail or decoder.dispatched_empty):
        raise kept.error(response, provider)
    if tail:
        yield tail


def iter_event_batches(response: Any, provider: str | None = None) -> Iterator[list[ServerSentEvent]]:
    """The server-sent events of a response (httpx, httpx2 or requests), a list per piece of body that completed
    some; none at all is a `MalformedResponseError`, and so are bytes that are not UTF-8.

    Bytes, lines and events in one loop, resumed once per piece of body rather than per event or line."""
    return _batches(response, provider, False)


def iter_data_batches(response: Any, provider: str | None = None) -> Iterator[list[str]]:
    """`iter_event_batches` for a wire that reads only its events' data (`event:` names unread): the non-empty
    data of each event, without an event object made for it (`SSEDecoder.datas`)."""
    return _batches(response, provider, True)


def iter_events(response: Any, provider: str | None = None) -> Iterator[ServerSentEvent]:
    """The server-sent events of a response, one by one (`iter_event_batches`)."""
    for events in iter_event_batches(response, provider):
        yield from events


def aiter_event_batches(response: Any, provider: str | None = None) -> AsyncIterator[list[ServerSentEvent]]:
    """`iter_event_batches`, async (httpx, httpx2 or aiohttp)."""
    return _abatches(response, provider, False)


def aiter_data_batches(response: Any, provider: str | None = None) -> AsyncIterator[list[str]]:
    """`iter_data_batches`, async (httpx, httpx2 or aiohttp)."""
    return _abatches(response, provider, True)
