"""`agentos-llm doctor`: keys and where they came from (never the keys), extras and SDK versions, reachability
with latency (skipped by --offline), and its exit codes."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_env import GROQ_KEY, OPENAI_KEY, clean, run_cli, use_emulator

from agentos_llm.cli import main
from agentos_llm.cli_doctor import installed_extras
from agentos_llm.testing import WireEmulator


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    clean(monkeypatch, tmp_path)
    with WireEmulator() as emulator:
        use_emulator(monkeypatch, emulator)
        yield emulator


def test_healthy_setup(emu: WireEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "ok    openai: key from env:OPENAI_API_KEY; openai-chat at " + emu.openai_base_url in out
    assert "-     anthropic: not configured (set ANTHROPIC_API_KEY)" in out
    assert f"openai          openai {importlib.metadata.version('openai')}" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("ok") and "openai: ok in" in x)
    assert line.rstrip().endswith(" ms")
    assert emu.hits("/models") == 1
    assert OPENAI_KEY not in out


def test_offline_asks_nothing_and_json_has_every_section(emu: WireEmulator,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--offline", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert emu.requests == []
    assert report["reachability"] is None
    assert report["providers"][0] == {"id": "openai", "status": "configured", "key_source": "env:OPENAI_API_KEY",
                                      "base_url": emu.openai_base_url, "api": "openai-chat",
                                      "default_model": "gpt-4.1-mini", "extra": "openai"}
    assert report["extras"]["openai"]["openai"] == importlib.metadata.version("openai")
    assert set(report) >= {"version", "python", "config", "conversations", "core"}


def test_an_unreachable_provider_exits_1(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GROQ_API_KEY", GROQ_KEY)
    monkeypatch.setenv("GROQ_BASE_URL", "http://user:pw@127.0.0.1:9/openai/v1")
    assert main(["doctor", "--timeout", "30"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  groq: unreachable" in out and "ok    openai: ok" in out
    assert "http://127.0.0.1:9/openai/v1" in out and "user:pw" not in out  # no credentials in a URL either
    assert GROQ_KEY not in out


def test_configuration_problems_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    clean(monkeypatch, tmp_path)
    assert main(["doctor"]) == 2
    assert "nothing configured to check" in capsys.readouterr().out
    config = tmp_path / "broken.toml"
    config.write_text("[providers.openai\napi_key = 1\n", encoding="utf-8")
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(config))
    assert main(["doctor", "--offline"]) == 2
    assert "(broken: " in capsys.readouterr().out


def test_installed_extras_names_versions_or_none() -> None:
    extras = installed_extras()
    assert extras["anthropic"]["anthropic"] == importlib.metadata.version("anthropic")
    assert set(extras) >= {"openai", "anthropic", "gemini", "bedrock", "cohere", "voyage", "oauth"}
    assert all(v is None or isinstance(v, str) for dists in extras.values() for v in dists.values())


def test_doctor_as_a_subprocess(emu: WireEmulator, tmp_path: Path) -> None:
    done = run_cli(tmp_path, "doctor", OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=emu.openai_base_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "key from env:OPENAI_API_KEY" in done.stdout and OPENAI_KEY not in done.stdout + done.stderr
