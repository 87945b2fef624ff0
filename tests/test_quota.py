"""Quota snapshots against loopback servers serving each vendor's documented answer (stdlib `http.server`),
plus the answers a quota endpoint must survive: malformed, not JSON, 401, slow, oversized and redirecting.

The documented shapes: OpenRouter https://openrouter.ai/docs/api-reference/limits and
https://openrouter.ai/docs/api/api-reference/credits/get-credits; LiteLLM https://docs.litellm.ai/docs/proxy/virtual_keys;
DeepSeek https://api-docs.deepseek.com/api/get-user-balance; the neutral contract in docs/quota-and-cost.md.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_servers import Imitation, Route, send_json

from agentos_llm import AIModelProviderManager, create_provider
from agentos_llm.defaults import PROVIDERS
from agentos_llm.provider import IProvider
from agentos_llm.quota import QuotaSnapshot
from agentos_llm.quota_fetch import QuotaSettings, quota_settings
from agentos_llm.quota_mapping import apply_mapping, next_period_start
from agentos_llm.quota_presets import PRESET_NAMES, get_preset
from agentos_llm.rate_limits import RATE_LIMITS, remember
from agentos_llm.testing.fake import FakeProvider

KEY = "quota-test-key-0001"  # a placeholder, not a real key


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))
    RATE_LIMITS.clear()
    yield
    RATE_LIMITS.clear()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown: frees the handlers of slow routes."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def serve(release: threading.Event) -> Iterator[Callable[[dict[tuple[str, str], Route]], Imitation]]:
    started: list[Imitation] = []

    def start(routes: dict[tuple[str, str], Route]) -> Imitation:
        server = Imitation(routes)
        started.append(server)
        return server

    yield start
    release.set()
    for server in started:
        server.close()


def answer(payload: Any, status: int = 200) -> Route:
    return lambda handler, _body: send_json(handler, payload, status=status)


def raw(status: int, body: bytes, headers: dict[str, str]) -> Route:
    def route(handler: BaseHTTPRequestHandler, _body: Any) -> None:
        handler.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    return route


def env_with_config(tmp_path: Path, toml: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    return {"AGENTOS_LLM_CONFIG": str(path)}


def provider(pid: str, base_url: str, env: dict[str, str] | None = None, **kwargs: Any) -> IProvider:
    return create_provider(pid, api_key=KEY, base_url=base_url, env=env or {}, **kwargs)


# OpenRouter's documented example answer of GET /api/v1/key.
OPENROUTER_KEY = {"data": {
    "label": "sk-or-v1-au7...890", "limit": 100, "limit_reset": "monthly", "limit_remaining": 74.5,
    "include_byok_in_limit": False, "usage": 25.5, "usage_daily": 1.25, "usage_weekly": 7.5, "usage_monthly": 25.5,
    "byok_usage": 0, "byok_usage_daily": 0, "byok_usage_weekly": 0, "byok_usage_monthly": 0,
    "is_free_tier": False, "is_provisioning_key": False,
}}
OPENROUTER_CREDITS = {"data": {"total_credits": 100.5, "total_usage": 25.75}}


# ---------------------------------------------------------------------- presets


async def test_openrouter_key_and_credits(serve: Any) -> None:
    server = serve({("GET", "/api/v1/key"): answer(OPENROUTER_KEY),
                    ("GET", "/api/v1/credits"): answer(OPENROUTER_CREDITS)})
    snap = await provider("openrouter", server.url + "/api/v1").get_quota()
    assert snap.status == "ok", snap.message
    assert (snap.provider, snap.label, snap.credential_source, snap.source) == (
        "openrouter", "OpenRouter", "argument", "endpoint")
    assert snap.plan == "paid" and snap.key == "sk-or-v1-au7...890"
    windows = {w.name: w for w in snap.windows}
    limit = windows["key limit"]
    assert (limit.unit, limit.limit, limit.remaining, limit.used, limit.used_percent) == ("usd", 100, 74.5, 25.5, 25.5)
    assert limit.resets_at == next_period_start("monthly", snap.fetched_at)
    assert windows["usage today"].used == 1.25 and windows["usage this week"].used == 7.5
    assert windows["usage today"].resets_at == next_period_start("day", snap.fetched_at)
    [balance] = snap.balances
    assert (balance.currency, balance.limit, balance.used, balance.remaining) == ("USD", 100.5, 25.75, 74.75)
    assert sorted(server.requests) == [("GET", "/api/v1/credits", f"Bearer {KEY}"),
                                       ("GET", "/api/v1/key", f"Bearer {KEY}")]


async def test_openrouter_credits_refused_keeps_the_key_numbers(serve: Any) -> None:
    server = serve({("GET", "/api/v1/key"): answer({"data": {**OPENROUTER_KEY["data"], "is_free_tier": True}}),
                    ("GET", "/api/v1/credits"): answer({"error": {"message": "management key required"}}, 403)})
    snap = await provider("openrouter", server.url + "/api/v1").get_quota()
    assert snap.status == "ok" and snap.plan == "free tier" and snap.balances == []
    assert snap.message is not None and "403" in snap.message and "optional" in snap.message
    assert any(w.name == "key limit" for w in snap.windows)


async def test_litellm_key_info_at_the_proxy_root(serve: Any) -> None:
    info = {"key": "hashed", "info": {
        "key_name": "sk-...abcd", "key_alias": None, "spend": 12.5, "max_budget": 50.0, "budget_duration": "30d",
        "budget_reset_at": "2030-01-01T00:00:00Z", "tpm_limit": 1000, "rpm_limit": 10, "models": []}}
    server = serve({("GET", "/key/info"): answer(info)})
    snap = await provider("litellm", server.url + "/v1").get_quota()
    assert snap.status == "ok", snap.message
    assert snap.key == "sk-...abcd" and snap.url == server.url + "/key/info"
    windows = {w.name: w for w in snap.windows}
    budget = windows["budget"]
    assert (budget.used, budget.limit, budget.remaining, budget.used_percent) == (12.5, 50.0, 37.5, 25.0)
    assert budget.resets_at == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert (windows["tokens per minute"].unit, windows["tokens per minute"].limit) == ("tokens", 1000)
    assert (windows["requests per minute"].unit, windows["requests per minute"].limit) == ("requests", 10)
    assert server.requests == [("GET", "/key/info", f"Bearer {KEY}")]


async def test_litellm_without_a_budget_reports_spend_only(serve: Any) -> None:
    info = {"key": "hashed", "info": {"key_alias": "ci", "spend": 0.75, "max_budget": None, "budget_reset_at": None,
                                      "tpm_limit": None, "rpm_limit": None}}
    server = serve({("GET", "/key/info"): answer(info)})
    snap = await provider("litellm", server.url + "/v1").get_quota()
    assert snap.status == "ok" and snap.key == "ci"
    [budget] = snap.windows
    assert (budget.used, budget.limit, budget.used_percent, budget.resets_at) == (0.75, None, None, None)


async def test_deepseek_balance_per_currency(serve: Any) -> None:
    body = {"is_available": True, "balance_infos": [
        {"currency": "CNY", "total_balance": "110.00", "granted_balance": "10.00", "topped_up_balance": "100.00"},
        {"currency": "USD", "total_balance": "5.50", "granted_balance": "0.00", "topped_up_balance": "5.50"}]}
    server = serve({("GET", "/user/balance"): answer(body)})
    snap = await provider("deepseek", server.url + "/v1").get_quota()
    assert snap.status == "ok" and snap.message is None and snap.windows == []
    assert [(b.currency, b.remaining, b.granted, b.topped_up) for b in snap.balances] == [
        ("CNY", 110.0, 10.0, 100.0), ("USD", 5.5, 0.0, 5.5)]


async def test_deepseek_unavailable_balance_is_said(serve: Any) -> None:
    body = {"is_available": False, "balance_infos": []}
    server = serve({("GET", "/user/balance"): answer(body)})
    snap = await provider("deepseek", server.url + "/v1").get_quota()
    assert snap.status == "ok" and snap.balances == []
    assert snap.message is not None and "is_available is false" in snap.message


# ---------------------------------------------------------------------- the neutral contract and custom mappings


NEUTRAL = {"key": "team-a", "tokens": {"limit": 1_000_000, "used": 250_000, "remaining": 750_000,
                                       "resets_at": "2031-05-01T00:00:00+00:00"},
           "cost": {"currency": "EUR", "limit": 200, "used": 50.25, "remaining": 149.75}}


async def test_neutral_contract_on_an_openai_compatible_host(serve: Any, tmp_path: Path) -> None:
    server = serve({("GET", "/v1/quota"): answer(NEUTRAL)})
    env = env_with_config(tmp_path, '[providers.openai-compatible.quota]\npath = "/quota"\n')
    snap = await provider("openai-compatible", server.url + "/v1", env).get_quota()
    assert snap.status == "ok", snap.message
    assert snap.key == "team-a"
    [tokens] = snap.windows
    assert (tokens.name, tokens.unit, tokens.used, tokens.limit, tokens.remaining, tokens.used_percent) == (
        "tokens", "tokens", 250_000, 1_000_000, 750_000, 25.0)
    assert tokens.resets_at == datetime(2031, 5, 1, tzinfo=timezone.utc)
    [cost] = snap.balances
    assert (cost.currency, cost.limit, cost.used, cost.remaining) == ("EUR", 200, 50.25, 149.75)
    assert server.requests == [("GET", "/v1/quota", f"Bearer {KEY}")]


async def test_neutral_contract_on_a_defined_provider(serve: Any, tmp_path: Path) -> None:
    from agentos_llm import define_provider
    from agentos_llm.registry import _DEFINED

    server = serve({("GET", "/v1/usage/quota"): answer({"tokens": {"limit": 100, "used": 40}})})
    env = env_with_config(tmp_path, '[providers.quota-gw.quota]\npath = "/usage/quota"\n')
    define_provider("quota-gw", base="openai-compatible", config={"base_url": server.url + "/v1"})
    try:
        gw = create_provider("quota-gw", api_key=KEY, env=env)
        snap = await gw.get_quota()
    finally:
        del _DEFINED["quota-gw"]
    assert snap.status == "ok" and snap.provider == "quota-gw"
    assert (snap.windows[0].remaining, snap.windows[0].used_percent) == (60, 40.0)


async def test_a_custom_mapping_with_cents_epoch_ms_and_a_list(serve: Any, tmp_path: Path) -> None:
    body = {"account": {"tier": "gold", "credit_cents": 12345, "spent_cents": 655},
            "buckets": [{"kind": "requests", "max": 600, "left": 150, "reset_ms": 1_900_000_000_000},
                        {"kind": "tokens", "max": 90000, "left": 90000, "reset_in": 30}]}
    server = serve({("GET", "/v1/account/limits"): answer(body)})
    env = env_with_config(tmp_path, """
[providers.openai-compatible.quota]
path = "/account/limits"
header = "X-Api-Key"
scheme = ""

[providers.openai-compatible.quota.mapping]
plan = "account.tier"

[[providers.openai-compatible.quota.mapping.windows]]
name = "bucket"
unit = "requests"
each = "buckets"
name_path = "kind"
limit = "max"
remaining = "left"
resets_at = "reset_ms|reset_in"

[[providers.openai-compatible.quota.mapping.balances]]
currency = "USD"
remaining = "account.credit_cents"
used = "account.spent_cents"
divisor = 100
""")
    p = provider("openai-compatible", server.url + "/v1", env)
    snap = await p.get_quota()
    assert snap.status == "ok", snap.message
    assert snap.plan == "gold"
    requests, tokens = snap.windows
    assert (requests.name, requests.limit, requests.remaining, requests.used, requests.used_percent) == (
        "bucket requests", 600, 150, 450, 75.0)
    assert requests.resets_at == datetime.fromtimestamp(1_900_000_000, timezone.utc)
    assert tokens.name == "bucket tokens" and tokens.resets_at == snap.fetched_at + timedelta(seconds=30)
    [money] = snap.balances
    assert (money.remaining, money.used) == (123.45, 6.55)
    # The key went alone in the header the config names (the imitation records only Authorization).
    assert server.requests == [("GET", "/v1/account/limits", None)]


async def test_settings_argument_wins_over_the_row(serve: Any) -> None:
    server = serve({("GET", "/api/v1/gw-quota"): answer(NEUTRAL)})
    snap = await provider("openrouter", server.url + "/api/v1").get_quota(settings={"preset": "neutral",
                                                                                    "path": "/gw-quota"})
    assert snap.status == "ok" and snap.windows[0].name == "tokens"


# ---------------------------------------------------------------------- answers a quota endpoint must survive


def gateway(server: Imitation, tmp_path: Path, extra: str = "") -> IProvider:
    env = env_with_config(tmp_path, f'[providers.openai-compatible.quota]\npath = "/quota"\n{extra}')
    return provider("openai-compatible", server.url + "/v1", env)


async def test_malformed_json_is_an_error(serve: Any, tmp_path: Path) -> None:
    server = serve({("GET", "/v1/quota"): raw(200, b'{"tokens": {"limit": ', {"Content-Type": "application/json"})})
    snap = await gateway(server, tmp_path).get_quota()
    assert snap.status == "error" and "malformed JSON" in (snap.message or "")


async def test_a_non_json_content_type_is_an_error(serve: Any, tmp_path: Path) -> None:
    server = serve({("GET", "/v1/quota"): raw(200, json.dumps(NEUTRAL).encode(), {"Content-Type": "text/html"})})
    snap = await gateway(server, tmp_path).get_quota()
    assert snap.status == "error" and "not JSON (content-type text/html)" in (snap.message or "")
    assert snap.windows == [] and snap.balances == []


async def test_a_wrong_shape_is_an_error_not_zeros(serve: Any, tmp_path: Path) -> None:
    server = serve({("GET", "/v1/quota"): answer({"tokens": {"limit": "plenty"}})})
    snap = await gateway(server, tmp_path).get_quota()
    assert snap.status == "error" and "tokens.limit is not a number" in (snap.message or "")
    server2 = serve({("GET", "/v1/quota"): answer({"something": "else"})})
    snap2 = await gateway(server2, tmp_path).get_quota()
    assert snap2.status == "error" and "none of the fields" in (snap2.message or "")


async def test_401_is_unauthorized_and_never_echoes_the_key(serve: Any, tmp_path: Path) -> None:
    server = serve({("GET", "/v1/quota"): answer({"error": {"message": f"invalid key {KEY}"}}, 401)})
    snap = await gateway(server, tmp_path).get_quota()
    assert snap.status == "unauthorized"
    assert "HTTP 401" in (snap.message or "") and "the key was refused" in (snap.message or "")
    assert KEY not in snap.model_dump_json()


async def test_a_slow_answer_times_out(serve: Any, tmp_path: Path, release: threading.Event) -> None:
    def slow(handler: BaseHTTPRequestHandler, _body: Any) -> None:
        release.wait(30)
        send_json(handler, NEUTRAL)

    server = serve({("GET", "/v1/quota"): slow})
    snap = await gateway(server, tmp_path).get_quota(timeout=0.3)
    assert snap.status == "error" and "timed out" in (snap.message or "")


async def test_an_oversized_answer_is_refused(serve: Any, tmp_path: Path) -> None:
    big = {**NEUTRAL, "padding": "x" * 4096}
    server = serve({("GET", "/v1/quota"): answer(big)})
    snap = await gateway(server, tmp_path, "max_bytes = 1024\n").get_quota()
    assert snap.status == "error" and "larger than 1024 bytes" in (snap.message or "")


async def test_a_redirect_is_not_followed(serve: Any, tmp_path: Path) -> None:
    server = serve({("GET", "/v1/quota"): raw(302, b"", {"Location": "/v1/elsewhere"}),
                    ("GET", "/v1/elsewhere"): answer(NEUTRAL)})
    snap = await gateway(server, tmp_path).get_quota()
    assert snap.status == "error" and "redirected (HTTP 302 to /v1/elsewhere)" in (snap.message or "")
    assert [path for _, path, _ in server.requests] == ["/v1/quota"]


async def test_plain_http_to_another_host_is_refused_before_connecting(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    attempts: list[str] = []

    async def record(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args))
        raise AssertionError("no connection may be made")

    monkeypatch.setattr(asyncio, "open_connection", record)
    env = env_with_config(tmp_path, '[providers.openai-compatible.quota]\npath = "/quota"\n')
    snap = await provider("openai-compatible", "http://gateway.example/v1", env).get_quota()
    assert snap.status == "error" and "https" in (snap.message or "") and "gateway.example" in (snap.message or "")
    assert attempts == []


# ---------------------------------------------------------------------- settings and their errors


@pytest.mark.parametrize(("toml", "expected"), [
    ('pathh = "/quota"', "pathh: unknown key"),
    ('preset = "acme"', "preset 'acme' is unknown; use one of openrouter, litellm, deepseek, neutral, custom"),
    ('path = "quota"', "is not a path on the host (write it as /path"),
    ('path = "https://elsewhere.example/quota"', "is not a path on the host"),
    ('timeout = -1', "timeout: Input should be greater than 0"),
    ('preset = "custom"', "preset \"custom\" needs a mapping table"),
    ('header = "X Key"', "is not an HTTP header name"),
])
async def test_config_errors_name_the_file_the_key_and_the_fix(tmp_path: Path, toml: str, expected: str) -> None:
    env = env_with_config(tmp_path, f"[providers.openai-compatible.quota]\n{toml}\n")
    snap = await provider("openai-compatible", "http://127.0.0.1:9/v1", env).get_quota()
    assert snap.status == "error"
    message = snap.message or ""
    assert str(tmp_path / "config.toml") in message and "[providers.openai-compatible.quota]" in message
    assert expected in message


async def test_the_neutral_preset_needs_a_path(tmp_path: Path) -> None:
    env = env_with_config(tmp_path, '[providers.openai-compatible.quota]\npreset = "neutral"\n')
    snap = await provider("openai-compatible", "http://127.0.0.1:9/v1", env).get_quota()
    assert snap.status == "error" and 'needs path = "/..."' in (snap.message or "")


def test_settings_resolve_from_the_row_the_config_and_the_argument(tmp_path: Path) -> None:
    row = provider("litellm", "http://127.0.0.1:9/v1")
    assert quota_settings(row) == QuotaSettings(preset="litellm")
    env = env_with_config(tmp_path, '[providers.litellm.quota]\npath = "/proxy/key/info"\ntimeout = 3\n')
    configured = provider("litellm", "http://127.0.0.1:9/v1", env)
    settings = quota_settings(configured)
    assert settings is not None and (settings.preset, settings.path, settings.timeout) == (None, "/proxy/key/info", 3)
    assert quota_settings(configured, {"preset": "deepseek"}) == QuotaSettings(preset="deepseek")


async def test_disabled_in_config(tmp_path: Path) -> None:
    env = env_with_config(tmp_path, "[providers.openrouter.quota]\nenabled = false\n")
    snap = await provider("openrouter", "https://openrouter.ai/api/v1", env).get_quota()
    assert snap.status == "unsupported" and "enabled = false" in (snap.message or "")


def test_rows_name_known_presets() -> None:
    named = {pid: spec.quota for pid, spec in PROVIDERS.items() if spec.quota}
    assert {"openrouter": "openrouter", "litellm": "litellm", "deepseek": "deepseek"}.items() <= named.items()
    assert set(named.values()) <= set(PRESET_NAMES)


# ---------------------------------------------------------------------- rate-limit headers in snapshots


GROQ_HEADERS = {"x-ratelimit-limit-requests": "14400", "x-ratelimit-remaining-requests": "14370",
                "x-ratelimit-reset-requests": "2m59.56s", "x-ratelimit-limit-tokens": "18000",
                "x-ratelimit-remaining-tokens": "17997", "x-ratelimit-reset-tokens": "7.66s"}


async def test_no_endpoint_is_unsupported_until_headers_are_remembered() -> None:
    groq = provider("groq", "https://api.groq.com/openai/v1")
    snap = await groq.get_quota()
    assert snap.status == "unsupported" and "[providers.groq.quota]" in (snap.message or "")
    remember("groq", groq._listing_key(), GROQ_HEADERS)
    snap = await groq.get_quota()
    assert snap.status == "ok" and snap.source == "headers"
    requests, tokens = snap.windows
    assert (requests.name, requests.unit, requests.limit, requests.remaining, requests.used) == (
        "requests", "requests", 14400, 14370, 30)
    assert (tokens.unit, tokens.remaining, tokens.source) == ("tokens", 17997, "headers")
    # Another key of the same provider has heard nothing.
    other = create_provider("groq", api_key="quota-test-key-0002", env={})
    assert (await other.get_quota()).status == "unsupported"


async def test_endpoint_and_headers_together(serve: Any) -> None:
    server = serve({("GET", "/api/v1/key"): answer(OPENROUTER_KEY),
                    ("GET", "/api/v1/credits"): answer(OPENROUTER_CREDITS)})
    p = provider("openrouter", server.url + "/api/v1")
    remember("openrouter", p._listing_key(), {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "199",
                                               "X-RateLimit-Reset": "1900000000000"})
    snap = p.get_quota_sync()
    assert snap.status == "ok" and snap.source == "endpoint+headers"
    heard = [w for w in snap.windows if w.source == "headers"]
    assert [(w.name, w.limit, w.remaining) for w in heard] == [("requests", 200, 199)]


async def test_headers_survive_an_endpoint_failure(serve: Any, tmp_path: Path) -> None:
    server = serve({("GET", "/v1/quota"): answer({"error": "down"}, 503)})
    p = gateway(server, tmp_path)
    remember("openai-compatible", p._listing_key(), GROQ_HEADERS)
    snap = await p.get_quota()
    assert snap.status == "error" and "HTTP 503" in (snap.message or "")
    assert snap.source == "headers" and len(snap.windows) == 2


# ---------------------------------------------------------------------- the manager


class Exploding(FakeProvider):
    async def get_quota(self, *, timeout: float | None = None, settings: Any = None) -> QuotaSnapshot:
        raise RuntimeError("quota backend exploded")


async def test_manager_quotas_one_row_per_provider_whatever_fails(serve: Any, tmp_path: Path,
                                                                  release: threading.Event) -> None:
    def hang(handler: BaseHTTPRequestHandler, _body: Any) -> None:
        release.wait(30)

    good = serve({("GET", "/api/v1/key"): answer(OPENROUTER_KEY),
                  ("GET", "/api/v1/credits"): answer(OPENROUTER_CREDITS)})
    hung = serve({("GET", "/key/info"): hang})
    manager = AIModelProviderManager([
        provider("openrouter", good.url + "/api/v1"),
        provider("litellm", hung.url + "/v1"),
        provider("groq", "https://api.groq.com/openai/v1"),
        Exploding(provider_id="boom"),
    ])
    rows = await manager.quotas(timeout=0.5)
    assert [r.provider for r in rows] == ["openrouter", "litellm", "groq", "boom"]
    assert [r.status for r in rows] == ["ok", "error", "unsupported", "error"]
    assert "timed out" in (rows[1].message or "")
    assert "RuntimeError: quota backend exploded" in (rows[3].message or "")


def test_manager_quotas_sync(serve: Any) -> None:
    server = serve({("GET", "/user/balance"): answer({"is_available": True, "balance_infos": []})})
    manager = AIModelProviderManager([provider("deepseek", server.url + "/v1")])
    [row] = manager.quotas_sync(timeout=5)
    assert row.status == "ok" and row.provider == "deepseek"


# ---------------------------------------------------------------------- the docs' examples hold


def test_the_docs_examples_validate_and_read_as_documented() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    text = (Path(__file__).resolve().parent.parent / "docs" / "quota-and-cost.md").read_text(encoding="utf-8")
    section = text.split("## Quota", 1)[1].split("\n## ", 1)[0]
    tables = [tomllib.loads(block) for block in re.findall(r"```toml\n(.*?)```", section, re.S)]
    assert len(tables) == 2
    for table in tables:
        QuotaSettings.model_validate(table["providers"]["my-gateway"]["quota"])
    [contract] = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]
    mapped = apply_mapping(get_preset("neutral").endpoints[0].mapping, contract)
    assert mapped.windows[0].used_percent == 25.0 and mapped.balances[0].remaining == 149.75
