"""The `agentos-llm` command: the offline demo, provider listing, and chat without a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KEY_VARS = ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
            "GROQ_API_KEY", "TOGETHER_API_KEY", "MISTRAL_API_KEY", "XAI_API_KEY", "DEEPSEEK_API_KEY",
            "OLLAMA_BASE_URL", "AGENTOS_LLM_PROVIDER_ORDER")


def _run(tmp_path: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env["AGENTOS_LLM_CONFIG"] = str(tmp_path / "absent.toml")
    env.update(extra_env)
    return subprocess.run([sys.executable, "-m", "agentos_llm.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_demo_runs_offline_and_says_the_emulator_served_it(tmp_path: Path) -> None:
    result = _run(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "emulator" in out
    for step in ("1. generate", "2. stream", "3. tools", "4. structured output", "5. embeddings"):
        assert step in out
    assert "get_weather({'city': 'Lisbon'})" in out
    assert "3 vectors of 8 dimensions" in out


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
