"""`define_model`: a named model with its request options and prices, usable wherever the manager takes a model
id, listed by the manager, and pricing its calls when the upstream reports no cost; `provider/cheap`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from surface_helpers import fresh, make

from agentos_llm import AIModelProviderManager, create_provider, define_model, define_provider, provider_const
from agentos_llm.errors import ConfigurationError
from agentos_llm.model_definitions import (
    copy_listing_prices_sync,
    defined_models,
    undefine_model,
)
from agentos_llm.registry import _DEFINED
from agentos_llm.testing import WireEmulator

PRICES = {"input": 2.0, "output": 8.0, "cached": 0.5}


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emulator:
        yield emulator


@pytest.fixture
def emu(server: WireEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    before, providers = set(defined_models()), set(_DEFINED)
    yield from fresh(server, monkeypatch, tmp_path)
    for name in set(defined_models()) - before:
        undefine_model(name)
    for name in set(_DEFINED) - providers:
        del _DEFINED[name]


def darkbloom(emu: WireEmulator) -> AIModelProviderManager:
    """A gateway serving a model no price source knows, and the manager that holds it."""
    define_provider("darkbloom", base="openai-compatible",
                    config={"base_url": provider_const(emu.openai_base_url), "api_key": provider_const("db-key-1")})
    return AIModelProviderManager([create_provider("darkbloom", max_retries=0), make("openai-chat", emu)])


def test_a_defined_model_is_a_model_id_with_its_options(emu: WireEmulator) -> None:
    manager = darkbloom(emu)
    define_model("darkbloom_chat", "darkbloom", "darkbloom-7b",
                 provider_options={"temperature": 0.2, "max_tokens": 300, "extra": {"top_a": 0.1, "min_p": 0.05},
                                   "extra_headers": {"x-tier": "gold"}})
    response = manager.generate_sync("darkbloom_chat", "Hello.", max_tokens=50, extra={"min_p": 0.2})
    body = emu.requests[-1].body
    assert body["model"] == "darkbloom-7b" and body["temperature"] == 0.2
    assert body["max_tokens"] == 50  # the call's own option wins
    assert (body["top_a"], body["min_p"]) == (0.1, 0.2)  # `extra` merges by key, the call's winning
    assert emu.requests[-1].headers["x-tier"] == "gold"
    assert response.provider == "darkbloom" and response.text == "Echo: Hello."
    route = manager.resolve("darkbloom_chat")
    assert (route.provider.provider_id, route.model) == ("darkbloom", "darkbloom-7b")
    assert "defined model" in route.reason and manager.describe("darkbloom_chat").startswith("darkbloom_chat ->")


async def test_streams_and_fallback_routes_take_definitions(emu: WireEmulator) -> None:
    manager = darkbloom(emu)
    define_model("fast", "darkbloom", "darkbloom-1b", provider_options={"seed": 11})
    async with manager.stream("fast", "Stream it.") as events:
        last = [e async for e in events][-1]
    assert last.response.text == "Echo: Stream it." and emu.requests[-1].body["seed"] == 11
    manager.add_route("primary", ["fast", "openai/gpt-4o-mini"])
    manager.generate_sync("primary", "Routed.")
    assert emu.requests[-1].body["model"] == "darkbloom-1b"


def test_definition_prices_price_calls_the_upstream_does_not(emu: WireEmulator) -> None:
    manager = darkbloom(emu)
    unpriced = manager.generate_sync("darkbloom/darkbloom-7b", "one two three")
    assert unpriced.usage.cost_source == "none"
    define_model("darkbloom_chat", "darkbloom", "darkbloom-7b", prices=PRICES)
    priced = manager.generate_sync("darkbloom_chat", "one two three")
    usage = priced.usage
    assert usage.cost_source == "definition"
    assert usage.cost_usd == pytest.approx((usage.input_tokens * 2.0 + usage.output_tokens * 8.0) / 1e6)
    # the prices belong to the model on that host: a call by its plain id is priced alike
    assert manager.generate_sync("darkbloom/darkbloom-7b", "x").usage.cost_source == "definition"


def test_definition_prices_come_before_general_price_data_but_after_the_upstreams(emu: WireEmulator) -> None:
    manager = AIModelProviderManager([make("openai-chat", emu)])
    define_model("mini_negotiated", "openai", "gpt-4o-mini", prices={"input": 0.01, "output": 0.02})
    assert manager.generate_sync("mini_negotiated", "hi").usage.cost_source == "definition"
    openrouter = create_provider("openrouter", api_key="sk-or-test-000000000000", base_url=emu.url + "/api/v1",
                                 max_retries=0)
    define_model("routed", "openrouter", "openai/gpt-4.1-mini", prices={"input": 99.0, "output": 99.0})
    manager.register(openrouter)
    assert manager.generate_sync("routed", "hi").usage.cost_source == "provider"  # OpenRouter reports its cost


def test_listing_prices_are_used_or_copied(emu: WireEmulator) -> None:
    openrouter = create_provider("openrouter", api_key="sk-or-test-000000000000", base_url=emu.url + "/api/v1",
                                 max_retries=0, wire={"chat_body": {}})  # no usage accounting: no reported cost
    manager = AIModelProviderManager([openrouter])
    define_model("listed", "openrouter", "gpt-4o", prices="listing")
    manager.list_models_sync()  # the live listing, with its prices, is now cached for the credential
    usage = manager.generate_sync("listed", "one two").usage
    assert usage.cost_source == "definition"
    assert usage.cost_usd == pytest.approx(usage.input_tokens * 2.5e-6 + usage.output_tokens * 1e-5)

    define_model("copied", "openrouter", "gpt-4o-mini")
    copied = copy_listing_prices_sync("copied", openrouter)
    assert copied.prices is not None and copied.prices != "listing"
    assert (copied.prices.input_price, copied.prices.output_price) == pytest.approx((2.5, 10.0))
    assert defined_models()["copied"].prices == copied.prices


def test_the_manager_lists_definitions(emu: WireEmulator) -> None:
    manager = AIModelProviderManager([make("openai-chat", emu)])
    define_model("vision_mini", "openai", "gpt-4o-mini", prices=PRICES, display_name="Vision mini")
    define_model("embedder", "openai", "text-embedding-3-small")
    listed = {m.id: m for m in manager.list_models_sync()}
    entry = listed["vision_mini"]
    assert (entry.provider, entry.source, entry.display_name, entry.input_price) == (
        "openai", "definition", "Vision mini", 2.0)
    assert "vision" in entry.capabilities and entry.context_window == listed["gpt-4o-mini"].context_window
    assert [m.id for m in manager.list_models_sync(capability="embeddings")] == ["text-embedding-3-small",
                                                                                 "embedder"]
    info = manager.get_model_info_sync("vision_mini")
    assert (info.id, info.input_price, info.source) == ("vision_mini", 2.0, "definition")


def test_provider_cheap_and_embedding_aliases(emu: WireEmulator) -> None:
    manager = AIModelProviderManager([make("openai-chat", emu)])
    manager.generate_sync("openai/cheap", "hi")
    assert emu.requests[-1].body["model"] == "gpt-4.1-nano"
    manager.embed_sync("openai/embedding", ["x"])
    assert emu.requests[-1].body["model"] == "text-embedding-3-small"
    manager.embed_sync(None, ["x"])  # the default embedding model, as before
    assert emu.requests[-1].body["model"] == "text-embedding-3-small"
    manager.register(create_provider("ollama", base_url=emu.openai_base_url))
    with pytest.raises(ConfigurationError, match="no cheap model"):
        manager.resolve("ollama/cheap")


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    (("openai", "openai", "gpt-4o"), {}, "is a provider id"),
    (("team/fast", "openai", "gpt-4o"), {}, "letters, digits"),
    (("fast", "no-such-provider", "gpt-4o"), {}, "unknown provider"),
    (("fast", "openai", ""), {}, "model must be"),
    (("fast", "openai", "gpt-4o"), {"provider_options": {"temprature": 1}}, "unknown option"),
    (("fast", "openai", "gpt-4o"), {"provider_options": {"api_key": "sk-x"}}, "not a model option"),
    (("fast", "openai", "gpt-4o"), {"prices": {"output": 1.0}}, "need at least `input`"),
    (("fast", "openai", "gpt-4o"), {"prices": "catalog"}, "prices are"),
])
def test_bad_definitions_fail_when_made(emu: WireEmulator, args: tuple[str, str, str], kwargs: dict[str, object],
                                        match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        define_model(*args, **kwargs)  # type: ignore[arg-type]
    assert "fast" not in defined_models()


def test_definitions_of_one_model_must_agree_on_its_prices(emu: WireEmulator) -> None:
    define_model("a", "openai", "gpt-4o", prices=PRICES, provider_options={"temperature": 0})
    define_model("b", "openai", "gpt-4o", prices=PRICES, provider_options={"temperature": 1})  # same prices: fine
    define_model("c", "openai", "gpt-4o", provider_options={"seed": 1})  # no prices: fine
    with pytest.raises(ConfigurationError, match="already has other prices"):
        define_model("d", "openai", "gpt-4o", prices={"input": 1.0})
    assert "d" not in defined_models()
