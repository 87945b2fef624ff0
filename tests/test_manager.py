"""`AIModelProviderManager`: auto-detect, routing, run-time registration and named fallbacks.

Routing tests use providers pointing at http://127.0.0.1:9/v1 that are never called; fallback tests
talk to a loopback server started here, whose path prefix decides how it answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agentos_llm import AIModelProviderManager, create_provider
from agentos_llm.defaults import AUTO_DETECT_ORDER, PROVIDERS
from agentos_llm.errors import ConfigurationError, InvalidRequestError, ServerError
from agentos_llm.provider import IProvider
from agentos_llm.types import DoneEvent, TextDeltaEvent

UNROUTABLE = "http://127.0.0.1:9/v1"
MSGS = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real key, base URL, config file or proxy of the machine running the tests leaks in."""
    names = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env)}
    names |= {spec.base_url_env for spec in PROVIDERS.values() if spec.base_url_env}
    names |= {
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


def env_of(**values: str) -> dict[str, str]:
    """An env mapping for from_env; no config file."""
    return {"AGENTOS_LLM_CONFIG": "/dev/null/absent.toml", **values}


def offline(provider_id: str, **kwargs: Any) -> IProvider:
    """A provider that is never called."""
    kwargs.setdefault("api_key", f"key-for-{provider_id}")
    kwargs.setdefault("base_url", UNROUTABLE)
    return create_provider(provider_id, **kwargs)


# ====================================================================== from_env


def test_from_env_builds_in_auto_detect_order() -> None:
    env = env_of(GROQ_API_KEY="gsk-1", OPENAI_API_KEY="sk-1", OPENROUTER_API_KEY="or-1")
    m = AIModelProviderManager.from_env(env=env)
    assert list(m.providers) == ["openrouter", "openai", "groq"]
    assert m.default_provider.provider_id == "openrouter"
    assert m.skipped == {}
    assert m.get("openai").credential_source == "env:OPENAI_API_KEY"
    assert m.get("groq").credential_source == "env:GROQ_API_KEY"


def test_from_env_default_is_the_first_found() -> None:
    m = AIModelProviderManager.from_env(env=env_of(MISTRAL_API_KEY="m-1", OPENAI_API_KEY="sk-1"))
    assert m.default_provider.provider_id == "openai"
    m2 = AIModelProviderManager.from_env(env=env_of(MISTRAL_API_KEY="m-1", DEEPSEEK_API_KEY="d-1"))
    assert m2.default_provider.provider_id == "mistral"


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "ds-1")
    m = AIModelProviderManager.from_env()
    assert list(m.providers) == ["deepseek"]


def test_from_env_explicit_default() -> None:
    env = env_of(OPENAI_API_KEY="sk-1", OPENROUTER_API_KEY="or-1")
    m = AIModelProviderManager.from_env(env=env, default="openai")
    assert m.default_provider.provider_id == "openai"
    with pytest.raises(ConfigurationError, match="groq"):
        AIModelProviderManager.from_env(env=env, default="groq")


def test_order_argument_replaces_the_order() -> None:
    env = env_of(GROQ_API_KEY="gsk-1", OPENAI_API_KEY="sk-1", OPENROUTER_API_KEY="or-1")
    m = AIModelProviderManager.from_env(env=env, order=["groq", "openai"])
    assert list(m.providers) == ["groq", "openai"]
    assert m.default_provider.provider_id == "groq"


def test_order_env_var_replaces_the_order() -> None:
    env = env_of(
        GROQ_API_KEY="gsk-1",
        OPENAI_API_KEY="sk-1",
        OPENROUTER_API_KEY="or-1",
        AGENTOS_LLM_PROVIDER_ORDER=" openai , groq ",
    )
    m = AIModelProviderManager.from_env(env=env)
    assert list(m.providers) == ["openai", "groq"]
    assert m.default_provider.provider_id == "openai"


def test_order_argument_beats_the_order_env_var() -> None:
    env = env_of(GROQ_API_KEY="gsk-1", OPENAI_API_KEY="sk-1", AGENTOS_LLM_PROVIDER_ORDER="openai,groq")
    m = AIModelProviderManager.from_env(env=env, order=["groq"])
    assert list(m.providers) == ["groq"]


@pytest.mark.parametrize("how", ["argument", "env"])
def test_unknown_id_in_the_order_is_an_error(how: str) -> None:
    if how == "argument":
        with pytest.raises(ConfigurationError, match="nosuchvendor"):
            AIModelProviderManager.from_env(env=env_of(OPENAI_API_KEY="sk-1"), order=["openai", "nosuchvendor"])
    else:
        env = env_of(OPENAI_API_KEY="sk-1", AGENTOS_LLM_PROVIDER_ORDER="openai,nosuchvendor")
        with pytest.raises(ConfigurationError, match="nosuchvendor"):
            AIModelProviderManager.from_env(env=env)


def test_anthropic_and_gemini_are_detected_in_the_documented_order() -> None:
    env = env_of(ANTHROPIC_API_KEY="sk-ant-1", GOOGLE_API_KEY="AIza-1", OPENAI_API_KEY="sk-1")
    m = AIModelProviderManager.from_env(env=env)
    assert list(m.providers)[:3] == ["openai", "anthropic", "gemini"]
    assert m.get("anthropic").credential_source == "env:ANTHROPIC_API_KEY"
    assert m.get("gemini").credential_source == "env:GOOGLE_API_KEY"
    route = m.resolve("gemini/gemini-2.5-flash")
    assert (route.provider.provider_id, route.model) == ("gemini", "gemini-2.5-flash")
    assert m.resolve("anthropic").model == m.get("anthropic").default_model


def test_rows_without_an_implementation_are_skipped_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentos_llm import registry

    real = registry._load_implementation

    def load(spec: Any, api: str | None = None) -> Any:
        if spec.id in ("anthropic", "gemini"):
            raise ConfigurationError(f"provider {spec.id!r} has no implementation in this build")
        return real(spec, api)

    monkeypatch.setattr(registry, "_load_implementation", load)
    env = env_of(ANTHROPIC_API_KEY="sk-ant-1", GOOGLE_API_KEY="AIza-1", OPENAI_API_KEY="sk-1")
    m = AIModelProviderManager.from_env(env=env)
    assert list(m.providers) == ["openai"]
    assert set(m.skipped) == {"anthropic", "gemini"}
    assert "ANTHROPIC_API_KEY is set" in m.skipped["anthropic"]
    assert "no implementation" in m.skipped["anthropic"]
    assert "GOOGLE_API_KEY is set" in m.skipped["gemini"]
    text = m.describe()
    assert "anthropic: skipped" in text
    assert "gemini: skipped" in text
    # Asking for a skipped provider says why, and never reroutes to the working one.
    with pytest.raises(ConfigurationError, match="no implementation"):
        m.resolve("anthropic/claude-sonnet-4-5")


def test_detect_only_rows_are_built_from_their_base_url_var() -> None:
    m = AIModelProviderManager.from_env(env=env_of(OLLAMA_BASE_URL=UNROUTABLE))
    p = m.get("ollama")
    assert p.base_url == UNROUTABLE
    assert p.credential_source is None
    assert "OLLAMA_BASE_URL is set" in m.describe()
    assert "no key needed" in m.describe()


def test_openai_compatible_is_built_only_when_ordered() -> None:
    env = env_of(OPENAI_COMPATIBLE_BASE_URL=UNROUTABLE)
    assert "openai-compatible" not in AUTO_DETECT_ORDER
    assert AIModelProviderManager.from_env(env=env).providers == {}
    m = AIModelProviderManager.from_env(env=env, order=["openai-compatible"])
    assert m.get("openai-compatible").base_url == UNROUTABLE


def test_provider_kwargs_reach_every_provider() -> None:
    env = env_of(OPENAI_API_KEY="sk-1", GROQ_API_KEY="gsk-1")
    m = AIModelProviderManager.from_env(env=env, max_retries=0, timeout=7.0)
    for p in m.providers.values():
        assert p.retry_policy.max_retries == 0
        assert p.retry_policy.timeout == 7.0


def test_no_key_anywhere() -> None:
    m = AIModelProviderManager.from_env(env=env_of())
    assert m.providers == {}
    with pytest.raises(ConfigurationError) as info:
        m.default_provider  # noqa: B018
    message = str(info.value)
    expected = [
        "OPENROUTER_API_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GROQ_API_KEY",
        "TOGETHER_API_KEY",
        "MISTRAL_API_KEY",
        "XAI_API_KEY",
        "DEEPSEEK_API_KEY",
        "OLLAMA_BASE_URL",
    ]
    positions = [message.index(name) for name in expected]
    assert positions == sorted(positions), message
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        m.resolve("gpt-4o")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        m.resolve(None)
    assert "no provider configured" in m.describe()
    assert "OPENROUTER_API_KEY" in m.describe()


def test_a_key_in_the_config_file_registers_the_provider(tmp_path: Path) -> None:
    # Issue 11: every entry point reads the config file (tests/test_config_file.py covers the rest).
    cfg = tmp_path / "config.toml"
    cfg.write_text('[providers.openai]\napi_key = "sk-from-config-0000"\n')
    m = AIModelProviderManager.from_env(env={"AGENTOS_LLM_CONFIG": str(cfg)})
    assert list(m.providers) == ["openai"]
    assert m.providers["openai"].credential_source == f"config:{cfg}"


# ====================================================================== routing


@pytest.fixture
def routed() -> AIModelProviderManager:
    """openrouter (default, first) and openai, both offline."""
    m = AIModelProviderManager()
    m.register(offline("openrouter"))
    m.register(offline("openai"))
    return m


@pytest.mark.parametrize("model", ["openai/gpt-4o", "openai:gpt-4o"])
def test_prefix_routes_and_is_stripped(routed: AIModelProviderManager, model: str) -> None:
    route = routed.resolve(model)
    assert route.provider.provider_id == "openai"
    assert route.model == "gpt-4o"
    assert "prefix" in route.reason


def test_only_the_first_prefix_is_stripped(routed: AIModelProviderManager) -> None:
    route = routed.resolve("openrouter/openai/gpt-4o")
    assert route.provider.provider_id == "openrouter"
    assert route.model == "openai/gpt-4o"
    route = routed.resolve("openai/openrouter/x")
    assert route.provider.provider_id == "openai"
    assert route.model == "openrouter/x"


def test_bare_provider_id_means_its_default_model(routed: AIModelProviderManager) -> None:
    route = routed.resolve("openrouter")
    assert route.provider.provider_id == "openrouter"
    assert route.model == PROVIDERS["openrouter"].default_model
    route = routed.resolve("openai")
    assert route.provider.provider_id == "openai"
    assert route.model == PROVIDERS["openai"].default_model


def test_a_provider_default_model_override_is_used() -> None:
    m = AIModelProviderManager([offline("openai", default_model="gpt-4o")])
    assert m.resolve("openai").model == "gpt-4o"
    assert m.resolve(None).model == "gpt-4o"


def test_bare_model_goes_to_the_provider_whose_catalog_lists_it(routed: AIModelProviderManager) -> None:
    assert routed.default_provider.provider_id == "openrouter"
    route = routed.resolve("gpt-4o")
    assert route.provider.provider_id == "openai"
    assert route.model == "gpt-4o"
    assert "catalog" in route.reason


def test_unknown_bare_model_goes_to_the_default(routed: AIModelProviderManager) -> None:
    route = routed.resolve("some-brand-new-model")
    assert route.provider.provider_id == "openrouter"
    assert route.model == "some-brand-new-model"
    routed.set_default("openai")
    assert routed.resolve("some-brand-new-model").provider.provider_id == "openai"


def test_unknown_prefix_is_part_of_the_model_name(routed: AIModelProviderManager) -> None:
    route = routed.resolve("meta-llama/Llama-3.3-70B-Instruct")
    assert route.provider.provider_id == "openrouter"
    assert route.model == "meta-llama/Llama-3.3-70B-Instruct"


def test_no_model_means_default_provider_and_model(routed: AIModelProviderManager) -> None:
    route = routed.resolve(None)
    assert route.provider.provider_id == "openrouter"
    assert route.model == PROVIDERS["openrouter"].default_model


@pytest.mark.parametrize(
    "model", ["groq/llama-3.3-70b-versatile", "groq:llama", "anthropic/claude-sonnet-4-5", "anthropic", "groq"]
)
def test_known_but_unconfigured_provider_is_an_error(routed: AIModelProviderManager, model: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        routed.resolve(model)
    pid = model.replace(":", "/").split("/")[0]
    assert pid in str(info.value)
    assert PROVIDERS[pid].key_env[0] in str(info.value)


def test_get_unknown_provider() -> None:
    m = AIModelProviderManager([offline("openai")])
    with pytest.raises(ConfigurationError, match="unknown provider 'acme'"):
        m.get("acme")


def test_describe_mentions_env_var_and_default() -> None:
    env = env_of(OPENAI_API_KEY="sk-describe-me-0000000000", OPENROUTER_API_KEY="or-describe-me-0000000000")
    m = AIModelProviderManager.from_env(env=env)
    text = m.describe()
    lines = text.splitlines()
    assert lines[0].startswith("openrouter (default): OPENROUTER_API_KEY is set")
    assert "env:OPENROUTER_API_KEY" in lines[0]
    assert PROVIDERS["openrouter"].default_model in lines[0]
    assert lines[1].startswith("openai: OPENAI_API_KEY is set")
    assert "(default)" not in lines[1]
    assert "describe-me" not in text


def test_describe_model_explains_the_route() -> None:
    env = env_of(OPENAI_API_KEY="sk-1", OPENROUTER_API_KEY="or-1")
    m = AIModelProviderManager.from_env(env=env)
    text = m.describe("gpt-4o")
    assert text.startswith("gpt-4o -> openai/gpt-4o")
    assert "catalog" in text
    assert "env:OPENAI_API_KEY" in text
    text = m.describe("openrouter/openai/gpt-4o")
    assert text.startswith("openrouter/openai/gpt-4o -> openrouter/openai/gpt-4o")
    assert "prefix 'openrouter'" in text
    text = m.describe("not-in-any-catalog")
    assert "default provider 'openrouter'" in text
    with pytest.raises(ConfigurationError):
        m.describe("groq/x")


def test_register_and_unregister_at_run_time(routed: AIModelProviderManager) -> None:
    with pytest.raises(ConfigurationError):
        routed.resolve("groq/llama")
    groq = offline("groq")
    routed.register(groq, reason="added by the test")
    assert routed.resolve("groq/llama").provider is groq
    assert "groq: added by the test" in routed.describe()
    assert list(routed.providers) == ["openrouter", "openai", "groq"]

    assert routed.unregister("groq") is groq
    with pytest.raises(ConfigurationError):
        routed.resolve("groq/llama")
    with pytest.raises(ConfigurationError):
        routed.unregister("groq")


def test_register_replaces_the_same_id(routed: AIModelProviderManager) -> None:
    replacement = offline("openai", default_model="gpt-4o-mini")
    routed.register(replacement)
    assert routed.get("openai") is replacement
    assert list(routed.providers) == ["openrouter", "openai"]


def test_unregistering_the_default(routed: AIModelProviderManager) -> None:
    routed.set_default("openai")
    routed.unregister("openai")
    assert routed.default_provider.provider_id == "openrouter"
    routed.unregister("openrouter")
    with pytest.raises(ConfigurationError):
        routed.default_provider  # noqa: B018


def test_default_must_be_registered() -> None:
    with pytest.raises(ConfigurationError):
        AIModelProviderManager([offline("openai")], default="groq")
    m = AIModelProviderManager([offline("openai"), offline("groq")], default="groq")
    assert m.default_provider.provider_id == "groq"
    with pytest.raises(ConfigurationError):
        m.set_default("mistral")


def test_providers_property_is_a_copy(routed: AIModelProviderManager) -> None:
    routed.providers.pop("openai")
    assert "openai" in routed.providers


# ====================================================================== fallback, against a loopback server


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class Loopback:
    """Answers by the first path segment: /fail -> 503, /ok -> a completion (or SSE), /bad -> 400,
    /midway -> an SSE stream that errors after its first event. Records every request path."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.paths.append(self.path)
                kind = self.path.split("/")[1]
                model = request.get("model", "?")
                if kind == "fail":
                    err = {"error": {"message": "the upstream is overloaded", "type": "server_error"}}
                    self._send(503, json.dumps(err).encode())
                elif kind == "bad":
                    err = {"error": {"message": "bad parameter", "type": "invalid_request_error"}}
                    self._send(400, json.dumps(err).encode())
                elif kind in ("ok", "midway") and request.get("stream"):
                    if kind == "ok":
                        chunks = [
                            _chunk(model, {"role": "assistant", "content": "hello "}),
                            _chunk(model, {"content": f"from ok to {model}"}),
                            _chunk(model, {}, "stop"),
                        ]
                    else:
                        chunks = [
                            _chunk(model, {"role": "assistant", "content": "part"}),
                            {"error": {"message": "the upstream is overloaded", "type": "server_error"}},
                        ]
                    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
                    self._send(200, body.encode(), "text/event-stream")
                elif kind == "ok":
                    self._send(200, json.dumps(_completion(model, f"answer from ok to {model}")).encode())
                else:
                    self._send(404, b'{"error": {"message": "no such path"}}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def base(self, kind: str) -> str:
        return f"{self.url}/{kind}/v1"

    def hits(self, kind: str) -> int:
        with self._lock:
            return sum(1 for p in self.paths if p.startswith(f"/{kind}/"))


@pytest.fixture(scope="module")
def server() -> Iterator[Loopback]:
    lb = Loopback()
    lb.thread.start()
    yield lb
    lb.server.shutdown()
    lb.server.server_close()


@pytest.fixture
def fb(server: Loopback) -> Iterator[tuple[AIModelProviderManager, Loopback]]:
    """groq -> /fail (503), together -> /ok, mistral -> /bad (400), deepseek -> /midway."""
    server.paths.clear()
    m = AIModelProviderManager()
    for pid, kind in (("groq", "fail"), ("together", "ok"), ("mistral", "bad"), ("deepseek", "midway")):
        m.register(create_provider(pid, api_key=f"key-{pid}", base_url=server.base(kind), max_retries=0))
    yield m, server
    m.close()


async def test_generate_falls_back_on_server_error(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    response = await m.generate("groq/m", MSGS, fallback=["together/m2"])
    assert response.text == "answer from ok to m2"
    assert response.provider == "together"
    assert server.hits("fail") == 1
    assert server.hits("ok") == 1
    await m.aclose()


async def test_generate_without_fallback_raises(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    with pytest.raises(ServerError) as info:
        await m.generate("groq/m", MSGS)
    assert info.value.status_code == 503
    assert info.value.provider == "groq"
    assert server.hits("ok") == 0
    await m.aclose()


async def test_generate_raises_the_last_error_when_every_route_fails(
    fb: tuple[AIModelProviderManager, Loopback],
) -> None:
    m, server = fb
    with pytest.raises(InvalidRequestError):
        await m.generate("groq/m", MSGS, fallback=["mistral/m"])
    assert server.hits("fail") == 1
    assert server.hits("bad") == 1
    await m.aclose()


async def test_invalid_request_does_not_fall_back(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    with pytest.raises(InvalidRequestError) as info:
        await m.generate("mistral/m", MSGS, fallback=["together/m"])
    assert info.value.status_code == 400
    assert server.hits("bad") == 1
    assert server.hits("ok") == 0
    await m.aclose()


async def test_fallback_to_an_unconfigured_provider_fails_before_any_call(
    fb: tuple[AIModelProviderManager, Loopback],
) -> None:
    m, server = fb
    with pytest.raises(ConfigurationError, match="openai"):
        await m.generate("groq/m", MSGS, fallback=["openai/gpt-4o"])
    assert server.paths == []
    await m.aclose()


def test_generate_sync_falls_back(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    response = m.generate_sync("groq/m", MSGS, fallback=["together/m2"])
    assert response.text == "answer from ok to m2"
    assert server.hits("fail") == 1
    with pytest.raises(ServerError):
        m.generate_sync("groq/m", MSGS)


def test_generate_sync_does_not_fall_back_on_invalid_request(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    with pytest.raises(InvalidRequestError):
        m.generate_sync("mistral/m", MSGS, fallback=["together/m"])
    assert server.hits("ok") == 0


async def test_stream_falls_back_before_the_first_event(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    events = []
    async with m.stream("groq/m", MSGS, fallback=["together/m2"]) as stream:
        async for event in stream:
            events.append(event)
    text = "".join(e.delta for e in events if isinstance(e, TextDeltaEvent))
    assert text == "hello from ok to m2"
    assert isinstance(events[-1], DoneEvent)
    assert events[-1].response.provider == "together"
    assert server.hits("fail") == 1
    assert server.hits("ok") == 1
    await m.aclose()


async def test_stream_without_fallback_raises(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    with pytest.raises(ServerError):
        async with m.stream("groq/m", MSGS) as stream:
            async for _ in stream:
                pass
    assert server.hits("ok") == 0
    await m.aclose()


async def test_stream_does_not_fall_back_after_the_first_event(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    seen: list[str] = []
    with pytest.raises(ServerError):
        async with m.stream("deepseek/m", MSGS, fallback=["together/m"]) as stream:
            async for event in stream:
                if isinstance(event, TextDeltaEvent):
                    seen.append(event.delta)
    assert seen == ["part"]
    assert server.hits("midway") == 1
    assert server.hits("ok") == 0
    await m.aclose()


async def test_stream_does_not_fall_back_on_invalid_request(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    with pytest.raises(InvalidRequestError):
        async with m.stream("mistral/m", MSGS, fallback=["together/m"]) as stream:
            async for _ in stream:
                pass
    assert server.hits("ok") == 0
    await m.aclose()


def test_stream_sync_falls_back_before_the_first_event(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    with m.stream_sync("groq/m", MSGS, fallback=["together/m2"]) as stream:
        events = list(stream)
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "hello from ok to m2"
    assert isinstance(events[-1], DoneEvent)
    assert server.hits("ok") == 1


def test_stream_sync_does_not_fall_back_after_the_first_event(fb: tuple[AIModelProviderManager, Loopback]) -> None:
    m, server = fb
    seen: list[str] = []
    with pytest.raises(ServerError), m.stream_sync("deepseek/m", MSGS, fallback=["together/m"]) as stream:
        for event in stream:
            if isinstance(event, TextDeltaEvent):
                seen.append(event.delta)
    assert seen == ["part"]
    assert server.hits("ok") == 0


def test_fallback_is_logged(fb: tuple[AIModelProviderManager, Loopback], caplog: pytest.LogCaptureFixture) -> None:
    m, _ = fb
    with caplog.at_level("WARNING", logger="agentos_llm"):
        m.generate_sync("groq/m", MSGS, fallback=["together/m"])
    assert any("falling back from groq/m" in r.getMessage() and "ServerError" in r.getMessage() for r in caplog.records)


# ====================================================================== discovered local servers


@pytest.fixture
def local_servers() -> Iterator[dict[str, Any]]:
    """Loopback imitations of Ollama and llama.cpp (see tests/local_servers.py)."""
    from local_servers import Imitation, llamacpp_routes, ollama_routes

    servers = {"ollama": Imitation(ollama_routes()), "llamacpp": Imitation(llamacpp_routes())}
    yield servers
    for s in servers.values():
        s.close()


async def test_discover_registers_what_answers_and_keeps_configured_providers(
        local_servers: dict[str, Any]) -> None:
    ollama, llamacpp = local_servers["ollama"], local_servers["llamacpp"]
    m = AIModelProviderManager([offline("openai"), offline("llamacpp")])  # llamacpp configured explicitly
    found = await m.discover(providers=["ollama", "llamacpp"],
                             base_urls={"ollama": ollama.url + "/v1", "llamacpp": llamacpp.url + "/v1"},
                             env=env_of(), timeout=10.0, deadline=20.0)
    assert {f.provider_id for f in found.found} == {"ollama", "llamacpp"}
    assert list(m.providers) == ["openai", "llamacpp", "ollama"]
    assert m.get("llamacpp").base_url == UNROUTABLE  # never replaced by what discovery found
    assert m.default_provider.provider_id == "openai"
    ollama_p = m.get("ollama")
    assert ollama_p.base_url == ollama.url + "/v1" and ollama_p.default_model == "llama3.2:latest"
    assert f"ollama: discovered at {ollama.url}/v1; key from no key needed" in m.describe()
    # The probe's listing is cached for the provider: routing by bare name and listing need no new request.
    probed = len(ollama.requests)
    route = m.resolve("nomic-embed-text:latest")
    assert route.provider is ollama_p and "lists" in route.reason
    models = await m.list_models("ollama")
    assert {x.id: x.context_window for x in models} == {"nomic-embed-text:latest": 2048, "llama3.2:latest": 131072}
    assert len(ollama.requests) == probed
    info = await m.get_model_info("ollama/llama3.2:latest")
    assert info.context_window == 131072 and "tools" in info.capabilities


def test_from_env_discover_adds_local_servers_after_the_configured_ones(
        local_servers: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import agentos_llm.discovery as discovery

    llamacpp = local_servers["llamacpp"]
    # This test's only local row is llama.cpp, listening at its "default" address: the imitation.
    monkeypatch.setattr(discovery, "local_provider_ids", lambda: ("llamacpp",))
    monkeypatch.setitem(PROVIDERS, "llamacpp", dataclasses.replace(PROVIDERS["llamacpp"],
                                                                   base_url=llamacpp.url + "/v1"))
    m = AIModelProviderManager.from_env(env=env_of(OPENAI_API_KEY="sk-1"), discover=True, timeout=5.0)
    assert list(m.providers) == ["openai", "llamacpp"]
    assert m.default_provider.provider_id == "openai"
    assert m.get("llamacpp").default_model == "qwen2.5-7b-instruct-q4_k_m.gguf"
    assert m.get("llamacpp").retry_policy.timeout == 5.0  # provider kwargs reach discovered providers too
    assert f"llamacpp: discovered at {llamacpp.url}/v1" in m.describe()
    assert AIModelProviderManager.from_env(env=env_of(OPENAI_API_KEY="sk-1")).providers.keys() == {"openai"}


def test_discover_sync_reports_a_configured_server_that_does_not_answer() -> None:
    m = AIModelProviderManager()
    found = m.discover_sync(providers=["vllm"], base_urls={"vllm": UNROUTABLE}, env=env_of())
    assert found.found == ()
    assert m.providers == {}
    assert "probed at http://127.0.0.1:9/v1" in m.skipped["vllm"]
    assert "vllm: skipped, probed at" in m.describe()
