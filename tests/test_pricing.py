"""What a call cost and where the price came from (`agentos_llm.pricing`).

Costs are compared with genai-prices' own `calc_price` for the same usage, at a fixed time (prices are
historic and some vary by time of day), and anchored to hand-computed figures for a few models.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from genai_prices.data_snapshot import get_snapshot

from agentos_llm import create_provider, define_provider, pricing
from agentos_llm.catalog import ModelListCache, catalog_entry, cost_usd
from agentos_llm.errors import ConfigurationError
from agentos_llm.registry import _DEFINED
from agentos_llm.testing import FakeProvider, FakeReply, Reply, WireEmulator
from agentos_llm.testing.openai_wire import openrouter_cost
from agentos_llm.types import DoneEvent, ModelInfo, Usage, UsageEvent

WHEN = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def fixed_time_no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pricing, "now", lambda: WHEN)
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))


def usage(input: int = 0, output: int = 0, cached: int = 0, written: int = 0, reasoning: int = 0,
          cost: float | None = None) -> Usage:
    return Usage(input_tokens=input, output_tokens=output, cached_input_tokens=cached,
                 cache_write_input_tokens=written, reasoning_tokens=reasoning, cost_usd=cost)


def reference(gp_provider: str, model: str, u: Usage, when: datetime = WHEN) -> float:
    """genai-prices' own calculation. Its input tokens include cache reads and writes, as ours do."""
    gp_usage = genai_prices.Usage(input_tokens=u.input_tokens, cache_read_tokens=u.cached_input_tokens,
                                  cache_write_tokens=u.cache_write_input_tokens, output_tokens=u.output_tokens,
                                  output_reasoning_tokens=u.reasoning_tokens)
    return float(genai_prices.calc_price(gp_usage, model, provider_id=gp_provider,
                                         genai_request_timestamp=when).total_price)


def priced(host: str, model: str, u: Usage, **kwargs: Any) -> Usage:
    pricing.price_usage(FakeProvider(provider_id=host, **kwargs), u, model)
    return u


# ---------------------------------------------------------------------- genai-prices, per vendor

SAMPLES = [
    ("openai", "openai", "gpt-4.1-mini", dict(input=1000, cached=200, output=100)),
    ("openai", "openai", "gpt-5", dict(input=2000, cached=1500, output=1500, reasoning=1000)),
    ("anthropic", "anthropic", "claude-sonnet-4-5", dict(input=3000, cached=1000, written=500, output=200)),
    # Past 200k input tokens the long-context tier applies to every token (genai-prices' cliff tiers).
    ("anthropic", "anthropic", "claude-sonnet-4-5", dict(input=250_000, cached=100_000, written=10_000, output=2000)),
    ("gemini", "google", "gemini-2.5-flash", dict(input=1200, cached=400, output=900, reasoning=700)),
    ("groq", "groq", "llama-3.3-70b-versatile", dict(input=5000, output=700)),
    ("mistral", "mistral", "mistral-medium-latest", dict(input=5000, cached=1000, output=700)),
    ("deepseek", "deepseek", "deepseek-chat", dict(input=5000, cached=3000, output=700)),
    ("xai", "x-ai", "grok-4", dict(input=5000, cached=1000, output=700, reasoning=300)),
    ("together", "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", dict(input=5000, output=700)),
    ("cerebras", "cerebras", "llama-3.3-70b", dict(input=5000, output=700)),
    ("openrouter", "openrouter", "anthropic/claude-sonnet-4.5", dict(input=5000, cached=1000, output=700)),
    ("bedrock", "aws", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", dict(input=3000, cached=1000, written=500,
                                                                          output=200)),
    ("bedrock", "aws", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", dict(input=3000, output=200)),
    ("cohere", "cohere", "command-a-03-2025", dict(input=5000, output=700)),
    ("voyage", "voyageai", "voyage-3.5", dict(input=5000)),
]


@pytest.mark.parametrize(("host", "gp_provider", "model", "counts"), SAMPLES,
                         ids=[f"{s[0]}:{s[2]}:{s[3]['input']}" for s in SAMPLES])
def test_cost_equals_genai_prices_own_calculation(host: str, gp_provider: str, model: str,
                                                  counts: dict[str, int]) -> None:
    u = priced(host, model, usage(**counts))
    assert u.cost_source == "genai-prices"
    expected = reference(gp_provider, model, u)
    assert expected > 0
    assert u.cost_usd == pytest.approx(expected, rel=1e-12)


def test_hand_computed_anchors() -> None:
    # gpt-4.1-mini: $0.40 input, $0.10 cached input, $1.60 output per 1M tokens.
    assert priced("openai", "gpt-4.1-mini", usage(1000, 100, cached=200)).cost_usd == pytest.approx(
        (800 * 0.4 + 200 * 0.1 + 100 * 1.6) / 1e6)
    # claude-sonnet-4-5: $3 input, $0.30 cache reads, $3.75 cache writes, $15 output.
    sonnet = (1500 * 3 + 1000 * 0.3 + 500 * 3.75 + 200 * 15) / 1e6
    assert priced("anthropic", "claude-sonnet-4-5", usage(3000, 200, cached=1000, written=500)).cost_usd == (
        pytest.approx(sonnet))
    # Bedrock's regional (us.) inference profiles cost 10% more than the global one.
    regional = priced("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                      usage(3000, 200, cached=1000, written=500))
    assert regional.cost_usd == pytest.approx(sonnet * 1.1)


def test_genai_prices_wins_over_the_catalog() -> None:
    for host, model, u in (("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", usage(3000, 200)),
                           ("anthropic", "claude-sonnet-4-5", usage(250_000, 2000))):
        from_catalog = cost_usd(catalog_entry(host, model), u)
        assert from_catalog is not None
        got = priced(host, model, u)
        assert got.cost_source == "genai-prices"
        assert got.cost_usd != pytest.approx(from_catalog)


def test_historic_prices_follow_the_time_of_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    before = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc)  # mistral-medium-latest: $0.40 / $2 then
    monkeypatch.setattr(pricing, "now", lambda: before)
    old = priced("mistral", "mistral-medium-latest", usage(1_000_000, 1_000_000))
    assert old.cost_usd == pytest.approx(0.4 + 2.0)
    assert old.cost_usd == pytest.approx(reference("mistral", "mistral-medium-latest", old, before))
    monkeypatch.setattr(pricing, "now", lambda: WHEN)  # $1.50 / $7.50 since 2026-06-16
    assert priced("mistral", "mistral-medium-latest", usage(1_000_000, 1_000_000)).cost_usd == pytest.approx(9.0)


@pytest.mark.parametrize(("host", "alias", "model"), [
    ("bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
     "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("gemini", "models/gemini-2.5-flash", "gemini-2.5-flash"),
    ("openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
])
def test_model_names_are_normalized(host: str, alias: str, model: str) -> None:
    a = priced(host, alias, usage(3000, 200, cached=1000))
    b = priced(host, model, usage(3000, 200, cached=1000))
    assert a.cost_source == b.cost_source == "genai-prices"
    assert a.cost_usd == pytest.approx(b.cost_usd)


def test_a_host_without_a_row_is_matched_by_its_base_url() -> None:
    groq = priced("my-groq-gateway", "llama-3.3-70b-versatile", usage(5000, 700),
                  base_url="https://api.groq.com/openai/v1")
    assert groq.cost_source == "genai-prices"
    assert groq.cost_usd == pytest.approx(reference("groq", "llama-3.3-70b-versatile", groq))
    local = priced("my-local-gateway", "llama-3.3-70b-versatile", usage(5000, 700), base_url="http://127.0.0.1:9/v1")
    assert (local.cost_usd, local.cost_source) == (None, "none")


def test_self_hosted_servers_are_never_priced_by_genai_prices() -> None:
    u = priced("ollama", "llama3.2", usage(5000, 700))
    assert (u.cost_usd, u.cost_source) == (None, "none")


def test_the_fast_path_equals_genai_prices_for_every_model_it_knows() -> None:
    # The compiled per-model price must agree with genai-prices' Decimal calculation everywhere: every model of
    # every provider, historic dates included, with cache reads, cache writes and reasoning in the usage.
    lib = pricing._genai()
    assert lib is not None
    shapes = [usage(1000, 300, cached=200, written=100, reasoning=50),
              usage(250_000, 2000, cached=120_000, written=30_000, reasoning=1000)]
    checked = 0
    for when in (WHEN, datetime(2025, 3, 1, 2, 0, tzinfo=timezone.utc)):
        for provider in get_snapshot().providers:
            for model in provider.models:
                price = model.get_prices(when)
                plan = pricing._plan_for(price, lib)
                assert plan is not None, (provider.id, model.id)
                for u in shapes:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        exact = model.calc_price(genai_prices.Usage(**pricing._usage_values(u)), provider,
                                                 genai_request_timestamp=when)
                    assert pricing._run(plan, u) == pytest.approx(float(exact.total_price), rel=1e-9, abs=1e-15), (
                        provider.id, model.id, when)
                    checked += 1
    assert checked > 1000


def test_genai_prices_own_calculation_answers_when_the_fast_path_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pricing, "_plan_for", lambda price, lib: None)
    u = priced("anthropic", "claude-sonnet-4-5", usage(250_000, 2000, cached=100_000, written=10_000))
    assert u.cost_source == "genai-prices"
    assert u.cost_usd == pytest.approx(reference("anthropic", "claude-sonnet-4-5", u), rel=1e-12)


# ---------------------------------------------------------------------- the order of the sources


def test_a_cost_the_provider_reported_wins() -> None:
    u = priced("openrouter", "anthropic/claude-sonnet-4.5", usage(5000, 700, cost=0.0123))
    assert (u.cost_usd, u.cost_source) == (0.0123, "provider")


@pytest.fixture(scope="module")
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


@pytest.mark.parametrize("stream", [False, True])
def test_openrouter_reported_cost_wins_over_the_wire(emu: WireEmulator, stream: bool) -> None:
    emu.reset()
    p = create_provider("openrouter", api_key="or-test", base_url=emu.url + "/api/v1", max_retries=0)
    emu.script(Reply("routed", prompt_tokens=1000, completion_tokens=200))
    if stream:
        events = list(p.stream_sync("anthropic/claude-sonnet-4.5", "x"))
        streamed = next(e for e in events if isinstance(e, UsageEvent)).usage
        assert (streamed.cost_usd, streamed.cost_source) == (pytest.approx(openrouter_cost(1000, 200)), "provider")
        done = events[-1]
        assert isinstance(done, DoneEvent)
        u = done.response.usage
    else:
        u = p.generate_sync("anthropic/claude-sonnet-4.5", "x").usage
    assert u.cost_source == "provider"
    assert u.cost_usd == pytest.approx(openrouter_cost(1000, 200))
    # genai-prices would have said something else: the reported figure is the one kept.
    assert u.cost_usd != pytest.approx(reference("openrouter", "anthropic/claude-sonnet-4.5", u))
    p.close()


def test_cost_from_headers() -> None:
    assert pricing.cost_from_headers({"x-litellm-response-cost": "0.00042"}) == pytest.approx(0.00042)
    assert pricing.cost_from_headers({"X-LiteLLM-Response-Cost": "1e-3"}) == pytest.approx(0.001)
    for bad in ({}, None, {"x-litellm-response-cost": "n/a"}, {"x-litellm-response-cost": "-1"},
                {"x-litellm-response-cost": "nan"}, {"other": "0.1"}):
        assert pricing.cost_from_headers(bad) is None


def _with_listing(p: FakeProvider, *models: ModelInfo) -> FakeProvider:
    p.models_cache = ModelListCache()
    p.models_cache.put(p._listing_key(), models)
    return p


def test_listing_prices_when_genai_prices_and_the_catalog_do_not_know_the_model() -> None:
    model = "acme/brand-new-model"
    p = _with_listing(FakeProvider(provider_id="openrouter"),
                      ModelInfo(id=model, provider="openrouter", input_price=2.0, output_price=6.0,
                                cached_input_price=0.5))
    assert pricing.genai_prices_cost("openrouter", model, usage(1, 1)) is None
    assert catalog_entry("openrouter", model) is None
    u = usage(3000, 100, cached=1000)
    pricing.price_usage(p, u, model)
    assert u.cost_source == "listing"
    assert u.cost_usd == pytest.approx((2000 * 2.0 + 1000 * 0.5 + 100 * 6.0) / 1e6)


FIREWORKS = "accounts/fireworks/models/llama-v3p3-70b-instruct"  # in the catalog, not in genai-prices


def test_the_catalog_answers_for_what_genai_prices_lacks() -> None:
    assert pricing.genai_prices_cost("fireworks", FIREWORKS, usage(1, 1)) is None
    u = priced("fireworks", FIREWORKS, usage(5000, 700))
    assert u.cost_source == "catalog"
    assert u.cost_usd == pytest.approx((5000 * 0.9 + 700 * 0.9) / 1e6)


def test_a_listing_price_wins_over_the_catalog_and_catalog_prices_merged_into_a_listing_stay_catalog() -> None:
    known = catalog_entry("fireworks", FIREWORKS)
    assert known is not None
    merged = _with_listing(FakeProvider(provider_id="fireworks"), known)  # a listing that priced nothing itself
    u = usage(5000, 700)
    pricing.price_usage(merged, u, FIREWORKS)
    assert u.cost_source == "catalog"
    own = _with_listing(FakeProvider(provider_id="fireworks"),
                        known.model_copy(update={"input_price": 1.0, "output_price": 2.0}))
    u = usage(5000, 700)
    pricing.price_usage(own, u, FIREWORKS)
    assert (u.cost_source, u.cost_usd) == ("listing", pytest.approx((5000 * 1.0 + 700 * 2.0) / 1e6))


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(path))


def test_config_prices_come_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path, monkeypatch, f"""
        [providers.fireworks.prices."my-finetune"]
        input = 1.0
        output = 3.0
        cached = 0.25

        [providers.fireworks.prices."{FIREWORKS}"]
        input = 50.0
        output = 50.0
    """)
    u = priced("fireworks", "my-finetune", usage(4000, 100, cached=1000))
    assert u.cost_source == "config"
    assert u.cost_usd == pytest.approx((3000 * 1.0 + 1000 * 0.25 + 100 * 3.0) / 1e6)
    assert priced("fireworks", FIREWORKS, usage(5000, 700)).cost_source == "catalog"


def test_a_bad_config_price_is_ignored_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    _config(tmp_path, monkeypatch, """
        [providers.fireworks.prices."typo-model"]
        input = "cheap"
    """)
    with caplog.at_level(logging.WARNING, logger="agentos_llm"):
        u = priced("fireworks", "typo-model", usage(4000, 100))
    assert (u.cost_usd, u.cost_source) == (None, "none")
    assert "typo-model" in caplog.text and "non-negative number" in caplog.text


@pytest.fixture
def clean_defined() -> Iterator[None]:
    before = set(_DEFINED)
    yield
    for name in set(_DEFINED) - before:
        del _DEFINED[name]
        pricing.register_prices(name, None)


def test_define_provider_prices(clean_defined: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    define_provider("priced-gateway", base=FakeProvider, config={"api_key": "gw-test"},
                    prices={"gw-model": {"input": 2, "output": 4}, "both": {"input": 9}})
    p = create_provider("priced-gateway")
    r = p.generate_sync("gw-model", "hello there")
    assert r.usage.cost_source == "config"
    assert r.usage.cost_usd == pytest.approx((r.usage.input_tokens * 2 + r.usage.output_tokens * 4) / 1e6)
    # The config file is asked before define_provider's prices.
    _config(tmp_path, monkeypatch, """
        [providers.priced-gateway.prices.both]
        input = 1
    """)
    u = usage(1000)
    pricing.price_usage(create_provider("priced-gateway"), u, "both")
    assert (u.cost_source, u.cost_usd) == ("config", pytest.approx(0.001))


def test_define_provider_rejects_bad_prices(clean_defined: None) -> None:
    with pytest.raises(ConfigurationError, match="unknown price key"):
        define_provider("bad-priced", base=FakeProvider, prices={"m": {"input": 1, "outptu": 2}})
    with pytest.raises(ConfigurationError, match="non-negative"):
        define_provider("bad-priced", base=FakeProvider, prices={"m": {"input": -1}})
    with pytest.raises(ConfigurationError, match="at least `input`"):
        define_provider("bad-priced", base=FakeProvider, prices={"m": {"output": 1}})


def test_nobody_knows() -> None:
    u = priced("openai", "no-such-model-anywhere", usage(5000, 700))
    assert (u.cost_usd, u.cost_source) == (None, "none")


# ---------------------------------------------------------------------- where costs are filled


def test_generate_stream_embed_and_rerank_carry_cost_and_source() -> None:
    p = FakeProvider([FakeReply(text="a b", usage=usage(1000, 100, cached=200))], provider_id="openai")
    r = p.generate_sync("gpt-4.1-mini", "hi")
    assert (r.usage.cost_source, r.usage.cost_usd) == ("genai-prices", pytest.approx(0.0005))
    e = p.embed_sync("text-embedding-3-small", ["one two three", "four"])
    assert e.usage.cost_source == "genai-prices"
    assert e.usage.cost_usd == pytest.approx(4 * 0.02 / 1e6)
    ranked = p.rerank_sync("some-rerank-model", "q", ["d"])
    assert ranked.usage.cost_source == "none"


def test_the_stream_usage_event_carries_the_cost_as_done_does() -> None:
    p = FakeProvider([FakeReply(text="a b c", usage=usage(3000, 200, cached=1000, written=500))],
                     provider_id="anthropic")
    seen: list[tuple[float | None, str | None]] = []
    done = None
    for event in p.stream_sync("claude-sonnet-4-5", "hi"):
        if isinstance(event, UsageEvent):
            seen.append((event.usage.cost_usd, event.usage.cost_source))  # as the caller sees it, then
        elif isinstance(event, DoneEvent):
            done = event.response
    assert done is not None
    assert seen == [(pytest.approx(done.usage.cost_usd), "genai-prices")]
    assert done.usage.cost_usd == pytest.approx(reference("anthropic", "claude-sonnet-4-5", done.usage))


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_real_stream_usage_event_is_priced(emu: WireEmulator, use_async: bool) -> None:
    emu.reset()
    p = create_provider("openai", api_key="sk-test", base_url=emu.openai_base_url, max_retries=0)
    emu.script(Reply("hello there", prompt_tokens=1000, completion_tokens=100, cached_tokens=200))
    if use_async:
        async with p.stream("gpt-4.1-mini", "hi") as stream:
            events = [e async for e in stream]
    else:
        events = list(p.stream_sync("gpt-4.1-mini", "hi"))
    streamed = next(e for e in events if isinstance(e, UsageEvent)).usage
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert streamed is not done.response.usage  # the OpenAI assembler makes two objects: both were priced
    assert (streamed.cost_source, done.response.usage.cost_source) == ("genai-prices", "genai-prices")
    assert streamed.cost_usd == pytest.approx(done.response.usage.cost_usd) == pytest.approx(0.0005)
    await p.aclose()


def test_usage_sums_keep_or_mix_their_sources() -> None:
    a = Usage(input_tokens=1, cost_usd=0.1, cost_source="genai-prices")
    b = Usage(input_tokens=1, cost_usd=0.2, cost_source="genai-prices")
    assert (a + b).cost_source == "genai-prices"
    assert (a + Usage(input_tokens=1)).cost_source == "genai-prices"
    assert (Usage() + b).cost_source == "genai-prices"
    mixed = a + Usage(input_tokens=1, cost_usd=0.3, cost_source="catalog")
    assert (mixed.cost_source, mixed.cost_usd) == ("mixed", pytest.approx(0.4))
    assert (a + Usage(input_tokens=1, cost_source="none")).cost_source == "mixed"
    assert (Usage() + Usage()).cost_source is None


# ---------------------------------------------------------------------- import time


def test_price_data_loads_on_the_first_cost_not_at_import() -> None:
    code = textwrap.dedent("""
        import json, sys
        import agentos_llm
        from agentos_llm import create_provider
        from agentos_llm.testing import FakeProvider
        from agentos_llm.types import Usage
        p = FakeProvider(provider_id="openai")
        after_import = "genai_prices" in sys.modules
        r = p.generate_sync("gpt-4.1-mini", "hi")
        print(json.dumps({"after_import": after_import, "after_call": "genai_prices" in sys.modules,
                          "source": r.usage.cost_source}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"after_import": False, "after_call": True, "source": "genai-prices"}


def test_the_current_price_plan_is_looked_up_once_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentos_llm.types import Usage

    usage = Usage(input_tokens=1000, output_tokens=100)
    monkeypatch.setattr(pricing, "now", pricing._system_now)  # this file fixes the clock; the cache is for the real one
    pricing._current_plans.clear()
    expected = pricing.genai_prices_cost("openai", "gpt-4o-mini", usage, when=datetime.now(timezone.utc))
    assert expected is not None
    lookups: list[Any] = []
    real = pricing._plan_for
    monkeypatch.setattr(pricing, "_plan_for", lambda price, lib: lookups.append(price) or real(price, lib))
    clock = [1000.0]
    monkeypatch.setattr(pricing.time, "monotonic", lambda: clock[0])
    costs = [pricing.genai_prices_cost("openai", "gpt-4o-mini", usage) for _ in range(5)]
    assert costs == [expected] * 5 and len(lookups) == 1  # the plan of the minute, reused
    clock[0] += pricing._CURRENT_PLAN_SECONDS + 1
    assert pricing.genai_prices_cost("openai", "gpt-4o-mini", usage) == expected and len(lookups) == 2
    # A fixed `now` (or a given `when`) is looked up every time: a test's clock, or a past price, is honoured.
    monkeypatch.setattr(pricing, "now", lambda: datetime(2025, 1, 1, tzinfo=timezone.utc))
    pricing.genai_prices_cost("openai", "gpt-4o-mini", usage)
    pricing.genai_prices_cost("openai", "gpt-4o-mini", usage)
    assert len(lookups) == 4


def test_prices_are_prefetched_once_in_the_background_and_a_price_meanwhile_waits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from agentos_llm.types import Usage

    monkeypatch.setattr(pricing, "_lib", None)
    monkeypatch.setattr(pricing, "_lib_failed", False)
    monkeypatch.setattr(pricing, "_prefetching", False)
    started = threading.Event()
    release = threading.Event()
    real = pricing._GenaiPrices
    loads: list[int] = []

    def slow() -> Any:
        loads.append(1)
        started.set()
        assert release.wait(10)
        return real()

    monkeypatch.setattr(pricing, "_GenaiPrices", slow)
    pricing.prefetch()
    pricing.prefetch()  # once per process
    assert started.wait(10)
    loaders = [t for t in threading.enumerate() if t.name == "agentos-llm-prices"]
    assert len(loaders) == 1 and loaders[0].daemon
    got: list[float | None] = []
    asking = threading.Thread(target=lambda: got.append(pricing.genai_prices_cost(
        "openai", "gpt-4o-mini", Usage(input_tokens=1000, output_tokens=100))))
    asking.start()
    asking.join(0.2)
    assert asking.is_alive() and not got  # waits for the load, never loads a second time
    release.set()
    asking.join(10)
    loaders[0].join(10)
    assert got and got[0] is not None and pricing._lib is not None
    assert len(loads) == 1
