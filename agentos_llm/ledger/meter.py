"""Metering one provider call: the budget check before it, one ledger row after it (ok, error or cancelled).

`IProvider` calls these only when a ledger is attached (`provider.usage_ledger`), so a provider
without one pays a single attribute check per call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ..types import DoneEvent, StreamEvent, Usage, UsageEvent
from .budgets import Reservation
from .context import _HOP, _TAGS
from .records import UsageRecord

if TYPE_CHECKING:
    from ..provider import IProvider
    from .writer import UsageLedger

__all__ = ["AsyncMeteredStream", "MeteredStream", "Ticket", "estimate"]

log = logging.getLogger("agentos_llm.ledger")
T = TypeVar("T")
_PER_MESSAGE = 3


_PRICE_TTL = 60.0
_REFERENCE_TOKENS = 1000
_prices: dict[tuple[str, str | None, str], tuple[float, float, float]] = {}


def _unit_prices(provider: IProvider, model: str) -> tuple[float, float]:
    """USD per input and per output token, as the provider prices a 1000-token call (cached a minute:
    pricing a call is tens of microseconds, too much to pay twice per call)."""
    key = (provider.provider_id, provider.base_url, model)
    now = time.monotonic()
    hit = _prices.get(key)
    if hit is not None and hit[0] > now:
        return hit[1], hit[2]
    from ..catalog import catalog_entry, cost_usd

    unit = []
    for usage in (Usage(input_tokens=_REFERENCE_TOKENS), Usage(output_tokens=_REFERENCE_TOKENS)):
        price = getattr(provider, "_price", None)  # the provider's own pricing order, where it has one
        if price is not None:
            price(usage, model)
        else:
            usage.cost_usd = cost_usd(catalog_entry(provider.catalog_key, model), usage)
        unit.append((usage.cost_usd or 0.0) / _REFERENCE_TOKENS)
    if len(_prices) > 4096:
        _prices.clear()
    _prices[key] = (now + _PRICE_TTL, unit[0], unit[1])
    return unit[0], unit[1]


def estimate(provider: IProvider, op: str, model: str, source: Any, reserve_output_tokens: int
             ) -> tuple[int, float]:
    """(tokens, usd) a call is expected to use, reserved against budgets while it runs.

    Input: the text of the messages (or embedding inputs, or query and documents) by the library's
    local token rule; output: the call's `max_tokens`, else `reserve_output_tokens` (chat only).
    Priced as the provider prices a small call, per token (a price tier for very long prompts is not
    applied); a model without a price reserves $0.
    """
    from ..token_estimate import estimate_text_tokens

    if op in ("chat", "stream"):
        tokens_in = 3 + sum(_PER_MESSAGE + estimate_text_tokens(m.text) for m in source.messages)
        tokens_out = source.options.max_tokens or reserve_output_tokens
    elif op == "embed":
        tokens_in, tokens_out = sum(estimate_text_tokens(t) for batch in source for t in batch), 0
    else:  # rerank: (query, documents); many vendors count the query once per document
        query, docs = source
        q = estimate_text_tokens(query)
        tokens_in, tokens_out = sum(q + estimate_text_tokens(d) for d in docs), 0
    per_in, per_out = _unit_prices(provider, model)
    return tokens_in + tokens_out, tokens_in * per_in + tokens_out * per_out


class Ticket:
    """One metered call: opened before sending (budget check), closed once with its row."""

    __slots__ = ("closed", "hop", "ledger", "model", "op", "provider", "reservation", "t0", "tags", "ttft_ms",
                 "usage", "wall")

    def __init__(self, ledger: UsageLedger, provider: IProvider, op: str, model: str, source: Any) -> None:
        self.ledger = ledger
        self.provider = provider
        self.op = op
        self.model = model
        ctx = _TAGS.get()
        self.tags = ledger.tags if ctx is None else {**ledger.tags, **ctx}
        self.hop = _HOP.get()
        self.reservation: Reservation | None = None
        self.ttft_ms: float | None = None
        self.usage: Usage | None = None
        self.closed = False
        guard = ledger._guard
        if guard is not None:
            states = guard.applicable(provider.provider_id, model, self.tags)
            if states:
                tokens, usd = estimate(provider, op, model, source, ledger.reserve_output_tokens)
                self.reservation = guard.reserve(states, provider.provider_id, usd, tokens)
        self.wall = time.time()
        self.t0 = time.perf_counter()

    def done(self, result: Any) -> None:
        """Records a finished call from its response (anything with `usage`, perhaps `request_id`)."""
        self._close("ok", getattr(result, "usage", None), getattr(result, "request_id", None))

    def fail(self, exc: BaseException) -> None:
        """Records a failed call with the error's class name as its status."""
        self._close(type(exc).__name__, self.usage, getattr(exc, "request_id", None))

    def cancel(self) -> None:
        """Records a stream left before its end (usage as far as the stream reported it)."""
        self._close("cancelled", self.usage, None)

    def first_event(self) -> None:
        self.ttft_ms = (time.perf_counter() - self.t0) * 1000.0

    def _close(self, status: str, usage: Usage | None, request_id: Any) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            p = self.provider
            u = usage if usage is not None else Usage()
            rec = UsageRecord(
                time=self.wall, provider=p.provider_id, model=self.model, host=p.spec.host_id, api=p.api,
                operation=self.op, input_tokens=u.input_tokens, cached_input_tokens=u.cached_input_tokens,
                cache_write_input_tokens=u.cache_write_input_tokens, output_tokens=u.output_tokens,
                reasoning_tokens=u.reasoning_tokens, cost_usd=u.cost_usd,
                cost_source=getattr(u, "cost_source", None), latency_ms=(time.perf_counter() - self.t0) * 1000.0,
                ttft_ms=self.ttft_ms, status=status, request_id=request_id if isinstance(request_id, str) else None,
                fallback_hop=self.hop, tags=self.tags)
            self.ledger.record(rec)
        except Exception:  # the ledger never fails a call
            log.exception("usage ledger: could not record a row")
        finally:
            if self.reservation is not None and self.ledger._guard is not None:
                self.ledger._guard.release(self.reservation)


def run(ledger: UsageLedger, provider: IProvider, op: str, model: str, source: Any, fn: Callable[[], T]) -> T:
    """Runs a whole call under a ticket."""
    ticket = Ticket(ledger, provider, op, model, source)
    try:
        result = fn()
    except BaseException as exc:
        ticket.fail(exc)
        raise
    ticket.done(result)
    return result


async def arun(ledger: UsageLedger, provider: IProvider, op: str, model: str, source: Any,
               fn: Callable[[], Awaitable[T]]) -> T:
    """Awaits a whole call under a ticket."""
    ticket = Ticket(ledger, provider, op, model, source)
    try:
        result = await fn()
    except BaseException as exc:
        ticket.fail(exc)
        raise
    ticket.done(result)
    return result


def _observe(ticket: Ticket, event: StreamEvent) -> None:
    if ticket.ttft_ms is None:
        ticket.first_event()
    if isinstance(event, UsageEvent):
        ticket.usage = event.usage
    elif isinstance(event, DoneEvent):
        ticket.done(event.response)


class MeteredStream(Iterator[StreamEvent]):
    """A sync event stream that records its row at `done`, on an error, or when closed early."""

    def __init__(self, ticket: Ticket, events: Iterator[StreamEvent]) -> None:
        self._ticket = ticket
        self._events = events

    def __iter__(self) -> MeteredStream:
        return self

    def __next__(self) -> StreamEvent:
        try:
            event = next(self._events)
        except StopIteration:
            self._ticket.cancel()  # ended without `done`: only if the provider broke its contract
            raise
        except BaseException as exc:
            self._ticket.fail(exc)
            raise
        _observe(self._ticket, event)
        return event

    def close(self) -> None:
        """Closes the underlying stream; a stream left before `done` records a cancelled row."""
        try:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
        finally:
            self._ticket.cancel()

    def __del__(self) -> None:
        if not self._ticket.closed:
            self._ticket.cancel()


class AsyncMeteredStream(AsyncIterator[StreamEvent]):
    """An async event stream that records its row at `done`, on an error, or when closed early."""

    def __init__(self, ticket: Ticket, events: AsyncIterator[StreamEvent]) -> None:
        self._ticket = ticket
        self._events = events

    def __aiter__(self) -> AsyncMeteredStream:
        return self

    async def __anext__(self) -> StreamEvent:
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            self._ticket.cancel()
            raise
        except BaseException as exc:
            self._ticket.fail(exc)
            raise
        _observe(self._ticket, event)
        return event

    async def aclose(self) -> None:
        """Closes the underlying stream; a stream left before `done` records a cancelled row."""
        try:
            close = getattr(self._events, "aclose", None)
            if close is not None:
                await close()
        finally:
            self._ticket.cancel()

    def __del__(self) -> None:
        if not self._ticket.closed:
            self._ticket.cancel()

