"""What a newcomer hit (issue 14): bad input fails early, with a message that says what to do.

- a key set but the provider's extra missing: the manager names the pip line, not the key to set;
- a misspelt provider prefix (`openia/gpt-4o`) is refused with the near id, real model namespaces are not;
- a `base_url` that is not a URL fails when the provider is built, naming the setting;
- `get_model_info` of an unknown model says it is unknown;
- every error class pickles with its fields;
- `define_provider` definitions can be removed, and where overrides run is what the docs say.

Nothing here leaves 127.0.0.1: providers that would send are pointed at the loopback emulator or never called.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import pickle
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentos_llm import AIModelProviderManager, create_provider, define_provider, provider_env, routing
from agentos_llm import errors as errors_module
from agentos_llm.defaults import PROVIDERS
from agentos_llm.errors import AgentOSLLMError, ConfigurationError, MissingDependencyError
from agentos_llm.model_definitions import define_model, undefine_model
from agentos_llm.provider import IProvider
from agentos_llm.registry import (
    OverrideContext,
    defined_providers,
    temporary_provider,
    undefine_provider,
)
from agentos_llm.routing import MODEL_NAMESPACES, check_prefix
from agentos_llm.testing import Reply, WireEmulator
from agentos_llm.types import CompletionResponse, ModelInfo, Usage

PIP_LINE = 'pip install "agentos-llm[openai]"'


@pytest.fixture(autouse=True)
def no_user_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real key, base URL or config file leaks in."""
    names = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env)}
    names |= {spec.base_url_env for spec in PROVIDERS.values() if spec.base_url_env}
    for name in (*names, "AGENTOS_LLM_PROVIDER_ORDER", "NEWCOMER_BASE_URL", "NEWCOMER_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))


# ---------------------------------------------------------------------- a key set, the extra missing

_BLOCK_OPENAI = """
import json, os, sys

class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "openai" or name.startswith("openai."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

for _name in [m for m in sys.modules if m == "openai" or m.startswith("openai.")]:
    del sys.modules[_name]
sys.meta_path.insert(0, _Block())
for _var in [v for v in os.environ if v.endswith(("_API_KEY", "_BASE_URL")) or v.startswith("AGENTOS_LLM")]:
    del os.environ[_var]
os.environ["AGENTOS_LLM_CONFIG"] = os.path.join(os.devnull, "absent.toml")
os.environ["OPENAI_API_KEY"] = "sk-test-newcomer-0000"

from agentos_llm import AIModelProviderManager

def attempt(fn):
    try:
        fn()
    except Exception as exc:
        return {"type": type(exc).__name__, "message": str(exc),
                "configuration": isinstance(exc, __import__("agentos_llm").ConfigurationError)}
    return {"type": None}
"""


def run_without_openai(body: str) -> dict[str, Any]:
    code = _BLOCK_OPENAI + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_manager_names_the_extra_to_install() -> None:
    out = run_without_openai("""
        m = AIModelProviderManager.from_env()
        m.add_route("fast", ["openai/gpt-4o-mini"])
        print(json.dumps({
            "bare": attempt(lambda: m.generate_sync("gpt-4o", "hi")),
            "prefixed": attempt(lambda: m.generate_sync("openai/gpt-4o", "hi")),
            "no_model": attempt(lambda: m.generate_sync(None, "hi")),
            "route": attempt(lambda: m.generate_sync("fast", "hi")),
            "get": attempt(lambda: m.get("openai")),
            "describe": m.describe(),
        }))
    """)
    for case in ("bare", "prefixed", "no_model", "route", "get"):
        got = out[case]
        assert got["type"] == "MissingDependencyError", (case, got)
        assert got["configuration"] is True  # still a ConfigurationError for code that catches those
        assert PIP_LINE in got["message"], (case, got)
        assert "OPENAI_API_KEY is set" in got["message"]
        assert "set OPENAI_API_KEY" not in got["message"].replace("OPENAI_API_KEY is set", "")
        assert "sk-test-newcomer-0000" not in got["message"]
    assert out["describe"].splitlines()[0].startswith("no provider ready (openai: OPENAI_API_KEY is set)")
    assert PIP_LINE in out["describe"].splitlines()[0]


def test_a_model_of_the_skipped_provider_is_not_sent_to_another_one() -> None:
    # With another provider ready, "gpt-4o" (an OpenAI model) would have gone to it as the default.
    out = run_without_openai("""
        os.environ["ANTHROPIC_API_KEY"] = "sk-ant-test-newcomer"
        m = AIModelProviderManager.from_env()
        print(json.dumps({
            "providers": list(m.providers),
            "bare": attempt(lambda: m.resolve("gpt-4o")),
            "claude": m.resolve("claude-sonnet-4-5").provider.provider_id,
        }))
    """)
    assert out["providers"] == ["anthropic"]
    assert out["bare"]["type"] == "MissingDependencyError" and PIP_LINE in out["bare"]["message"]
    assert out["claude"] == "anthropic"


def test_the_message_without_any_key_is_unchanged() -> None:
    with pytest.raises(ConfigurationError, match="no provider is configured: set one of OPENROUTER_API_KEY, OPENAI"):
        AIModelProviderManager.from_env(env={}).resolve("gpt-4o")


# ---------------------------------------------------------------------- misspelt provider prefixes


@pytest.fixture
def manager() -> Iterator[AIModelProviderManager]:
    m = AIModelProviderManager([create_provider("openai", api_key="test-key-a"),
                                create_provider("openrouter", api_key="test-key-b")])
    yield m
    m.close()


@pytest.mark.parametrize(("model", "near"), [
    ("openia/gpt-4o", "openai"), ("antropic/claude-sonnet-4-5", "anthropic"), ("gemni/gemini-2.5-flash", "gemini"),
    ("OpenAI/gpt-4o", "openai"), ("openrouteer/auto", "openrouter"),
])
def test_a_misspelt_prefix_is_refused_with_the_near_id(manager: AIModelProviderManager, model: str,
                                                       near: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        manager.resolve(model)
    msg = str(info.value)
    rest = model.partition("/")[2]
    assert f"did you mean {near!r} ({near}/{rest})?" in msg
    assert f"name it: openai/{model}" in msg  # how to send it as written


@pytest.mark.parametrize("model", [
    "mistralai/mistral-7b-instruct", "deepseek-ai/DeepSeek-V3", "x-ai/grok-4", "meta-llama/llama-3.3-70b",
    "accounts/fireworks/models/llama-v3p1-8b-instruct", "llama3:8b", "gpt-4o", "some-model",
])
def test_model_names_with_namespaces_still_reach_the_default(manager: AIModelProviderManager, model: str) -> None:
    route = manager.resolve(model)
    assert (route.provider.provider_id, route.model) == ("openai", model)


def test_the_default_providers_own_namespaces_pass(manager: AIModelProviderManager) -> None:
    manager.set_default("openrouter")
    with pytest.raises(ConfigurationError, match="did you mean 'openai'"):
        manager.resolve("openia/new-model")
    router = manager.get("openrouter")
    router._remember_models([ModelInfo(id="openia/special", provider="openrouter")])  # its live listing says so
    route = manager.resolve("openia/new-model")
    assert (route.provider.provider_id, route.model) == ("openrouter", "openia/new-model")


def test_prefixes_that_name_providers_keep_routing(manager: AIModelProviderManager) -> None:
    assert manager.resolve("openrouter/openia/gpt-4o").model == "openia/gpt-4o"
    assert manager.resolve("openai/gpt-4o").provider.provider_id == "openai"


def test_the_known_namespaces_really_look_like_provider_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each exemption is needed: without the list, check_prefix would refuse that namespace.
    default = create_provider("openai", api_key="test-key-c")
    for namespace in MODEL_NAMESPACES:
        check_prefix(f"{namespace}/m", PROVIDERS, default)
    monkeypatch.setattr(routing, "MODEL_NAMESPACES", frozenset())
    for namespace in MODEL_NAMESPACES:
        with pytest.raises(ConfigurationError, match="did you mean"):
            check_prefix(f"{namespace}/m", PROVIDERS, default)


# ---------------------------------------------------------------------- base_url that is not a URL


@pytest.mark.parametrize(("url", "problem"), [
    ("localhost:8080", "has the scheme 'localhost'"), ("api.openai.com/v1", "has no scheme"),
    ("ftp://host/v1", "has the scheme 'ftp'"), ("http://", "has no host"), ("not a url", "contains whitespace"),
    ("http://127.0.0.1:99999/v1", "cannot be parsed"),
])
@pytest.mark.parametrize("pid", ["openai", "anthropic", "gemini", "cohere", "groq", "ollama"])
def test_a_bad_base_url_fails_when_built(pid: str, url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        create_provider(pid, api_key="test-key-d", base_url=url)
    msg = str(info.value)
    assert msg.startswith(f"base_url for {pid} is not a URL: {url!r} {problem}")


def test_the_message_suggests_the_scheme() -> None:
    with pytest.raises(ConfigurationError, match=r"did you mean 'http://localhost:8080'\?"):
        create_provider("openai", api_key="k", base_url="localhost:8080")
    with pytest.raises(ConfigurationError, match=r"did you mean 'https://api\.openai\.com/v1'\?"):
        create_provider("openai", api_key="k", base_url="api.openai.com/v1")


def test_a_bad_base_url_names_its_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "openai.internal/v1")
    with pytest.raises(ConfigurationError, match=r"^OPENAI_BASE_URL for openai is not a URL"):
        create_provider("openai", api_key="k")
    with pytest.raises(ConfigurationError, match=r"^GROQ_BASE_URL for groq"):
        create_provider("groq", api_key="k", env={"GROQ_BASE_URL": "groq"})


def test_a_bad_base_url_of_a_bedrock_provider() -> None:
    with pytest.raises(ConfigurationError, match=r"^base_url for bedrock is not a URL"):
        create_provider("bedrock", base_url="bedrock-runtime", region="us-east-1")


def test_a_defined_providers_base_url_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with temporary_provider("newcomer-gw", base="openai-compatible",
                            config={"base_url": provider_env("NEWCOMER_BASE_URL"),
                                    "api_key": provider_env("NEWCOMER_KEY", required=True)}):
        monkeypatch.setenv("NEWCOMER_KEY", "k")
        monkeypatch.setenv("NEWCOMER_BASE_URL", "gw.example/v1")
        with pytest.raises(ConfigurationError, match=r"^NEWCOMER_BASE_URL for newcomer-gw is not a URL"):
            create_provider("newcomer-gw")
        monkeypatch.setenv("NEWCOMER_BASE_URL", "https://gw.example/v1")
        assert create_provider("newcomer-gw").base_url == "https://gw.example/v1"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "https://api.example.com", "http://[::1]:11434",
                                 "https://gw.example/openai/v1?api-version=1"])
def test_good_base_urls_pass(url: str) -> None:
    assert create_provider("openai", api_key="k", base_url=url).base_url == url


# ---------------------------------------------------------------------- get_model_info of an unknown model


def test_an_unknown_model_says_it_is_unknown() -> None:
    p = create_provider("openai", api_key="test-key-e")
    p._remember_models([ModelInfo(id="gpt-4o", provider="openai")])  # the live listing, without a call
    unknown = p.get_model_info_sync("no-such-model-xyz")
    assert (unknown.known, unknown.source, unknown.id) == (False, "unknown", "no-such-model-xyz")
    assert unknown.context_window is None and unknown.input_price is None
    listed = p.get_model_info_sync("gpt-4o")
    assert listed.known is True and listed.source == "live" and listed.context_window
    snapshot = p.get_model_info_sync("gpt-4o-2024-08-06")  # a dated snapshot of a catalog family
    assert snapshot.known is True and snapshot.source == "catalog"
    assert asyncio.run(p.get_model_info("no-such-model-xyz")).known is False


def test_a_defined_model_is_known_even_over_an_unknown_one() -> None:
    m = AIModelProviderManager([create_provider("openai", api_key="test-key-f")])
    m.get("openai")._remember_models([])
    define_model("newcomer-house-model", "openai", "in-house-ft-7")
    try:
        info = m.get_model_info_sync("newcomer-house-model")
        assert (info.known, info.source) == (True, "definition")
        assert m.get_model_info_sync("openai/in-house-ft-7").known is False
    finally:
        undefine_model("newcomer-house-model")


# ---------------------------------------------------------------------- every error pickles


_SAMPLES: dict[str, Any] = {
    "message": "it failed", "provider": "openai", "status_code": 429, "retry_after": 1.5, "request_id": "req_1",
    "body": {"error": {"message": "slow down"}}, "code": "rate_limited", "extra": "openai", "module": "openai",
    "context": "OPENAI_API_KEY is set", "capability": "tools", "detail": "model 'x' cannot call tools",
    "raw_text": "{not json", "validation_errors": [{"loc": ["a"], "msg": "missing"}], "attempts": 3,
    "usage": Usage(input_tokens=3, output_tokens=4), "budget": "daily", "unit": "usd", "limit": 5.0, "spent": 5.5,
    "resets_at": 1.0e9, "breaker": "openai/default/gpt-4o", "credential": "default", "model": "gpt-4o",
    "closes_at": 2.0e9, "opened_by": "ServerError", "errors": [], "hops": [], "route": "fast",
}


def _error_classes() -> list[type[BaseException]]:
    found = [c for _, c in inspect.getmembers(errors_module, inspect.isclass)
             if issubclass(c, BaseException) and c.__module__ == errors_module.__name__]
    assert len(found) >= 20  # the introspection really found the module's classes
    return found


def _instance(cls: type[BaseException]) -> BaseException:
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    args = [_SAMPLES[p.name] for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    kwargs = {p.name: _SAMPLES[p.name] for p in params if p.kind is p.KEYWORD_ONLY}
    if not params:
        args = ["it failed"]
    if cls is errors_module.RouteExhaustedError:
        kwargs["errors"] = [errors_module.RateLimitError("r", provider="openai", retry_after=2.0)]
    return cls(*args, **kwargs)


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_pickles_with_its_fields(cls: type[BaseException]) -> None:
    err = _instance(cls)
    err.vendor_exception = RuntimeError("vendor text that may quote a key")  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert str(back) == str(err) and back.args == err.args
    fields = {k: v for k, v in vars(err).items() if k != "vendor_exception"}
    got = {k: v for k, v in vars(back).items() if k != "vendor_exception"}
    assert set(got) == set(fields)
    for key, value in fields.items():
        if isinstance(value, list) and value and isinstance(value[0], BaseException):
            assert [str(e) for e in got[key]] == [str(e) for e in value]
        else:
            assert got[key] == value, key
    assert getattr(back, "vendor_exception", None) is None  # left behind, as when raised


def test_an_unsupported_capability_error_round_trips() -> None:
    err = errors_module.UnsupportedCapabilityError("openai", "tools", "model 'x' cannot call tools")
    back = pickle.loads(pickle.dumps(err))
    assert (back.provider, back.capability, back.detail) == ("openai", "tools", "model 'x' cannot call tools")
    assert isinstance(back, AgentOSLLMError)


def test_a_missing_dependency_error_stays_an_import_error() -> None:
    back = pickle.loads(pickle.dumps(MissingDependencyError("openai", "openai", context="OPENAI_API_KEY is set")))
    assert isinstance(back, ImportError) and isinstance(back, ConfigurationError)
    assert isinstance(back, MissingDependencyError)
    assert str(back) == f"OPENAI_API_KEY is set, but the 'openai' package is needed for this provider: {PIP_LINE}"
    assert back.pip_command == PIP_LINE


# ---------------------------------------------------------------------- define_provider: removal and threads


def test_undefine_provider_removes_the_definition_its_prices_and_icon() -> None:
    define_provider("newcomer-tmp", base="openai-compatible", icon="https://gw.example/icon.svg",
                    prices={"m": {"input": 1.0, "output": 2.0}},
                    config={"base_url": "http://127.0.0.1:9/v1", "api_key": "k"})
    made = create_provider("newcomer-tmp")
    assert made.get_icon() == "https://gw.example/icon.svg"
    spec = undefine_provider("newcomer-tmp")
    assert spec is not None and spec.id == "newcomer-tmp"
    assert "newcomer-tmp" not in defined_providers()
    with pytest.raises(ConfigurationError):
        create_provider("newcomer-tmp")
    assert made.get_icon() != "https://gw.example/icon.svg"  # the icon was forgotten too
    assert undefine_provider("newcomer-tmp") is None
    assert undefine_provider("openai") is None and "openai" in PROVIDERS  # built-ins are no definitions


def test_temporary_provider_puts_back_what_was_there() -> None:
    define_provider("newcomer-keep", base="openai-compatible", label="first",
                    config={"base_url": "http://127.0.0.1:9/v1", "api_key": "k"})
    try:
        with temporary_provider("newcomer-keep", base="openai-compatible", label="second",
                                config={"base_url": "http://127.0.0.1:9/v1", "api_key": "k"}) as cls:
            assert issubclass(cls, IProvider)
            assert defined_providers()["newcomer-keep"].label == "second"
        assert defined_providers()["newcomer-keep"].label == "first"
        with temporary_provider("newcomer-gone", base="openai-compatible",
                                config={"base_url": "http://127.0.0.1:9/v1", "api_key": "k"}):
            assert "newcomer-gone" in defined_providers()
        assert "newcomer-gone" not in defined_providers()
    finally:
        undefine_provider("newcomer-keep")


def test_overrides_run_where_the_docstring_says() -> None:
    seen: dict[str, str] = {}

    async def generate(ctx: OverrideContext, next: Any) -> CompletionResponse:
        seen[ctx.args.get("model") or "none"] = threading.current_thread().name
        return await next()  # type: ignore[no-any-return]

    def icon(ctx: OverrideContext, next: Any) -> str:
        seen["icon"] = threading.current_thread().name
        return "https://gw.example/i.svg"

    with WireEmulator() as emu, temporary_provider(
            "newcomer-threads", base="openai-compatible", overrides={"generate": generate, "get_icon": icon},
            config={"base_url": emu.openai_base_url, "api_key": "test-key-g"}):
        emu.script(Reply(text="a"), Reply(text="b"))
        p = create_provider("newcomer-threads", max_retries=0)
        assert p.generate_sync("sync-call", "hi").text == "a"
        here = threading.current_thread().name
        assert asyncio.run(p.generate("async-call", "hi")).text == "b"
        p.get_icon()
        p.close()
    assert seen["sync-call"] == "agentos-llm-sync-bridge"  # the _sync twin: on the bridge's thread
    assert seen["async-call"] == here  # awaited: on the caller's loop
    assert seen["icon"] == here  # a sync override: in the caller's thread
    assert "agentos-llm-sync-bridge" in (define_provider.__doc__ or "")


def test_the_docs_say_so_too() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "custom-providers.md").read_text(encoding="utf-8")
    assert "undefine_provider" in doc and "temporary_provider" in doc
    assert "agentos-llm-sync-bridge" in doc
