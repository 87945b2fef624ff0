"""Local-server discovery against loopback imitations of Ollama, llama.cpp and vLLM (stdlib `http.server`),
plus a server that accepts and never answers, one that answers too much, and a host that must not be probed.

Every probe is limited to the rows a test names, so whatever runs on this machine's default ports never
changes a result.
"""

from __future__ import annotations

import asyncio
import socket
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from local_servers import Imitation, Route, llamacpp_routes, ollama_routes, oversized_routes, send_json, vllm_routes

from agentos_llm.defaults import PROVIDERS
from agentos_llm.discovery import (
    MAX_RESPONSE_BYTES,
    DiscoveredProvider,
    Discovery,
    discover_local_providers,
    discover_local_providers_sync,
    is_loopback,
    local_provider_ids,
)


@pytest.fixture
def serve() -> Iterator[Callable[[dict[tuple[str, str], Route]], Imitation]]:
    started: list[Imitation] = []

    def start(routes: dict[tuple[str, str], Route]) -> Imitation:
        server = Imitation(routes)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that accepts connections (the kernel completes the handshake) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An env mapping without any key, base URL or config file."""
    return {"AGENTOS_LLM_CONFIG": str(tmp_path / "absent.toml")}


# Generous bounds where a server is expected to answer: a loaded CI machine must not turn them into failures.
GENEROUS: dict[str, Any] = {"timeout": 10.0, "deadline": 20.0}


def by_id(discovery: Discovery) -> dict[str, DiscoveredProvider]:
    return {f.provider_id: f for f in discovery.found}


# ---------------------------------------------------------------------- finding servers


async def test_finds_ollama_llamacpp_and_vllm_with_their_models(serve: Any, env: dict[str, str]) -> None:
    ollama, llamacpp, vllm = serve(ollama_routes()), serve(llamacpp_routes()), serve(vllm_routes())
    env |= {"OLLAMA_BASE_URL": ollama.url + "/v1", "LLAMACPP_BASE_URL": llamacpp.url + "/v1",
            "VLLM_BASE_URL": vllm.url + "/v1"}
    result = await discover_local_providers(providers=["ollama", "llamacpp", "vllm"], env=env, **GENEROUS)
    assert result.skipped == ()
    found = by_id(result)
    assert [f.provider_id for f in result.found] == ["ollama", "llamacpp", "vllm"]

    o = found["ollama"]
    assert o.base_url == ollama.url + "/v1" and o.source == "env:OLLAMA_BASE_URL"
    contexts = {m.id: m.context_window for m in o.models}
    assert contexts == {"nomic-embed-text:latest": 2048, "llama3.2:latest": 131072}
    assert "embeddings" in next(m for m in o.models if m.id.startswith("nomic")).capabilities
    assert o.default_model == "llama3.2:latest"  # the row's default, as served (not the embedding model)
    assert ollama.requests[0][:2] == ("GET", "/api/tags")
    assert sorted(r[:2] for r in ollama.requests[1:]) == [("POST", "/api/show")] * 2

    c = found["llamacpp"]
    assert [(m.id, m.context_window) for m in c.models] == [("qwen2.5-7b-instruct-q4_k_m.gguf", 8192)]
    assert c.default_model == "qwen2.5-7b-instruct-q4_k_m.gguf"  # the row has none: the first listed

    v = found["vllm"]
    assert [(m.id, m.context_window) for m in v.models] == [("meta-llama/Llama-3.1-8B-Instruct", 32768)]
    assert all(m.provider == "vllm" for m in v.models)
    assert "found at " + vllm.url in result.describe()


def test_llamacpp_without_props_falls_back_to_the_training_context(serve: Any, env: dict[str, str]) -> None:
    routes = llamacpp_routes()
    del routes[("GET", "/props")]
    server = serve(routes)
    result = discover_local_providers_sync(providers=["llamacpp"], base_urls={"llamacpp": server.url + "/v1"},
                                           env=env, **GENEROUS)
    assert [m.context_window for m in result.found[0].models] == [32768]
    assert result.found[0].source == "argument"


async def test_a_server_that_never_answers_is_bounded_by_the_request_timeout(
        silent: str, serve: Any, env: dict[str, str]) -> None:
    vllm = serve(vllm_routes())
    env |= {"SGLANG_BASE_URL": silent, "VLLM_BASE_URL": vllm.url + "/v1"}
    result = await discover_local_providers(providers=["sglang", "vllm"], env=env, timeout=0.3, deadline=30)
    assert [f.provider_id for f in result.found] == ["vllm"]  # the hung one does not hold the others
    [hung] = result.skipped
    assert hung.provider_id == "sglang" and hung.answered
    assert "no whole answer within 0.3 s" in hung.reason


async def test_the_whole_run_is_bounded_by_the_deadline(silent: str, env: dict[str, str]) -> None:
    env |= {"SGLANG_BASE_URL": silent}
    result = await discover_local_providers(providers=["sglang"], env=env, timeout=60, deadline=0.3)
    [hung] = result.skipped
    assert "0.3 s deadline" in hung.reason
    assert result.found == ()


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_an_oversized_answer_is_capped_and_skipped(serve: Any, env: dict[str, str], declared: bool) -> None:
    server = serve(oversized_routes(declared))
    env |= {"LMSTUDIO_BASE_URL": server.url + "/v1"}
    tracemalloc.start()
    try:
        result = await discover_local_providers(providers=["lmstudio"], env=env, timeout=10, deadline=20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.found == ()
    [skipped] = result.skipped
    assert skipped.provider_id == "lmstudio" and skipped.answered
    assert f"larger than {MAX_RESPONSE_BYTES} bytes" in skipped.reason
    assert peak < 2 * MAX_RESPONSE_BYTES  # never the whole 2 MiB answer in memory


async def test_an_unconfigured_non_loopback_host_is_never_contacted(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    contacted: list[str] = []

    async def spy(host: str, port: int, **kwargs: Any) -> Any:
        contacted.append(host)
        raise ConnectionRefusedError

    monkeypatch.setattr(asyncio, "open_connection", spy)
    far = replace(PROVIDERS["vllm"], id="farbox", base_url="http://203.0.113.7:8000/v1", base_url_env="FARBOX_BASE_URL")
    monkeypatch.setitem(PROVIDERS, "farbox", far)

    result = await discover_local_providers(providers=["farbox"], env=env)
    assert contacted == []
    [skipped] = result.skipped
    assert "not loopback, and not configured" in skipped.reason and not skipped.answered and not skipped.probed
    assert "farbox: not probed at http://203.0.113.7:8000/v1" in result.describe()

    # Named by the user (env var or argument), the same host is probed.
    result = await discover_local_providers(providers=["farbox"], env={**env, "FARBOX_BASE_URL": far.base_url or ""})
    assert contacted == ["203.0.113.7"]
    assert "connection refused" in result.skipped[0].reason
    await discover_local_providers(providers=[], base_urls={"farbox": "http://198.51.100.9:8000/v1"}, env=env)
    assert contacted == ["203.0.113.7", "198.51.100.9"]


async def test_a_url_configured_for_two_rows_is_probed_once(serve: Any, env: dict[str, str]) -> None:
    vllm = serve(vllm_routes())
    env |= {"OPENAI_COMPATIBLE_BASE_URL": vllm.url + "/v1", "VLLM_BASE_URL": vllm.url + "/v1/"}
    result = await discover_local_providers(providers=["vllm", "openai-compatible"], env=env, **GENEROUS)
    assert [f.provider_id for f in result.found] == ["vllm"]
    assert len(vllm.requests) == 1


async def test_the_rows_key_is_sent_and_a_refusal_says_which_env_var(serve: Any, env: dict[str, str]) -> None:
    litellm = serve(vllm_routes(require_key="sk-litellm-master-0123"))
    env |= {"LITELLM_BASE_URL": litellm.url + "/v1"}
    refused = await discover_local_providers(providers=["litellm"], env=env, **GENEROUS)
    assert "HTTP 401" in refused.skipped[0].reason and "LITELLM_API_KEY" in refused.skipped[0].reason
    keyed = {**env, "LITELLM_API_KEY": "sk-litellm-master-0123"}
    found = await discover_local_providers(providers=["litellm"], env=keyed, **GENEROUS)
    assert found.found[0].provider_id == "litellm"
    assert litellm.requests[-1][2] == "Bearer sk-litellm-master-0123"
    assert "sk-litellm" not in repr(found)


async def test_a_closed_port_and_a_non_http_answer_are_skipped_with_reasons(serve: Any, env: dict[str, str]) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    not_json = serve({("GET", "/v1/models"): lambda h, _: send_json(h, "x", status=500)})
    env |= {"VLLM_BASE_URL": f"http://127.0.0.1:{port}/v1", "SGLANG_BASE_URL": not_json.url + "/v1"}
    result = await discover_local_providers(providers=["vllm", "sglang"], env=env)
    reasons = {s.provider_id: s for s in result.skipped}
    assert "connection refused" in reasons["vllm"].reason and not reasons["vllm"].answered
    assert "HTTP 500" in reasons["sglang"].reason and reasons["sglang"].answered


def test_the_sync_twin_works_inside_a_running_loop(serve: Any, env: dict[str, str]) -> None:
    vllm = serve(vllm_routes())

    async def inside() -> Discovery:
        return discover_local_providers_sync(providers=["vllm"], base_urls={"vllm": vllm.url + "/v1"}, env=env,
                                             **GENEROUS)

    assert asyncio.run(inside()).found[0].provider_id == "vllm"


def test_a_discovered_server_builds_a_ready_provider(serve: Any, env: dict[str, str]) -> None:
    llamacpp = serve(llamacpp_routes())
    found = discover_local_providers_sync(providers=["llamacpp"], base_urls={"llamacpp": llamacpp.url + "/v1"},
                                          env=env, **GENEROUS).found[0]
    provider = found.create(env=env)
    assert provider.provider_id == "llamacpp"
    assert provider.base_url == llamacpp.url + "/v1"
    assert provider.default_model == "qwen2.5-7b-instruct-q4_k_m.gguf"


# ---------------------------------------------------------------------- what is probed (pure)


def test_local_rows_come_from_the_provider_table() -> None:
    ids = local_provider_ids()
    assert {"ollama", "vllm", "sglang", "lmstudio", "llamacpp", "litellm"} <= set(ids)
    assert "openai" not in ids and "groq" not in ids
    ports = {pid: PROVIDERS[pid].base_url for pid in ("ollama", "vllm", "sglang", "lmstudio", "llamacpp", "litellm")}
    assert ports["ollama"] == "http://localhost:11434/v1" and ports["sglang"] == "http://localhost:30000/v1"


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("gpu.localhost", True), ("10.0.0.5", False), ("example.com", False), ("", False), (None, False),
])
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback
