"""The async stream's idle and deadline guard: one timer per stream, moved only when it fires.

It must cut a stream that is silent while being read (idle) or past its deadline, never cut while the consumer
holds an event, leave an outside cancellation a cancellation, and leave no timer behind. Each test is bounded
by an outer `asyncio.timeout`, so a hang fails it.
"""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from agentos_llm import create_provider
from agentos_llm.errors import APITimeoutError
from agentos_llm.provider import IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="the guard needs Task.uncancel (Python 3.11+)")

KEY = "test-key-async-guard-0000"
OUTER = 20.0
MODEL = "gpt-4o-mini"


@pytest.fixture
def emu() -> WireEmulator:
    with WireEmulator() as server:
        yield server


def _provider(emu: WireEmulator, **kwargs: object) -> IProvider:
    return create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0, **kwargs)


async def _scheduled_guards() -> int:
    """Timer handles of the running loop that belong to a stream guard (not cancelled)."""
    loop = asyncio.get_running_loop()
    return sum(1 for h in getattr(loop, "_scheduled", ())
               if not h.cancelled() and "_QuietGuard" in repr(getattr(h, "_callback", "")))


def test_a_consumer_slower_than_the_idle_timeout_is_not_cut(emu: WireEmulator) -> None:
    emu.script(Reply("one two three four"))
    provider = _provider(emu, stream_idle_timeout=0.2)

    async def main() -> str:
        async with asyncio.timeout(OUTER):
            text = ""
            async with provider.stream(MODEL, "hi") as events:
                async for event in events:
                    await asyncio.sleep(0.3)  # holds each event longer than the idle timeout
                    if event.type == "done":
                        text = event.response.text
            await provider.aclose()
            return text

    assert asyncio.run(main()) == "one two three four"


def test_a_stream_past_its_deadline_fails_with_the_deadline_error(emu: WireEmulator) -> None:
    emu.script(Fault(reply=Reply("one two three four five six seven eight nine ten"), trickle=3.0))
    provider = _provider(emu, deadline=0.8, stream_idle_timeout=None)

    async def main() -> tuple[BaseException | None, float]:
        started = time.monotonic()
        try:
            async with asyncio.timeout(OUTER):
                async for _ in provider.stream(MODEL, "hi"):
                    pass
        except APITimeoutError as exc:
            return exc, time.monotonic() - started
        finally:
            await provider.aclose()
        return None, time.monotonic() - started

    err, took = asyncio.run(main())
    assert isinstance(err, APITimeoutError) and "deadline" in str(err), repr(err)
    assert took < 2.5  # cut at the deadline, not after the whole trickle


def test_an_outside_cancellation_stays_a_cancellation_and_no_timer_is_left(emu: WireEmulator) -> None:
    emu.script(Fault(reply=Reply("one two three four five six"), trickle=5.0))
    provider = _provider(emu, stream_idle_timeout=30.0, deadline=60.0)

    async def main() -> tuple[bool, int, int]:
        async with asyncio.timeout(OUTER):
            seen = asyncio.Event()

            async def read() -> None:
                async for _ in provider.stream(MODEL, "hi"):
                    seen.set()

            task = asyncio.create_task(read())
            await seen.wait()
            during = await _scheduled_guards()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled = True
            else:
                cancelled = False
            after = await _scheduled_guards()
            await provider.aclose()
            return cancelled, during, after

    cancelled, during, after = asyncio.run(main())
    assert cancelled  # not turned into a timeout error
    assert during == 1 and after == 0  # one timer while reading, none once the stream is gone


def test_a_finished_stream_leaves_no_timer(emu: WireEmulator) -> None:
    provider = _provider(emu, stream_idle_timeout=5.0)

    async def main() -> int:
        async with asyncio.timeout(OUTER):
            async for _ in provider.stream(MODEL, "one two three"):
                pass
            left = await _scheduled_guards()
            await provider.aclose()
            return left

    assert asyncio.run(main()) == 0
