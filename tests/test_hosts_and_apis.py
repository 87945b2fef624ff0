"""Hosts and wire APIs as two axes: rows bind to APIs, profiles reject typos, siblings share a credential."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from agentos_llm import AIModelProviderManager, create_provider
from agentos_llm.apis import APIS, get_api
from agentos_llm.catalog import validate_catalog
from agentos_llm.defaults import PROVIDERS, ProviderSpec
from agentos_llm.errors import ConfigurationError, UnsupportedCapabilityError
from agentos_llm.host_quirks import QUIRK_TYPES, HostQuirks
from agentos_llm.testing import Reply, WireEmulator

KEY = "test-key-two-axes"


def test_every_row_names_known_apis_and_a_default_it_offers() -> None:
    for spec in PROVIDERS.values():
        assert spec.apis and all(api in APIS for api in spec.apis), spec.id
        assert spec.default_api in spec.apis
        assert spec.extra == get_api(spec.default_api).extra


def test_openai_responses_is_an_alias_row_of_openai_sharing_its_catalog() -> None:
    alias, host = PROVIDERS["openai-responses"], PROVIDERS["openai"]
    assert alias.default_api == "openai-responses" and alias.host_id == "openai"
    assert (alias.key_env, alias.base_url, alias.apis) == (host.key_env, host.base_url, host.apis)
    p = create_provider("openai-responses", api_key=KEY)
    assert p.api == "openai-responses" and p.provider_id == "openai-responses" and p.catalog_key == "openai"
    assert p.catalog() and all(m.provider == "openai-responses" for m in p.catalog())
    assert {m.id for m in p.catalog()} == {m.id for m in create_provider("openai", api_key=KEY).catalog()}


@pytest.mark.parametrize(("pid", "api", "want"), [
    ("openai", None, "openai-chat"), ("openai", "responses", "openai-responses"),
    ("openai", "openai-responses", "openai-responses"), ("openai", "chat", "openai-chat"),
    ("groq", "responses", "openai-responses"), ("openai-compatible", "responses", "openai-responses"),
    ("anthropic", "messages", "anthropic-messages"), ("gemini", None, "gemini-generate"),
])
def test_create_provider_binds_a_host_to_the_api_asked_for(pid: str, api: str | None, want: str) -> None:
    p = create_provider(pid, api=api, api_key=KEY, base_url="http://127.0.0.1:9/v1")
    assert p.api == want and p.provider_id == pid


def test_an_api_the_host_does_not_offer_lists_the_ones_it_does() -> None:
    with pytest.raises(ConfigurationError, match=r"does not offer the openai-responses API; it offers: "
                                                 r"openai-chat \(chat\)"):
        create_provider("mistral", api="responses", api_key=KEY)
    with pytest.raises(ConfigurationError, match="unknown API 'respones'"):
        create_provider("openai", api="respones", api_key=KEY)


def test_a_misspelt_or_mistyped_quirk_fails_when_the_row_is_made() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown quirk 'json_shema' \(did you mean 'json_schema'\?\)"):
        ProviderSpec(id="x", label="X", wire={"json_shema": False})
    with pytest.raises(ConfigurationError, match="'stream_options' takes bool, not str"):
        ProviderSpec(id="x", label="X", wire={"stream_options": "no"})
    with pytest.raises(ConfigurationError, match="'max_tokens_field' is one of"):
        HostQuirks({"max_tokens_field": "max_output"})
    with pytest.raises(ConfigurationError, match="unknown API"):
        ProviderSpec(id="x", label="X", apis=("openai-chatt",))
    assert all(isinstance(spec.wire, HostQuirks) for spec in PROVIDERS.values())
    assert set(QUIRK_TYPES) >= {k for spec in PROVIDERS.values() for k in spec.wire}


def test_a_wire_override_is_validated_too() -> None:
    with pytest.raises(ConfigurationError, match="unknown quirk 'thinktags'"):
        create_provider("openai-compatible", base_url="http://127.0.0.1:9/v1", wire={"thinktags": True})


def test_the_catalog_rejects_unknown_fields_and_capabilities() -> None:
    with pytest.raises(ValueError, match="unknown capabilities"):
        validate_catalog({"x": {"m": {"capabilities": ["tool"]}}})
    with pytest.raises(ValueError, match="unknown field"):
        validate_catalog({"x": {"m": {"input_prise": 1.0}}})
    from importlib import resources

    validate_catalog(json.loads(resources.files("agentos_llm").joinpath("data/models.json").read_text()))


def test_a_model_served_by_another_api_of_the_host_is_refused_where_the_host_lacks_it() -> None:
    # A host row that offers chat only cannot serve a Responses-only model: said before anything is sent.
    spec = replace(PROVIDERS["openai"], id="chat-only-openai", apis=("openai-chat",), default_api="openai-chat",
                   host="openai")
    p = create_provider("openai", api_key=KEY)
    p.spec = spec
    with pytest.raises(UnsupportedCapabilityError, match="served only by the openai-responses API"):
        p.generate_sync("o3-pro", "hi")


def test_the_manager_serves_an_alias_row_through_the_registered_host() -> None:
    with WireEmulator() as emu:
        manager = AIModelProviderManager()
        openai = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0)
        manager.register(openai)
        route = manager.resolve("openai-responses/gpt-5-mini")
        assert route.provider.api == "openai-responses" and route.model == "gpt-5-mini"
        assert route.provider is openai.sibling("responses")  # made once, same credential and pool
        assert route.provider.credential_source == openai.credential_source
        emu.script(Reply("from responses"))
        assert manager.generate_sync("openai-responses/gpt-5-mini", "hi").text == "from responses"
        assert emu.hits("/responses") == 1 and emu.hits("/chat/completions") == 0
        count = manager.count_tokens_sync("openai/gpt-4.1-mini", "hello there")
        assert count.exact and count.input_tokens > 0 and emu.hits("/responses/input_tokens") == 1
        manager.close()


def test_unknown_count_mode_hosts_estimate_and_say_so() -> None:
    p = create_provider("groq", api_key=KEY)
    history = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    count = p.count_tokens_sync("llama-3.3-70b-versatile", history)
    assert count.exact is False and count.provider == "groq"
    # 3 priming + 2 messages x 3 framing + "be brief" (2) + "hello" (2)
    assert count.input_tokens == 3 + 6 + 2 + 2


@pytest.mark.parametrize("pid", ["openai", "anthropic", "gemini", "groq"])
def test_server_tools_are_refused_before_sending_where_the_api_runs_none(pid: str) -> None:
    from agentos_llm import WebSearch

    with WireEmulator() as emu:
        base = emu.openai_base_url if pid in ("openai", "groq") else emu.url
        p = create_provider(pid, api_key=KEY, base_url=base, max_retries=0)
        with pytest.raises(UnsupportedCapabilityError, match="runs no server tools"):
            p.generate_sync(None, "news today?", server_tools=[WebSearch()])
        assert emu.requests == []
        p.close()
