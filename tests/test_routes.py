"""Named routes and fallback for every call type, through the manager's public API.

FakeProvider answers from scripts (no HTTP); a few tests go through the OpenAI provider against the
loopback WireEmulator, where every request the server receives is counted.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm.errors import (
    APIConnectionError,
    ConfigurationError,
    ContentFilterError,
    ContextLengthExceededError,
    InvalidRequestError,
    QuotaExceededError,
    RateLimitError,
    RouteExhaustedError,
    ServerError,
    UnsupportedCapabilityError,
)
from agentos_llm.ledger import MemoryStore as LedgerStore
from agentos_llm.ledger import UsageLedger
from agentos_llm.manager import AIModelProviderManager, Route
from agentos_llm.options import EmbedOptions
from agentos_llm.provider import Call, Operation
from agentos_llm.registry import create_provider
from agentos_llm.testing import FakeProvider, Fault, Reply, WireEmulator
from agentos_llm.types import DoneEvent, Hop, StructuredResponse, TextDeltaEvent


class Flaky(FakeProvider):
    """A FakeProvider whose embed, rerank and count requests fail from a script too (`fail[op]`), and which
    counts tokens through a "count" request."""

    def __init__(self, *script: Any, provider_id: str, fail: Mapping[str, list[BaseException]] | None = None,
                 dims: int | None = None, **kw: Any) -> None:
        super().__init__(list(script), provider_id=provider_id, **kw)
        self.fail = {k: list(v) for k, v in (fail or {}).items()}
        self.sent: list[str] = []
        self.dims = dims

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        self.sent.append(op)
        errors = self.fail.get(op)
        if errors:
            raise errors.pop(0)
        if op == "count":
            return {"n": 7}
        return super()._send(op, request, timeout, headers)

    def _build_count_request(self, call: Call) -> Any:
        return call

    def _parse_token_count(self, payload: Any) -> int:
        return int(payload["n"])

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> Any:
        request = super()._build_embed_request(model, texts, options)
        if self.dims is not None:
            request["dimensions"] = self.dims  # a model that ignores `dimensions`
        return request


class OtherAPI(FakeProvider):
    api = "other-api"


MSGS = [{"role": "user", "content": "hi"}]


def _manager(*providers: Any, **kw: Any) -> AIModelProviderManager:
    return AIModelProviderManager(providers, **kw)


# ====================================================================== routes by name


def test_a_named_route_in_code_is_usable_wherever_a_model_id_is() -> None:
    a = FakeProvider([RateLimitError("busy", provider="a")], provider_id="a")
    b = FakeProvider(provider_id="b")
    m = _manager(a, b, routes={"fast": ["a/m1", "b/m2"]})
    r = m.generate_sync("fast", MSGS)
    assert (r.provider, r.model, r.text) == ("b", "m2", "Echo: hi")
    assert m.resolve("fast").model == "m1"
    assert "route 'fast', hop 1 of 2" in m.resolve("fast").reason
    assert m.describe("fast").splitlines()[1:] == ["  1. a/m1 (prefix 'a' names the provider)",
                                                    "  2. b/m2 (prefix 'b' names the provider)"]
    assert m.routes == {"fast": ("a/m1", "b/m2")}
    assert m.health()["routes"] == {"fast": ["a/m1", "b/m2"]}
    m.add_route("cheap", ["b/m3"])
    assert m.generate_sync("cheap", MSGS).model == "m3"
    assert m.remove_route("cheap") == ("b/m3",)
    assert "route fast: a/m1 -> b/m2" in m.describe()


@pytest.mark.parametrize(("name", "hops", "match"), [
    ("a/b", ["x/y"], "no / or :"), ("fast", [], "non-empty list"), ("fast", "x/y", "non-empty list"),
    ("fast", ["x/y", ""], "non-empty list"), ("openai", ["x/y"], "provider id"), ("b", ["x/y"], "provider id"),
])
def test_route_names_and_hops_are_checked(name: str, hops: Any, match: str) -> None:
    m = _manager(FakeProvider(provider_id="b"))
    with pytest.raises(ConfigurationError, match=match):
        m.add_route(name, hops)


def test_routes_from_the_config_file(tmp_path: Path) -> None:
    with WireEmulator() as emu:
        path = tmp_path / "config.toml"
        path.write_text(f"""
[routes]
fast = ["groq/llama-3.3-70b-versatile", "openai/gpt-4.1-mini"]

[providers.groq]
api_key = "gsk-test-config"
base_url = "{emu.openai_base_url}"

[providers.openai]
api_key = "sk-test-config"
base_url = "{emu.openai_base_url}"
""")
        m = AIModelProviderManager.from_env(env={"AGENTOS_LLM_CONFIG": str(path)}, order=["groq", "openai"],
                                            max_retries=0, routes={"solo": ["openai/gpt-4.1"]})
        emu.script(Fault(503), Reply("from openai"))
        r = m.generate_sync("fast", MSGS)
        assert (r.provider, r.text) == ("openai", "from openai")
        assert [h.provider for h in r.hops] == ["groq", "openai"]
        assert [req.body["model"] for req in emu.requests] == ["llama-3.3-70b-versatile", "gpt-4.1-mini"]
        assert m.routes["solo"] == ("openai/gpt-4.1",)
        m.close()


def test_a_bad_routes_table_in_the_config_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[routes]\nfast = "groq/llama-3.3-70b-versatile"\n')
    with pytest.raises(ConfigurationError, match=r"line 2: \[routes\] fast"):
        AIModelProviderManager.from_env(env={"AGENTOS_LLM_CONFIG": str(path)})


def test_the_fallback_argument_is_an_ad_hoc_route_and_may_name_routes() -> None:
    a = FakeProvider([ServerError("down"), ServerError("down")], provider_id="a")
    b = FakeProvider([ServerError("down")], provider_id="b")
    c = FakeProvider(provider_id="c")
    m = _manager(a, b, c, routes={"spares": ["b/m", "c/m"]})
    assert m.generate_sync("a/m", MSGS, fallback="c/m").provider == "c"
    r = m.generate_sync("a/m", MSGS, fallback=["spares"])
    assert [(h.provider, h.outcome) for h in r.hops] == [("a", "failed"), ("b", "failed"), ("c", "served")]


# ====================================================================== fallback for every call type


async def test_generate_and_stream_fall_back_sync_and_async() -> None:
    a = FakeProvider([RateLimitError("busy")] * 4, provider_id="a")
    m = _manager(a, FakeProvider(provider_id="b"), routes={"r": ["a/m", "b/m"]})
    assert (await m.generate("r", MSGS)).provider == "b"
    assert m.generate_sync("r", MSGS).provider == "b"
    async with m.stream("r", MSGS) as events:
        got = [e async for e in events]
    assert isinstance(got[-1], DoneEvent)
    assert [h.provider for h in got[-1].response.hops] == ["a", "b"]
    assert got[-1].response.hops[-1].usage == got[-1].response.usage
    with m.stream_sync("r", MSGS) as sevents:
        sgot = list(sevents)
    assert "".join(e.delta for e in sgot if isinstance(e, TextDeltaEvent)) == "Echo: hi"
    assert isinstance(sgot[-1], DoneEvent)
    # Three 429s in 30 s opened a's breaker (on by default): the fourth call skipped it without a request.
    assert [(h.outcome, h.error) for h in sgot[-1].response.hops] == [("skipped", "CircuitOpenError"),
                                                                        ("served", None)]
    assert len(a.calls) == 3


class Answer(BaseModel):
    answer: int


async def test_structured_output_falls_back() -> None:
    a = FakeProvider([QuotaExceededError("no credit"), QuotaExceededError("no credit")], provider_id="a")
    b = FakeProvider(['{"answer": 4}', '{"answer": 5}'], provider_id="b")
    m = _manager(a, b)
    got: StructuredResponse[Answer] = await m.generate_structured("a/m", MSGS, Answer, fallback=["b/m"])
    assert got.value == Answer(answer=4)
    assert [h.provider for h in got.response.hops] == ["a", "b"]
    assert m.generate_structured_sync("a/m", MSGS, Answer, fallback=["b/m"]).value.answer == 5


async def test_token_counting_falls_back() -> None:
    a = Flaky(provider_id="a", fail={"count": [ServerError("down"), ServerError("down")]})
    b = Flaky(provider_id="b")
    m = _manager(a, b)
    got = await m.count_tokens("a/m", MSGS, fallback=["b/m"])
    assert (got.provider, got.input_tokens, got.exact) == ("b", 7, True)
    assert [h.outcome for h in got.hops] == ["failed", "served"]
    assert m.count_tokens_sync("a/m", MSGS, fallback=["b/m"]).provider == "b"
    assert a.sent == ["count", "count"]


async def test_reranking_falls_back() -> None:
    a = Flaky(provider_id="a", fail={"rerank": [APIConnectionError("reset"), APIConnectionError("reset")]})
    b = Flaky(provider_id="b")
    m = _manager(a, b, routes={"rank": ["a/r1", "b/r2"]})
    got = await m.rerank("rank", "red apple", ["green pear", "red apple pie"], top_n=1)
    assert (got.provider, got.model, got.results[0].index) == ("b", "r2", 1)
    assert [h.error for h in got.hops] == ["APIConnectionError", None]
    assert m.rerank_sync("rank", "red", ["red"]).provider == "b"


# ====================================================================== embeddings: only to a hop of the same size


async def test_embeddings_fall_back_to_a_hop_of_the_same_size() -> None:
    # text-embedding-3-small and embed-v4.0 both answer 1536 dimensions by default (the library's table).
    a = Flaky(provider_id="a", fail={"embed": [ServerError("down")]}, dims=1536)
    b = Flaky(provider_id="b", dims=1536)
    m = _manager(a, b, routes={"vec": ["a/text-embedding-3-small", "b/embed-v4.0"]})
    got = await m.embed("vec", ["hello world"])
    assert (got.provider, len(got.vectors[0])) == ("b", 1536)
    assert [h.outcome for h in got.hops] == ["failed", "served"]


def test_embeddings_never_fall_back_to_another_size_or_an_unknown_one() -> None:
    a = Flaky(provider_id="a", fail={"embed": [ServerError("down")] * 3}, dims=1536)
    b = Flaky(provider_id="b", dims=1024)
    m = _manager(a, b)
    # mistral-embed is known to answer 1024: skipped without a request.
    with pytest.raises(RouteExhaustedError) as info:
        m.embed_sync("a/text-embedding-3-small", ["x"], fallback=["b/mistral-embed"])
    assert [h.outcome for h in info.value.hops] == ["failed", "skipped"]
    assert "1024 dimensions, the route's 1536" in (info.value.hops[1].note or "")
    assert b.sent == []
    # An unknown model's size is unknown: skipped too.
    with pytest.raises(RouteExhaustedError) as info:
        m.embed_sync("a/text-embedding-3-small", ["x"], fallback=["b/my-embedder"])
    assert "size is unknown" in (info.value.hops[1].note or "")
    assert b.sent == []


def test_the_route_size_is_learned_from_answers_and_a_wrong_answer_is_rejected() -> None:
    a = Flaky(provider_id="a")  # the fake embeds 8 dimensions unless told otherwise
    b = Flaky(provider_id="b")
    c = Flaky(provider_id="c", dims=16)  # ignores `dimensions`
    m = _manager(a, b, c)
    # Unknown models: once each has answered, the manager knows their size and allows the fallback.
    assert len(m.embed_sync("a/e1", ["x"]).vectors[0]) == 8
    assert len(m.embed_sync("b/e2", ["x"]).vectors[0]) == 8
    a.fail["embed"] = [ServerError("down")]
    got = m.embed_sync("a/e1", ["x"], fallback=["b/e2"])
    assert got.provider == "b"
    # With dimensions= every hop is expected to honour it; one that answers another size is rejected.
    a.fail["embed"] = [ServerError("down")]
    got = m.embed_sync("a/e1", ["x"], dimensions=8, fallback=["c/e3", "b/e2"])
    assert [(h.provider, h.outcome) for h in got.hops] == [("a", "failed"), ("c", "failed"), ("b", "served")]
    assert "16 dimensions, not 8" in (got.hops[1].note or "")
    assert got.hops[1].error == "UnsupportedCapabilityError"


# ====================================================================== context length: forward only


def _ctx_manager() -> tuple[AIModelProviderManager, dict[str, FakeProvider]]:
    fakes = {pid: FakeProvider(provider_id=pid) for pid in ("openai", "anthropic", "gemini", "local")}
    return _manager(*fakes.values()), fakes


def test_a_context_length_error_moves_forward_to_a_larger_window_only() -> None:
    m, f = _ctx_manager()
    f["openai"].add(ContextLengthExceededError("too long"))
    # gpt-4o: 128k; gpt-3.5-turbo: 16k (smaller: skipped); a model of unknown window: skipped; claude-3-haiku: 200k.
    r = m.generate_sync("openai/gpt-4o", MSGS,
                        fallback=["openai/gpt-3.5-turbo", "local/my-model", "anthropic/claude-3-haiku"])
    assert r.provider == "anthropic"
    assert [(h.model, h.outcome) for h in r.hops] == [
        ("gpt-4o", "failed"), ("gpt-3.5-turbo", "skipped"), ("my-model", "skipped"), ("claude-3-haiku", "served")]
    assert "not larger than 128000" in (r.hops[1].note or "")
    assert "unknown" in (r.hops[2].note or "")
    assert len(f["openai"].calls) == 1 and f["local"].calls == []


def test_never_back_to_a_smaller_window_even_after_another_kind_of_failure() -> None:
    m, f = _ctx_manager()
    f["gemini"].add(ContextLengthExceededError("too long"))
    f["openai"].add(ServerError("down"))
    with pytest.raises(RouteExhaustedError) as info:
        m.generate_sync("gemini/gemini-2.5-flash", MSGS, fallback=["openai/gpt-4.1", "anthropic/claude-3-haiku"])
    # gpt-4.1's window (1,047,576) is just under gemini-2.5-flash's (1,048,576); claude's 200k is smaller.
    assert [h.outcome for h in info.value.hops] == ["failed", "skipped", "skipped"]
    assert f["openai"].calls == [] and f["anthropic"].calls == []
    assert [type(e) for e in info.value.errors] == [ContextLengthExceededError]


# ====================================================================== what never falls back, what skips


@pytest.mark.parametrize("exc", [InvalidRequestError("bad parameter"), ContentFilterError("refused")])
async def test_an_invalid_request_never_falls_back(exc: Exception) -> None:
    b = FakeProvider(provider_id="b")
    m = _manager(FakeProvider([exc, exc], provider_id="a"), b)
    with pytest.raises(type(exc)):
        m.generate_sync("a/m", MSGS, fallback=["b/m"])
    with pytest.raises(type(exc)):
        await m.generate("a/m", MSGS, fallback=["b/m"])
    assert b.calls == []


def test_a_local_invalid_option_fails_before_any_hop_is_sent() -> None:
    b = FakeProvider(provider_id="b")
    m = _manager(FakeProvider(provider_id="a"), b)
    with pytest.raises(InvalidRequestError, match="unknown option"):
        m.generate_sync("a/m", MSGS, fallback=["b/m"], temprature=0.2)
    assert b.calls == []


def test_a_hop_that_cannot_take_the_request_is_skipped_with_a_note() -> None:
    a = FakeProvider([UnsupportedCapabilityError("a", "images", "model m takes no images")], provider_id="a")
    m = _manager(a, FakeProvider(provider_id="b"))
    r = m.generate_sync("a/m", MSGS, fallback=["b/m"])
    assert (r.hops[0].outcome, r.hops[0].error) == ("skipped", "UnsupportedCapabilityError")
    # With a single hop, the error is the caller's.
    a.add(UnsupportedCapabilityError("a", "images"))
    with pytest.raises(UnsupportedCapabilityError):
        m.generate_sync("a/m", MSGS)


def test_previous_response_id_pins_the_call_to_the_first_provider() -> None:
    b = FakeProvider(provider_id="b")
    m = _manager(FakeProvider([ServerError("down")], provider_id="a"), b)
    with pytest.raises(RouteExhaustedError) as info:
        m.generate_sync("a/m", MSGS, fallback=["b/m"], previous_response_id="resp_1")
    assert "previous_response_id belongs to a" in (info.value.hops[1].note or "")
    assert b.calls == []


# ====================================================================== options per hop


def test_options_are_mapped_per_hop_with_notes() -> None:
    fakes = [FakeProvider([ServerError("down")], provider_id="openai"), OtherAPI(provider_id="anthropic")]
    m = _manager(*fakes)
    r = m.generate_sync("openai/gpt-4.1", MSGS, fallback=["anthropic/claude-3-haiku"], max_tokens=20_000,
                        extra={"service_tier": "flex"}, deadline=30)
    first, second = fakes[0].calls[0].options, fakes[1].calls[0].options
    assert (first.max_tokens, first.extra) == (20_000, {"service_tier": "flex"})
    assert (second.max_tokens, second.extra) == (4096, None)  # claude-3-haiku writes at most 4096 tokens
    assert second.deadline is not None and second.deadline < 30
    assert r.hops[0].note is None
    assert r.hops[1].note == ("max_tokens 20000 clipped to 4096, the model's output limit; extra left out: its vendor "
                              "fields were given for openai")


# ====================================================================== hops, the hook, the exhausted error


def test_hops_and_on_fallback_report_every_move() -> None:
    seen: list[tuple[Hop, Route]] = []
    a = FakeProvider([RateLimitError("busy", retry_after=4)], provider_id="a")
    b = FakeProvider([ServerError("down")], provider_id="b")
    m = _manager(a, b, FakeProvider(provider_id="c"), routes={"r": ["a/m1", "b/m2", "c/m3"]},
                 on_fallback=lambda hop, nxt: seen.append((hop, nxt)))
    r = m.generate_sync("r", MSGS)
    assert [(h.provider, h.model, h.error, h.outcome) for h in r.hops] == [
        ("a", "m1", "RateLimitError", "failed"), ("b", "m2", "ServerError", "failed"), ("c", "m3", None, "served")]
    assert all(h.elapsed_ms >= 0 for h in r.hops)
    assert r.hops[-1].usage == r.usage
    assert [(h.provider, nxt.provider.provider_id, nxt.model) for h, nxt in seen] == [("a", "b", "m2"),
                                                                                     ("b", "c", "m3")]
    # A per-call hook replaces the manager's; a failing hook never breaks the call.
    calls: list[str] = []

    def broken(hop: Hop, nxt: Route) -> None:
        calls.append(hop.provider)
        raise RuntimeError("hook bug")

    a.add(RateLimitError("busy"))
    assert m.generate_sync("r", MSGS, on_fallback=broken).provider == "b"
    assert calls == ["a"]


def test_route_exhausted_carries_every_hop_error_and_pickles() -> None:
    a = FakeProvider([RateLimitError("busy", retry_after=9)], provider_id="a")
    b = FakeProvider([QuotaExceededError("no credit", retry_after=3)], provider_id="b")
    m = _manager(a, b, routes={"r": ["a/m1", "b/m2"]})
    with pytest.raises(RouteExhaustedError) as info:
        m.generate_sync("r", MSGS)
    err = info.value
    assert [type(e) for e in err.errors] == [RateLimitError, QuotaExceededError]
    assert isinstance(err.last, QuotaExceededError)
    assert (err.route, err.retry_after, err.code) == ("r", 3.0, "route_exhausted")
    assert "a/m1 (RateLimitError), b/m2 (QuotaExceededError)" in str(err)
    back = pickle.loads(pickle.dumps(err))
    assert [type(e) for e in back.errors] == [RateLimitError, QuotaExceededError]
    assert [h.provider for h in back.hops] == ["a", "b"]


def test_a_single_hop_raises_its_own_error() -> None:
    m = _manager(FakeProvider([ServerError("down")], provider_id="a"))
    with pytest.raises(ServerError):
        m.generate_sync("a/m", MSGS)


@pytest.fixture
def ledger() -> Iterator[UsageLedger]:
    led = UsageLedger(LedgerStore(), flush_interval=0.02)
    yield led
    led.close()


def test_the_ledger_marks_each_hop_of_a_named_route(ledger: UsageLedger) -> None:
    a = FakeProvider([RateLimitError("busy")], provider_id="a")
    m = _manager(a, FakeProvider(provider_id="b"), routes={"r": ["a/m", "b/m"]}, ledger=ledger)
    m.generate_sync("r", MSGS)
    assert ledger.flush(10)
    assert sorted((r.provider, r.status, r.fallback_hop) for r in ledger.store.rows()) == [
        ("a", "RateLimitError", 0), ("b", "ok", 1)]


# ====================================================================== through the wire


def test_fallback_through_the_wire_counts_requests_at_the_server() -> None:
    with WireEmulator() as emu:
        m = AIModelProviderManager([
            create_provider(pid, api_key=f"sk-test-{pid}", base_url=emu.openai_base_url, max_retries=0)
            for pid in ("groq", "openai")], routes={"fast": ["groq/llama-3.3-70b-versatile", "openai/gpt-4.1-mini"]})
        emu.script(Fault(429, retry_after="7"), Reply("served"))
        r = m.generate_sync("fast", MSGS)
        assert r.text == "served"
        assert emu.hits() == 2
        assert r.hops[0].error == "RateLimitError"
        # An invalid request: one request, no fallback.
        emu.script(Fault(400, body={"error": {"message": "bad", "type": "invalid_request_error"}}))
        with pytest.raises(InvalidRequestError):
            m.generate_sync("openai/gpt-4.1-mini", MSGS, fallback=["groq/llama-3.3-70b-versatile"])
        assert emu.hits() == 3
        m.close()
