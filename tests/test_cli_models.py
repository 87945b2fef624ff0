"""`agentos-llm models`: the live listing merged with the catalog for a configured provider, the catalog for a
known one that is not, and a usage error for an unknown id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_env import clean, run_cli, use_emulator

from agentos_llm.cli import main
from agentos_llm.cli_models import format_models
from agentos_llm.testing import WireEmulator
from agentos_llm.types import ModelInfo


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    clean(monkeypatch, tmp_path)
    with WireEmulator() as emulator:
        use_emulator(monkeypatch, emulator)
        yield emulator


def test_configured_provider_lists_live_with_catalog_facts(emu: WireEmulator,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "openai", "--json"]) == 0
    models = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    assert emu.hits("/models") == 1
    mini = models["gpt-4o-mini"]
    assert mini["source"] == "live" and mini["context_window"] == 128000
    assert mini["input_price"] == 0.15 and "tools" in mini["capabilities"]
    assert main(["models", "--capability", "embeddings", "-q", "small"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "context", "max", "out", "$/M", "in", "$/M", "out", "capabilities"]
    assert [line.split()[0] for line in lines[1:]] == ["openai/text-embedding-3-small"]


def test_a_known_provider_without_a_key_shows_the_catalog(emu: WireEmulator,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "anthropic", "-q", "haiku-4-5"]) == 0
    captured = capsys.readouterr()
    assert "anthropic is not configured" in captured.err and "ANTHROPIC_API_KEY" in captured.err
    assert "anthropic/claude-haiku-4-5" in captured.out and "200,000" in captured.out
    assert emu.requests == []


def test_unknown_provider_and_capability_are_usage_errors(emu: WireEmulator,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "openia"]) == 2
    assert "did you mean 'openai'" in capsys.readouterr().err
    assert main(["models", "--capability", "telepathy"]) == 2
    assert "unknown capability" in capsys.readouterr().err


def test_nothing_configured_shows_every_catalog_and_says_what_to_set(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean(monkeypatch, tmp_path)
    assert main(["models", "--json"]) == 0
    captured = capsys.readouterr()
    providers = {m["provider"] for m in json.loads(captured.out)}
    assert {"openai", "anthropic", "gemini"} <= providers
    assert "no provider configured" in captured.err and "OPENAI_API_KEY" in captured.err


def test_format_models_aligns_and_marks_unknowns() -> None:
    table = format_models([ModelInfo(id="m", provider="p", context_window=1_047_576, input_price=2.0,
                                     capabilities=frozenset({"vision", "tools"})),
                           ModelInfo(id="longer-model", provider="p")])
    first, second, third = table.splitlines()
    assert second.split() == ["p/m", "1,047,576", "-", "$2", "-", "tools,", "vision"]
    assert third.split() == ["p/longer-model", "-", "-", "-", "-", "-"]
    assert first.index("context") < second.index("1,047,576") + len("1,047,576")


def test_models_as_a_subprocess(emu: WireEmulator, tmp_path: Path) -> None:
    done = run_cli(tmp_path, "models", "-q", "gpt-4o", OPENAI_API_KEY="cli-canary-x-1234567890",
                   OPENAI_BASE_URL=emu.openai_base_url)
    assert done.returncode == 0, done.stderr
    assert "openai/gpt-4o-mini" in done.stdout and "128,000" in done.stdout
