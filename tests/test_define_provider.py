"""`define_provider`: named providers built on a base, configured from env vars or constants, with overrides.

Calls go to a loopback server started here; nothing else is ever contacted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agentos_llm import AIModelProviderManager, create_provider, define_provider, provider_env, provider_value
from agentos_llm.defaults import PROVIDERS
from agentos_llm.errors import ConfigurationError
from agentos_llm.provider import IProvider
from agentos_llm.registry import _DEFINED, OverrideContext, defined_providers
from agentos_llm.types import CompletionResponse, Message, ModelInfo

UNROUTABLE = "http://127.0.0.1:9/v1"
MSGS = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No real key, config file or proxy leaks in; every defined provider is removed afterwards."""
    names = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env)}
    names |= {spec.base_url_env for spec in PROVIDERS.values() if spec.base_url_env}
    names |= {
        "MYGW_KEY",
        "MYGW_BASE_URL",
        "AGENTOS_LLM_PROVIDER_ORDER",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    }
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "no-such-config.toml"))
    before = set(_DEFINED)
    yield
    for name in set(_DEFINED) - before:
        del _DEFINED[name]


def define_gateway(**kwargs: Any) -> type[IProvider]:
    return define_provider(
        "my-gateway",
        base="openai-compatible",
        config={
            "base_url": provider_env("MYGW_BASE_URL", default=UNROUTABLE),
            "api_key": provider_env("MYGW_KEY", required=True, secret=True),
        },
        **kwargs,
    )


# ------------------------------------------------------------------ a loopback OpenAI-compatible server


class Loopback:
    """GET /v1/models lists two models; POST /v1/chat/completions answers with the model's name."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                outer.requests.append(("GET", self.path, self.headers.get("Authorization")))
                if self.path == "/v1/models":
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {"id": "gw-small", "object": "model", "owned_by": "gw"},
                                {"id": "gw-large", "object": "model", "owned_by": "gw"},
                            ],
                        },
                    )
                else:
                    self._send(404, {"error": {"message": "no such path"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append(("POST", self.path, self.headers.get("Authorization")))
                if self.path == "/v1/chat/completions":
                    model = request.get("model", "?")
                    self._send(
                        200,
                        {
                            "id": "chatcmpl-gw",
                            "object": "chat.completion",
                            "created": 0,
                            "model": model,
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": f"gateway says hi via {model}"},
                                }
                            ],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5},
                        },
                    )
                else:
                    self._send(404, {"error": {"message": "no such path"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture(scope="module")
def server() -> Iterator[Loopback]:
    lb = Loopback()
    lb.thread.start()
    yield lb
    lb.server.shutdown()
    lb.server.server_close()


@pytest.fixture
def gateway_env(server: Loopback, monkeypatch: pytest.MonkeyPatch) -> Loopback:
    server.requests.clear()
    monkeypatch.setenv("MYGW_BASE_URL", server.base_url)
    monkeypatch.setenv("MYGW_KEY", "gw-secret-key-123456")
    return server


# ------------------------------------------------------------------ config from env vars and constants


def test_create_uses_the_env_values(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = define_gateway()
    monkeypatch.setenv("MYGW_KEY", "gw-secret-key-123456")
    monkeypatch.setenv("MYGW_BASE_URL", "http://127.0.0.1:9/gateway/v1")
    p = create_provider("my-gateway")
    assert isinstance(p, cls)
    assert p.provider_id == "my-gateway"
    assert p.base_url == "http://127.0.0.1:9/gateway/v1"
    assert p.api_key is not None
    assert p.api_key.get_secret_value() == "gw-secret-key-123456"
    assert p.credential_source == "env:MYGW_KEY"
    assert "gw-secret-key-123456" not in repr(p)


def test_env_default_applies_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    define_gateway()
    monkeypatch.setenv("MYGW_KEY", "gw-secret-key-123456")
    assert create_provider("my-gateway").base_url == UNROUTABLE


def test_arguments_beat_the_defined_config(monkeypatch: pytest.MonkeyPatch) -> None:
    define_gateway()
    monkeypatch.setenv("MYGW_KEY", "gw-secret-key-123456")
    monkeypatch.setenv("MYGW_BASE_URL", "http://127.0.0.1:9/from-env/v1")
    p = create_provider("my-gateway", api_key="gw-argument-key", base_url="http://127.0.0.1:9/from-arg/v1")
    assert p.base_url == "http://127.0.0.1:9/from-arg/v1"
    assert p.credential_source == "argument"


def test_missing_required_key_names_its_env_var() -> None:
    define_gateway()
    with pytest.raises(ConfigurationError, match="MYGW_KEY"):
        create_provider("my-gateway")


def test_defined_spec() -> None:
    define_gateway(label="My Gateway")
    spec = defined_providers()["my-gateway"]
    assert spec.id == "my-gateway"
    assert spec.label == "My Gateway"
    assert spec.key_env == ("MYGW_KEY",)
    assert spec.detect_vars == ("MYGW_KEY",)
    assert spec.base_url_env == "MYGW_BASE_URL"
    assert spec.key_required is True


def test_provider_value_constants() -> None:
    define_provider(
        "const-gw",
        base="openai-compatible",
        config={
            "base_url": provider_value("http://127.0.0.1:9/const/v1"),
            "default_model": provider_value("gw-default"),
            "api_key": provider_value("gw-constant-key-0001"),
            "organization": "org-plain-value",  # a plain value is a constant too
        },
    )
    p = create_provider("const-gw")
    assert p.base_url == "http://127.0.0.1:9/const/v1"
    assert p.default_model == "gw-default"
    assert p.api_key is not None
    assert p.api_key.get_secret_value() == "gw-constant-key-0001"
    assert p.config == {"organization": "org-plain-value"}
    assert p.defined_config["default_model"] == "gw-default"  # type: ignore[attr-defined]


def test_unknown_config_key_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="colour"):
        define_provider("bad-gw", base="openai-compatible", config={"colour": provider_value("blue")})
    assert "bad-gw" not in _DEFINED


# ------------------------------------------------------------------ names and overrides that are refused


@pytest.mark.parametrize("name", ["openai", "groq", "openai-compatible"])
def test_built_in_names_are_rejected(name: str) -> None:
    with pytest.raises(ConfigurationError, match="built-in"):
        define_provider(name, base="openai-compatible")
    assert name not in _DEFINED


@pytest.mark.parametrize("name", ["my/gateway", "my:gateway", ""])
def test_names_with_a_separator_are_rejected(name: str) -> None:
    with pytest.raises(ConfigurationError):
        define_provider(name, base="openai-compatible")
    assert name not in _DEFINED


@pytest.mark.parametrize("method", ["embed", "_send", "generate_sync", "close"])
def test_invalid_override_names_are_rejected(method: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot override"):
        define_provider("bad-gw", base="openai-compatible", overrides={method: lambda ctx, nxt: nxt()})
    assert "bad-gw" not in _DEFINED


def test_unknown_base_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="unknown provider"):
        define_provider("bad-gw", base="no-such-base")
    assert "bad-gw" not in _DEFINED


# ------------------------------------------------------------------ overrides, against the loopback server


def test_list_models_override_extends_the_base(gateway_env: Loopback) -> None:
    seen: list[OverrideContext] = []

    async def list_models(ctx: OverrideContext, next: Any) -> list[ModelInfo]:
        seen.append(ctx)
        models = await next()
        return [*models, ModelInfo(id="gw-virtual", provider=ctx.provider.provider_id)]

    define_gateway(overrides={"list_models": list_models})
    p = create_provider("my-gateway")

    async def run() -> list[ModelInfo]:
        try:
            return await p.list_models()
        finally:
            await p.aclose()

    import asyncio

    models = asyncio.run(run())
    assert [m.id for m in models] == ["gw-small", "gw-large", "gw-virtual"]
    assert [r[:2] for r in gateway_env.requests] == [("GET", "/v1/models")]
    assert gateway_env.requests[0][2] == "Bearer gw-secret-key-123456"
    assert len(seen) == 1
    assert seen[0].method == "list_models"
    assert seen[0].provider is p
    assert seen[0].config["base_url"] == gateway_env.base_url


def test_list_models_sync_goes_through_the_override(gateway_env: Loopback) -> None:
    calls: list[str] = []

    async def list_models(ctx: OverrideContext, next: Any) -> list[ModelInfo]:
        calls.append(ctx.method)
        return [*(await next()), ModelInfo(id="gw-virtual", provider="my-gateway")]

    define_gateway(overrides={"list_models": list_models})
    p = create_provider("my-gateway")
    models = p.list_models_sync()
    assert [m.id for m in models] == ["gw-small", "gw-large", "gw-virtual"]
    assert calls == ["list_models"]
    assert [r[:2] for r in gateway_env.requests] == [("GET", "/v1/models")]


def test_manager_list_models_sync_goes_through_the_override(gateway_env: Loopback) -> None:
    async def list_models(ctx: OverrideContext, next: Any) -> list[ModelInfo]:
        return [*(await next()), ModelInfo(id="gw-virtual", provider="my-gateway")]

    define_gateway(overrides={"list_models": list_models})
    m = AIModelProviderManager([create_provider("my-gateway")])
    assert [x.id for x in m.list_models_sync("my-gateway")][-1] == "gw-virtual"


def test_sync_generate_override_returning_next(gateway_env: Loopback) -> None:
    seen: list[dict[str, Any]] = []

    def generate(ctx: OverrideContext, next: Any) -> Any:
        seen.append(dict(ctx.args))
        return next()

    define_gateway(overrides={"generate": generate})
    p = create_provider("my-gateway", max_retries=0)
    response = p.generate_sync("gw-small", MSGS, temperature=0.5)
    assert response.text == "gateway says hi via gw-small"
    assert response.provider == "my-gateway"
    assert len(seen) == 1
    assert seen[0]["model"] == "gw-small"
    assert seen[0]["options"] == {"temperature": 0.5}
    assert [r[:2] for r in gateway_env.requests] == [("POST", "/v1/chat/completions")]


async def test_async_generate_goes_through_a_sync_override(gateway_env: Loopback) -> None:
    calls: list[str] = []

    def generate(ctx: OverrideContext, next: Any) -> Any:
        calls.append(ctx.args["model"])
        return next()

    define_gateway(overrides={"generate": generate})
    p = create_provider("my-gateway", max_retries=0)
    try:
        response = await p.generate("gw-large", MSGS)
    finally:
        await p.aclose()
    assert response.text == "gateway says hi via gw-large"
    assert calls == ["gw-large"]


def test_an_override_can_answer_without_the_base(gateway_env: Loopback) -> None:
    def generate(ctx: OverrideContext, next: Any) -> CompletionResponse:
        return CompletionResponse(
            provider=ctx.provider.provider_id,
            model=ctx.args["model"],
            text="canned",
            message=Message(role="assistant", content="canned"),
        )

    define_gateway(overrides={"generate": generate})
    p = create_provider("my-gateway")
    assert p.generate_sync("gw-small", MSGS).text == "canned"
    assert gateway_env.requests == []


def test_sync_override_of_a_sync_method() -> None:
    def supports_model(ctx: OverrideContext, next: Any) -> bool:
        return bool(ctx.args["model"].startswith("gw-") or next())

    define_provider(
        "const-gw",
        base="openai-compatible",
        config={"base_url": UNROUTABLE},
        overrides={"supports_model": supports_model},
    )
    m = AIModelProviderManager(
        [create_provider("openrouter", api_key="or-key", base_url=UNROUTABLE), create_provider("const-gw")]
    )
    assert m.resolve("gw-anything").provider.provider_id == "const-gw"
    assert m.resolve("other-model").provider.provider_id == "openrouter"


def test_overrides_do_not_leak_into_the_base() -> None:
    define_provider(
        "const-gw",
        base="openai-compatible",
        config={"base_url": UNROUTABLE},
        overrides={"supports_model": lambda ctx, nxt: True},
    )
    assert create_provider("const-gw").supports_model("anything")
    plain = create_provider("openai-compatible", base_url=UNROUTABLE)
    assert not plain.supports_model("anything")


# ------------------------------------------------------------------ with the manager


def test_manager_routes_to_a_defined_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    define_gateway()
    monkeypatch.setenv("MYGW_KEY", "gw-secret-key-123456")
    m = AIModelProviderManager([create_provider("openai", api_key="sk-test", base_url=UNROUTABLE)])
    with pytest.raises(ConfigurationError, match="MYGW_KEY"):
        m.resolve("my-gateway/some-model")
    m.register(create_provider("my-gateway"))
    route = m.resolve("my-gateway/vendor/some-model")
    assert route.provider.provider_id == "my-gateway"
    assert route.model == "vendor/some-model"
    assert m.resolve("my-gateway:m1").model == "m1"
    assert m.resolve("my-gateway").provider.provider_id == "my-gateway"


def test_manager_generates_through_a_defined_provider(gateway_env: Loopback) -> None:
    define_gateway()
    m = AIModelProviderManager.from_env(max_retries=0)
    assert m.generate_sync("my-gateway/gw-small", MSGS).text == "gateway says hi via gw-small"


def test_from_env_includes_it_when_its_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    define_gateway()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000000000")
    m = AIModelProviderManager.from_env()
    assert list(m.providers) == ["openai"]
    monkeypatch.setenv("MYGW_KEY", "gw-secret-key-123456")
    m = AIModelProviderManager.from_env()
    assert list(m.providers) == ["openai", "my-gateway"]
    assert m.default_provider.provider_id == "openai"
    assert m.get("my-gateway").credential_source == "env:MYGW_KEY"
    assert "my-gateway: MYGW_KEY is set" in m.describe()


def test_from_env_with_an_env_mapping_includes_it() -> None:
    define_gateway()
    env = {
        "MYGW_KEY": "gw-secret-key-123456",
        "MYGW_BASE_URL": "http://127.0.0.1:9/mapped/v1",
        "AGENTOS_LLM_CONFIG": "/dev/null/absent.toml",
    }
    m = AIModelProviderManager.from_env(env=env)
    assert m.skipped == {}
    p = m.get("my-gateway")
    assert p.credential_source == "env:MYGW_KEY"
    assert p.base_url == "http://127.0.0.1:9/mapped/v1"


def test_create_provider_with_an_env_mapping() -> None:
    define_gateway()
    p = create_provider("my-gateway", env={"MYGW_KEY": "gw-secret-key-123456"})
    assert p.credential_source == "env:MYGW_KEY"
    assert p.base_url == UNROUTABLE
    with pytest.raises(ConfigurationError, match="MYGW_KEY"):
        create_provider("my-gateway", env={})


def test_defined_providers_can_be_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    define_gateway()
    monkeypatch.setenv("MYGW_KEY", "gw-secret-key-123456")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000000000")
    m = AIModelProviderManager.from_env(order=["my-gateway", "openai"])
    assert list(m.providers) == ["my-gateway", "openai"]
    assert m.default_provider.provider_id == "my-gateway"
