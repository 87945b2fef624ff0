"""The `agentos-llm` command: the offline demo, provider listing, and chat without a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agentos_llm.defaults import ORDER_ENV_VAR, PROVIDERS

# Every variable that could make auto-detect find a provider on the developer's machine.
KEY_VARS = frozenset({ORDER_ENV_VAR, *(v for spec in PROVIDERS.values()
                                        for v in (*spec.key_env, *spec.detect_vars, spec.base_url_env) if v)})


def _run(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env["AGENTOS_LLM_CONFIG"] = str(tmp_path / "absent.toml")
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "agentos_llm.cli", *args], capture_output=True, text=True,
                          input="", env=env, timeout=120)


def test_demo_runs_offline_and_says_the_emulator_served_it(tmp_path: Path) -> None:
    result = _run(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "emulator" in out
    for step in ("1. generate", "2. stream", "3. tools", "4. structured output", "5. embeddings"):
        assert step in out
    assert "get_weather({'city': 'Lisbon'})" in out
    assert "3 vectors of 8 dimensions" in out
    assert "6. Anthropic, through its own SDK" in out
    assert "7. Google Gemini, through its own SDK" in out
    assert out.count("the OpenAI tool-call history continues here") == 2


def test_chat_without_a_key_names_the_env_vars_in_order(tmp_path: Path) -> None:
    result = _run(tmp_path, "chat", "hello")
    assert result.returncode != 0
    message = result.stderr
    positions = [message.index(v) for v in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                                             "GEMINI_API_KEY", "OLLAMA_BASE_URL")]
    assert positions == sorted(positions)


def test_providers_says_where_the_key_came_from(tmp_path: Path) -> None:
    result = _run(tmp_path, "providers", OPENAI_API_KEY="sk-cli-test-0123456789abcdef")
    assert result.returncode == 0, result.stderr
    assert "openai (default): OPENAI_API_KEY is set" in result.stdout
    assert "env:OPENAI_API_KEY" in result.stdout
    assert "sk-cli-test" not in result.stdout


def test_discover_lists_a_local_server_named_by_its_env_var(tmp_path: Path) -> None:
    from local_servers import Imitation, ollama_routes, vllm_routes

    ollama, vllm = Imitation(ollama_routes()), Imitation(vllm_routes())
    try:
        bounds = ("--timeout", "10", "--deadline", "20")  # generous: a loaded machine must not fail this
        result = _run(tmp_path, "discover", "--provider", "ollama", "--provider", "vllm", *bounds,
                      OLLAMA_BASE_URL=ollama.url + "/v1", VLLM_BASE_URL=vllm.url + "/v1")
        as_json = _run(tmp_path, "discover", "--provider", "vllm", "--json", *bounds, VLLM_BASE_URL=vllm.url + "/v1")
    finally:
        ollama.close()
        vllm.close()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"ollama: found at {ollama.url}/v1 (env:OLLAMA_BASE_URL), 2 model(s), default llama3.2:latest" in out
    assert "    llama3.2:latest  context 131072" in out
    assert f"vllm: found at {vllm.url}/v1 (env:VLLM_BASE_URL), 1 model(s)" in out
    assert "    meta-llama/Llama-3.1-8B-Instruct  context 32768" in out
    assert "agentos-llm chat --model ollama/llama3.2:latest" in out

    import json

    payload = json.loads(as_json.stdout)
    assert payload["found"][0]["provider"] == "vllm"
    assert payload["found"][0]["models"][0]["context_window"] == 32768


def test_discover_says_what_it_checked_when_nothing_answers(tmp_path: Path) -> None:
    result = _run(tmp_path, "discover", "--provider", "vllm", VLLM_BASE_URL="http://127.0.0.1:9/v1")
    assert result.returncode == 0  # nothing found is an answer, not a failure
    assert "No local model server answered" in result.stdout
    assert "vllm: not found at http://127.0.0.1:9/v1: unreachable (connection refused)" in result.stdout


def test_providers_lists_anthropic_and_gemini_from_their_keys(tmp_path: Path) -> None:
    result = _run(tmp_path, "providers", ANTHROPIC_API_KEY="sk-ant-cli-test-0123456789",
                  GOOGLE_API_KEY="AIza-cli-test-0123456789")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ANTHROPIC_API_KEY" in out and "GOOGLE_API_KEY" in out
    assert out.index("anthropic") < out.index("gemini")
    assert "sk-ant-cli-test" not in out and "AIza-cli-test" not in out
