"""Sync streams that fall silent fail after `stream_idle_timeout`, on every wire API (agentos_llm.stream_watchdog).

A loopback proxy passes each request to the wire emulator and its answer back, the headers and every event up to
the first one carrying text, then sends nothing more for an hour. The HTTP read timeout stays at its default
(600 s): only the idle timeout can end such a stream. Every stream here runs in a thread joined with a bound,
so a hang fails the test instead of hanging it (the proxy is then closed, which ends the blocked read).
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from agentos_llm import create_provider, stream_watchdog
from agentos_llm.errors import APITimeoutError
from agentos_llm.provider import IProvider
from agentos_llm.testing import Fault, Reply, WireEmulator
from tests.fault_matrix.wires import WIRES, offline_aws, open_fds, settle

KEY = "test-key-sync-idle-0000"
IDLE = 0.5
OUTER = 20.0
"""Seconds a stream here may take before the test fails: far below the 600 s a hang would cost."""
REPLY = Reply("alpha beta gamma delta epsilon zeta")
MARK = b"alpha"
"""The first text of `REPLY`: the proxy goes silent after the event that carries it."""


@pytest.fixture
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


# ---------------------------------------------------------------------- a server that falls silent


class StallingProxy:
    """Passes one request per connection to `upstream` and its answer back, up to the HTTP chunk that carries
    `MARK` (the emulator sends one event per chunk), then sends nothing more until closed (at most an hour)."""

    def __init__(self, upstream: WireEmulator) -> None:
        self.upstream = ("127.0.0.1", int(upstream.url.rsplit(":", 1)[1]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stalled = threading.Event()
        """Set once an answer has gone silent."""
        self.client_gone = threading.Event()
        """Set once the client closed (or shut down) a silent connection."""
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def as_emulator(self) -> Any:
        """What the fault matrix's provider makers read from an emulator, pointing here."""
        return SimpleNamespace(openai_base_url=self.url + "/v1", anthropic_base_url=self.url,
                               gemini_base_url=self.url, bedrock_base_url=self.url, cohere_base_url=self.url)

    def _accept(self) -> None:
        self.listener.settimeout(0.05)  # closing a listening socket does not wake a blocked `accept`
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self._sockets.append(client)
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):
            request = _read_request(client.makefile("rb"))
            upstream = socket.create_connection(self.upstream)
            self._sockets.append(upstream)
            upstream.sendall(request)
            answer = upstream.makefile("rb")
            head = _read_head(answer)
            client.sendall(head)
            if b"transfer-encoding: chunked" not in head.lower():
                client.sendall(answer.read())  # not a stream (an error): passed on whole
                return
            while True:
                size_line = answer.readline()
                size = int(size_line.split(b";")[0], 16)
                data = answer.read(size) + answer.readline()
                client.sendall(size_line + data)
                if size == 0:
                    return  # the whole stream passed: the test asking for a silent one fails
                if MARK in data:
                    break
            self.stalled.set()
            end = time.monotonic() + 3600
            while not self._stop.is_set() and time.monotonic() < end:
                if select.select([client], [], [], 0.05)[0] and client.recv(1) == b"":
                    self.client_gone.set()
                    self._stop.wait(end - time.monotonic())

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> StallingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_head(reader: Any) -> bytes:
    lines = []
    while True:
        line = reader.readline()
        if not line:
            raise ValueError("the connection closed before the end of the headers")
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _read_request(reader: Any) -> bytes:
    head = _read_head(reader)
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + reader.read(length)


# ---------------------------------------------------------------------- a stream read in a bounded thread


class Outcome:
    """What a sync stream gave before it ended: its events (when, type, text), and how it ended."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, str]] = []
        self.error: BaseException | None = None
        self.ended_at = 0.0

    @property
    def types(self) -> list[str]:
        return [kind for _, kind, _ in self.events]

    @property
    def text(self) -> str:
        return "".join(text for _, kind, text in self.events if kind == "text_delta")


def _read(provider: IProvider, model: str, pause: float = 0.0) -> Outcome:
    outcome = Outcome()
    try:
        with provider.stream_sync(model, "hi") as events:
            for event in events:
                outcome.events.append((time.monotonic(), event.type, getattr(event, "delta", "") or ""))
                time.sleep(pause)  # a consumer that takes its time with each event
    except Exception as exc:  # reported, not raised: the test asserts what it was
        outcome.error = exc
    outcome.ended_at = time.monotonic()
    return outcome


def _bounded(read: Callable[[], Outcome], on_hang: Callable[[], None]) -> Outcome:
    """`read()` in a thread; fails the test (after `on_hang`, which must end the blocked read) if it takes
    longer than `OUTER`."""
    box: list[Outcome] = []
    thread = threading.Thread(target=lambda: box.append(read()), daemon=True)
    thread.start()
    thread.join(OUTER)
    if thread.is_alive():
        on_hang()
        thread.join(5)
        pytest.fail(f"the sync stream was still blocked after {OUTER:g}s")
    return box[0]


# ---------------------------------------------------------------------- a silent stream fails


@pytest.mark.parametrize("api", sorted(WIRES))
def test_a_silent_sync_stream_fails_after_its_idle_timeout(emu: WireEmulator, api: str) -> None:
    wire = WIRES[api]
    emu.script(REPLY)
    with offline_aws(), StallingProxy(emu) as proxy:
        fds = open_fds()
        provider = wire.make(proxy.as_emulator())
        provider.stream_idle_timeout = IDLE
        assert provider.retry_policy.timeout == 600  # the read timeout is no help here
        outcome = _bounded(lambda: _read(provider, wire.model), proxy.close)
        assert proxy.stalled.is_set(), (outcome.types, repr(outcome.error))
        assert isinstance(outcome.error, APITimeoutError), repr(outcome.error)
        assert "stream_idle_timeout" in str(outcome.error)
        assert outcome.text == "alpha" and "done" not in outcome.types  # the first event came, then silence
        assert outcome.ended_at - outcome.events[-1][0] >= IDLE  # not cut before its time
        assert stream_watchdog.watching() == 0
        assert proxy.client_gone.wait(5)  # the connection was cut, and ...
        proxy.close()
        # ... closed: with the proxy's own sockets gone, nothing of the stream is left open (the provider's
        # clients are not closed yet: a response left open would hold its socket).
        assert settle(lambda: open_fds() <= fds), f"{open_fds() - fds} file descriptors more"
        provider.close()


def test_the_idle_timeout_counts_only_the_waits_after_the_first_event(emu: WireEmulator) -> None:
    """The clock starts once the first events are yielded, and stops while the consumer has an event:
    a consumer slower than the idle timeout does not fail a stream that is not silent."""
    emu.script(Reply("one two three four"))
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0,
                               stream_idle_timeout=0.2)
    outcome = _bounded(lambda: _read(provider, "gpt-4o-mini", pause=0.3), emu.stop)
    provider.close()
    assert outcome.error is None, repr(outcome.error)
    assert outcome.text == "one two three four" and outcome.types[-1] == "done"
    assert outcome.events[-1][0] - outcome.events[0][0] > 0.2 * 4


@pytest.mark.parametrize("api", sorted(WIRES))
def test_a_slow_but_live_sync_stream_is_not_cut(emu: WireEmulator, api: str) -> None:
    # Every gap between chunks is far below the idle timeout, while the stream after its first event is longer.
    wire = WIRES[api]
    text = "one two three four five six seven eight"
    emu.script(Fault(reply=Reply(text), trickle=1.2))
    with offline_aws():
        provider = wire.make(emu)
        provider.stream_idle_timeout = 0.4
        outcome = _bounded(lambda: _read(provider, wire.model), emu.stop)
        provider.close()
    assert outcome.error is None, repr(outcome.error)
    assert outcome.text == text and outcome.types[-1] == "done"
    assert outcome.events[-1][0] - outcome.events[0][0] > 0.4
    assert stream_watchdog.watching() == 0


def test_no_idle_timeout_when_it_is_none(emu: WireEmulator) -> None:
    """None: a silent stream is bounded by the HTTP read timeout only, and the watchdog holds nothing for it."""
    emu.script(REPLY)
    held: list[int] = []
    with StallingProxy(emu) as proxy:
        # A short read timeout (the attempt's `timeout`), so that the stream ends; the idle timeout is off.
        provider = create_provider("openai", api_key=KEY, base_url=proxy.url + "/v1", max_retries=0, timeout=2.0,
                                   stream_idle_timeout=None)

        def watch_it() -> None:
            assert proxy.stalled.wait(OUTER)
            time.sleep(1.0)  # twice `IDLE`, the read still blocked
            held.append(stream_watchdog.watching())

        watcher = threading.Thread(target=watch_it, daemon=True)
        watcher.start()
        outcome = _bounded(lambda: _read(provider, "gpt-4o-mini"), proxy.close)
        watcher.join(OUTER)
        provider.close()
    assert held == [0]
    assert isinstance(outcome.error, APITimeoutError), repr(outcome.error)
    assert "stream_idle_timeout" not in str(outcome.error)  # the read timeout's
    assert outcome.ended_at - outcome.events[-1][0] >= 1.5


def test_a_stream_closed_early_is_no_longer_watched(emu: WireEmulator) -> None:
    emu.script(Reply("one two three four five six"))
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0)
    watched = []
    with provider.stream_sync("gpt-4o-mini", "hi") as events:
        for _ in events:
            watched.append(stream_watchdog.watching())
            if len(watched) == 3:
                break
    assert watched == [0, 1, 1]  # watched from its first read after the first event, to its close
    assert stream_watchdog.watching() == 0
    assert settle(lambda: emu.open_connections == 0)  # its response closed (half-read: not pooled)
    provider.close()


def test_a_stream_that_ends_is_no_longer_watched(emu: WireEmulator) -> None:
    provider = create_provider("openai", api_key=KEY, base_url=emu.openai_base_url, max_retries=0)
    assert provider.generate_sync("gpt-4o-mini", "warm up").text
    types = [event.type for event in provider.stream_sync("gpt-4o-mini", "one two three")]
    assert types[-1] == "done"
    assert stream_watchdog.watching() == 0
    assert stream_watchdog.running()
    assert any(t.name == "agentos-llm-stream-watchdog" and t.daemon for t in threading.enumerate())
    provider.close()


def test_the_watchdog_is_not_started_by_import() -> None:
    code = ("import threading, agentos_llm, agentos_llm.streaming\n"
            "from agentos_llm import create_provider, stream_watchdog\n"
            "print(stream_watchdog.running(), sorted(t.name for t in threading.enumerate()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False ['MainThread']"


# ---------------------------------------------------------------------- the watchdog on its own


def test_the_watchdog_cuts_a_waiting_stream_and_spares_a_paused_one() -> None:
    cut = threading.Event()
    spared = threading.Event()
    waiting = stream_watchdog.watch(0.05, cut.set)
    paused = stream_watchdog.watch(0.05, spared.set)
    paused.since = stream_watchdog.PAUSED
    try:
        assert cut.wait(5) and waiting.fired
        time.sleep(0.2)
        assert not spared.is_set() and not paused.fired
        assert stream_watchdog.watching() == 1  # a fired stream is dropped by the watchdog itself
        paused.since = time.monotonic()  # reading again: watched again, without any call to the watchdog
        assert spared.wait(5) and paused.fired
    finally:
        stream_watchdog.unwatch(waiting)
        stream_watchdog.unwatch(paused)
    assert stream_watchdog.watching() == 0


def test_a_stream_unwatched_in_time_is_not_cut() -> None:
    cut = threading.Event()
    w = stream_watchdog.watch(0.3, cut.set)
    stream_watchdog.unwatch(w)
    time.sleep(0.5)
    assert not cut.is_set() and not w.fired


def test_a_failing_cut_does_not_stop_the_watchdog() -> None:
    def broken() -> None:
        raise OSError("already closed")

    cut = threading.Event()
    first = stream_watchdog.watch(0.01, broken)
    assert settle(lambda: first.fired)
    second = stream_watchdog.watch(0.01, cut.set)
    assert cut.wait(5)
    stream_watchdog.unwatch(first)
    stream_watchdog.unwatch(second)
