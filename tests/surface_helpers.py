"""Providers of every wire API pointed at one loopback `WireEmulator`, for the provider-surface tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentos_llm import create_provider
from agentos_llm.defaults import PROVIDERS
from agentos_llm.provider import IProvider
from agentos_llm.testing import WireEmulator

KEY = "sk-surface-default-key-000000000001"

CHAT_MODELS: dict[str, str] = {
    "openai-chat": "gpt-4o-mini",
    "openai-responses": "gpt-4o-mini",
    "anthropic-messages": "claude-sonnet-4-5",
    "gemini-generate": "gemini-2.5-flash",
    "bedrock-converse": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "cohere-chat": "command-a-03-2025",
}
"""A chat model of each wire API the emulator speaks."""


def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real key, AWS profile, config file or proxy leaks into a test."""
    names = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env)}
    names |= {spec.base_url_env for spec in PROVIDERS.values() if spec.base_url_env}
    names |= {n for n in os.environ if n.startswith("AWS_")}
    names |= {"AGENTOS_LLM_PROVIDER_ORDER", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
              "all_proxy"}
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))
    # botocore looks for credentials when it makes a client: never on the instance-metadata address.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def make(api: str, emu: WireEmulator, key: str = KEY, **kwargs: Any) -> IProvider:
    """A provider of `api` pointed at `emu`, with `key` as its own key and no retries."""
    kwargs.setdefault("max_retries", 0)
    if api == "openai-chat":
        return create_provider("openai", api_key=key, base_url=emu.openai_base_url, **kwargs)
    if api == "openai-responses":
        return create_provider("openai", api="responses", api_key=key, base_url=emu.openai_base_url, **kwargs)
    if api == "anthropic-messages":
        return create_provider("anthropic", api_key=key, base_url=emu.anthropic_base_url, **kwargs)
    if api == "gemini-generate":
        return create_provider("gemini", api_key=key, base_url=emu.gemini_base_url, **kwargs)
    if api == "bedrock-converse":
        return create_provider("bedrock", api_key=key, base_url=emu.bedrock_base_url, region="us-east-1", **kwargs)
    if api == "cohere-chat":
        return create_provider("cohere", api_key=key, base_url=emu.cohere_base_url, **kwargs)
    if api == "voyage-embed":
        return create_provider("voyage", api_key=key, base_url=emu.voyage_base_url, **kwargs)
    raise AssertionError(api)


def fresh(server: WireEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    """The module's emulator, reset, in a clean environment (the body of each module's `emu` fixture)."""
    clean_env(monkeypatch, tmp_path)
    server.reset()
    yield server
    server.reset()
