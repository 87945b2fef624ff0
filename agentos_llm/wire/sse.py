"""A server-sent-events decoder over text lines (pure; no I/O)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import NamedTuple

__all__ = ["SSEDecoder", "ServerSentEvent", "aiter_sse", "iter_sse"]


class ServerSentEvent(NamedTuple):
    """One dispatched event: its type (None when unnamed) and its data lines joined by newlines (a tuple: one is
    made per event of every stream)."""

    event: str | None
    data: str


class SSEDecoder:
    """Feeds lines (without their line ending), returns an event at each blank line.

    Follows the HTML spec: `data:` lines of one event are joined with "\\n", a single space after
    the colon is dropped, lines starting with ":" are comments (keep-alives), unknown fields are ignored.
    """

    __slots__ = ("_data", "_event", "dispatched_empty")

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self.dispatched_empty = False
        """Whether `datas` completed an event it gave nothing for (its data empty): still an event."""

    def line(self, line: str) -> ServerSentEvent | None:
        """Takes one line; returns the event it completes, if any."""
        if not line:
            return self.flush()
        if line.startswith("data: "):  # nearly every line of a stream
            self._data.append(line[6:])
            return None
        if line[0] == ":":
            return None
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def lines(self, lines: list[str]) -> list[ServerSentEvent]:
        """Takes many lines; returns the events they complete. What `line` does for each, with a stream's usual
        `data:` and `event:` lines taken without a call per line."""
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                event = self.flush()
                if event is not None:
                    events.append(event)
            elif line.startswith("data: "):
                self._data.append(line[6:])
            elif line.startswith("event: "):
                self._event = line[7:]
            else:
                self.line(line)  # a comment or another field: only a blank line completes an event
        return events

    def datas(self, lines: list[str]) -> list[str]:
        """`lines` for a reader of data alone: the non-empty data of the events the lines complete, with no event
        object made for each (names are still taken, and dropped with their events)."""
        out: list[str] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    text = data[0] if len(data) == 1 else "\n".join(data)
                    data = self._data = []
                    if text:
                        out.append(text)
                    else:
                        self.dispatched_empty = True
                elif self._event is not None:
                    self.dispatched_empty = True
                self._event = None
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line.startswith("event: "):
                self._event = line[7:]
            else:
                self.line(line)
        return out

    def flush(self) -> ServerSentEvent | None:
        """Dispatches what has been gathered (also used at the end of a stream without a final blank line)."""
        if not self._data and self._event is None:
            return None
        event = ServerSentEvent(self._event, "\n".join(self._data))
        self._event = None
        self._data = []
        return event


def iter_sse(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """Events from an iterable of lines (line endings already removed)."""
    decoder = SSEDecoder()
    for line in lines:
        event = decoder.line(line)
        if event is not None:
            yield event
    last = decoder.flush()
    if last is not None:
        yield last


async def aiter_sse(lines: AsyncIterator[str]) -> AsyncIterator[ServerSentEvent]:
    """Events from an async iterable of lines (line endings already removed)."""
    decoder = SSEDecoder()
    async for line in lines:
        event = decoder.line(line)
        if event is not None:
            yield event
    last = decoder.flush()
    if last is not None:
        yield last
