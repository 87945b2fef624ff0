"""The fault matrix: each wire API x whole and streamed x sync and async x each fault of `cases.CASES`.

For each: the right typed error (or the answer), the requests counted at the server, the waits the retry
policy asked for (recorded, never slept: Retry-After in seconds, as an HTTP date, in milliseconds, or
jittered backoff), a generous bound on the time taken, and no connection or file descriptor left behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agentos_llm.errors import AgentOSLLMError
from agentos_llm.provider import IProvider
from agentos_llm.testing import WireEmulator
from agentos_llm.types import CompletionResponse, DoneEvent

from .cases import CASES, Case
from .wires import WIRES, Wire, make_all, offline_aws, open_fds, record_sleeps, settle

ELAPSED_BOUND = 8.0  # seconds: generous; the slowest case (a timeout three times over) takes about one


@pytest.fixture(scope="module")
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    # One loop for the module's async calls: each async client is made once, not per test.
    made = asyncio.new_event_loop()
    yield made
    made.run_until_complete(made.shutdown_asyncgens())
    made.close()


@pytest.fixture(scope="module")
def providers(emu: WireEmulator, loop: asyncio.AbstractEventLoop) -> Iterator[dict[str, IProvider]]:
    fds = open_fds()
    with offline_aws():
        made = make_all(emu)
        yield made
        for provider in made.values():
            loop.run_until_complete(provider.aclose())
    # Closed, every connection is gone, and so is every descriptor the module's calls opened.
    assert settle(lambda: emu.open_connections == 0), f"{emu.open_connections} connections left after close"
    assert settle(lambda: open_fds() <= fds), f"{open_fds() - fds} file descriptors left after close"


def _answer(provider: IProvider, wire: Wire, stream: bool, sync: bool, loop: asyncio.AbstractEventLoop,
            options: dict[str, Any]) -> CompletionResponse:
    if not stream:
        if sync:
            return provider.generate_sync(wire.model, "hi", **options)
        return loop.run_until_complete(provider.generate(wire.model, "hi", **options))
    if sync:
        events = list(provider.stream_sync(wire.model, "hi", **options))
    else:
        async def read() -> list[Any]:
            async with provider.stream(wire.model, "hi", **options) as stream_:
                return [event async for event in stream_]

        events = loop.run_until_complete(read())
    done = events[-1]
    assert isinstance(done, DoneEvent), "a stream that ends without an error ends with `done`"
    return done.response


def _params() -> list[Any]:
    out = []
    for case in CASES:
        for api in WIRES:
            for stream in case.modes:
                for sync in (True, False):
                    marks = []
                    if case.name == "trickle" and api == "bedrock-converse" and sync and not stream:
                        marks.append(pytest.mark.xfail(
                            reason="botocore reads a whole body itself, each read bounded by the read timeout only",
                            strict=True))
                    out.append(pytest.param(case, api, stream, sync, marks=marks,
                                            id=f"{case.name}-{api}-{'stream' if stream else 'whole'}-"
                                               f"{'sync' if sync else 'async'}"))
    return out


@pytest.mark.parametrize(("case", "api", "stream", "sync"), _params())
def test_fault(case: Case, api: str, stream: bool, sync: bool, emu: WireEmulator,
               providers: dict[str, IProvider], loop: asyncio.AbstractEventLoop,
               monkeypatch: pytest.MonkeyPatch) -> None:
    wire = WIRES[api]
    provider = providers[api]
    expected = case.outcome(wire, stream)
    connections, fds = emu.open_connections, open_fds()
    emu.reset()
    emu.script(*[case.fault(wire, stream)] * expected.hits)
    sleeps = record_sleeps(monkeypatch)

    started = time.monotonic()
    error: BaseException | None = None
    response: CompletionResponse | None = None
    try:
        response = _answer(provider, wire, stream, sync, loop, case.options(stream))
    except Exception as exc:
        error = exc
    elapsed = time.monotonic() - started

    if expected.error is None:
        assert error is None, f"{type(error).__name__}: {error}"
        assert response is not None
        if expected.finish is not None:
            assert response.finish_reason == expected.finish
    else:
        assert isinstance(error, AgentOSLLMError), f"not a library error: {type(error).__name__}: {error}"
        assert type(error) is expected.error, f"{type(error).__name__} (expected {expected.error.__name__}): {error}"
    assert len(emu.requests) == expected.hits, [r.path for r in emu.requests]
    assert emu.pending == 0, "every scripted answer was asked for"
    assert expected.sleeps(sleeps.asked), sleeps.asked
    assert elapsed < ELAPSED_BOUND
    # At most one more idle pooled connection than before (this mode's client may open its first one); a
    # response left open would hold a connection of its own, one per attempt.
    assert settle(lambda: emu.open_connections <= connections + 1), f"{emu.open_connections} > {connections} + 1"
    assert settle(lambda: open_fds() <= fds + 2), f"{open_fds() - fds} more file descriptors"
