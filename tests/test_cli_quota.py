"""`agentos-llm quota [--json]`: one row per configured provider (from the environment), against loopback
servers in the vendors' documented shapes; never a key in the output."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_servers import Imitation, send_json

from agentos_llm import create_provider
from agentos_llm.cli import main
from agentos_llm.cli_quota import bar, format_quotas
from agentos_llm.defaults import PROVIDERS
from agentos_llm.quota import Balance, QuotaSnapshot, QuotaWindow
from agentos_llm.rate_limits import RATE_LIMITS, remember

OPENROUTER_KEY = "or-placeholder-key-0001"  # placeholders, not real keys
LITELLM_KEY = "litellm-placeholder-key-0002"
DEEPSEEK_KEY = "deepseek-placeholder-key-0003"
KEY_VARS = sorted({v for spec in PROVIDERS.values()
                   for v in (*spec.key_env, *spec.detect_vars, spec.base_url_env) if v})


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for var in (*KEY_VARS, "AGENTOS_LLM_PROVIDER_ORDER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))
    RATE_LIMITS.clear()
    yield
    RATE_LIMITS.clear()


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Imitation]]:
    """OpenRouter (`/api/v1/key`, `/api/v1/credits`), a LiteLLM proxy (`/key/info`) and a DeepSeek that refuses
    the key, each configured through its env vars only."""
    openrouter = Imitation({
        ("GET", "/api/v1/key"): lambda h, _: send_json(h, {"data": {
            "label": "sk-or-v1-au7...890", "limit": 100, "limit_reset": "monthly", "limit_remaining": 74.5,
            "usage": 25.5, "usage_daily": 1.25, "usage_weekly": 7.5, "usage_monthly": 25.5, "is_free_tier": False}}),
        ("GET", "/api/v1/credits"): lambda h, _: send_json(h, {"data": {"total_credits": 100.5,
                                                                        "total_usage": 25.75}}),
    })
    litellm = Imitation({("GET", "/key/info"): lambda h, _: send_json(h, {"key": "hashed", "info": {
        "key_name": "sk-...abcd", "key_alias": "team-a", "spend": 12.5, "max_budget": 50.0,
        "budget_reset_at": "2031-01-01T00:00:00Z", "tpm_limit": 1000, "rpm_limit": 10}})})
    deepseek = Imitation({("GET", "/user/balance"): lambda h, _: send_json(
        h, {"error": {"message": f"Authentication Fails, your api key: {DEEPSEEK_KEY} is invalid"}}, status=401)})
    monkeypatch.setenv("OPENROUTER_API_KEY", OPENROUTER_KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", openrouter.url + "/api/v1")
    monkeypatch.setenv("LITELLM_API_KEY", LITELLM_KEY)
    monkeypatch.setenv("LITELLM_BASE_URL", litellm.url + "/v1")
    monkeypatch.setenv("DEEPSEEK_API_KEY", DEEPSEEK_KEY)
    monkeypatch.setenv("DEEPSEEK_BASE_URL", deepseek.url + "/v1")
    started = {"openrouter": openrouter, "litellm": litellm, "deepseek": deepseek}
    yield started
    for server in started.values():
        server.close()


def no_secret(*texts: str) -> None:
    for text in texts:
        for key in (OPENROUTER_KEY, LITELLM_KEY, DEEPSEEK_KEY):
            assert key not in text


def test_the_table_has_one_row_per_provider_with_bars(servers: dict[str, Imitation],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quota"]) == 0
    out, err = capsys.readouterr()
    no_secret(out, err)
    lines = out.splitlines()
    assert lines[0].split() == ["provider", "key", "from", "status", "quota"]
    starts = {line.split()[0]: line for line in lines[1:] if not line.startswith(" ")}
    assert set(starts) == {"openrouter", "litellm", "deepseek"}
    assert "env:OPENROUTER_API_KEY" in starts["openrouter"] and "ok (paid)" in starts["openrouter"]
    assert "key limit: [█████░░░░░░░░░░░░░░░]  25.5%  $25.50 of $100.00" in starts["openrouter"]
    assert "balance: 74.75 USD left of 100.50 USD" in out
    assert "budget: [█████░░░░░░░░░░░░░░░]  25.0%  $12.50 of $50.00" in starts["litellm"]
    assert "tokens per minute: limit 1,000 tokens" in out and "key: team-a" in out
    assert "unauthorized" in starts["deepseek"] and "HTTP 401" in starts["deepseek"]
    assert [r[1] for r in servers["deepseek"].requests] == ["/user/balance"]


def test_json_prints_the_snapshots(servers: dict[str, Imitation], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quota", "--json"]) == 0
    out, err = capsys.readouterr()
    no_secret(out, err)
    rows = [QuotaSnapshot.model_validate(r) for r in json.loads(out)]
    assert sorted((r.provider, r.status) for r in rows) == [("deepseek", "unauthorized"), ("litellm", "ok"),
                                                            ("openrouter", "ok")]
    by = {r.provider: r for r in rows}
    assert by["openrouter"].credential_source == "env:OPENROUTER_API_KEY"
    assert {w.name: w.used_percent for w in by["litellm"].windows}["budget"] == 25.0
    assert by["openrouter"].balances[0].remaining == 74.75


def test_one_provider_and_the_rate_limits_heard(monkeypatch: pytest.MonkeyPatch, servers: dict[str, Imitation],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "groq-placeholder-key-0004")
    monkeypatch.setenv("GROQ_BASE_URL", "http://127.0.0.1:9/openai/v1")  # never asked: no quota endpoint
    groq = create_provider("groq")
    remember("groq", groq._listing_key(), {"x-ratelimit-limit-requests": "1000",
                                            "x-ratelimit-remaining-requests": "900",
                                            "x-ratelimit-reset-requests": "1m30s"})
    assert main(["quota", "--provider", "groq"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 2 and out.splitlines()[1].startswith("groq")
    assert "requests: [██░░░░░░░░░░░░░░░░░░]  10.0%  100 of 1,000 requests" in out
    assert "from response headers" in out and "resets in 90s" in out
    assert "groq-placeholder-key-0004" not in out


def test_nothing_configured(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quota"]) == 2
    assert "no provider configured" in capsys.readouterr().err


def test_bars_and_ascii() -> None:
    assert bar(0) == "[" + "░" * 20 + "]" and bar(100) == "[" + "█" * 20 + "]" and bar(250) == bar(100)
    assert bar(50, ascii_only=True) == "[##########----------]"
    snap = QuotaSnapshot(provider="gw", label="Gateway", windows=[
        QuotaWindow(name="tokens", unit="tokens", used=250, limit=1000),
        QuotaWindow(name="spend", unit="usd", used=3.5)],
        balances=[Balance(currency="credits", remaining=12)], status="ok")
    failed = QuotaSnapshot(provider="other", label="Other", status="error", message="timed out")
    text = format_quotas([snap, failed], ascii_only=True)
    assert "tokens: [#####---------------]  25.0%  250 of 1,000 tokens" in text
    assert "spend: $3.50 used" in text and "balance: 12 credits left" in text
    assert text.splitlines()[-1].split() == ["other", "no", "key", "error", "timed", "out"]
    assert all(ord(c) < 128 for c in text)


def test_quota_and_ledger_names_are_exported_lazily() -> None:
    code = ("import sys, agentos_llm as a\n"
            "names = [a.QuotaSnapshot, a.QuotaWindow, a.Balance, a.RateLimits, a.UsageLedger, a.Budget,\n"
            "         a.BudgetExceededError]\n"
            "assert issubclass(a.BudgetExceededError, a.ProviderError)\n"
            "heavy = ('openai', 'anthropic', 'google.genai', 'httpx', 'httpx2', 'boto3', 'cohere')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('google.genai')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
