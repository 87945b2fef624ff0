"""docs/custom-providers.md: its examples run as written, against the loopback wire emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentos_llm.defaults import PROVIDERS
from agentos_llm.registry import _DEFINED
from agentos_llm.testing import WireEmulator

DOC = Path(__file__).resolve().parent.parent / "docs" / "custom-providers.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    names = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env)}
    names |= {spec.base_url_env for spec in PROVIDERS.values() if spec.base_url_env}
    names |= {"AGENTOS_LLM_PROVIDER_ORDER", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
              "all_proxy"}
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))
    before = set(_DEFINED)
    yield
    for name in set(_DEFINED) - before:
        del _DEFINED[name]


def test_the_documented_gateway_runs(clean: None, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    define_and_use, with_the_manager, *_ = python_blocks()
    with WireEmulator() as emu:
        monkeypatch.setenv("ACME_BASE_URL", emu.openai_base_url)
        monkeypatch.setenv("ACME_API_KEY", "acme-secret-key-123456")
        exec(compile(define_and_use, str(DOC), "exec"), {"__name__": "docs_example"})
        first = capsys.readouterr().out.splitlines()
        exec(compile(with_the_manager, str(DOC), "exec"), {"__name__": "docs_example"})
        second = capsys.readouterr().out
        requests = emu.requests
    assert first == ["Echo: Say hi.", "['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'acme/auto']"]
    assert "acme (default): ACME_API_KEY is set; key from env:ACME_API_KEY; default model gpt-4o-mini" in second
    assert second.rstrip().endswith("Echo: Say hi again.")
    assert [(r.method, r.path) for r in requests] == [
        ("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
    assert {r.headers["authorization"] for r in requests} == {"Bearer acme-secret-key-123456"}
    assert requests[-1].body["model"] == "gpt-4o-mini"
    assert "acme-secret-key" not in first[0] + second


def test_without_its_key_the_gateway_names_the_env_var(clean: None) -> None:
    from agentos_llm.errors import ConfigurationError

    define_and_use = python_blocks()[0]
    with pytest.raises(ConfigurationError, match="ACME_API_KEY"):
        exec(compile(define_and_use, str(DOC), "exec"), {"__name__": "docs_example"})


def test_the_documented_overrides_run(clean: None, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    overrides = python_blocks()[3]
    with WireEmulator() as emu:
        monkeypatch.setenv("ACME_BASE_URL", emu.openai_base_url)
        monkeypatch.setenv("ACME_API_KEY", "acme-secret-key-123456")
        exec(compile(overrides, str(DOC), "exec"), {"__name__": "docs_example"})
        requests = emu.requests
    assert capsys.readouterr().out.splitlines() == [
        "{'served_by': 'agentos-emulator'}", "inspected", "['gpt-4o-mini', 'gpt-4o']",
        "https://llm.acme.example/favicon.svg"]
    assert [(r.method, r.path) for r in requests] == [("POST", "/v1/chat/completions"), ("GET", "/v1/models")]


def test_the_documented_typed_values_run(clean: None, capsys: pytest.CaptureFixture[str]) -> None:
    typed = python_blocks()[4]
    exec(compile(typed, str(DOC), "exec"), {"__name__": "docs_example"})
    assert capsys.readouterr().out.strip() == (
        "provider 'acme-typed': ACME_BASE_URL must be an http(s) URL, not 'llm.acme.example/v1'")
