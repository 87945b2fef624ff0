"""The fixtures of the `GenaiFastSend` tests: a recording server, google-genai clients closed after each test,
a plain environment, and nothing left open."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google import genai
from google.genai import types as genai_types
from recording_server import RecordingServer, serving

from agentos_llm.providers import sdk_fast_post

from .setting import KEY

_DEFAULT: Any = object()


def _open_sockets() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


@pytest.fixture(autouse=True)
def _nothing_left_open() -> Iterator[None]:
    """Set up first, so torn down last: after the server and every client are closed, no thread or socket the
    test opened is left (the server's handler threads end when their connections close). The library's stream
    watchdog is one thread per process, started by the first stream and kept: not the test's."""
    if not os.path.isdir("/proc/self/fd"):  # pragma: no cover - Linux only
        yield
        return
    threads, sockets = set(threading.enumerate()), _open_sockets()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        left = [t for t in threading.enumerate()
                if t not in threads and t.is_alive() and t.name != "agentos-llm-stream-watchdog"]
        opened = _open_sockets() - sockets
        if not left and not opened:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left open: threads {left}, sockets {sorted(opened)}")
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE",
                 "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GENAI_API_VERSION",
                 "GOOGLE_GENAI_HTTP_CLIENT", "GOOGLE_GENAI_CLIENT_MODE", "GOOGLE_GEMINI_BASE_URL",
                 "GOOGLE_VERTEX_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sdk_fast_post, "_warned", set())  # the once-per-process warnings, which this module reuses


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with serving() as srv:
        yield srv


@pytest.fixture
def make_client() -> Iterator[Callable[..., genai.Client]]:
    """`genai.Client`s as the Gemini provider makes them (one attempt, a client timeout, default headers), closed
    at the end of the test."""
    made: list[genai.Client] = []

    def make(base_url: str, *, api_version: Any = _DEFAULT, headers: dict[str, str] | None = None,
             timeout: int | None = 30_000, vertexai: bool | None = None, **http: Any) -> genai.Client:
        options = genai_types.HttpOptions(
            base_url=base_url, api_version="v1beta" if api_version is _DEFAULT else api_version, headers=headers,
            timeout=timeout, retry_options=genai_types.HttpRetryOptions(attempts=1), **http)
        client = genai.Client(api_key=KEY, vertexai=vertexai, http_options=options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


