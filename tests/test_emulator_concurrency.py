"""The emulator holds the concurrency agents use: hundreds of streams at once through the public API, and
hundreds of whole calls from threads through the sync API, every one answered, none dropped, none retried
(`max_retries=0`, so a dropped connection would fail its call instead of hiding behind a retry)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from agentos_llm import create_provider
from agentos_llm.testing import WireEmulator
from agentos_llm.types import DoneEvent, TextDeltaEvent

STREAMS = 500
THREADS = 200
KEY = "test-key-concurrency"


@pytest.fixture
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


async def test_five_hundred_concurrent_streams_are_all_answered(emu: WireEmulator) -> None:
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0, timeout=60)
    start = asyncio.Event()

    async def one(i: int) -> tuple[str, str]:
        await start.wait()  # every stream opens at once
        deltas: list[str] = []
        async with provider.stream("gpt-4o-mini", f"question number {i}") as events:
            async for event in events:
                if isinstance(event, TextDeltaEvent):
                    deltas.append(event.delta)
                elif isinstance(event, DoneEvent):
                    assert event.response.text == "".join(deltas)
                    return f"question number {i}", event.response.text
        return f"question number {i}", "<no done event>"

    tasks = [asyncio.create_task(one(i)) for i in range(STREAMS)]
    start.set()
    try:
        outcomes = await asyncio.gather(*tasks)
    finally:
        await provider.aclose()
    # Nothing scripted: each answer echoes its own question, so a mixed-up or cut stream shows.
    assert [asked in answer for asked, answer in outcomes] == [True] * STREAMS
    assert emu.hits("/chat/completions") == STREAMS
    assert emu.disconnects == 0


def test_two_hundred_whole_calls_from_threads_are_all_answered(emu: WireEmulator) -> None:
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0, timeout=60)

    def one(i: int) -> bool:
        return f"request {i} from a thread" in provider.generate_sync("gpt-4o-mini", f"request {i} from a thread").text

    try:
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            answered = list(pool.map(one, range(THREADS)))
    finally:
        provider.close()
    assert answered == [True] * THREADS
    assert emu.hits("/chat/completions") == THREADS
