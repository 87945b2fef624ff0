"""Sync twins inside a running event loop, and the scripted `FakeProvider` (also under `define_provider`)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from agentos_llm import (
    CompletionResponse,
    DoneEvent,
    FinishReason,
    Message,
    TextDeltaEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    Usage,
    UsageEvent,
    create_provider,
    define_provider,
    provider_value,
)
from agentos_llm import registry as registry_module
from agentos_llm.errors import (
    AuthenticationError,
    InvalidRequestError,
    ProviderError,
    ServerError,
    StructuredOutputError,
)
from agentos_llm.provider import Call, IProvider
from agentos_llm.registry import OverrideContext
from agentos_llm.testing import FakeProvider, FakeReply, Reply, WireEmulator

T = TypeVar("T")
DEADLOCK_TIMEOUT = 15.0


def in_running_loop(fn: Callable[[], T], timeout: float = DEADLOCK_TIMEOUT) -> T:
    """Runs `fn` (blocking code) from inside a coroutine on a running event loop.

    The loop lives in a daemon thread joined with a timeout, so a deadlock fails the test
    instead of hanging the suite.
    """
    outcome: dict[str, Any] = {}

    async def inside() -> T:
        assert asyncio.get_running_loop().is_running()
        return fn()

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(inside())
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="sync-twin-in-loop", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"a sync twin deadlocked inside a running event loop (no result after {timeout:g} s)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def done_of(events: list[Any]) -> CompletionResponse:
    dones = [e for e in events if isinstance(e, DoneEvent)]
    assert len(dones) == 1 and events[-1] is dones[0]
    return dones[0].response


class City(BaseModel):
    name: str
    population: int


# --------------------------------------------------------------------------------------------
# the OpenAI provider's sync twins inside a running loop
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
async def openai_provider(emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = create_provider("openai", api_key="sk-test", base_url=emu.openai_base_url, max_retries=0)
    yield p
    await p.aclose()


async def test_openai_sync_twins_inside_a_running_loop(emu: WireEmulator, openai_provider: IProvider) -> None:
    p = openai_provider
    assert asyncio.get_running_loop().is_running()
    emu.script(Reply("whole"), Reply("streamed answer"), Reply('{"name": "Lyon", "population": 520000}'))

    response = in_running_loop(lambda: p.generate_sync("gpt-4o", "hi"))
    assert response.text == "whole"

    events = in_running_loop(lambda: list(p.stream_sync("gpt-4o", "hi")))
    assert done_of(events).text == "streamed answer"

    structured = in_running_loop(lambda: p.generate_structured_sync("gpt-4o", "city?", City))
    assert structured.value == City(name="Lyon", population=520000)

    embedded = in_running_loop(lambda: p.embed_sync("text-embedding-3-small", ["a", "b", "c"]))
    assert len(embedded.vectors) == 3

    models = in_running_loop(p.list_models_sync)
    assert "gpt-4o" in [m.id for m in models]

    health = in_running_loop(p.check_health_sync)
    assert health.ok is True

    assert emu.hits() == 3 and emu.hits("/embeddings") == 1 and emu.hits("/models") == 2


async def test_async_calls_still_work_after_the_sync_twins(emu: WireEmulator, openai_provider: IProvider) -> None:
    # A notebook mixes both: sync twins must not leave the async client bound to another loop.
    p = openai_provider
    assert in_running_loop(p.check_health_sync).ok
    assert in_running_loop(lambda: p.generate_sync("gpt-4o", "sync")).text == "Echo: sync"
    assert (await p.generate("gpt-4o", "async")).text == "Echo: async"
    assert (await p.check_health()).ok
    assert p.check_health_sync().ok
    assert (await p.generate("gpt-4o", "async again")).text == "Echo: async again"
    events = [e async for e in p.stream("gpt-4o", "streamed")]
    assert done_of(events).text == "Echo: streamed"


async def test_sync_twins_called_directly_in_the_test_loop(emu: WireEmulator, openai_provider: IProvider) -> None:
    # Built-in providers' sync twins use the vendor's sync client: no loop is involved at all.
    p = openai_provider
    assert p.generate_sync("gpt-4o", "direct").text == "Echo: direct"
    assert done_of(list(p.stream_sync("gpt-4o", "direct stream"))).text == "Echo: direct stream"
    assert len(p.embed_sync(None, "one").vectors) == 1
    assert p.list_models_sync()


# --------------------------------------------------------------------------------------------
# FakeProvider
# --------------------------------------------------------------------------------------------


async def test_fake_scripted_text_and_echo() -> None:
    fake = FakeProvider(["first answer", FakeReply(text="second answer", usage=Usage(input_tokens=3, output_tokens=2))])
    first = await fake.generate(None, "question one")
    assert first.text == "first answer"
    assert first.provider == "fake" and first.model == "fake-model"
    assert first.finish_reason is FinishReason.STOP
    assert first.usage.input_tokens == 2 and first.usage.output_tokens == 2
    second = fake.generate_sync("my-model", "question two")
    assert second.text == "second answer" and second.model == "my-model"
    assert (second.usage.input_tokens, second.usage.output_tokens, second.usage.total_tokens) == (3, 2, 5)
    third = await fake.generate(None, [{"role": "system", "content": "s"}, {"role": "user", "content": "ping"}])
    assert third.text == "Echo: ping"
    assert [c.messages[-1].text for c in fake.calls] == ["question one", "question two", "ping"]


async def test_fake_tool_calls() -> None:
    calls = [
        ToolCall(id="c1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="c2", name="get_time", arguments={"tz": "CET"}),
    ]
    fake = FakeProvider([FakeReply(tool_calls=calls)])
    response = await fake.generate("m", "weather?", tools=[{"name": "get_weather"}, {"name": "get_time"}])
    assert response.tool_calls == calls
    assert response.message.tool_calls == calls
    assert response.finish_reason is FinishReason.TOOL_CALLS
    assert [t.name for t in fake.calls[0].options.tools or ()] == ["get_weather", "get_time"]


async def test_fake_exceptions() -> None:
    fake = FakeProvider([AuthenticationError("bad key", status_code=401), RuntimeError("kaput"), "fine"])
    with pytest.raises(AuthenticationError):
        await fake.generate(None, "a")
    with pytest.raises(ProviderError) as info:
        fake.generate_sync(None, "b")
    # A foreign exception is wrapped and kept apart (it may quote a raw server body), never chained.
    assert info.value.__cause__ is None and isinstance(info.value.vendor_exception, RuntimeError)
    assert "kaput" in str(info.value)
    assert (await fake.generate(None, "c")).text == "fine"
    assert len(fake.calls) == 3


async def test_fake_retries_retryable_errors_when_asked() -> None:
    fake = FakeProvider([ServerError("down", status_code=503, retry_after=0.0), "back up"], max_retries=1)
    assert (await fake.generate(None, "x")).text == "back up"
    assert len(fake.calls) == 2
    no_retry = FakeProvider([ServerError("down", status_code=503, retry_after=0.0), "never"])
    with pytest.raises(ServerError):
        no_retry.generate_sync(None, "x")
    assert len(no_retry.calls) == 1


async def test_fake_callables() -> None:
    def by_call(call: Call) -> str:
        return f"model={call.model} messages={len(call.messages)} temperature={call.options.temperature}"

    def as_reply(call: Call) -> FakeReply:
        return FakeReply(text="from a FakeReply", reasoning="because")

    def as_response(call: Call) -> CompletionResponse:
        return CompletionResponse(
            provider="fake", model=call.model, text="prebuilt", message=Message(role="assistant", content="prebuilt")
        )

    fake = FakeProvider([by_call, as_reply, as_response])
    first = await fake.generate("m1", [{"role": "user", "content": "q"}], temperature=0.3)
    assert first.text == "model=m1 messages=1 temperature=0.3"
    second = fake.generate_sync(None, "q")
    assert second.text == "from a FakeReply" and second.reasoning == "because"
    third = await fake.generate("m3", "q")
    assert third.text == "prebuilt"


async def test_fake_records_calls() -> None:
    fake = FakeProvider()
    await fake.generate(
        "m",
        [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hi"}],
        temperature=0.5,
        max_tokens=10,
        seed=3,
    )
    fake.generate_sync(None, "again")
    assert len(fake.calls) == 2
    first = fake.calls[0]
    assert first.model == "m"
    assert [m.role for m in first.messages] == ["system", "user"]
    assert (first.options.temperature, first.options.max_tokens, first.options.seed) == (0.5, 10, 3)
    assert first.stream is False
    assert fake.calls[1].model == "fake-model"
    with pytest.raises(InvalidRequestError):
        await fake.generate(None, "x", nonsense=True)
    assert len(fake.calls) == 2, "an invalid call must not reach the script"


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_fake_streaming(asynchronous: bool) -> None:
    tool = ToolCall(id="t1", name="lookup", arguments={"q": "x"})
    script = [FakeReply(text="streamed fake answer", tool_calls=[tool])]
    fake = FakeProvider(script * 2)
    whole = await fake.generate(None, "q")
    if asynchronous:
        async with fake.stream(None, "q") as stream:
            events = [e async for e in stream]
    else:
        with fake.stream_sync(None, "q") as sync_stream:
            events = list(sync_stream)
    response = done_of(events)
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "streamed fake answer"
    assert [e.tool_call for e in events if isinstance(e, ToolCallEvent)] == [tool]
    assert [e.name for e in events if isinstance(e, ToolCallDeltaEvent)] == ["lookup"]
    assert sum(isinstance(e, UsageEvent) for e in events) == 1
    assert response.model_dump(exclude={"id"}) == whole.model_dump(exclude={"id"})
    assert fake.calls[-1].stream is True


async def test_fake_stream_error_before_first_event() -> None:
    fake = FakeProvider([AuthenticationError("no", status_code=401)])
    with pytest.raises(AuthenticationError):
        async with fake.stream(None, "q") as stream:
            async for _ in stream:
                pass
    with pytest.raises(AuthenticationError):
        list(FakeProvider([AuthenticationError("no", status_code=401)]).stream_sync(None, "q"))


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_fake_structured_output(asynchronous: bool) -> None:
    fake = FakeProvider(["this is not JSON", '```json\n{"name": "Nice", "population": 340000}\n```'])
    if asynchronous:
        result = await fake.generate_structured(None, "a city", City)
    else:
        result = fake.generate_structured_sync(None, "a city", City)
    assert result.value == City(name="Nice", population=340000)
    assert result.attempts == 2
    assert len(fake.calls) == 2
    assert fake.calls[0].structured_mode == "prompt"
    retry = fake.calls[1].messages
    assert [m.role for m in retry] == ["user", "assistant", "user"]
    assert retry[1].text == "this is not JSON"
    assert "JSON" in retry[2].text
    # usage covers both attempts: 4 words of the bad answer, 6 of the fenced one
    assert result.usage.output_tokens == 4 + 6
    failing = FakeProvider(["no"] * 3)
    with pytest.raises(StructuredOutputError) as info:
        failing.generate_structured_sync(None, "a city", City)
    assert info.value.attempts == 3 and info.value.raw_text == "no"


async def test_fake_embeddings_and_models() -> None:
    fake = FakeProvider(models=["a-model", "b-model"])
    first = await fake.embed(None, ["x", "y"], dimensions=4)
    second = fake.embed_sync("fake-embedding", ["x", "y"], dimensions=4)
    assert first.vectors == second.vectors
    assert [len(v) for v in first.vectors] == [4, 4]
    assert first.vectors[0] != first.vectors[1]
    assert [m.id for m in await fake.list_models()] == ["a-model", "b-model"]
    assert [m.id for m in fake.list_models_sync()] == ["a-model", "b-model"]
    assert fake.supports_model("a-model") and not fake.supports_model("gpt-4o")


async def test_fake_sync_twins_inside_a_running_loop() -> None:
    fake = FakeProvider(["one", "two", '{"name": "Metz", "population": 120000}'])
    assert in_running_loop(lambda: fake.generate_sync(None, "q")).text == "one"
    assert done_of(in_running_loop(lambda: list(fake.stream_sync(None, "q")))).text == "two"
    assert in_running_loop(lambda: fake.generate_structured_sync(None, "q", City)).value.name == "Metz"
    assert len(in_running_loop(lambda: fake.embed_sync(None, ["a"])).vectors) == 1
    assert in_running_loop(fake.list_models_sync)[0].id == "fake-model"
    assert in_running_loop(fake.check_health_sync).ok is True


# --------------------------------------------------------------------------------------------
# a FakeProvider under a define_provider override
# --------------------------------------------------------------------------------------------


@pytest.fixture
def tagged_name() -> Iterator[str]:
    name = f"fake-tagged-{uuid.uuid4().hex[:8]}"
    seen: list[OverrideContext] = []

    async def generate(ctx: OverrideContext, call_next: Callable[[], Any]) -> CompletionResponse:
        seen.append(ctx)
        response: CompletionResponse = await call_next()
        assert ctx.method == "generate" and ctx.args["messages"]
        return response.model_copy(update={"text": f"[tagged] {response.text}"})

    def stream(ctx: OverrideContext, call_next: Callable[[], Any]) -> Any:
        seen.append(ctx)
        return call_next()

    define_provider(
        name,
        base=FakeProvider,
        config={"api_key": provider_value("fake-key-for-tests-7d1c"), "default_model": provider_value("fake-model")},
        overrides={"generate": generate, "stream": stream},
    )
    yield name
    assert seen, "the overrides were never called"
    registry_module._DEFINED.pop(name, None)


async def test_defined_fake_generate_sync_through_run_sync_in_a_running_loop(tagged_name: str) -> None:
    provider = create_provider(tagged_name)
    assert isinstance(provider, FakeProvider)
    assert provider.provider_id == tagged_name
    provider.add("scripted", "again", "streamed")

    # The override's sync twin goes through run_sync on the bridge loop, from inside a running loop.
    assert in_running_loop(lambda: provider.generate_sync(None, "q")).text == "[tagged] scripted"
    # ... and directly inside this test's running loop.
    assert provider.generate_sync(None, "q").text == "[tagged] again"
    events = in_running_loop(lambda: list(provider.stream_sync(None, "q")))
    assert done_of(events).text == "streamed"
    assert [c.messages[-1].text for c in provider.calls] == ["q", "q", "q"]
    assert (await provider.generate(None, "async")).text == "[tagged] Echo: async"


async def test_defined_fake_stream_sync_closed_early(tagged_name: str) -> None:
    provider = create_provider(tagged_name)
    provider.add("many words in this answer", "after")

    def first_then_leave() -> Any:
        with provider.stream_sync(None, "q") as stream:
            return next(stream)

    assert in_running_loop(first_then_leave) == TextDeltaEvent(delta="many ")
    assert in_running_loop(lambda: provider.generate_sync(None, "q")).text == "[tagged] after"
