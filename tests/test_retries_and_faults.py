"""Faults from the wire emulator: error classes, the one retry policy, deadlines, streams that break."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx2
import openai
import pytest

from agentos_llm import DoneEvent, TextDeltaEvent, create_provider
from agentos_llm.errors import (
    AgentOSLLMError,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from agentos_llm.provider import IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator

MAX_RETRIES = 2


@pytest.fixture
def emu() -> Iterator[WireEmulator]:
    # A fresh emulator per test, so request ids (req_emu_<n>) count from 1.
    with WireEmulator() as server:
        yield server


def make_provider(emu: WireEmulator, **kwargs: Any) -> IProvider:
    kwargs.setdefault("max_retries", MAX_RETRIES)
    p = create_provider("openai", api_key="sk-test", base_url=emu.openai_base_url, **kwargs)
    # Short backoffs keep the suite fast; Retry-After headers are still honoured as sent.
    p.retry_policy = replace(p.retry_policy, initial_backoff=0.01, max_backoff=0.02)
    return p


@pytest.fixture
async def provider(emu: WireEmulator) -> AsyncIterator[IProvider]:
    p = make_provider(emu)
    yield p
    await p.aclose()


def typed(exc: BaseException) -> AgentOSLLMError:
    """Checks that an error is this library's own, never a vendor SDK or transport type."""
    assert isinstance(exc, AgentOSLLMError), f"{type(exc).__name__} is not an agentos_llm error"
    assert not isinstance(exc, openai.OpenAIError), f"an SDK error escaped: {type(exc).__mro__}"
    assert not isinstance(exc, httpx2.HTTPError), f"a transport error escaped: {type(exc).__mro__}"
    return exc  # its __cause__ may be the SDK's exception: that is where the original belongs


def collect_sync(
    provider: IProvider, model: str, messages: Any, **options: Any
) -> tuple[list[Any], BaseException | None]:
    """The events a sync stream yielded before it ended or raised, and what it raised."""
    events: list[Any] = []
    try:
        with provider.stream_sync(model, messages, **options) as stream:
            for event in stream:
                events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


async def collect_async(
    provider: IProvider, model: str, messages: Any, **options: Any
) -> tuple[list[Any], BaseException | None]:
    events: list[Any] = []
    try:
        async with provider.stream(model, messages, **options) as stream:
            async for event in stream:
                events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


async def call(provider: IProvider, mode: str, model: str = "gpt-4o", messages: Any = "hi", **options: Any) -> Any:
    """One call in `mode`; streams are drained and return their done response."""
    if mode == "generate":
        return await provider.generate(model, messages, **options)
    if mode == "generate_sync":
        return provider.generate_sync(model, messages, **options)
    if mode == "stream":
        events, exc = await collect_async(provider, model, messages, **options)
    else:
        events, exc = collect_sync(provider, model, messages, **options)
    if exc is not None:
        raise exc
    assert isinstance(events[-1], DoneEvent)
    return events[-1].response


MODES = ["generate", "generate_sync", "stream", "stream_sync"]

# (status, error code in the body, expected class, retryable)
STATUS_CASES = [
    (400, None, InvalidRequestError, False),
    (400, "context_length_exceeded", ContextLengthExceededError, False),
    (401, None, AuthenticationError, False),
    (402, None, QuotaExceededError, False),
    (403, None, PermissionDeniedError, False),
    (404, None, NotFoundError, False),
    (409, None, ProviderError, True),
    (422, None, InvalidRequestError, False),
    (429, None, RateLimitError, True),
    (429, "insufficient_quota", QuotaExceededError, False),
    (500, None, ServerError, True),
    (503, None, ServerError, True),
]


def _case_id(case: tuple[int, str | None, type, bool]) -> str:
    return f"{case[0]}-{case[1] or 'plain'}"


# --------------------------------------------------------------------------------------------
# status codes: class, attributes, retried exactly max_retries times or not at all
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", STATUS_CASES, ids=_case_id)
def test_status_maps_to_error_and_retries(
    emu: WireEmulator, provider: IProvider, case: tuple[int, str | None, type[ProviderError], bool]
) -> None:
    status, code, cls, retryable = case
    emu.script(*(Fault(status, code=code) for _ in range(MAX_RETRIES + 1)), Reply("never reached"))
    with pytest.raises(ProviderError) as info:
        provider.generate_sync("gpt-4o", "hi")
    err = typed(info.value)
    if cls is ProviderError:
        assert isinstance(err, ProviderError)
    else:
        assert type(err) is cls
    assert err.status_code == status
    assert err.provider == "openai"
    assert err.retry_after is None
    hits = MAX_RETRIES + 1 if retryable else 1
    # Exactly our retries: the SDK's own retries (which would also retry 409/429/5xx) are off.
    assert emu.hits() == hits
    assert err.request_id == f"req_emu_{hits}", "the error carries the id of the last attempt"
    if code is not None:
        assert err.code == code
    assert isinstance(err.body, dict) and "Emulated" in str(err.body)
    assert f"Emulated {status} error" in str(err)


@pytest.mark.parametrize("case", [c for c in STATUS_CASES if c[0] in (401, 429, 503)], ids=_case_id)
async def test_status_maps_to_error_and_retries_async(
    emu: WireEmulator, provider: IProvider, case: tuple[int, str | None, type, bool]
) -> None:
    status, code, cls, retryable = case
    emu.script(*(Fault(status, code=code) for _ in range(MAX_RETRIES + 1)))
    with pytest.raises(ProviderError) as info:
        await provider.generate("gpt-4o", "hi")
    err = typed(info.value)
    assert type(err) is cls
    assert err.status_code == status
    hits = MAX_RETRIES + 1 if retryable else 1
    assert emu.hits() == hits
    assert err.request_id == f"req_emu_{hits}"


@pytest.mark.parametrize("mode", MODES)
async def test_retryable_failure_then_success(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Fault(503), Fault(429), Reply("third time lucky"))
    response = await call(provider, mode)
    assert response.text == "third time lucky"
    assert emu.hits() == 3


@pytest.mark.parametrize("mode", MODES)
async def test_non_retryable_streams_and_calls_are_sent_once(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Fault(401), Reply("never reached"))
    with pytest.raises(AuthenticationError) as info:
        await call(provider, mode)
    typed(info.value)
    assert emu.hits() == 1
    assert emu.pending == 1


def test_sdk_retries_are_off(emu: WireEmulator) -> None:
    p = make_provider(emu, max_retries=0)
    emu.script(Fault(503), Fault(503), Fault(503), Reply("the SDK would have retried into this"))
    with pytest.raises(ServerError):
        p.generate_sync("gpt-4o", "hi")
    assert emu.hits() == 1
    p.close()


# --------------------------------------------------------------------------------------------
# Retry-After
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [{"retry_after": "0.3"}, {"retry_after_ms": "300"}], ids=["seconds", "ms"])
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_retry_after_is_honoured(
    emu: WireEmulator, provider: IProvider, header: dict[str, str], asynchronous: bool
) -> None:
    emu.script(Fault(429, **header), Reply("after waiting"))
    started = time.monotonic()
    response = await call(provider, "generate" if asynchronous else "generate_sync")
    elapsed = time.monotonic() - started
    assert response.text == "after waiting"
    assert emu.hits() == 2
    assert elapsed >= 0.3, f"the Retry-After of 0.3 s was not waited for ({elapsed:.3f} s)"


@pytest.mark.parametrize("header", [{"retry_after": "0.3"}, {"retry_after_ms": "300"}], ids=["seconds", "ms"])
def test_retry_after_on_the_error(emu: WireEmulator, provider: IProvider, header: dict[str, str]) -> None:
    emu.script(Fault(429, **header))
    with pytest.raises(RateLimitError) as info:
        provider.generate_sync("gpt-4o", "hi", max_retries=0)
    assert info.value.retry_after == pytest.approx(0.3)


def test_quota_exceeded_is_not_retried_even_with_retry_after(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Fault(429, code="insufficient_quota", retry_after="0"), Reply("never reached"))
    with pytest.raises(QuotaExceededError) as info:
        provider.generate_sync("gpt-4o", "hi")
    typed(info.value)
    assert emu.hits() == 1
    assert info.value.retry_after == 0.0


# --------------------------------------------------------------------------------------------
# malformed answers and broken streams
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_malformed_body_is_not_retried(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Fault(malformed=True), Reply("never reached"))
    with pytest.raises(MalformedResponseError) as info:
        await call(provider, mode)
    typed(info.value)
    assert emu.hits() == 1
    assert emu.pending == 1


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_connection_dropped_mid_stream(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    # The default answer echoes the prompt; its 3 first SSE events are the role chunk, "Echo:" and " alpha".
    emu.script(Fault(drop_after_events=3), Reply("a retry would get this"))
    if asynchronous:
        events, exc = await collect_async(provider, "gpt-4o", "alpha beta gamma delta")
    else:
        events, exc = collect_sync(provider, "gpt-4o", "alpha beta gamma delta")
    assert events == [TextDeltaEvent(delta="Echo:"), TextDeltaEvent(delta=" alpha")]
    assert isinstance(exc, APIConnectionError)
    typed(exc)
    assert emu.hits() == 1, "a stream that already yielded events must not be retried"
    assert emu.pending == 1


@pytest.mark.parametrize(
    "fault",
    [Fault(503), Fault(drop_after_events=1), Fault(stream_error={"message": "Overloaded", "type": "server_error"})],
    ids=["status-503", "dropped-before-first-event", "stream-error-overloaded"],
)
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_stream_failing_before_its_first_event_is_retried(
    emu: WireEmulator, provider: IProvider, fault: Fault, asynchronous: bool
) -> None:
    emu.script(fault, Reply("recovered stream"))
    if asynchronous:
        events, exc = await collect_async(provider, "gpt-4o", "hi")
    else:
        events, exc = collect_sync(provider, "gpt-4o", "hi")
    assert exc is None
    assert "".join(e.delta for e in events if isinstance(e, TextDeltaEvent)) == "recovered stream"
    assert isinstance(events[-1], DoneEvent) and events[-1].response.text == "recovered stream"
    assert sum(isinstance(e, DoneEvent) for e in events) == 1
    assert emu.hits() == 2


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_stream_error_event_is_typed(emu: WireEmulator, provider: IProvider, asynchronous: bool) -> None:
    emu.script(
        Fault(
            stream_error={
                "message": "This model's maximum context length is 128000 tokens.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            }
        ),
        Reply("never reached"),
    )
    if asynchronous:
        events, exc = await collect_async(provider, "gpt-4o", "hi")
    else:
        events, exc = collect_sync(provider, "gpt-4o", "hi")
    assert events == []
    assert isinstance(exc, ContextLengthExceededError)
    typed(exc)
    assert "maximum context length" in str(exc)
    assert exc.code == "context_length_exceeded"
    assert emu.hits() == 1


def test_whole_response_cut_short_is_a_connection_error(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Fault(drop_after_events=0), Reply("second try"))
    assert provider.generate_sync("gpt-4o", "hi").text == "second try"
    assert emu.hits() == 2
    emu.script(*(Fault(drop_after_events=0) for _ in range(MAX_RETRIES + 1)))
    with pytest.raises(APIConnectionError) as info:
        provider.generate_sync("gpt-4o", "hi")
    typed(info.value)


# --------------------------------------------------------------------------------------------
# timeouts, per-call overrides and deadlines
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_slow_response_times_out(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("too late", delay=2.0))
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        await call(provider, mode, timeout=0.5, max_retries=0)
    elapsed = time.monotonic() - started
    typed(info.value)
    assert 0.5 <= elapsed < 1.8
    assert emu.hits() == 1


def test_provider_timeout_applies(emu: WireEmulator) -> None:
    p = make_provider(emu, timeout=0.5, max_retries=0)
    emu.script(Reply("too late", delay=2.0))
    with pytest.raises(APITimeoutError):
        p.generate_sync("gpt-4o", "hi")
    p.close()


def test_timed_out_attempt_is_retried(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Reply("too late", delay=1.5), Reply("in time"))
    assert provider.generate_sync("gpt-4o", "hi", timeout=0.4, max_retries=1).text == "in time"
    assert emu.hits() == 2


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize(("provider_retries", "call_retries"), [(2, 0), (2, 1), (0, 2)])
async def test_per_call_max_retries_overrides_the_provider(
    emu: WireEmulator, asynchronous: bool, provider_retries: int, call_retries: int
) -> None:
    p = make_provider(emu, max_retries=provider_retries)
    emu.script(*(Fault(503) for _ in range(5)))
    with pytest.raises(ServerError):
        await call(p, "generate" if asynchronous else "generate_sync", max_retries=call_retries)
    assert emu.hits() == call_retries + 1
    await p.aclose()


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_deadline_stops_retries_that_would_wait_past_it(
    emu: WireEmulator, provider: IProvider, asynchronous: bool
) -> None:
    emu.script(*(Fault(503, retry_after="2") for _ in range(4)))
    started = time.monotonic()
    with pytest.raises(ServerError) as info:
        await call(provider, "generate" if asynchronous else "generate_sync", deadline=1.0, max_retries=5)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"waiting a 2 s Retry-After cannot fit a 1 s deadline ({elapsed:.2f} s)"
    assert info.value.retry_after == 2.0
    assert emu.hits() == 1


def test_deadline_bounds_retries(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(*(Fault(503, retry_after="0.4") for _ in range(10)))
    started = time.monotonic()
    with pytest.raises(ServerError):
        provider.generate_sync("gpt-4o", "hi", deadline=1.0, max_retries=9)
    elapsed = time.monotonic() - started
    assert 2 <= emu.hits() <= 3
    assert 0.4 <= elapsed < 1.5


@pytest.mark.parametrize("mode", MODES)
async def test_deadline_stops_a_call_to_a_slow_server(emu: WireEmulator, provider: IProvider, mode: str) -> None:
    emu.script(Reply("much too late", delay=5.0), Reply("much too late", delay=5.0))
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        await call(provider, mode, deadline=0.6)
    elapsed = time.monotonic() - started
    typed(info.value)
    assert 0.5 <= elapsed < 3.0, f"a 0.6 s deadline took {elapsed:.2f} s against a 5 s-slow server"
    assert emu.hits() == 1


def test_embeddings_are_retried(emu: WireEmulator, provider: IProvider) -> None:
    emu.script(Fault(503))
    result = provider.embed_sync("text-embedding-3-small", ["a", "b"])
    assert len(result.vectors) == 2
    assert emu.hits("/embeddings") == 2
    emu.script(Fault(400))
    with pytest.raises(InvalidRequestError) as info:
        provider.embed_sync("text-embedding-3-small", ["a"])
    typed(info.value)
    assert emu.hits("/embeddings") == 3


# --------------------------------------------------------------------------------------------
# leaving a stream early closes its connection
# --------------------------------------------------------------------------------------------

LONG_TEXT = " ".join(f"w{i}" for i in range(20000))  # ~5 MB of SSE: far more than one read


def _chat_responses(seen: list[httpx2.Response]) -> list[httpx2.Response]:
    return [r for r in seen if r.request.url.path.endswith("/chat/completions")]


def test_leaving_a_sync_stream_early_closes_the_response(
    emu: WireEmulator, provider: IProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[httpx2.Response] = []
    original = httpx2.Response.close

    def spy(self: httpx2.Response) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(httpx2.Response, "close", spy)
    emu.script(Reply(LONG_TEXT))
    with provider.stream_sync("gpt-4o", "talk a lot") as stream:
        first = next(stream)
        assert first == TextDeltaEvent(delta="w0")
        assert _chat_responses(closed) == [], "nothing should close while the stream is in use"
    responses = _chat_responses(closed)
    assert responses, "leaving the with block did not close the HTTP response"
    response = responses[0]
    assert response.is_closed
    assert response.num_bytes_downloaded < 1_000_000, "the stream was drained instead of closed"
    # The connection is usable again: the next request goes through.
    assert provider.generate_sync("gpt-4o", "again").text == "Echo: again"
    assert emu.hits() == 2


def test_closing_a_sync_stream_without_with(
    emu: WireEmulator, provider: IProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[httpx2.Response] = []
    original = httpx2.Response.close

    def spy(self: httpx2.Response) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(httpx2.Response, "close", spy)
    emu.script(Reply(LONG_TEXT))
    stream = provider.stream_sync("gpt-4o", "talk a lot")
    for _ in stream:
        break
    stream.close()
    responses = _chat_responses(closed)
    assert responses and responses[0].is_closed
    assert responses[0].num_bytes_downloaded < 1_000_000


async def test_leaving_an_async_stream_early_closes_the_response(
    emu: WireEmulator, provider: IProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[httpx2.Response] = []
    original = httpx2.Response.aclose

    async def spy(self: httpx2.Response) -> None:
        closed.append(self)
        await original(self)

    monkeypatch.setattr(httpx2.Response, "aclose", spy)
    emu.script(Reply(LONG_TEXT))
    async with provider.stream("gpt-4o", "talk a lot") as stream:
        async for event in stream:
            assert event == TextDeltaEvent(delta="w0")
            break
        assert _chat_responses(closed) == [], "nothing should close while the stream is in use"
    responses = _chat_responses(closed)
    assert responses, "leaving the async with block did not close the HTTP response"
    assert responses[0].is_closed
    assert responses[0].num_bytes_downloaded < 1_000_000, "the stream was drained instead of closed"
    assert (await provider.generate("gpt-4o", "again")).text == "Echo: again"
    assert emu.hits() == 2


# --------------------------------------------------------------------------------------------
# keys never leak
# --------------------------------------------------------------------------------------------

SECRET = "sk-SECRETSECRETSECRET1234"
SECRET_PARTS = (SECRET, "SECRETSECRETSECRET1234", "SECRETSECRET")


def _assert_no_secret(text: str, where: str) -> None:
    for part in SECRET_PARTS:
        assert part not in text, f"the API key leaked into {where}: {text!r}"


async def test_keys_never_leak(emu: WireEmulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("agentos_llm", "openai", "httpx2", "httpcore2", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    p = create_provider("openai", api_key=SECRET, base_url=emu.openai_base_url, max_retries=1)
    echoed = {
        "error": {
            "message": f"Incorrect API key provided: {SECRET}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
            "param": None,
        }
    }
    emu.script(
        Fault(401),
        Fault(401, body=echoed),
        Fault(401, body=echoed),
        Fault(401, body=echoed),
        Fault(401, body=f"plain text error for key {SECRET}"),
        Fault(503, body=echoed),
        Fault(503, body=echoed),
    )
    errors: list[ProviderError] = []
    with pytest.raises(ProviderError) as info:
        p.generate_sync("gpt-4o", "hi")  # the emulator's own 401 body
    errors.append(info.value)
    with pytest.raises(ProviderError) as info:
        p.generate_sync("gpt-4o", "hi")  # a body that echoes the key
    errors.append(info.value)
    with pytest.raises(ProviderError) as info:
        await p.generate("gpt-4o", "hi")
    errors.append(info.value)
    events, exc = collect_sync(p, "gpt-4o", "hi")
    assert events == [] and isinstance(exc, ProviderError)
    errors.append(exc)
    events, exc = await collect_async(p, "gpt-4o", "hi")  # a plain-text body with the key
    assert events == [] and isinstance(exc, ProviderError)
    errors.append(exc)
    with pytest.raises(ProviderError) as info:
        p.generate_sync("gpt-4o", "hi")  # a retried 503 whose body echoes the key
    errors.append(info.value)
    assert [type(e) for e in errors] == [AuthenticationError] * 5 + [ServerError]
    assert emu.hits() == 7  # the 503 was retried once; no 401 was retried
    # The server saw the key; nothing the library hands back shows it.
    assert emu.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    for err in errors:
        typed(err)
        _assert_no_secret(str(err), "str(error)")
        _assert_no_secret(repr(err), "repr(error)")
        _assert_no_secret(repr(err.body), "error.body")
        _assert_no_secret(str(err.args), "error.args")
        _assert_no_secret(err.message, "error.message")
    assert "Incorrect API key provided" in str(errors[1])
    _assert_no_secret(repr(p), "repr(provider)")
    _assert_no_secret(str(p.api_key), "provider.api_key")
    health = p.check_health_sync()
    _assert_no_secret(repr(health), "the health status")
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert caplog.records, "the DEBUG loggers recorded nothing: the capture is not working"
    _assert_no_secret(logged, "the logs")
    _assert_no_secret(caplog.text, "the formatted logs")
    await p.aclose()
