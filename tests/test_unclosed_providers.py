"""Nothing waits 600 seconds: providers dropped unclosed, and streams that fall silent.

A provider garbage-collected without `aclose()` must close its clients on their own loop (with a
`ResourceWarning`), never leave their sockets to the collector under the loop's feet; a stream that receives
nothing for `stream_idle_timeout` fails with `APITimeoutError`. Every test here is bounded by an outer
`asyncio.timeout`, so a hang fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from agentos_llm import create_provider
from agentos_llm.errors import APITimeoutError
from agentos_llm.provider import IProvider
from agentos_llm.testing import Reply, WireEmulator

KEY = "test-key-unclosed-0000"
OUTER = 30.0
"""Seconds any test here may take before it is failed: far below the 600 s a hang would cost."""

MAKERS: dict[str, tuple[Callable[[WireEmulator], IProvider], str]] = {
    "openai": (lambda emu: create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0),
               "gpt-4o-mini"),
    "anthropic": (lambda emu: create_provider("anthropic", api_key=KEY, base_url=emu.anthropic_base_url,
                                              max_retries=0), "claude-sonnet-4-5"),
    "cohere": (lambda emu: create_provider("cohere", api_key=KEY, base_url=emu.cohere_base_url, max_retries=0),
               "command-a-03-2025"),
}


@pytest.fixture
def emu() -> WireEmulator:
    with WireEmulator() as server:
        yield server


async def _settle(emu: WireEmulator) -> None:
    """Lets scheduled closes run, until the server has seen every connection go (bounded)."""
    for _ in range(200):
        await asyncio.sleep(0.01)
        if emu.open_connections == 0:
            return


@pytest.mark.parametrize("pid", sorted(MAKERS))
def test_a_dropped_provider_closes_its_clients_on_their_loop(emu: WireEmulator, pid: str) -> None:
    make, model = MAKERS[pid]
    ours, leaked = _dropped_after_use(emu, lambda: make(emu), lambda p: p.generate(model, "hello"))
    assert len(ours) == 1, ours
    # Closed the normal way, on the loop: no transport or socket was left to the collector.
    assert leaked == []
    assert emu.open_connections == 0


def _dropped_warnings(caught: list[warnings.WarningMessage]) -> tuple[list[str], list[str]]:
    """Our "garbage-collected unclosed" warnings, and any other ResourceWarning (a transport or socket left to
    the collector)."""
    resource = [w for w in caught if issubclass(w.category, ResourceWarning)]
    ours = [str(w.message) for w in resource if "garbage-collected" in str(w.message)]
    return ours, [str(w.message) for w in resource if "garbage-collected" not in str(w.message)]


def _dropped_after_use(emu: WireEmulator, make: Callable[[], Any], use: Callable[[Any], Awaitable[Any]],
                       connections: int = 1) -> tuple[list[str], list[str]]:
    """Makes a provider (or manager), uses it on a loop, drops it unclosed while the loop runs; the warnings
    (`_dropped_warnings`) seen until the server saw every connection go."""

    async def main() -> list[warnings.WarningMessage]:
        async with asyncio.timeout(OUTER):
            owner = make()
            await use(owner)
            assert emu.open_connections >= connections  # pooled keep-alive connections: what must be closed
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                del owner
                gc.collect()
                await _settle(emu)
                gc.collect()
            return caught

    return _dropped_warnings(asyncio.run(main()))


def test_a_dropped_manager_closes_the_providers_it_created(emu: WireEmulator,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from agentos_llm import AIModelProviderManager

    monkeypatch.setenv("AGENTOS_LLM_CONFIG", "/dev/null")
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": emu.openai_base_url,
           "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": emu.anthropic_base_url}

    async def use(manager: Any) -> None:
        assert sorted(manager.providers) == ["anthropic", "openai"]
        await manager.generate("openai/gpt-4o-mini", "hello")
        await manager.generate("anthropic/claude-sonnet-4-5", "hello")

    ours, leaked = _dropped_after_use(emu, lambda: AIModelProviderManager.from_env(env=env, max_retries=0), use,
                                      connections=2)
    assert len(ours) == 2, ours  # one per provider the manager made
    assert leaked == []
    assert emu.open_connections == 0


def test_a_closed_manager_does_not_warn(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentos_llm import AIModelProviderManager

    monkeypatch.setenv("AGENTOS_LLM_CONFIG", "/dev/null")
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": emu.openai_base_url}

    async def main() -> list[warnings.WarningMessage]:
        async with AIModelProviderManager.from_env(env=env, max_retries=0) as manager:
            await manager.generate("openai/gpt-4o-mini", "hello")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del manager
            gc.collect()
            await _settle(emu)
        return caught

    ours, leaked = _dropped_warnings(asyncio.run(main()))
    assert (ours, leaked) == ([], [])
    assert emu.open_connections == 0


@pytest.mark.parametrize("pid", ["gemini", "bedrock"])
def test_a_dropped_gemini_or_bedrock_provider_leaves_no_connection_open(emu: WireEmulator, pid: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Gemini's async clients are google-genai's per-loop aiohttp sessions; Bedrock's async calls run the
    boto3 client in a thread pool. Dropped unclosed, neither leaves a connection or a transport behind."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")

    if pid == "gemini":
        model = "gemini-2.5-flash"
        make = lambda: create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=0)  # noqa: E731
    else:
        model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
        make = lambda: create_provider("bedrock", region="us-east-1", base_url=emu.bedrock_base_url,  # noqa: E731
                                       max_retries=0)
    _, leaked = _dropped_after_use(emu, make, lambda p: p.generate(model, "hello"))
    assert leaked == []
    assert emu.open_connections == 0


def test_a_closed_provider_does_not_warn(emu: WireEmulator) -> None:
    make, model = MAKERS["openai"]

    async def main() -> list[warnings.WarningMessage]:
        provider = make(emu)
        await provider.generate(model, "hello")
        await provider.aclose()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del provider
            gc.collect()
            await asyncio.sleep(0.05)
        return caught

    assert [str(w.message) for w in asyncio.run(main()) if issubclass(w.category, ResourceWarning)] == []


def test_streams_finish_while_providers_are_dropped_unclosed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The measured hang: many streams on one loop while other providers are dropped without `aclose()`."""
    with WireEmulator() as emu:
        errors, done = asyncio.run(_many_streams(emu))
    assert errors == []
    assert done == 300


async def _many_streams(emu: WireEmulator) -> tuple[list[str], int]:
    make, model = MAKERS["openai"]
    shared = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0,
                             stream_idle_timeout=5.0)
    errors: list[str] = []
    done = 0

    async def one() -> None:
        nonlocal done
        try:
            async for event in shared.stream(model, "one two three four five"):
                if event.type == "done":
                    done += 1
        except Exception as exc:  # counted, not raised: the test reports how many failed
            errors.append(type(exc).__name__)

    async def dropper() -> None:
        for _ in range(20):
            dropped = make(emu)
            await dropped.generate(model, "x")
            del dropped
            gc.collect()
            await asyncio.sleep(0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        async with asyncio.timeout(OUTER * 2):
            await asyncio.gather(*[one() for _ in range(300)], dropper())
    await shared.aclose()
    return errors, done


async def _stalling_server(first: bytes) -> tuple[asyncio.Server, int]:
    """An HTTP server that answers with stream headers and `first`, then sends nothing more."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        try:
            await asyncio.sleep(3600)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


_FIRST_CHUNK = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",'
                b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n')


def test_a_silent_stream_fails_after_its_idle_timeout() -> None:
    async def main() -> BaseException | None:
        server, port = await _stalling_server(_FIRST_CHUNK)
        # The HTTP read timeout is left at its default (600 s): only the idle timeout can end this stream.
        provider = create_provider("openai", api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0,
                                   stream_idle_timeout=0.5)
        seen: list[str] = []
        try:
            async with asyncio.timeout(OUTER):
                async for event in provider.stream("gpt-4o-mini", "hi"):
                    seen.append(event.type)
        except APITimeoutError as exc:
            assert seen == ["text_delta"]
            return exc
        finally:
            await provider.aclose()
            server.close()
        return None

    err = asyncio.run(main())
    assert isinstance(err, APITimeoutError)
    assert "stream_idle_timeout" in str(err)


def test_the_idle_timeout_defaults_well_under_the_read_timeout(emu: WireEmulator) -> None:
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url)
    assert provider.stream_idle_timeout is not None and provider.stream_idle_timeout <= 120
    assert provider.retry_policy.timeout > provider.stream_idle_timeout
    provider.close()


def test_an_idle_timeout_does_not_cut_a_slow_but_live_stream(emu: WireEmulator) -> None:
    # Every gap between chunks is below the idle timeout, while the whole stream takes longer than it.
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0,
                               stream_idle_timeout=0.4)
    from agentos_llm.testing import Fault

    emu.script(Fault(reply=Reply("one two three four five six seven eight"), trickle=0.8))

    async def main() -> str:
        async with asyncio.timeout(OUTER):
            text = ""
            async for event in provider.stream("gpt-4o-mini", "hi"):
                if event.type == "done":
                    text = event.response.text
            await provider.aclose()
            return text

    assert asyncio.run(main()) == "one two three four five six seven eight"
