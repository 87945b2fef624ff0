"""The six wire APIs of the fault matrix: how to make a provider against the emulator, and each vendor's own
shape for the faults that have one (context length, content filter, an error event mid-stream)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import pytest

from agentos_llm import create_provider
from agentos_llm import retry as retry_module
from agentos_llm.provider import IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator

KEY = "test-key-fault-matrix-0000"
REPLY = Reply("one two three four five six seven eight nine ten")
"""The answer the matrix's stream faults cut or drop: long enough that the first event is out before."""
MAX_RETRIES = 2


@dataclass(frozen=True)
class Wire:
    """One wire API as the matrix drives it."""

    api: str
    make: Callable[[WireEmulator], IProvider]
    model: str
    context_length: Fault
    content_filter: Fault | Reply
    content_filter_error: bool
    """Whether the vendor refuses with an error (else a 200 whose finish reason is content_filter)."""
    error_event: Fault
    first_event_at: int
    """How many wire events the emulator sends up to the stream's first event for the caller (with `REPLY`)."""
    error_event_first: bool
    """Whether the error event comes before the stream's first event for the caller (then it is retried)."""
    sse: bool = True
    """Whether streams are server-sent events (Bedrock's are AWS binary event streams)."""
    quota: Fault = field(default_factory=lambda: Fault(402))
    """The vendor's own out-of-credit answer."""


@contextlib.contextmanager
def offline_aws() -> Iterator[None]:
    """No AWS configuration or instance metadata is looked up (botocore would reach for 169.254.169.254)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        yield


def make_all(emu: WireEmulator) -> dict[str, IProvider]:
    """One provider per wire API, against `emu` (use within `offline_aws()`)."""
    return {api: wire.make(emu) for api, wire in WIRES.items()}


def _tuned(provider: IProvider) -> IProvider:
    # Backoff without Retry-After is jittered; the matrix asserts it is within the policy's bound.
    provider.retry_policy = replace(provider.retry_policy, initial_backoff=0.01, max_backoff=0.02,
                                    max_retries=MAX_RETRIES)
    return provider


def _openai(emu: WireEmulator) -> IProvider:
    return _tuned(create_provider("openai", api_key=KEY, base_url=emu.openai_base_url))


def _responses(emu: WireEmulator) -> IProvider:
    return _tuned(create_provider("openai", api="responses", api_key=KEY, base_url=emu.openai_base_url))


def _anthropic(emu: WireEmulator) -> IProvider:
    return _tuned(create_provider("anthropic", api_key=KEY, base_url=emu.anthropic_base_url))


def _gemini(emu: WireEmulator) -> IProvider:
    return _tuned(create_provider("gemini", api_key=KEY, base_url=emu.gemini_base_url))


def _bedrock(emu: WireEmulator) -> IProvider:
    return _tuned(create_provider("bedrock", api_key="ABSK-fault-matrix-not-a-key-0000", region="us-east-1",
                                  base_url=emu.bedrock_base_url))


def _cohere(emu: WireEmulator) -> IProvider:
    return _tuned(create_provider("cohere", api_key=KEY, base_url=emu.cohere_base_url))


WIRES: dict[str, Wire] = {w.api: w for w in (
    Wire("openai-chat", _openai, "gpt-4o-mini",
         context_length=Fault(400, code="context_length_exceeded"),
         content_filter=Fault(400, code="content_filter", body={"error": {
             "message": "The response was filtered due to the prompt triggering the content management policy.",
             "type": None, "param": "prompt", "code": "content_filter", "status": 400}}),
         content_filter_error=True,
         error_event=Fault(stream_error={"message": "The server had an error while processing your request.",
                                         "type": "server_error", "code": None}),
         first_event_at=2, error_event_first=True),
    Wire("openai-responses", _responses, "gpt-4o-mini",
         context_length=Fault(400, code="context_length_exceeded"),
         content_filter=Fault(400, body={"error": {"message": "Your request was rejected by our safety system.",
                                                   "type": "invalid_request_error", "param": None,
                                                   "code": "content_policy_violation"}}),
         content_filter_error=True,
         error_event=Fault(stream_error={"code": "server_error", "message": "The model failed mid-answer."}),
         first_event_at=5, error_event_first=False),
    Wire("anthropic-messages", _anthropic, "claude-sonnet-4-5",
         context_length=Fault(400, body={"type": "error", "error": {
             "type": "invalid_request_error", "message": "prompt is too long: 210417 tokens > 200000 maximum"}}),
         content_filter=Reply("I can't help with that.", finish_reason="refusal"),
         content_filter_error=False,
         error_event=Fault(stream_error={"type": "overloaded_error", "message": "Overloaded"}),
         first_event_at=4, error_event_first=True),
    Wire("gemini-generate", _gemini, "gemini-2.5-flash",
         context_length=Fault(400, code="context_length_exceeded"),
         content_filter=Reply("", finish_reason="SAFETY"),
         content_filter_error=False,
         error_event=Fault(stream_error={"code": 503, "message": "The model is overloaded.",
                                         "status": "UNAVAILABLE"}),
         first_event_at=1, error_event_first=False),
    Wire("bedrock-converse", _bedrock, "amazon.nova-micro-v1:0",
         context_length=Fault(400, code="ValidationException",
                              body={"message": "Input is too long for requested model."}),
         content_filter=Reply("", finish_reason="content_filter"),
         content_filter_error=False,
         error_event=Fault(stream_error={"type": "modelStreamErrorException", "message": "The model failed."}),
         first_event_at=2, error_event_first=True, sse=False,
         quota=Fault(400, code="ServiceQuotaExceededException")),
    Wire("cohere-chat", _cohere, "command-a-03-2025",
         context_length=Fault(400, body={"message": "too many tokens: total number of tokens in the prompt cannot "
                                                    "exceed 256000 - received 300000. Try using a shorter prompt"}),
         content_filter=Reply("", finish_reason="ERROR_TOXIC"),
         content_filter_error=False,
         error_event=Fault(stream_error={"message": "internal server error, this has been reported"}),
         first_event_at=3, error_event_first=True),
)}

# ---------------------------------------------------------------------- what the retry policy asked

class Sleeps:
    """The waits the retry policy asked for (none is slept: the matrix times nothing)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.asked.append(seconds)


def record_sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """Replaces the retry policy's sleeps (sync and async) by a recorder."""
    sleeps = Sleeps()
    monkeypatch.setattr(retry_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleeps.sleep))
    monkeypatch.setattr(retry_module, "asyncio", SimpleNamespace(sleep=sleeps.asleep))
    return sleeps


# ---------------------------------------------------------------------- what is left open

def open_fds() -> int:
    """How many file descriptors this process holds (sockets included)."""
    return len(os.listdir("/proc/self/fd"))


def settle(check: Callable[[], bool], within: float = 3.0) -> bool:
    """Waits for `check()` to hold (a closing socket is seen by the other side a moment later)."""
    end = time.monotonic() + within
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def assert_nothing_leaked(emu: WireEmulator, fds_before: int) -> None:
    """At most one idle pooled connection is left (client and server side); a response left open would keep
    its own connection beside it."""
    assert settle(lambda: emu.open_connections <= 1), f"{emu.open_connections} connections left open"
    assert settle(lambda: open_fds() <= fds_before + 2), f"{open_fds() - fds_before} file descriptors more"
