"""Many streams at once with faults sprinkled among them, and streams left early: nothing hangs, nothing leaks,
and a stream the caller abandons has its connection closed at once (the server sees it go)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from agentos_llm import create_provider
from agentos_llm.errors import AgentOSLLMError
from agentos_llm.provider import IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator
from agentos_llm.types import DoneEvent, TextDeltaEvent

from .wires import KEY, WIRES, make_all, offline_aws, open_fds, settle

STREAMS = 500


@pytest.fixture
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


def _sprinkled(n: int) -> list[Fault | Reply]:
    """Mostly answers, with every kind of stream fault among them."""
    faults: list[Fault | Reply] = [
        Fault(429), Fault(503), Fault(drop_after_events=3), Fault(cut_after_events=3), Fault(malformed=True),
        Fault(stream_error={"message": "boom", "type": "server_error"}), Fault(reset=True), Fault(200, raw_body=b""),
    ]
    return [faults[(i // 4) % len(faults)] if i % 4 == 0 else Reply(f"answer {i}") for i in range(n)]


async def test_five_hundred_concurrent_streams_with_faults_neither_hang_nor_leak(emu: WireEmulator) -> None:
    before = open_fds()
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=1)
    provider.retry_policy = replace(provider.retry_policy, initial_backoff=0.01, max_backoff=0.02)
    emu.script(*_sprinkled(STREAMS + 200))  # enough for the retries too; the rest get default answers

    async def one(i: int) -> str:
        try:
            async with provider.stream("gpt-4o-mini", f"question {i}") as events:
                async for event in events:
                    if isinstance(event, DoneEvent):
                        return "done"
        except AgentOSLLMError as exc:
            return type(exc).__name__
        return "no done"

    outcomes = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(STREAMS))), timeout=120)
    assert len(outcomes) == STREAMS
    assert "no done" not in outcomes  # every stream ended with `done` or a library error
    assert outcomes.count("done") >= STREAMS // 5  # most items scripted are answers; retries take some faults too
    assert {o for o in outcomes if o != "done"} <= {"APIConnectionError", "MalformedResponseError", "ServerError",
                                                     "RateLimitError"}
    await provider.aclose()
    assert await asyncio.to_thread(settle, lambda: emu.open_connections == 0, 10.0), emu.open_connections
    assert await asyncio.to_thread(settle, lambda: open_fds() <= before + 3, 10.0), open_fds() - before


# ---------------------------------------------------------------------- leaving a stream early

LONG = Reply(" ".join(f"w{i}" for i in range(80)))


@pytest.fixture(scope="module")
def providers() -> Iterator[tuple[WireEmulator, dict[str, IProvider]]]:
    with WireEmulator() as server, offline_aws():
        made = make_all(server)
        yield server, made
        for provider in made.values():
            provider.close()


def _first_text(events: Any) -> bool:
    return any(isinstance(e, TextDeltaEvent) for e in events)


@pytest.mark.parametrize("api", list(WIRES))
def test_leaving_a_sync_stream_early_closes_its_connection(
        providers: tuple[WireEmulator, dict[str, IProvider]], api: str) -> None:
    emu, made = providers
    assert settle(lambda: emu.open_connections <= 3)
    emu.reset()
    emu.script(Fault(trickle=6.0, reply=LONG))  # the server is still sending when the caller leaves
    with made[api].stream_sync(WIRES[api].model, "hi") as events:
        for event in events:
            if isinstance(event, TextDeltaEvent):
                break
        during = emu.open_connections
    assert settle(lambda: emu.open_connections < during, 1.0), "the server still holds the connection"


@pytest.mark.parametrize("api", list(WIRES))
def test_cancelling_an_async_stream_closes_its_connection(
        providers: tuple[WireEmulator, dict[str, IProvider]], api: str) -> None:
    emu, made = providers
    assert settle(lambda: emu.open_connections <= 3)
    emu.reset()
    emu.script(Fault(trickle=6.0, reply=LONG))
    first = asyncio.Event()
    during: list[int] = []

    async def read() -> None:
        async for event in made[api].stream(WIRES[api].model, "hi"):
            if isinstance(event, TextDeltaEvent) and not first.is_set():
                during.append(emu.open_connections)
                first.set()

    async def cancel_after_first() -> None:
        task = asyncio.create_task(read())
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(cancel_after_first())
        assert settle(lambda: emu.open_connections < during[0], 1.0), "the server still holds the connection"
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())  # closes this loop's async clients
        loop.close()
