"""Hygiene found in review: responses closed when a sync stream fails before its first event, every loop's
async client closed by `aclose()` / `close()`, and a key-redaction registry that stays cheap and bounded."""

from __future__ import annotations

import asyncio
import gc
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx2
import pytest

from agentos_llm import create_provider
from agentos_llm.errors import ServerError
from agentos_llm.provider import IProvider
from agentos_llm.redaction import MAX_RECENT, known_secrets, redact, register_secret
from agentos_llm.testing import Fault, WireEmulator

KEY = "test-key-hygiene-000000"


@pytest.fixture
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _settle(check: Any, within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


# ---------------------------------------------------------------------- (a) a sync stream failing early


def _quick(provider: IProvider) -> IProvider:
    provider.retry_policy = replace(provider.retry_policy, initial_backoff=0.01, max_backoff=0.02)
    return provider


def test_a_sync_stream_failing_before_its_first_event_closes_every_response(
        emu: WireEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[httpx2.Response] = []
    send = httpx2.Client.send

    def counting_send(self: httpx2.Client, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        response = send(self, request, **kwargs)
        opened.append(response)
        return response

    monkeypatch.setattr(httpx2.Client, "send", counting_send)
    provider = _quick(create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=2))
    # An error event after the role chunk: the assembler raises before any event reached the caller, so
    # the stream is retried, three times in all; each response must be closed by then, not by the GC.
    error = Fault(stream_error={"message": "overloaded", "type": "server_error"})
    emu.script(error, error, error)
    with pytest.raises(ServerError):
        list(provider.stream_sync("gpt-4o-mini", "hi"))
    assert len(opened) == 3
    assert [r.is_closed for r in opened] == [True, True, True]
    assert _settle(lambda: emu.open_connections == 0)
    provider.close()


async def test_an_async_stream_failing_before_its_first_event_closes_every_response(emu: WireEmulator) -> None:
    provider = _quick(create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=2))
    error = Fault(stream_error={"message": "overloaded", "type": "server_error"})
    emu.script(error, error, error)
    with pytest.raises(ServerError):
        async for _ in provider.stream("gpt-4o-mini", "hi"):
            pass
    assert emu.hits() == 3
    assert await asyncio.to_thread(_settle, lambda: emu.open_connections == 0)
    await provider.aclose()


# ---------------------------------------------------------------------- (b) every loop's client closed

_APIS: dict[str, tuple[str, str]] = {
    "openai": ("openai_base_url", "gpt-4o-mini"),
    "anthropic": ("anthropic_base_url", "claude-sonnet-4-5"),
    "gemini": ("gemini_base_url", "gemini-2.5-flash"),
    "cohere": ("cohere_base_url", "command-a-03-2025"),
    "voyage": ("voyage_base_url", "voyage-3.5"),
}


def _one_call(provider: IProvider, model: str) -> Any:
    if provider.provider_id == "voyage":
        return provider.embed(model, ["hi"])
    return provider.generate(model, "hi")


def _resource_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.parametrize("closer", ["aclose", "close"])
@pytest.mark.parametrize("provider_id", list(_APIS))
def test_clients_of_every_event_loop_are_closed(emu: WireEmulator, provider_id: str, closer: str) -> None:
    attr, model = _APIS[provider_id]
    before = _fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        provider = create_provider(provider_id, api_key=KEY, base_url=getattr(emu, attr))
        for _ in range(3):  # three loops, three async clients (one per loop)
            asyncio.run(_one_call(provider, model))
        # ... and one on a loop closed without shutting its async generators down (no asyncio.run).
        loop = asyncio.new_event_loop()
        loop.run_until_complete(_one_call(provider, model))
        loop.close()
        if closer == "aclose":
            asyncio.run(provider.aclose())
        else:
            provider.close()
        del provider, loop
        gc.collect()
    assert _resource_warnings(caught) == []
    assert _settle(lambda: emu.open_connections == 0), f"{emu.open_connections} connections left open"
    assert _settle(lambda: _fds() <= before)


async def test_aclose_closes_a_client_of_a_loop_running_in_another_thread(emu: WireEmulator) -> None:
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url)
    other = asyncio.new_event_loop()
    import threading

    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(provider.generate("gpt-4o-mini", "hi"), other).result(10)
        await provider.generate("gpt-4o-mini", "hi")  # this loop's own client
        assert await asyncio.to_thread(_settle, lambda: emu.open_connections == 2)
        await provider.aclose()
        assert await asyncio.to_thread(_settle, lambda: emu.open_connections == 0)
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(5)
        other.close()


def test_a_provider_stays_usable_on_new_loops_after_a_loop_shut_down(emu: WireEmulator) -> None:
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url)
    first = asyncio.run(provider.generate("gpt-4o-mini", "one"))
    second = asyncio.run(provider.generate("gpt-4o-mini", "two"))
    assert first.text and second.text
    provider.close()


# ---------------------------------------------------------------------- (c) the redaction registry


def _make(keys: list[str]) -> tuple[list[IProvider], float]:
    started = time.perf_counter()
    made = [create_provider("openai", api_key=k, base_url="http://127.0.0.1:9/v1") for k in keys]
    return made, time.perf_counter() - started


def test_two_thousand_keys_cost_about_what_one_key_costs() -> None:
    n = 2000
    _make([f"tenant-same-key-{0:08d}-x"] * 50)  # imports and caches warmed
    same, one_key = _make(["tenant-same-key-00000000-x"] * n)
    distinct_keys = [f"tenant-{i:06d}-{os.urandom(8).hex()}" for i in range(n)]
    distinct, many_keys = _make(distinct_keys)
    # Registering is a dictionary update; the old registry rebuilt a regex of every key per new key (minutes).
    assert many_keys < 3 * one_key + 0.5, (many_keys, one_key)
    # Every key of a live provider is masked, the first ones too, beyond the registry's recent window.
    for key in distinct_keys[:: n // 40]:
        text = redact(f"the key {key} was refused; header x-api-key: {key}")
        assert key not in text and text.count("[REDACTED]") == 2
    del same, distinct


def test_the_registry_is_bounded_and_keeps_the_keys_of_live_providers() -> None:
    gc.collect()
    start = known_secrets()  # other tests' live providers hold theirs
    held = [create_provider("openai", api_key=f"held-key-{i:04d}-{os.urandom(6).hex()}",
                            base_url="http://127.0.0.1:9/v1") for i in range(5)]
    for i in range(3 * MAX_RECENT):
        register_secret(f"passing-key-{i:06d}-{os.urandom(4).hex()}")
    assert known_secrets() - start <= MAX_RECENT + len(held)  # bounded, however many were registered
    for provider in held:  # held keys outlive the recent window
        secret = provider.api_key.get_secret_value() if provider.api_key else ""
        assert secret and secret not in redact(f"echo {secret}")
    del held, provider
    gc.collect()
    for i in range(MAX_RECENT):  # the recent window moves past the released keys
        register_secret(f"later-key-{i:06d}-{os.urandom(4).hex()}")
    assert known_secrets() - start <= MAX_RECENT


def test_a_key_registered_again_stays_masked_after_its_provider_is_gone() -> None:
    key = f"shared-key-{os.urandom(8).hex()}"
    register_secret(key)
    provider = create_provider("openai", api_key=key, base_url="http://127.0.0.1:9/v1")
    del provider
    gc.collect()
    assert key not in redact(f"... {key} ...")  # still among the recent ones


_RELEASE_UNDER_LOCK = """
import gc, threading
from agentos_llm import redaction

class Owner:
    pass

box = [Owner()]
value = "release-under-lock-0123456789"
redaction.hold_secret(box[0], value)
assert value not in redaction.redact(f"x {value} y")

def release_while_locked():
    with redaction._lock:
        box.clear()   # the finalizer runs here, inside the locked section
        gc.collect()

worker = threading.Thread(target=release_while_locked, daemon=True)
worker.start()
worker.join(10)
assert not worker.is_alive(), "deadlocked"
redaction.known_secrets()  # settles the queued release
assert value not in redaction._held
print("ok")
"""


def test_a_key_released_by_the_garbage_collector_inside_a_locked_section_never_deadlocks() -> None:
    """A weakref finalizer can run anywhere the collector runs, even while this thread holds the registry's
    lock (a full suite once froze there); releasing must not wait for that lock. In a child process, so a
    regression fails this test instead of freezing the suite."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _RELEASE_UNDER_LOCK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
