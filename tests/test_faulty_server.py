"""What running the library against a faulty server found: answers to stream requests that are no stream,
streams cut before their end marker, a Gemini 200 with an empty body, bodies that trickle in past the timeout
or the deadline, vendor exceptions riding on our errors' chain, and bad `tools=` values."""

from __future__ import annotations

import asyncio
import io
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from agentos_llm import cli
from agentos_llm.errors import (
    AgentOSLLMError,
    APIConnectionError,
    APITimeoutError,
    InvalidRequestError,
    MalformedResponseError,
)
from agentos_llm.provider import IProvider
from agentos_llm.redaction import register_secret
from agentos_llm.testing import Fault, Reply, WireEmulator
from tests.fault_matrix.wires import WIRES, Wire, make_all, offline_aws

HTML = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"
NOT_STREAMS = {"html": HTML, "empty": b"", "whole_json": b'{"id": "x", "object": "chat.completion", "choices": []}'}
SSE_WIRES = [w for w in WIRES.values() if w.sse]


@pytest.fixture(scope="module")
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


@pytest.fixture(scope="module")
def providers(emu: WireEmulator) -> Iterator[dict[str, IProvider]]:
    with offline_aws():
        made = make_all(emu)
        yield made
        for provider in made.values():
            provider.close()


def _stream_sync(provider: IProvider, wire: Wire, **options: Any) -> list[Any]:
    return list(provider.stream_sync(wire.model, "hi", **options))


async def _stream(provider: IProvider, wire: Wire, **options: Any) -> list[Any]:
    return [event async for event in provider.stream(wire.model, "hi", **options)]


def _run(provider: IProvider, wire: Wire, *, stream: bool, sync: bool, **options: Any) -> Any:
    if stream:
        return _stream_sync(provider, wire, **options) if sync else asyncio.run(_stream(provider, wire, **options))
    if sync:
        return provider.generate_sync(wire.model, "hi", **options)
    return asyncio.run(provider.generate(wire.model, "hi", **options))


# ---------------------------------------------------------------------- (a) a 200 that is no stream


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("body", list(NOT_STREAMS))
@pytest.mark.parametrize("api", list(WIRES))
def test_a_stream_answered_by_something_else_is_malformed(emu: WireEmulator, providers: dict[str, IProvider],
                                                          api: str, body: str, sync: bool) -> None:
    wire = WIRES[api]
    emu.reset()
    emu.script(Fault(200, raw_body=NOT_STREAMS[body]))
    with pytest.raises(MalformedResponseError):
        _run(providers[api], wire, stream=True, sync=sync, max_retries=0)
    assert len(emu.requests) == 1  # not retried, as the same body on a whole call is not


def test_the_cli_exits_non_zero_when_a_stream_is_no_stream(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-cli-000000000")
    monkeypatch.setenv("OPENAI_BASE_URL", emu.openai_base_url)
    emu.reset()
    emu.script(*[Fault(200, raw_body=HTML)] * 3)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # piped and empty: the prompt is the argument alone
    code = cli.main(["chat", "hi", "--stream", "--model", "openai/gpt-4o-mini"])
    assert code != 0
    assert "MalformedResponseError" in capsys.readouterr().err


# ---------------------------------------------------------------------- (b) a stream cut before its end


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("api", list(WIRES))
def test_a_stream_cut_cleanly_before_its_end_marker_is_an_error(emu: WireEmulator, providers: dict[str, IProvider],
                                                                api: str, sync: bool) -> None:
    wire = WIRES[api]
    emu.reset()
    # Long enough that the first text event is out before the cut: the caller has partial text, and is told.
    emu.script(Fault(cut_after_events=7, reply=Reply("one two three four five six seven eight nine ten")))
    with pytest.raises(APIConnectionError, match="end marker"):
        _run(providers[api], wire, stream=True, sync=sync)
    assert len(emu.requests) == 1


# ---------------------------------------------------------------------- (c) Gemini's empty 200


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_a_gemini_whole_call_with_an_empty_200_is_malformed(emu: WireEmulator, providers: dict[str, IProvider],
                                                            sync: bool) -> None:
    emu.reset()
    emu.script(Fault(200, raw_body=b"", content_type="application/json; charset=UTF-8"))
    with pytest.raises(MalformedResponseError, match="empty"):
        _run(providers["gemini-generate"], WIRES["gemini-generate"], stream=False, sync=sync)


# ---------------------------------------------------------------------- (d) bodies that trickle in

TRICKLE = 2.0  # seconds the body takes; the bounds below are well under it
SLOW = " ".join(f"word{i}" for i in range(40))


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("bound", ["timeout", "deadline"])
@pytest.mark.parametrize("api", list(WIRES))
def test_timeout_and_deadline_bound_a_body_that_trickles(emu: WireEmulator, providers: dict[str, IProvider],
                                                         api: str, bound: str, stream: bool, sync: bool) -> None:
    wire = WIRES[api]
    if api == "bedrock-converse" and sync and not stream:
        pytest.xfail("botocore reads a whole body itself, each read bounded by the read timeout only")
    # A stream's `timeout` bounds each read and the wait for its first event; its whole length is the
    # deadline's. A whole answer's `timeout` bounds the attempt, its body included.
    options: dict[str, Any] = {"max_retries": 0}
    if bound == "timeout":
        options["timeout"] = 0.4
        if stream:
            options["deadline"] = 0.6
    else:
        options["deadline"] = 0.6
    emu.reset()
    emu.script(Fault(trickle=TRICKLE, reply=Reply(SLOW)))
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        _run(providers[api], wire, stream=stream, sync=sync, **options)
    assert time.monotonic() - started < TRICKLE - 0.5  # given up on, not read to its end


# ---------------------------------------------------------------------- (e) nothing vendor-raw on the chain

ECHOED = "echoed-tenant-secret-0f3a9c2e7b"


def _chain(exc: BaseException) -> list[BaseException]:
    """What a traceback prints: the exception and its cause or (unsuppressed) context, recursively."""
    out = [exc]
    while True:
        nxt = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if nxt is None:
            return out
        out.append(nxt)
        exc = nxt


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.parametrize("api", [w.api for w in SSE_WIRES])
def test_a_malformed_stream_line_leaves_no_vendor_exception_on_the_chain(
        emu: WireEmulator, providers: dict[str, IProvider], api: str, sync: bool) -> None:
    register_secret(ECHOED)
    wire = WIRES[api]
    emu.reset()
    emu.script(Fault(200, raw_body=b'data: {"echo": "' + ECHOED.encode() + b'", broken\n\n',
                     content_type="text/event-stream"))
    with pytest.raises(MalformedResponseError) as info:
        _run(providers[api], wire, stream=True, sync=sync, max_retries=0)
    chain = _chain(info.value)
    assert all(isinstance(e, AgentOSLLMError) for e in chain), [type(e) for e in chain]
    printed = "".join(traceback.format_exception(info.value))
    assert ECHOED not in printed


@pytest.mark.parametrize("api", list(WIRES))
def test_vendor_errors_are_kept_apart_not_chained(emu: WireEmulator, providers: dict[str, IProvider],
                                                  api: str) -> None:
    emu.reset()
    emu.script(Fault(401))
    with pytest.raises(AgentOSLLMError) as info:
        providers[api].generate_sync(WIRES[api].model, "hi")
    assert all(isinstance(e, AgentOSLLMError) for e in _chain(info.value))


# ---------------------------------------------------------------------- (f) bad tools


@pytest.mark.parametrize("tools", [5, [[1]], [None], "get_weather", {"name": "f"}, [object()],
                                   [{"type": "function", "function": {}}]], ids=repr)
def test_bad_tools_are_an_invalid_request(providers: dict[str, IProvider], tools: Any) -> None:
    provider = providers["openai-chat"]
    with pytest.raises(InvalidRequestError, match="tools"):
        provider.generate_sync("gpt-4o-mini", "hi", tools=tools)
    with pytest.raises(InvalidRequestError, match="tools"):
        provider.stream_sync("gpt-4o-mini", "hi", tools=tools)
