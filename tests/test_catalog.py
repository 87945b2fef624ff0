"""Model catalogs: the static catalog, live listings merged over it per credential and cached with a TTL,
the static fallback, manager-wide listing, and capability checks that fail before anything is sent.

Live listings come from the loopback wire emulator (through the real `openai` SDK) or from a small
in-process provider whose listing a test controls; nothing else is contacted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm import AIModelProviderManager, create_provider
from agentos_llm.catalog import (
    MODEL_LISTS,
    ModelListCache,
    catalog_entry,
    catalog_models,
    listing_key,
    model_traits,
)
from agentos_llm.defaults import PROVIDERS
from agentos_llm.errors import APIConnectionError, UnsupportedCapabilityError
from agentos_llm.provider import IProvider, Operation
from agentos_llm.testing import FakeProvider, Reply, WireEmulator
from agentos_llm.types import ImagePart, Message, ModelInfo, StructuredResponse, TextPart

DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing answers
LOCAL_ROWS = {"ollama", "vllm", "sglang", "lmstudio", "llamacpp", "litellm", "openai-compatible"}
IMAGE = [Message(role="user", content=[TextPart(text="what is this?"), ImagePart(url="https://example.com/a.png")])]


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return "sunny"


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    server.models = ["gpt-4o", "my-local-model", "gpt-4o-mini"]
    yield server
    server.reset()


def openai_at(url: str, key: str = "sk-test-catalog", **kwargs: Any) -> IProvider:
    return create_provider("openai", api_key=key, base_url=url, max_retries=0, **kwargs)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Listing(FakeProvider):
    """A provider (any row id) whose `GET /models` answers `listing`, or raises it; counts the calls."""

    def __init__(self, provider_id: str, listing: list[dict[str, Any]] | Exception, **kwargs: Any) -> None:
        super().__init__(provider_id=provider_id, **kwargs)
        self.listing = listing
        self.model_calls = 0

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        if op != "models":
            return super()._send(op, request, timeout, headers)
        self.model_calls += 1
        if isinstance(self.listing, Exception):
            raise self.listing
        return {"data": self.listing}

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        return [ModelInfo(provider=self.provider_id, **item) for item in payload["data"]]


# ---------------------------------------------------------------------- the static catalog


@pytest.mark.parametrize("pid", [pid for pid, spec in PROVIDERS.items() if pid not in LOCAL_ROWS])
def test_every_hosted_row_has_its_models_in_the_catalog_with_prices(pid: str) -> None:
    spec = PROVIDERS[pid]
    assert catalog_models(spec.host_id), f"no catalog rows for {pid}"
    for model in (spec.default_model, spec.cheap_model, spec.embedding_model):
        if not model:
            continue
        info = catalog_entry(spec.host_id, model)
        assert info is not None, f"{pid}: {model} is not in the catalog"
        assert info.context_window and info.input_price is not None and info.capabilities
        assert info.source == "catalog"
    for info in catalog_models(spec.host_id):
        assert info.input_price is not None, f"{pid}/{info.id} has no price"
        assert info.capabilities <= {"tools", "vision", "json_schema", "reasoning", "embeddings", "rerank"}


def test_local_servers_get_no_prices() -> None:
    for pid in LOCAL_ROWS:
        assert all(m.input_price is None and m.output_price is None for m in catalog_models(pid))
    assert catalog_entry("ollama", "llama3.2:latest") is not None  # Ollama's default tag is the family


def test_model_traits_take_capabilities_from_the_catalog_else_the_rules() -> None:
    # The catalog says o3-mini takes no images (the reasoning-model rule would allow them).
    assert model_traits("openai", "openai", "o3-mini").vision is False
    assert model_traits("openai", "openai", "o3-mini").reasoning is True  # request shaping stays the rules'
    assert model_traits("together", "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo").json_schema is False
    # Not in the catalog: the rules decide.
    assert model_traits("openai", "openai", "o1-mini").tools is False
    assert model_traits("vllm", "vllm", "whatever/model").tools is True


# ---------------------------------------------------------------------- the cache (pure)


def test_the_cache_expires_after_its_ttl() -> None:
    clock = Clock()
    cache = ModelListCache(ttl=60, clock=clock)
    key = listing_key("openai", "http://x/v1", "sk-1")
    cache.put(key, [ModelInfo(id="a", provider="openai")])
    clock.now += 59.9
    assert [m.id for m in cache.get(key) or []] == ["a"] and cache.lists(key, "a")
    clock.now += 0.1
    assert cache.get(key) is None and not cache.lists(key, "a")


def test_the_cache_key_holds_a_hash_never_the_key() -> None:
    key = listing_key("openai", "http://x/v1", "sk-secret-value-123")
    assert "sk-secret-value-123" not in repr(key)
    assert key != listing_key("openai", "http://x/v1", "sk-other")
    assert key != listing_key("openai", "http://y/v1", "sk-secret-value-123")
    assert key != listing_key("openai", "http://x/v1", "sk-secret-value-123", {"config": {"project": "p"}})
    assert key == listing_key("openai", "http://x/v1", "sk-secret-value-123")


def test_cached_models_are_copies() -> None:
    cache = ModelListCache()
    key = listing_key("openai", None, None)
    cache.put(key, [ModelInfo(id="a", provider="openai")])
    got = cache.get(key) or []
    got[0].context_window = 1
    assert (cache.get(key) or [])[0].context_window is None


# ---------------------------------------------------------------------- live listings merged over the catalog


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_live_listing_is_merged_with_the_catalog_and_cached(emu: WireEmulator, asynchronous: bool) -> None:
    p = openai_at(emu.openai_base_url)
    for _ in range(3):
        models = await p.list_models() if asynchronous else p.list_models_sync()
    assert emu.hits("/models") == 1
    by_id = {m.id: m for m in models}
    assert list(by_id) == ["gpt-4o", "my-local-model", "gpt-4o-mini"]
    assert all(m.source == "live" for m in models)
    assert by_id["gpt-4o"].context_window == 128000 and "vision" in by_id["gpt-4o"].capabilities
    assert by_id["my-local-model"].context_window is None
    assert p.supports_model("my-local-model")  # listed live: routable by its bare name
    assert not p.supports_model("never-listed")


def test_what_the_server_says_wins_over_the_catalog() -> None:
    p = Listing("openai", [{"id": "gpt-4o", "context_window": 64000}, {"id": "served-only", "context_window": 4096}])
    by_id = {m.id: m for m in p.list_models_sync()}
    assert by_id["gpt-4o"].context_window == 64000  # e.g. a proxy serving a shorter window
    assert by_id["gpt-4o"].input_price == catalog_entry("openai", "gpt-4o").input_price  # type: ignore[union-attr]
    assert by_id["served-only"].context_window == 4096 and by_id["served-only"].input_price is None


async def test_the_listing_expires_after_the_ttl(emu: WireEmulator) -> None:
    clock = Clock()
    p = openai_at(emu.openai_base_url)
    p.models_cache = ModelListCache(ttl=300, clock=clock)
    await p.list_models()
    clock.now += 299
    await p.list_models()
    assert emu.hits("/models") == 1
    emu.models = ["gpt-4.1"]
    clock.now += 1
    assert [m.id for m in await p.list_models()] == ["gpt-4.1"]
    assert emu.hits("/models") == 2


def test_listings_are_kept_per_credential(emu: WireEmulator) -> None:
    a1 = openai_at(emu.openai_base_url, key="sk-key-a-0000")
    b = openai_at(emu.openai_base_url, key="sk-key-b-1111")
    a1.list_models_sync()
    emu.models = ["only-for-b"]
    assert [m.id for m in b.list_models_sync()] == ["only-for-b"]  # not a's cached listing
    assert emu.hits("/models") == 2
    a2 = openai_at(emu.openai_base_url, key="sk-key-a-0000")  # the same credential, another instance
    assert [m.id for m in a2.list_models_sync()] == ["gpt-4o", "my-local-model", "gpt-4o-mini"]
    assert emu.hits("/models") == 2
    org = openai_at(emu.openai_base_url, key="sk-key-a-0000", organization="org-2")  # scoped differently
    assert [m.id for m in org.list_models_sync()] == ["only-for-b"]
    assert len(MODEL_LISTS) == 3
    assert not any("sk-key" in repr(k) for k in MODEL_LISTS._entries)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_the_static_catalog_answers_when_the_live_call_fails(
        caplog: pytest.LogCaptureFixture, asynchronous: bool) -> None:
    p = openai_at(DEAD)
    with caplog.at_level(logging.WARNING, logger="agentos_llm"):
        models = await p.list_models() if asynchronous else p.list_models_sync()
    assert {m.id for m in models} == {m.id for m in catalog_models("openai")}
    assert all(m.source == "catalog" for m in models)
    assert "static catalog" in caplog.text and "openai" in caplog.text
    assert len(MODEL_LISTS) == 0  # a failure is not cached: the next call tries the server again


def test_after_a_failure_the_next_call_lists_live_again() -> None:
    p = Listing("groq", APIConnectionError("down", provider="groq"), api_key="gsk-1")
    assert all(m.source == "catalog" for m in p.list_models_sync())
    p.listing = [{"id": "llama-3.3-70b-versatile"}]
    [info] = p.list_models_sync()
    assert info.source == "live" and info.context_window == 131072 and info.input_price == 0.59
    assert p.model_calls == 2


# ---------------------------------------------------------------------- the manager


class Broken(FakeProvider):
    async def list_models(self) -> list[ModelInfo]:
        raise RuntimeError("a bug in a custom provider")

    def list_models_sync(self) -> list[ModelInfo]:
        raise RuntimeError("a bug in a custom provider")


@pytest.fixture
def manager(emu: WireEmulator) -> AIModelProviderManager:
    return AIModelProviderManager([
        openai_at(emu.openai_base_url),
        create_provider("groq", api_key="gsk-test", base_url=DEAD, max_retries=0),
        Broken(provider_id="broken"),
    ])


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_the_manager_lists_every_provider_and_a_failure_sinks_none(
        manager: AIModelProviderManager, caplog: pytest.LogCaptureFixture, asynchronous: bool) -> None:
    with caplog.at_level(logging.WARNING, logger="agentos_llm"):
        models = await manager.list_models() if asynchronous else manager.list_models_sync()
    by_provider: dict[str, list[ModelInfo]] = {}
    for m in models:
        by_provider.setdefault(m.provider, []).append(m)
    assert set(by_provider) == {"openai", "groq"}
    assert [m.id for m in by_provider["openai"]] == ["gpt-4o", "my-local-model", "gpt-4o-mini"]
    assert {m.source for m in by_provider["groq"]} == {"catalog"}  # its server is down: the static list
    assert "broken" in caplog.text and "a bug in a custom provider" in caplog.text


async def test_get_model_info_answers_from_the_merge(manager: AIModelProviderManager, emu: WireEmulator) -> None:
    gpt = await manager.get_model_info("openai/gpt-4o")
    assert (gpt.source, gpt.context_window, gpt.provider) == ("live", 128000, "openai")
    local = manager.get_model_info_sync("openai/my-local-model")
    assert (local.source, local.context_window) == ("live", None)
    snapshot = await manager.get_model_info("openai:gpt-4o-2024-08-06")  # not listed: the catalog's family
    assert (snapshot.id, snapshot.context_window, snapshot.source) == ("gpt-4o-2024-08-06", 128000, "catalog")
    groq = await manager.get_model_info("groq/llama-3.3-70b-versatile")
    assert (groq.source, groq.input_price) == ("catalog", 0.59)
    unknown = await manager.get_model_info("openai/nobody-knows")
    assert unknown == ModelInfo(id="nobody-knows", provider="openai", known=False, source="unknown")
    assert emu.hits("/models") == 1  # one live listing served every openai question


# ---------------------------------------------------------------------- capability checks before sending


@pytest.mark.parametrize(("pid", "model", "what"), [
    ("openai", "gpt-3.5-turbo", "images"),       # the catalog: no vision
    ("openai", "o3-mini", "images"),             # the catalog overrides the reasoning-model rule
    ("groq", "llama-3.3-70b-versatile", "images"),
    ("openai", "text-embedding-3-small", "tools"),
    ("openai", "o1-mini", "tools"),              # not in the catalog: the model-traits rule
])
@pytest.mark.parametrize("call", ["generate", "generate_sync", "stream_sync"])
async def test_an_unsupported_request_fails_before_it_is_sent(emu: WireEmulator, pid: str, model: str, what: str,
                                                              call: str) -> None:
    p = create_provider(pid, api_key="k-test", base_url=emu.openai_base_url, max_retries=0)
    messages: Any = IMAGE if what == "images" else "weather in Lisbon?"
    options: dict[str, Any] = {"tools": [get_weather]} if what == "tools" else {}
    with pytest.raises(UnsupportedCapabilityError) as info:
        if call == "generate":
            await p.generate(model, messages, **options)
        elif call == "generate_sync":
            p.generate_sync(model, messages, **options)
        else:
            list(p.stream_sync(model, messages, **options))
    assert info.value.capability == what and model in str(info.value)
    assert emu.hits("/chat/completions") == 0
    assert emu.requests == []


async def test_a_model_nobody_knows_is_not_refused(emu: WireEmulator) -> None:
    p = openai_at(emu.openai_base_url)
    await p.generate("my-local-model", IMAGE, tools=[get_weather])
    assert emu.hits("/chat/completions") == 1


class City(BaseModel):
    name: str


async def test_structured_output_falls_back_when_the_catalog_says_no_json_schema(emu: WireEmulator) -> None:
    together = create_provider("together", api_key="tg-test", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Reply(text='{"name": "Lyon"}'))
    result: StructuredResponse[City] = await together.generate_structured(
        "meta-llama/Llama-3.3-70B-Instruct-Turbo", "a city", City)
    assert result.value == City(name="Lyon")
    assert emu.requests[-1].body["response_format"]["type"] == "json_object"
    openai = openai_at(emu.openai_base_url)
    await openai.generate_structured("gpt-4o", "a city", City)
    assert emu.requests[-1].body["response_format"]["type"] == "json_schema"


def test_capability_lookups_stay_cached(emu: WireEmulator) -> None:
    p = openai_at(emu.openai_base_url)
    p.generate_sync("gpt-4o-mini", "one")
    before = model_traits.cache_info()
    p.generate_sync("gpt-4o-mini", "two")
    after = model_traits.cache_info()
    # One lookup shapes the call, one asks which API serves the model (OpenAI offers two): both warm.
    assert after.hits == before.hits + 2 and after.misses == before.misses


def test_a_listing_that_names_no_request_capabilities_adds_to_the_catalogs() -> None:
    from agentos_llm import create_provider
    from agentos_llm.types import ModelInfo

    gemini = create_provider("gemini", api_key="test-key-merge-0001")
    listed = ModelInfo(id="gemini-2.5-flash", provider="gemini", capabilities=frozenset({"generate", "stream"}))
    (merged,) = gemini._merge_catalog([listed])
    assert {"generate", "stream", "tools", "vision", "json_schema"} <= merged.capabilities
    # A listing that speaks of request capabilities is believed over the static catalog.
    narrow = listed.model_copy(update={"capabilities": frozenset({"tools"})})
    (merged,) = gemini._merge_catalog([narrow])
    assert merged.capabilities == {"tools"}
