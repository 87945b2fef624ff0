"""What the per-API provider tests share: one call in each of the four modes, the emulator reset around a
test, and the body the emulator received."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agentos_llm.provider import IProvider
from agentos_llm.testing import WireEmulator
from agentos_llm.types import CompletionResponse, DoneEvent

MODES = ("generate", "generate_sync", "stream", "stream_sync")


async def run(provider: IProvider, mode: str, model: str | None, messages: Any, **options: Any
              ) -> tuple[CompletionResponse, list[Any] | None]:
    """The response of one call in `mode`, and the stream's events for the stream modes."""
    if mode == "generate":
        return await provider.generate(model, messages, **options), None
    if mode == "generate_sync":
        return provider.generate_sync(model, messages, **options), None
    events: list[Any] = []
    if mode == "stream":
        async with provider.stream(model, messages, **options) as stream:
            async for event in stream:
                events.append(event)
    else:
        with provider.stream_sync(model, messages, **options) as sync_stream:
            events.extend(sync_stream)
    return done_response(events), events


def done_response(events: list[Any]) -> CompletionResponse:
    """The response of the one `done` event, checking it is the last event."""
    dones = [e for e in events if isinstance(e, DoneEvent)]
    assert len(dones) == 1, f"expected exactly one done event, got {len(dones)}"
    assert events[-1] is dones[0], "the done event must be the last event"
    return dones[0].response


def sent(emu: WireEmulator, index: int = -1) -> dict[str, Any]:
    """The JSON body of a request the emulator received (the last by default)."""
    body = emu.requests[index].body
    assert isinstance(body, dict)
    return body


def restored(server: WireEmulator) -> Iterator[WireEmulator]:
    """The body of an `emu` fixture: a module's emulator, reset before and after, its delay and models kept."""
    server.reset()
    server.delay = 0.0
    models = list(server.models)
    yield server
    server.reset()
    server.delay = 0.0
    server.models = models
