"""Per-request API keys (`api_key=` as a call option): one provider instance, many users' keys, and nothing of
one user's key reaching another's request, answer, error, repr, log, listing or rate limits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from surface_helpers import CHAT_MODELS, KEY, fresh, make

from agentos_llm.catalog import MODEL_LISTS
from agentos_llm.errors import AuthenticationError, UnsupportedCapabilityError
from agentos_llm.rate_limits import RATE_LIMITS
from agentos_llm.request_keys import credential_key
from agentos_llm.testing import FakeProvider, Fault, WireEmulator


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emulator:
        yield emulator


@pytest.fixture
def emu(server: WireEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    yield from fresh(server, monkeypatch, tmp_path)


KEY_A = "sk-tenant-alpha-0123456789abcdef"
KEY_B = "sk-tenant-bravo-fedcba9876543210"
AUTH = {"gemini-generate": "x-goog-api-key"}


def sent_key(api: str, headers: dict[str, str]) -> str:
    value = headers[AUTH.get(api, "authorization")]
    return value.removeprefix("Bearer ")


def prompt_of(body: Any) -> str:
    text = str(body)
    return next(word for word in ("tenant-alpha", "tenant-bravo", "tenant-none") if word in text)


@pytest.mark.parametrize("api", list(CHAT_MODELS))
async def test_interleaved_keys_each_reach_the_server_with_their_own(emu: WireEmulator, api: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    provider = make(api, emu)
    model = CHAT_MODELS[api]
    keys = {"tenant-alpha": KEY_A, "tenant-bravo": KEY_B, "tenant-none": None}

    async def call(who: str, i: int) -> Any:
        key = keys[who]
        options = {"api_key": key} if key else {}
        if i % 2:
            async with provider.stream(model, f"{who} asks {i}", **options) as events:
                return [e async for e in events][-1].response
        return await provider.generate(model, f"{who} asks {i}", **options)

    order = [(who, i) for i in range(4) for who in keys]
    responses = await asyncio.gather(*(call(who, i) for who, i in order))
    await provider.aclose()
    assert len(emu.requests) == len(order)
    for request in emu.requests:
        who = prompt_of(request.body)
        assert sent_key(api, request.headers) == (keys[who] or KEY)
    for (who, _), response in zip(order, responses, strict=True):
        dumped = response.model_dump_json() + repr(response)
        assert who in response.text or api == "bedrock-converse" or who in dumped
        assert KEY_A not in dumped and KEY_B not in dumped and KEY not in dumped
    assert KEY_A not in caplog.text and KEY_B not in caplog.text
    assert KEY_A not in repr(provider) and KEY_B not in repr(provider)


def test_an_error_for_one_key_says_nothing_of_it_or_of_another(emu: WireEmulator) -> None:
    provider = make("openai-chat", emu)
    provider.generate_sync("gpt-4o-mini", "first", api_key=KEY_A)
    emu.script(Fault(401, code="invalid_api_key"))
    with pytest.raises(AuthenticationError) as caught:
        provider.generate_sync("gpt-4o-mini", "second", api_key=KEY_B)
    text = f"{caught.value}|{caught.value!r}|{caught.value.__dict__}"
    assert KEY_A not in text and KEY_B not in text
    assert sent_key("openai-chat", emu.requests[-1].headers) == KEY_B


def test_rate_limits_and_listings_are_kept_per_key(emu: WireEmulator) -> None:
    RATE_LIMITS.clear()
    provider = make("openai-chat", emu)
    provider.generate_sync("gpt-4o-mini", "a", api_key=KEY_A)
    provider.generate_sync("gpt-4o-mini", "b", api_key=KEY_B)
    own, a, b = (credential_key(provider, k) for k in (None, KEY_A, KEY_B))
    assert len({own, a, b}) == 3 and all(KEY_A not in str(k) and KEY_B not in str(k) for k in (a, b))
    assert RATE_LIMITS.get(provider.provider_id, a) is not None
    assert RATE_LIMITS.get(provider.provider_id, b) is not None
    assert RATE_LIMITS.get(provider.provider_id, own) is None  # the provider's own key was never used

    listed = provider.list_models_sync(api_key=KEY_A)
    assert [m.id for m in listed] == emu.models
    assert sent_key("openai-chat", emu.requests[-1].headers) == KEY_A
    assert MODEL_LISTS.get(a) is not None and MODEL_LISTS.get(own) is None and MODEL_LISTS.get(b) is None
    provider.list_models_sync(api_key=KEY_B)  # another key lists for itself: the first key's listing is not shared
    assert sent_key("openai-chat", emu.requests[-1].headers) == KEY_B


@pytest.mark.parametrize(("api", "model"), [("voyage-embed", "voyage-3.5"), ("cohere-chat", "embed-v4.0"),
                                            ("openai-chat", "text-embedding-3-small")])
def test_embeddings_and_reranks_take_a_key_too(emu: WireEmulator, api: str, model: str) -> None:
    provider = make(api, emu)
    provider.embed_sync(model, ["x"], api_key=KEY_A)
    assert sent_key(api, emu.requests[-1].headers) == KEY_A
    if api != "openai-chat":
        provider.rerank_sync(None, "q", ["d1", "d2"], api_key=KEY_B)
        assert sent_key(api, emu.requests[-1].headers) == KEY_B
    provider.embed_sync(model, ["x"])
    assert sent_key(api, emu.requests[-1].headers) == KEY


def test_a_key_in_the_options_is_never_shown() -> None:
    provider = FakeProvider()
    call = provider._make_call("fake-model", "hi", {"api_key": KEY_A})
    assert KEY_A not in repr(call) and KEY_A not in str(call.options)
    with pytest.raises(UnsupportedCapabilityError, match="per-request"):
        provider.generate_sync(None, "hi", api_key=KEY_A)  # a provider without a known auth header refuses
