"""Hedged requests: when a call's first hop has not answered after a delay, the next one starts too.

Opt-in per whole call (`hedge=True`: after the p95 of that hop's recent successful calls in this manager,
`DEFAULT_HEDGE_AFTER` until 20 are known; `hedge_after=0.5`: a fixed delay in seconds; `hedge_after="p95"`:
the same as `hedge=True`). The first success wins; the other hop is cancelled, which closes its HTTP
connection (the request is abandoned mid-flight, so the vendor stops generating), and both are reported:
`response.hops` has the winner ("served", its usage) and the loser ("cancelled", with how long it ran), and
the ledger records both rows (the loser's as `CancelledError`, hop index and all). The vendor may bill the
input tokens the loser had already read.

The hedge goes to the next hop of the route the rules allow (see `agentos_llm.routing`); a call with one hop
hedges with a second request to the same hop (another server of the same vendor answers it). A hop that fails
while the other runs is recorded and the other keeps running; when both fail, the route goes on with the
hops after them. Streams are not hedged (`hedge` on a stream is refused): a stream's first event comes fast,
and two streams billed in full cost too much. Sync calls are hedged on the library's background event loop
(the sync bridge), since a blocking thread cannot be interrupted to close its connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .errors import InvalidRequestError

if TYPE_CHECKING:
    from .fallback import AsyncAttempt, Router
    from .routing import Route, Walk

__all__ = ["DEFAULT_HEDGE_AFTER", "hedge_delay", "race"]

DEFAULT_HEDGE_AFTER = 1.0
"""Seconds before a hedge while a hop's p95 is not known yet (fewer than 20 successful calls seen)."""


def hedge_delay(router: Router, kind: str, first: Route, hedge: Any, hedge_after: Any) -> float | None:
    """The delay the call's options ask for (None: no hedging)."""
    if hedge_after is None and not hedge:
        return None
    if hedge not in (None, True, False):
        raise InvalidRequestError(f"hedge takes True or False, not {hedge!r}; hedge_after takes seconds or 'p95'")
    if hedge_after is None or hedge_after == "p95":
        p95 = router.latencies.quantile(kind, first)
        return DEFAULT_HEDGE_AFTER if p95 is None else p95
    if isinstance(hedge_after, bool) or not isinstance(hedge_after, (int, float)) or hedge_after < 0:
        raise InvalidRequestError(f"hedge_after takes seconds (a number of at least 0) or 'p95', not {hedge_after!r}")
    return float(hedge_after)


class _Runner:
    """One hop of the race: its task, target, options, notes and start."""

    __slots__ = ("i", "notes", "started", "target", "task")

    def __init__(self, router: Router, walk: Walk, i: int, target: Route, attempt: AsyncAttempt[Any]) -> None:
        opts, self.notes = walk.options_for(i, target)
        self.i = i
        self.target = target
        self.started = time.perf_counter()
        self.task = asyncio.ensure_future(router._ahop(walk, i, target, opts, attempt, self.notes))


async def _stop(runners: list[_Runner]) -> None:
    for r in runners:
        r.task.cancel()
    await asyncio.gather(*(r.task for r in runners), return_exceptions=True)


async def race(router: Router, walk: Walk, i: int, attempt: AsyncAttempt[Any], delay: float
               ) -> tuple[bool, Any, int]:
    """Runs hop `i`, and after `delay` the next hop the rules allow beside it. Returns (served, result,
    the index to go on from when neither served)."""
    targets = walk.plan.targets
    first = _Runner(router, walk, i, targets[i], attempt)
    running = [first]
    try:
        await asyncio.wait({first.task}, timeout=delay)
        if first.task.done():
            served, result = _settle(router, walk, first, running)
            if served:
                return True, walk.served(first.target, result, first.started, first.notes), 0
            return False, None, i + 1
        j = next((k for k in range(i + 1, len(targets)) if walk.skip_reason(k, targets[k]) is None), None)
        second_target = targets[j] if j is not None else targets[i]
        first.notes.append(f"hedged after {delay:.2f}s: {second_target.provider.provider_id}/{second_target.model} "
                           "started beside it")
        second = _Runner(router, walk, i if j is None else j, second_target, attempt)
        second.notes.append(f"the hedge of {targets[i].provider.provider_id}/{targets[i].model}")
        running.append(second)
        while running:
            await asyncio.wait({r.task for r in running}, return_when=asyncio.FIRST_COMPLETED)
            for runner in [r for r in running if r.task.done()]:
                served, result = _settle(router, walk, runner, running)
                if served:
                    losers = [r for r in running if r is not runner]
                    await _stop(losers)
                    for loser in losers:
                        walk.cancelled(loser.target, loser.started,
                                       [*loser.notes, f"cancelled: {runner.target.provider.provider_id}/"
                                                      f"{runner.target.model} answered first"])
                    return True, walk.served(runner.target, result, runner.started, runner.notes), 0
        return False, None, max(i, j if j is not None else i) + 1
    finally:
        await _stop([r for r in running if not r.task.done()])


def _settle(router: Router, walk: Walk, runner: _Runner, running: list[_Runner]) -> tuple[bool, Any]:
    """A finished runner, dropped from `running`: (True, result) when it served (the caller records it); its
    failure recorded otherwise. An error that must not fall back is raised (`race` then stops the other)."""
    running.remove(runner)
    exc = runner.task.exception()
    if exc is None:
        result = runner.task.result()
        return router._served(walk, runner.i, runner.target, result, runner.started, runner.notes), result
    if not isinstance(exc, Exception) or not walk.failed(runner.i, runner.target, exc, runner.started, runner.notes):
        raise exc
    return False, None
