"""The Gemini provider without google-genai's internals: it falls back to the public API, with a warning.

The fast path calls the SDK's private API client (`_api_client._build_request`, `_request`, ...). An SDK
version that moves them must not break the provider: here they are monkeypatched away, and whole calls and
streams (sync and async) must still answer, through `client.models`, with the same results.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator

import pytest

from agentos_llm import create_provider
from agentos_llm.provider import IProvider
from agentos_llm.providers.gemini import GeminiProvider
from agentos_llm.testing import Reply, WireEmulator

KEY = "test-key-gemini-fallback-0000"
MODEL = "gemini-2.5-flash"


@pytest.fixture
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


class _MovedInternals:
    """The SDK's API client as an SDK that moved the fast path's internals would show it: everything else is
    there (closing, sessions), those names are not."""

    _GONE = frozenset({"_build_request", "_request", "_async_request", "async_request"})

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        if name in self._GONE:
            raise AttributeError(name)
        return getattr(self._real, name)


def _without_internals(provider: IProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    # The public `client.models` / `client.aio.models` keep the SDK's real API client (they were given it when
    # the client was made); only what the fast path reaches for is gone.
    client = provider.client  # type: ignore[attr-defined]
    monkeypatch.setattr(client, "_api_client", _MovedInternals(client._api_client))


def test_the_fast_path_is_used_while_the_internals_exist(emu: WireEmulator) -> None:
    provider = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert provider.fast_path is True  # type: ignore[attr-defined]
        assert provider.generate_sync(MODEL, "hello").text
    provider.close()


def test_whole_and_streamed_calls_fall_back_to_the_public_api(emu: WireEmulator,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    provider = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url)
    assert isinstance(provider, GeminiProvider)
    _without_internals(provider, monkeypatch)
    with pytest.warns(RuntimeWarning, match="public API"):
        assert provider.fast_path is False
    emu.script(Reply("fallback answer", prompt_tokens=7, completion_tokens=2))
    whole = provider.generate_sync(MODEL, [{"role": "system", "content": "be brief"},
                                              {"role": "user", "content": "hello"}],
                                   temperature=0.2, max_tokens=50)
    assert whole.text == "fallback answer"
    assert (whole.usage.input_tokens, whole.usage.output_tokens) == (7, 2)
    assert whole.finish_reason == "stop"
    sent = emu.requests[-1].body
    assert sent["systemInstruction"]["parts"][0]["text"] == "be brief"  # the config made it to the wire
    assert sent["generationConfig"]["maxOutputTokens"] == 50

    emu.script(Reply("one two three"))
    events = list(provider.stream_sync(MODEL, "hello"))
    assert "".join(e.delta for e in events if e.type == "text_delta") == "one two three"
    assert events[-1].type == "done" and events[-1].response.text == "one two three"

    async def both() -> tuple[str, str]:
        emu.script(Reply("async whole"), Reply("async stream"))
        got = await provider.generate(MODEL, "hello")
        text = ""
        async for event in provider.stream(MODEL, "hello"):
            if event.type == "done":
                text = event.response.text
        await provider.aclose()
        return got.text, text

    assert asyncio.run(both()) == ("async whole", "async stream")


def test_tool_calls_survive_the_fallback(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url)
    _without_internals(provider, monkeypatch)
    emu.script(Reply.tool_call("get_weather", {"city": "Oslo"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = provider.generate_sync(MODEL, "weather?", tools=[{"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}])
    assert [(c.name, c.arguments) for c in r.tool_calls] == [("get_weather", {"city": "Oslo"})]
    assert r.finish_reason == "tool_calls"
    provider.close()
