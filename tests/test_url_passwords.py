"""A password written into a URL (a gateway's or a proxy's) never shows in an error, a repr or a log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agentos_llm import AIModelProviderManager, create_provider
from agentos_llm.errors import APIConnectionError
from agentos_llm.redaction import redact

PASSWORD = "pw-written-into-the-url-1234"
URL = f"http://gateway-user:{PASSWORD}@127.0.0.1:9/v1"


def test_redact_masks_the_password_of_any_url_and_keeps_the_rest() -> None:
    text = f"cannot reach {URL}; proxy https://bob:{PASSWORD}@proxy.internal:8080 and mail a@b.example"
    masked = redact(text)
    assert PASSWORD not in masked
    assert "http://gateway-user:[REDACTED]@127.0.0.1:9/v1" in masked
    assert "https://bob:[REDACTED]@proxy.internal:8080" in masked
    assert "a@b.example" in masked  # an address is no URL


def test_a_connection_error_and_the_provider_repr_hide_it(caplog: pytest.LogCaptureFixture) -> None:
    provider = create_provider("openai", api_key="test-key-000000000000", base_url=URL, max_retries=0)
    with caplog.at_level(logging.DEBUG, logger="agentos_llm"), pytest.raises(APIConnectionError) as caught:
        provider.generate_sync("gpt-4o", "hi")
    manager = AIModelProviderManager()
    manager.register(provider)
    for text in (str(caught.value), repr(caught.value), repr(provider), manager.describe(), caplog.text):
        assert PASSWORD not in text
    assert "gateway-user" in str(caught.value)  # the URL stays readable
    provider.close()


def test_no_config_through_dev_null_warns_of_nothing(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    from agentos_llm.key_sources import exposed_warning

    monkeypatch.setenv("AGENTOS_LLM_CONFIG", "/dev/null")
    with caplog.at_level(logging.WARNING, logger="agentos_llm"):
        AIModelProviderManager.from_env(env={"AGENTOS_LLM_CONFIG": "/dev/null"})
    assert "can be read by other users" not in caplog.text
    assert exposed_warning(Path("/dev/null")) is None
