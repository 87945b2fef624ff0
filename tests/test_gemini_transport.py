"""How the Gemini provider sends through google-genai's API client, beyond the converters.

- The aiohttp sessions (one per event loop) read no environment per request once the provider has them: the
  transport policy decided the proxy already (`http_bridge.genai_http_options`). The SDK's own sessions look up
  ~/.netrc and the proxy variables on every request, each in a worker thread.
- A request is one attempt through `_request_once` / `_async_request_once`, without the tenacity wrapper the
  SDK's `_request` puts around it (a single attempt here); an SDK without them is sent through `_request`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import aiohttp.client
import pytest
import tenacity
from google import genai
from google.genai import types as genai_types

from agentos_llm import create_provider
from agentos_llm.providers.gemini import _async_once, _once, _sessions_without_env_lookups
from agentos_llm.testing import WireEmulator

MODEL = "gemini-2.5-flash"
KEY = "AIzaSyTestKeyForTheEmulator0123456789abc"


@pytest.fixture(scope="module")
def emu() -> Iterator[WireEmulator]:
    with WireEmulator(models=[MODEL]) as server:
        yield server


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"proxy": 0, "netrc": 0}
    env_proxy, netrc = aiohttp.client.get_env_proxy_for_url, aiohttp.ClientSession._get_netrc_auth

    def counted_proxy(url: Any) -> Any:
        counts["proxy"] += 1
        return env_proxy(url)

    def counted_netrc(self: Any, host: str) -> Any:
        counts["netrc"] += 1
        return netrc(self, host)

    monkeypatch.setattr(aiohttp.client, "get_env_proxy_for_url", counted_proxy)
    monkeypatch.setattr(aiohttp.ClientSession, "_get_netrc_auth", counted_netrc)
    return counts


async def test_the_providers_async_calls_look_nothing_up_in_the_environment(
        emu: WireEmulator, lookups: dict[str, int]) -> None:
    p = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=0)
    try:
        for _ in range(3):
            assert (await p.generate(MODEL, [{"role": "user", "content": "hi"}])).text
        async with p.stream(MODEL, [{"role": "user", "content": "hi"}]) as events:
            assert [e async for e in events]
        session = p.client._api_client._aiohttp_sessions[asyncio.get_running_loop()]  # type: ignore[attr-defined]
        assert isinstance(session, aiohttp.ClientSession) and session.trust_env is False
    finally:
        await p.aclose()
    assert lookups == {"proxy": 0, "netrc": 0}


async def test_the_sdks_own_sessions_do_look_it_up_per_request(emu: WireEmulator, lookups: dict[str, int]) -> None:
    # What the provider spares: the same SDK, left as it is, reads the environment on every request.
    client = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=emu.gemini_base_url))
    try:
        for _ in range(2):
            await client.aio.models.generate_content(model=MODEL, contents="hi")
    finally:
        await client.aio.aclose()
    assert lookups["proxy"] >= 2 and lookups["netrc"] >= 2


class _Api:
    def __init__(self, session: Any) -> None:
        self.session = session

    async def _get_aiohttp_session(self) -> Any:
        return self.session


async def test_a_session_that_is_not_aiohttps_is_left_as_it_is() -> None:
    class AuthorizedSession:  # google-auth's async session (Vertex AI): no `_trust_env`
        pass

    session = AuthorizedSession()
    api = _Api(session)
    _sessions_without_env_lookups(api)
    assert await api._get_aiohttp_session() is session and not hasattr(session, "_trust_env")


def test_an_sdk_without_the_hook_is_left_as_it_is() -> None:
    class Older:
        pass

    api = Older()
    _sessions_without_env_lookups(api)
    assert not hasattr(api, "_get_aiohttp_session")


@pytest.fixture
def wrapped(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"sync": 0, "async": 0}
    sync_call, async_call = tenacity.Retrying.__call__, tenacity.AsyncRetrying.__call__

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["sync"] += 1
        return sync_call(self, *args, **kwargs)

    async def acounted(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts["async"] += 1
        return await async_call(self, *args, **kwargs)

    monkeypatch.setattr(tenacity.Retrying, "__call__", counted)
    monkeypatch.setattr(tenacity.AsyncRetrying, "__call__", acounted)
    return counts


async def test_calls_and_streams_are_one_attempt_without_the_retry_wrapper(
        emu: WireEmulator, wrapped: dict[str, int]) -> None:
    p = create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url, max_retries=0)
    try:
        messages = [{"role": "user", "content": "hi"}]
        assert p.generate_sync(MODEL, messages).text and (await p.generate(MODEL, messages)).text
        assert list(p.stream_sync(MODEL, messages))
        async with p.stream(MODEL, messages) as events:
            assert [e async for e in events]
    finally:
        await p.aclose()
    assert wrapped == {"sync": 0, "async": 0}


async def test_the_sdk_itself_goes_through_its_retry_wrapper(emu: WireEmulator, wrapped: dict[str, int]) -> None:
    # The control: what the provider spares is there in the SDK's own path.
    client = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=emu.gemini_base_url))
    try:
        client.models.generate_content(model=MODEL, contents="hi")
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    finally:
        client.close()
        await client.aio.aclose()
    assert wrapped["sync"] >= 1 and wrapped["async"] >= 1


async def test_an_sdk_without_one_attempt_methods_is_sent_through_request() -> None:
    seen: list[Any] = []

    class Older:
        def _request(self, request: Any, options: Any, stream: bool = False) -> Any:
            seen.append(("sync", request, options, stream))
            return "sync answer"

        async def _async_request(self, request: Any, options: Any, stream: bool = False) -> Any:
            seen.append(("async", request, options, stream))
            return "async answer"

    api = Older()
    assert _once(api)("req", True) == "sync answer"
    assert await _async_once(api)("req", True) == "async answer"
    assert seen == [("sync", "req", None, True), ("async", "req", None, True)]
