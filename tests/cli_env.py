"""Shared by the CLI tests: a clean environment (no developer keys, a private config and data directory),
the emulator's OpenAI wire as the only provider, a stdin double, and running the command as a subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentos_llm.defaults import ORDER_ENV_VAR, PROVIDERS
from agentos_llm.testing import WireEmulator

# Canaries, not keys: distinctive strings that match no vendor's key shape, so redaction's shape patterns
# cannot hide a leak; any of them in the output means a key was printed.
OPENAI_KEY = "cli-canary-openai-5b1e7c93d2"
ANTHROPIC_KEY = "cli-canary-anthropic-8d04a6f1"
GEMINI_KEY = "cli-canary-gemini-2c9f7e15ab"
GROQ_KEY = "cli-canary-groq-71f3b0c8e4"
CANARIES = (OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY, GROQ_KEY)

KEY_VARS = frozenset({ORDER_ENV_VAR, "AGENTOS_LLM_LEDGER", *(
    v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_vars, spec.base_url_env) if v)})


class Stdin(io.StringIO):
    """A stdin double: text to read, and whether it claims to be a terminal."""

    def __init__(self, text: str = "", *, tty: bool = False) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stdin: str = "") -> None:
    """No key or base URL from the developer's shell; config and data directories of the test's own."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "stdin", Stdin(stdin))


def use_emulator(monkeypatch: pytest.MonkeyPatch, emu: WireEmulator) -> None:
    """OpenAI, pointed at the emulator, is the one configured provider."""
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", emu.openai_base_url)


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env.update(AGENTOS_LLM_CONFIG=str(tmp_path / "absent.toml"), XDG_DATA_HOME=str(tmp_path / "data"),
               PYTHONIOENCODING="utf-8")
    env.update(extra)
    return env


def run_cli(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m agentos_llm ARGS` as a user runs it (stdin a pipe holding `stdin`)."""
    return subprocess.run([sys.executable, "-m", "agentos_llm", *args], capture_output=True, text=True,
                          input=stdin, env=subprocess_env(tmp_path, **env), timeout=120)
