"""Streams along a route: a hop is tried until its first event; after that the stream is the answer.

A hop that fails before its first event (an error status, a dropped connection, an open breaker, a limit)
moves the stream to the next hop, as a whole call would; an error after the first event is the caller's
(part of the answer was already given). The hop's breaker and limiter ticket stays open for the whole
stream: the outcome is known at its end (`done`: success, with the usage; an error: a failure; left early:
no verdict). The hops are on the `done` event's response. Streams are not hedged (see `agentos_llm.hedging`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from .fallback import Router, _after_wait, _close_ticket, hop_marker
from .provider import AsyncEventStream, EventStream
from .routing import CallPlan, Route, Walk, attach_stream_hops
from .types import DoneEvent, StreamEvent

if TYPE_CHECKING:
    from .provider import IProvider
    from .resilience import Ticket

__all__ = ["astream", "stream"]

Open = Callable[["IProvider", str, dict[str, Any]], EventStream]
AOpen = Callable[["IProvider", str, dict[str, Any]], AsyncEventStream]
_Opened = tuple[EventStream, StreamEvent | None, "Ticket | None"]
_AOpened = tuple[AsyncEventStream, StreamEvent | None, "Ticket | None"]


def stream(router: Router, plan: CallPlan, open_stream: Open) -> Iterator[StreamEvent]:
    """The events of the first hop that gives one."""
    walk = router.walk(plan)
    for i, target in enumerate(plan.targets):
        reason = walk.skip_reason(i, target)
        if reason is not None:
            walk.skipped(i, target, reason)
            continue
        opts, notes = walk.options_for(i, target)
        started = time.perf_counter()
        try:
            events, first, ticket = _open(router, walk, i, target, opts, open_stream, notes)
        except Exception as exc:
            if not walk.failed(i, target, exc, started, notes):
                raise
            continue
        walk.serving(target, started, notes)
        yield from _relay(router, walk, target, started, events, first, ticket)
        return
    raise walk.exhausted()


def _open(router: Router, walk: Walk, i: int, target: Route, opts: dict[str, Any], open_stream: Open,
          notes: list[str]) -> _Opened:
    candidates = router.hop_guard.candidates(target.provider) if router.hop_guard.rotate else None
    if candidates is None:
        return _open_one(router, walk, i, target.provider, target.model, opts, open_stream, None, notes)
    last: BaseException | None = None
    for provider, cred in candidates:
        try:
            return _open_one(router, walk, i, provider, target.model, opts, open_stream, cred.label, notes)
        except Exception as exc:
            if not router._next_credential(target, cred, exc, notes):
                raise
            last = exc
    raise last if last is not None else router.hop_guard.all_resting(target.provider)


def _open_one(router: Router, walk: Walk, i: int, provider: IProvider, model: str, opts: dict[str, Any],
              open_stream: Open, label: str | None, notes: list[str]) -> _Opened:
    hg = router.hop_guard
    ticket = None
    if hg.active:
        ticket = hg.guard.enter(hg.key(provider, model, label), estimated_tokens=walk.plan.estimated_tokens,
                                max_wait=walk.max_wait(provider, opts))
        opts = _after_wait(ticket, opts, notes)
    try:
        with hop_marker(i, provider):  # the ledger reads the hop when the stream is made
            events = open_stream(provider, model, opts)
        try:
            first = next(events, None)
        except BaseException:
            events.close()
            raise
    except BaseException as exc:
        if ticket is not None:
            _close_ticket(ticket, exc)
        raise
    return events, first, ticket


def _relay(router: Router, walk: Walk, target: Route, started: float, events: EventStream,
           first: StreamEvent | None, ticket: Ticket | None) -> Iterator[StreamEvent]:
    finished = False
    try:
        with events:
            pending = [first] if first is not None else []
            for event in _chain(pending, events):
                if isinstance(event, DoneEvent):
                    attach_stream_hops(walk, event.response)
                    router.latencies.add("stream", target, time.perf_counter() - started)
                    if ticket is not None:
                        ticket.finish(event.response)
                    finished = True
                yield event
    except BaseException as exc:
        if ticket is not None and not finished:
            _close_ticket(ticket, exc)
        raise
    if ticket is not None:
        ticket.succeeded()  # no `done` (a stream that ends without one raises first): nothing to settle


def _chain(head: list[StreamEvent], rest: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    yield from head
    yield from rest


async def astream(router: Router, plan: CallPlan, open_stream: AOpen) -> AsyncIterator[StreamEvent]:
    """`stream` for coroutines."""
    walk = router.walk(plan)
    for i, target in enumerate(plan.targets):
        reason = walk.skip_reason(i, target)
        if reason is not None:
            walk.skipped(i, target, reason)
            continue
        opts, notes = walk.options_for(i, target)
        started = time.perf_counter()
        try:
            events, first, ticket = await _aopen(router, walk, i, target, opts, open_stream, notes)
        except Exception as exc:
            if not walk.failed(i, target, exc, started, notes):
                raise
            continue
        walk.serving(target, started, notes)
        finished = False
        try:
            async with events:
                if first is not None:
                    yield first
                async for event in events:
                    if isinstance(event, DoneEvent):
                        attach_stream_hops(walk, event.response)
                        router.latencies.add("stream", target, time.perf_counter() - started)
                        if ticket is not None:
                            ticket.finish(event.response)
                        finished = True
                    yield event
        except BaseException as exc:
            if ticket is not None and not finished:
                _close_ticket(ticket, exc)
            raise
        if ticket is not None:
            ticket.succeeded()
        return
    raise walk.exhausted()


async def _aopen(router: Router, walk: Walk, i: int, target: Route, opts: dict[str, Any], open_stream: AOpen,
                 notes: list[str]) -> _AOpened:
    candidates = router.hop_guard.candidates(target.provider) if router.hop_guard.rotate else None
    if candidates is None:
        return await _aopen_one(router, walk, i, target.provider, target.model, opts, open_stream, None, notes)
    last: BaseException | None = None
    for provider, cred in candidates:
        try:
            return await _aopen_one(router, walk, i, provider, target.model, opts, open_stream, cred.label, notes)
        except Exception as exc:
            if not router._next_credential(target, cred, exc, notes):
                raise
            last = exc
    raise last if last is not None else router.hop_guard.all_resting(target.provider)


async def _aopen_one(router: Router, walk: Walk, i: int, provider: IProvider, model: str, opts: dict[str, Any],
                     open_stream: AOpen, label: str | None, notes: list[str]) -> _AOpened:
    hg = router.hop_guard
    ticket = None
    if hg.active:
        ticket = await hg.guard.aenter(hg.key(provider, model, label), estimated_tokens=walk.plan.estimated_tokens,
                                       max_wait=walk.max_wait(provider, opts))
        opts = _after_wait(ticket, opts, notes)
    try:
        with hop_marker(i, provider):
            events = open_stream(provider, model, opts)
        try:
            first: StreamEvent | None = await events.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            await events.aclose()
            raise
    except BaseException as exc:
        if ticket is not None:
            _close_ticket(ticket, exc)
        raise
    return events, first, ticket

