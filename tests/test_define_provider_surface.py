"""`define_provider`, complete: every overridable method overridden with and without `next()` (and each async
method's `_sync` twin going through the override), typed env values, `provider_const`, icons, tools, paged
model listings, capabilities and health; against the loopback emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from surface_helpers import fresh, make

from agentos_llm import (
    AIModelProviderManager,
    ModelInfo,
    create_provider,
    define_provider,
    provider_const,
    provider_env,
    provider_value,
)
from agentos_llm.errors import ConfigurationError, InvalidRequestError
from agentos_llm.inspection import InspectedRequest
from agentos_llm.model_pages import ModelPage
from agentos_llm.provider import AsyncEventStream, IProvider
from agentos_llm.provider_surface import ProviderTool
from agentos_llm.registry import _DEFINED, OverrideContext
from agentos_llm.server_tools import WebSearch
from agentos_llm.testing import FakeProvider, WireEmulator
from agentos_llm.types import CompletionResponse, DoneEvent, HealthStatus, Message, ResponseMetadata

GW_KEY = "gw-surface-key-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emulator:
        yield emulator


@pytest.fixture
def emu(server: WireEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    before = set(_DEFINED)
    yield from fresh(server, monkeypatch, tmp_path)
    for name in set(_DEFINED) - before:
        del _DEFINED[name]


def gateway(emu: WireEmulator, overrides: dict[str, Any] | None = None, **kwargs: Any) -> IProvider:
    define_provider("surface-gw", base="openai-compatible", label="Surface gateway",
                    config={"base_url": provider_value(emu.openai_base_url), "api_key": provider_const(GW_KEY),
                            "default_model": provider_const("gpt-4o-mini")},
                    overrides=overrides, **kwargs)
    return create_provider("surface-gw", max_retries=0)


def made(text: str) -> CompletionResponse:
    return CompletionResponse(provider="surface-gw", model="made", text=text,
                              message=Message(role="assistant", content=text))


# ---------------------------------------------------------------------- every override, with and without next()

async def _events(text: str) -> AsyncIterator[Any]:
    yield DoneEvent(response=made(text))


def _overrides(use_next: bool) -> dict[str, Callable[[OverrideContext, Callable[[], Any]], Any]]:
    async def generate(ctx: OverrideContext, next: Callable[[], Any]) -> CompletionResponse:
        if not use_next:
            return made(f"own answer to {ctx.args['messages']}")
        response = await next()
        response.text = "wrapped: " + response.text
        return response  # type: ignore[no-any-return]

    def stream(ctx: OverrideContext, next: Callable[[], Any]) -> AsyncEventStream:
        return next() if use_next else AsyncEventStream(_events("own stream"))  # type: ignore[no-any-return]

    async def list_models(ctx: OverrideContext, next: Callable[[], Any]) -> list[ModelInfo]:
        own = ModelInfo(id="gw/router", provider=ctx.provider.provider_id)
        return [*(await next()), own] if use_next else [own]

    async def get_model_info(ctx: OverrideContext, next: Callable[[], Any]) -> ModelInfo:
        if use_next:
            return (await next()).model_copy(update={"display_name": "via next"})  # type: ignore[no-any-return]
        return ModelInfo(id=ctx.args["model"], provider="surface-gw", display_name="own info")

    def supports_model(ctx: OverrideContext, next: Callable[[], Any]) -> bool:
        return bool(next()) or ctx.args["model"] == "gw/router" if use_next else ctx.args["model"].startswith("gw/")

    def get_icon(ctx: OverrideContext, next: Callable[[], Any]) -> str:
        return str(next()) + "#wrapped" if use_next else "https://gw.example/icon.svg"

    def get_tools(ctx: OverrideContext, next: Callable[[], Any]) -> list[ProviderTool]:
        own = ProviderTool(kind="web_search", name="GatewaySearch", description="the gateway's", api="openai-chat")
        return [*next(), own] if use_next else [own]

    async def inspect_request(ctx: OverrideContext, next: Callable[[], Any]) -> InspectedRequest:
        if use_next:
            inspected = await next()
            inspected.headers["x-noted"] = "yes"
            return inspected  # type: ignore[no-any-return]
        return InspectedRequest(provider="surface-gw", method="POST", url="https://gw.example/run", body={"own": 1})

    def get_response_metadata(ctx: OverrideContext, next: Callable[[], Any]) -> ResponseMetadata:
        headers = ctx.args["headers"] or {}
        if use_next:
            meta = next()
            meta.extra["emulator"] = headers.get("server")
            return meta  # type: ignore[no-any-return]
        return ResponseMetadata(extra={"own": True})

    async def list_models_page(ctx: OverrideContext, next: Callable[[], Any]) -> ModelPage:
        if use_next:
            page = await next()
            page.next_cursor = page.next_cursor or "end"
            return page  # type: ignore[no-any-return]
        return ModelPage(models=[ModelInfo(id="gw/only", provider="surface-gw")], next_cursor=None)

    async def get_model_capabilities(ctx: OverrideContext, next: Callable[[], Any]) -> frozenset[str]:
        return frozenset(await next()) | {"audio"} if use_next else frozenset({"rerank"})

    return {name: fn for name, fn in locals().items() if callable(fn) and not name.startswith("_")}


async def _check(p: IProvider, use_next: bool, emu: WireEmulator) -> None:
    # generate, and generate_sync through the same override
    for response in (await p.generate(None, "hello"), p.generate_sync(None, "hello")):
        assert response.text == ("wrapped: Echo: hello" if use_next else "own answer to hello")
    # stream, and stream_sync
    async with p.stream(None, "streamed") as events:
        done = [e async for e in events][-1]
    done_sync = list(p.stream_sync(None, "streamed"))[-1]
    for d in (done, done_sync):
        assert isinstance(d, DoneEvent)
        assert d.response.text == ("Echo: streamed" if use_next else "own stream")
    # list_models and get_model_info
    for listed in (await p.list_models(), p.list_models_sync()):
        ids = [m.id for m in listed]
        assert ids == ([*emu.models, "gw/router"] if use_next else ["gw/router"])
    for info in (await p.get_model_info("gpt-4o"), p.get_model_info_sync("gpt-4o")):
        assert info.display_name == ("via next" if use_next else "own info")
    assert p.supports_model("gw/router") and (p.supports_model("gpt-4o") is use_next)
    # icon and tools
    icon = p.get_icon()
    if use_next:
        assert icon.startswith("data:image/svg+xml;base64,") and icon.endswith("#wrapped")
    else:
        assert icon == "https://gw.example/icon.svg"
    tools = p.get_tools()
    assert tools[-1].name == "GatewaySearch" and len(tools) == (6 if use_next else 1)
    # inspect_request (the sync twin goes through the async override)
    for inspected in (await p.inspect_request(None, "hi"), p.inspect_request_sync(None, "hi")):
        if use_next:
            assert inspected.headers["x-noted"] == "yes" and inspected.body["model"] == "gpt-4o-mini"
        else:
            assert inspected.url == "https://gw.example/run"
    # the response metadata of a real call goes through the override
    emu.reset()
    served = await IProvider.generate(p, None, "metadata please")  # the base method: no generate override
    assert served.metadata.extra == ({"emulator": "agentos-emulator"} if use_next else {"own": True})
    if use_next:
        assert served.metadata.status_code == 200
    # paged listings and capabilities
    for page in (await p.list_models_page(limit=2), p.list_models_page_sync(limit=2)):
        assert [m.id for m in page.models] == (emu.models[:2] if use_next else ["gw/only"])
        assert page.next_cursor == ("2" if use_next else None)
    for caps in (await p.get_model_capabilities("gpt-4o"), p.get_model_capabilities_sync("gpt-4o")):
        assert ("audio" in caps and "tools" in caps) if use_next else caps == {"rerank"}


@pytest.mark.parametrize("use_next", [True, False], ids=["with-next", "without-next"])
async def test_every_overridable_method(emu: WireEmulator, use_next: bool) -> None:
    p = gateway(emu, _overrides(use_next))
    await _check(p, use_next, emu)
    if not use_next:
        # answered without the base: nothing but the metadata call and the listings reached the emulator
        assert all(r.path != "/v1/chat/completions" or r.body["messages"][-1]["content"] == "metadata please"
                   for r in emu.requests)


def test_overriding_an_unknown_method_is_refused(emu: WireEmulator) -> None:
    with pytest.raises(ConfigurationError, match="get_response_metadata"):
        gateway(emu, {"get_price": lambda ctx, next: None})


# ---------------------------------------------------------------------- typed env values, provider_const, icons


@pytest.mark.parametrize(("value_type", "raw", "expected"), [
    ("int", "42", 42), ("float", "0.25", 0.25), ("bool", "yes", True), ("bool", "0", False),
    ("url", "https://gw.example/v1", "https://gw.example/v1"), ("str", "plain", "plain"),
    ("secret", "s3cret-value-123456", "s3cret-value-123456")])
def test_typed_env_values_are_converted(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch, value_type: str,
                                        raw: str, expected: Any) -> None:
    monkeypatch.setenv("GW_SETTING", raw)
    define_provider("typed-gw", base="openai-compatible",
                    config={"base_url": provider_value(emu.openai_base_url),
                            "default_model": provider_env("GW_SETTING", value_type=value_type)})  # type: ignore[arg-type]
    p = create_provider("typed-gw")
    assert p.defined_config["default_model"] == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(("value_type", "raw", "shown"), [
    ("int", "4.5", "'4.5'"), ("float", "fast", "'fast'"), ("bool", "maybe", "'maybe'"),
    ("url", "gw.example/v1", "'gw.example/v1'"), ("secret", "   ", "a value that is not one")])
def test_a_bad_typed_value_names_the_variable(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch, value_type: str,
                                              raw: str, shown: str) -> None:
    monkeypatch.setenv("GW_SETTING", raw)
    define_provider("typed-gw", base="openai-compatible",
                    config={"base_url": provider_value(emu.openai_base_url),
                            "default_model": provider_env("GW_SETTING", value_type=value_type)})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="GW_SETTING must be") as caught:
        create_provider("typed-gw")
    assert shown in str(caught.value)


def test_a_bad_default_or_type_fails_the_definition(emu: WireEmulator) -> None:
    with pytest.raises(ConfigurationError, match="the default of GW_TIMEOUT must be an integer"):
        define_provider("typed-gw", base="openai-compatible",
                        config={"default_model": provider_env("GW_TIMEOUT", default="soon", value_type="int")})
    with pytest.raises(ConfigurationError, match="value_type of GW_X"):
        provider_env("GW_X", value_type="date")  # type: ignore[arg-type]


def test_provider_const_is_provider_value(emu: WireEmulator) -> None:
    assert provider_const is provider_value
    assert gateway(emu).default_model == "gpt-4o-mini"


def test_icons_default_per_host_and_can_be_set(emu: WireEmulator) -> None:
    openai_icon = make("openai-chat", emu).get_icon()
    assert openai_icon.startswith("data:image/svg+xml;base64,") and openai_icon != make("cohere-chat",
                                                                                         emu).get_icon()
    assert gateway(emu).get_icon().startswith("data:image/svg+xml;base64,")
    define_provider("icon-gw", base="openai", icon="https://gw.example/favicon.ico")
    assert create_provider("icon-gw", api_key=GW_KEY).get_icon() == "https://gw.example/favicon.ico"
    define_provider("openai-clone", base="openai")
    assert create_provider("openai-clone", api_key=GW_KEY).get_icon() == openai_icon
    with pytest.raises(ConfigurationError, match="icon"):
        define_provider("bad-icon", base="openai", icon="favicon.ico")


def test_tools_a_provider_contributes(emu: WireEmulator) -> None:
    responses = make("openai-responses", emu).get_tools()
    assert {t.kind for t in responses} == {"web_search", "file_search", "code_interpreter", "image_generation",
                                           "mcp"}
    assert responses[0].build() == WebSearch()
    assert {t.kind for t in make("bedrock-converse", emu).get_tools()} == {"web_search", "code_interpreter"}
    assert make("anthropic-messages", emu).get_tools() == [] and make("cohere-chat", emu).get_tools() == []


# ---------------------------------------------------------------------- paged listings, capabilities, health


@pytest.mark.parametrize("api", ["anthropic-messages", "gemini-generate"])
async def test_hosts_that_page_are_asked_one_page_at_a_time(emu: WireEmulator, api: str) -> None:
    p = make(api, emu)
    emu.models = [f"{'claude' if api.startswith('anthropic') else 'gemini'}-m{i}" for i in range(5)]
    try:
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await p.list_models_page(cursor, limit=2) if pages % 2 else p.list_models_page_sync(cursor, limit=2)
            assert page.native and len(page.models) <= 2
            seen += [m.id.removeprefix("models/") for m in page.models]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == emu.models and pages == 3
        limits = [r.query for r in emu.requests]
        assert all(("limit=2" in q) or ("pageSize=2" in q) for q in limits)
    finally:
        emu.models = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"]


def test_openrouter_pages_with_its_offset(emu: WireEmulator) -> None:
    from local_servers import Imitation, send_json

    asked: list[str] = []

    def models(h: Any, _: Any) -> None:
        asked.append(h.path)
        send_json(h, {"data": [{"id": "a/one"}, {"id": "a/two"}],
                      "links": {"next": "/api/v1/models?offset=2&limit=2"}})

    server = Imitation({("GET", "/api/v1/models?limit=2"): models})
    try:
        p = create_provider("openrouter", api_key="sk-or-test-0000000000", base_url=server.url + "/api/v1",
                            max_retries=0)
        page = p.list_models_page_sync(limit=2)
    finally:
        server.close()
    assert ([m.id for m in page.models], page.next_cursor, page.native) == (["a/one", "a/two"], "2", True)


def test_other_listings_are_sliced_and_a_bad_page_is_refused(emu: WireEmulator) -> None:
    p = make("openai-chat", emu)
    first = p.list_models_page_sync(limit=2)
    second = p.list_models_page_sync(first.next_cursor, limit=2)
    assert [m.id for m in first.models + second.models] == emu.models and second.next_cursor is None
    assert not first.native
    with pytest.raises(InvalidRequestError, match="limit"):
        p.list_models_page_sync(limit=0)
    with pytest.raises(InvalidRequestError, match="cursor"):
        p.list_models_page_sync("zz")


@pytest.mark.parametrize(("capability", "expected"), [
    ("embeddings", ["text-embedding-3-small"]), ("vision", ["gpt-4o-mini", "gpt-4o"]),
    ("tools", ["gpt-4o-mini", "gpt-4o"]), ("rerank", [])])
async def test_list_models_by_capability(emu: WireEmulator, capability: str, expected: list[str]) -> None:
    p = make("openai-chat", emu)
    assert [m.id for m in await p.list_models(capability=capability)] == expected
    manager = AIModelProviderManager([p])
    assert [m.id for m in manager.list_models_sync(capability=capability)] == expected
    with pytest.raises(InvalidRequestError, match="unknown capability"):
        p.list_models_sync(capability="telepathy")


def test_model_capabilities(emu: WireEmulator) -> None:
    p = make("openai-chat", emu)
    assert {"tools", "vision", "json_schema"} <= p.get_model_capabilities_sync("gpt-4o")
    assert p.get_model_capabilities_sync("text-embedding-3-small") == {"embeddings"}
    assert make("voyage-embed", emu).get_model_capabilities_sync("rerank-2.5") == {"rerank"}


class _Slow(FakeProvider):
    async def check_health(self) -> HealthStatus:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")  # pragma: no cover


async def test_the_manager_checks_every_provider_at_once(emu: WireEmulator) -> None:
    from local_servers import Imitation, send_json

    def refuse(status: int) -> Any:
        return lambda h, _: send_json(h, {"error": {"message": "no", "type": "x", "code": "invalid_api_key"}},
                                      status=status)

    refusing = Imitation({("GET", "/v1/models"): refuse(401)})
    failing = Imitation({("GET", "/v1/models"): refuse(503)})
    try:
        manager = AIModelProviderManager([
            create_provider("openai", api_key=GW_KEY, base_url=refusing.url + "/v1", max_retries=0),
            make("anthropic-messages", emu), _Slow(provider_id="slow"), FakeProvider(provider_id="fine"),
            create_provider("groq", api_key=GW_KEY, base_url=failing.url + "/v1", max_retries=0),
            create_provider("mistral", api_key=GW_KEY, base_url="http://127.0.0.1:9/v1", max_retries=0)])
        rows = await manager.check_health(timeout=2)
        expected = [("openai", "unauthorized", False), ("anthropic", "ok", True), ("slow", "timeout", False),
                    ("fine", "ok", True), ("groq", "error", False), ("mistral", "unreachable", False)]
        assert [(r.provider, r.state, r.ok) for r in rows] == expected
        rows = manager.check_health_sync(timeout=5)  # _Slow's sync check is the base one: it answers
        assert [(r.provider, r.state) for r in rows] == [
            ("openai", "unauthorized"), ("anthropic", "ok"), ("slow", "ok"), ("fine", "ok"), ("groq", "error"),
            ("mistral", "unreachable")]
    finally:
        refusing.close()
        failing.close()
