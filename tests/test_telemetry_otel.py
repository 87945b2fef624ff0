"""OpenTelemetry GenAI spans and metrics, read back from the SDK's in-memory exporter and metric reader."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel
from telemetry_helpers import API_KEY, Otel, attrs, instrumented, make_otel

from agentos_llm import AIModelProviderManager, ToolDefinition, create_provider, telemetry
from agentos_llm.errors import RateLimitError
from agentos_llm.testing import FakeProvider, FakeReply, Fault, Reply, WireEmulator
from agentos_llm.types import Message, Usage


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield from instrumented()


@pytest.fixture
def emulator() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


def openai_at(emu: WireEmulator) -> object:
    return create_provider("openai", api_key=API_KEY, base_url=emu.openai_base_url, max_retries=0)


# ---------------------------------------------------------------------- spans of provider calls


def test_generate_span_follows_the_genai_conventions(otel: Otel, emulator: WireEmulator) -> None:
    emulator.script(Reply(text="hello there", prompt_tokens=11, completion_tokens=2, cached_tokens=4))
    provider = create_provider("openai", api_key=API_KEY, base_url=emulator.openai_base_url, max_retries=0)
    with provider:
        r = provider.generate_sync("gpt-4o-mini", "hi", temperature=0.2, max_tokens=50, top_p=0.9, stop="END",
                                   seed=7)
    span = otel.span("chat gpt-4o-mini")
    a = attrs(span)
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.model"] == r.model
    assert a["gen_ai.response.id"] == r.id and r.id
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (11, 2)
    assert a["gen_ai.usage.cache_read.input_tokens"] == 4
    assert a["gen_ai.request.temperature"] == 0.2 and a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.request.top_p"] == 0.9 and a["gen_ai.request.seed"] == 7
    assert a["gen_ai.request.stop_sequences"] == ("END",)
    assert a["server.address"] == "127.0.0.1"
    assert a["server.port"] == int(emulator.openai_base_url.split(":")[2].split("/")[0])
    assert a["agentos_llm.api"] == "openai-chat"
    assert a.get("agentos_llm.response.request_id") == r.request_id
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a  # content is opt-in
    assert "gen_ai.request.top_k" not in a  # options not given are not set


def test_error_span_and_duration_metric_say_the_error_type(otel: Otel, emulator: WireEmulator) -> None:
    emulator.script(Fault(status=429, body={"error": {"message": "slow down", "type": "rate_limit_error"}}))
    with openai_at(emulator) as provider, pytest.raises(RateLimitError):  # type: ignore[attr-defined]
        provider.generate_sync("gpt-4o-mini", "hi")
    span = otel.span("chat gpt-4o-mini")
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == "RateLimitError"
    assert attrs(span)["http.response.status_code"] == 429
    assert any(e.name == "exception" for e in span.events)
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert dict(point.attributes)["error.type"] == "RateLimitError"
    assert otel.points("gen_ai.client.token.usage") == []  # a failed call used no tokens it can report


def test_stream_span_ends_when_the_stream_ends(otel: Otel, emulator: WireEmulator) -> None:
    emulator.script(Reply(text="a streamed answer", prompt_tokens=5, completion_tokens=3))
    with openai_at(emulator) as provider:  # type: ignore[attr-defined]
        events = provider.stream_sync("gpt-4o-mini", "stream it")
        next(events)
        assert otel.spans() == []  # open while the answer streams
        for _ in events:
            pass
    a = attrs(otel.span("chat gpt-4o-mini"))
    assert a["agentos_llm.operation"] == "stream" and a["gen_ai.request.stream"] is True
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (5, 3)
    assert a["gen_ai.response.time_to_first_chunk"] > 0
    assert len(otel.points("gen_ai.client.operation.time_to_first_chunk")) == 1


def test_stream_closed_early_ends_its_span_as_cancelled(otel: Otel) -> None:
    provider = FakeProvider(["one two three four five six"])
    with provider.stream_sync("fake-model", "x") as events:
        next(events)
    span = otel.span("chat fake-model")
    assert attrs(span)["agentos_llm.stream.cancelled"] is True
    assert span.status.status_code is StatusCode.UNSET


async def test_async_stream_left_early_ends_its_span(otel: Otel) -> None:
    provider = FakeProvider(["one two three four five six"])
    async with provider.stream("fake-model", "x") as events:
        async for _ in events:
            break
    assert attrs(otel.span("chat fake-model"))["agentos_llm.stream.cancelled"] is True


async def test_the_call_span_is_current_while_the_request_is_sent(otel: Otel) -> None:
    seen: list[str] = []

    def answer(call: object) -> str:
        seen.append(trace.get_current_span().name)  # type: ignore[attr-defined]
        return "ok"

    provider = FakeProvider([answer, answer])
    await provider.generate("fake-model", "x")
    provider.generate_sync("fake-model", "x")
    assert seen == ["chat fake-model", "chat fake-model"]  # an HTTP client's spans would nest under it


class Person(BaseModel):
    name: str


def test_structured_output_spans_its_attempts(otel: Otel) -> None:
    provider = FakeProvider(["not json", '{"name": "Ada"}'])
    result = provider.generate_structured_sync("fake-model", "who?", Person)
    assert result.value.name == "Ada"
    outer = otel.span("structured fake-model")
    attempts = otel.spans("chat fake-model")
    assert len(attempts) == 2
    assert all(s.parent is not None and s.parent.span_id == outer.context.span_id for s in attempts)
    assert attrs(outer)["agentos_llm.structured.attempts"] == 2
    assert attrs(outer)["gen_ai.output.type"] == "json"
    assert all(attrs(s)["gen_ai.output.type"] == "json" for s in attempts)
    assert "gen_ai.operation.name" not in attrs(outer)  # not counted twice as a chat call
    assert len(otel.points("gen_ai.client.operation.duration")[0].bucket_counts) > 0
    assert otel.points("gen_ai.client.operation.duration")[0].count == 2  # the attempts, not the wrapper


async def test_embed_rerank_and_count_tokens_spans(otel: Otel, emulator: WireEmulator) -> None:
    provider = FakeProvider()
    provider.embed_sync(None, ["a", "b", "c"])
    await provider.rerank(None, "query", ["d1", "d2"])
    embed = attrs(otel.span("embeddings fake-embedding"))
    assert embed["gen_ai.operation.name"] == "embeddings" and embed["agentos_llm.embed.inputs"] == 3
    assert embed["gen_ai.embeddings.dimension.count"] > 0
    rerank = attrs(otel.span("rerank fake-rerank"))
    assert rerank["gen_ai.operation.name"] == "rerank" and rerank["agentos_llm.rerank.documents"] == 2
    emulator.script(Reply(prompt_tokens=42))
    anthropic = create_provider("anthropic", api_key=API_KEY, base_url=emulator.anthropic_base_url, max_retries=0)
    with anthropic:
        count = anthropic.count_tokens_sync("claude-sonnet-4-5", "how many?")
    span = attrs(otel.span("count_tokens claude-sonnet-4-5"))
    assert span["gen_ai.operation.name"] == "count_tokens" and span["gen_ai.provider.name"] == "anthropic"
    assert span["agentos_llm.token_count.input_tokens"] == count.input_tokens == 42
    assert "gen_ai.usage.input_tokens" not in span  # a count used nothing


# ---------------------------------------------------------------------- the manager: hops as child spans


def test_fallback_hops_are_child_spans_of_the_route_span(otel: Otel) -> None:
    busy = FakeProvider([RateLimitError("slow down", provider="busy")], provider_id="busy")
    spare = FakeProvider([FakeReply(text="served", usage=Usage(input_tokens=3, output_tokens=1))], provider_id="spare")
    manager = AIModelProviderManager([busy, spare], breakers=False)
    r = manager.generate_sync("busy/fake-model", "hi", fallback=["spare/fake-model"])
    assert r.text == "served"
    route = otel.span("route busy/fake-model")
    hops = otel.spans("chat fake-model")
    assert len(hops) == 2
    assert all(h.parent is not None and h.parent.span_id == route.context.span_id for h in hops)
    failed, served = sorted(hops, key=lambda s: s.start_time or 0)
    assert attrs(failed)["gen_ai.provider.name"] == "busy" and attrs(failed)["error.type"] == "RateLimitError"
    assert attrs(served)["gen_ai.provider.name"] == "spare" and "error.type" not in attrs(served)
    ra = attrs(route)
    assert ra["agentos_llm.route.served_by"] == "spare/fake-model" and ra["agentos_llm.route.hops"] == 2
    assert ra["agentos_llm.route.targets"] == ("busy/fake-model", "spare/fake-model")
    assert [e.attributes["agentos_llm.hop.outcome"] for e in route.events] == ["failed", "served"]  # type: ignore[index]
    assert "gen_ai.usage.input_tokens" not in ra  # tokens are counted once, on the hop that used them


async def test_manager_stream_route_span_parents_its_hop(otel: Otel) -> None:
    busy = FakeProvider([RateLimitError("slow down", provider="busy")], provider_id="busy")
    spare = FakeProvider(["streamed"], provider_id="spare")
    manager = AIModelProviderManager([busy, spare], breakers=False)
    async with manager.stream("busy/fake-model", "hi", fallback=["spare/fake-model"]) as events:
        texts = [e async for e in events]
    assert texts[-1].type == "done"
    route = otel.span("route busy/fake-model")
    assert all(s.parent is not None and s.parent.span_id == route.context.span_id
               for s in otel.spans("chat fake-model"))
    assert len(otel.spans("chat fake-model")) == 2


def test_route_failure_marks_the_route_span(otel: Otel) -> None:
    manager = AIModelProviderManager([FakeProvider([RateLimitError("slow down", provider="fake")])], breakers=False)
    with pytest.raises(RateLimitError):
        manager.generate_sync("fake/fake-model", "hi")
    route = otel.span("route fake/fake-model")
    assert route.status.status_code is StatusCode.ERROR and attrs(route)["error.type"] == "RateLimitError"


# ---------------------------------------------------------------------- metrics


def test_token_usage_and_duration_histograms(otel: Otel) -> None:
    provider = FakeProvider([FakeReply(text="a", usage=Usage(input_tokens=10, output_tokens=4)),
                             FakeReply(text="b", usage=Usage(input_tokens=6, output_tokens=2))])
    provider.generate_sync("fake-model", "one")
    provider.generate_sync("fake-model", "two")
    usage = otel.metric("gen_ai.client.token.usage")
    assert usage.unit == "{token}"
    by_type = {dict(p.attributes)["gen_ai.token.type"]: p for p in usage.data.data_points}
    assert (by_type["input"].sum, by_type["input"].count) == (16, 2)
    assert (by_type["output"].sum, by_type["output"].count) == (6, 2)
    assert list(by_type["input"].explicit_bounds)[:4] == [1, 4, 16, 64]
    point_attrs = dict(by_type["input"].attributes)
    assert point_attrs["gen_ai.operation.name"] == "chat" and point_attrs["gen_ai.provider.name"] == "fake"
    assert point_attrs["gen_ai.request.model"] == "fake-model"
    duration = otel.metric("gen_ai.client.operation.duration")
    assert duration.unit == "s"
    (point,) = duration.data.data_points
    assert point.count == 2 and 0 < point.sum < 60
    assert "error.type" not in dict(point.attributes)


# ---------------------------------------------------------------------- message content: opt-in, never keys


def test_content_is_recorded_only_when_asked(monkeypatch: pytest.MonkeyPatch, emulator: WireEmulator) -> None:
    weather = ToolDefinition(name="get_weather", description="Weather of a city",
                             parameters={"type": "object", "properties": {"city": {"type": "string"}}})
    history = [Message(role="system", content="Be brief."), Message(role="user", content="Weather in Paris?")]
    for setting, env, expected in ((None, "true", True), (None, "", False), (False, "true", False),
                                   (True, "", True)):
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", env)
        found = make_otel(capture_content=setting)
        emulator.script(Reply(text="Sunny."))
        try:
            with openai_at(emulator) as provider:  # type: ignore[attr-defined]
                provider.generate_sync("gpt-4o-mini", history, tools=[weather],
                                       api_key="sk-request-key-never-recorded-0001")
            a = attrs(found.span("chat gpt-4o-mini"))
        finally:
            telemetry.uninstrument()
        assert ("gen_ai.input.messages" in a) is expected, (setting, env)
        assert not any("sk-request-key-never-recorded" in str(v) for v in a.values())
        if expected:
            assert json.loads(a["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
            assert json.loads(a["gen_ai.input.messages"]) == [
                {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
            out = json.loads(a["gen_ai.output.messages"])
            assert out[0]["role"] == "assistant" and out[0]["finish_reason"] == "stop"
            assert out[0]["parts"] == [{"type": "text", "content": "Sunny."}]
            assert json.loads(a["gen_ai.tool.definitions"])[0]["name"] == "get_weather"


def test_uninstrument_stops_spans(otel: Otel) -> None:
    telemetry.uninstrument()
    assert not telemetry.is_instrumented()
    FakeProvider().generate_sync("fake-model", "x")
    assert otel.spans() == []
