"""Shared pieces of the cassette tests: vcrpy configuration, secret scrubbing and the recording target.

Cassettes live in the repo-root ``cassettes/`` directory and are recorded through the real
``openai`` SDK (which sends through ``httpx2``; vcrpy >= 9 patches ``httpx2`` transports natively).

Where requests go while a test runs:

- default: a :class:`~agentos_llm.testing.emulator.WireEmulator` on a random loopback port, with the
  key ``sk-test-cassette`` (key-shaped on purpose, so the scrubbing is exercised on every recording);
- ``AGENTOS_LLM_RECORD_LIVE=1`` with ``OPENAI_API_KEY``: the real OpenAI API (``OPENAI_BASE_URL`` or
  ``https://api.openai.com/v1``), for re-recording with ``--record-mode=all``;
- ``AGENTOS_LLM_CASSETTE_NO_EMULATOR=1``: no server at all, the base URL is ``http://127.0.0.1:9/v1``
  (the discard port, where nothing listens), so a passing run proves every answer came from a cassette.

Both modes send the same request bodies (same model names and options) and requests are matched
on method, path, query and body only, so a cassette recorded against either replays with any base URL.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentos_llm.provider import IProvider
from agentos_llm.registry import create_provider
from agentos_llm.testing.emulator import Fault, Reply, WireEmulator

__all__ = [
    "ANTHROPIC",
    "CASSETTE_DIR",
    "CHAT_MODEL",
    "EMBEDDING_MODEL",
    "OPENAI",
    "TEST_API_KEY",
    "CassetteTarget",
    "Vendor",
    "find_key_like",
    "open_target",
    "scrub_request",
    "scrub_response",
    "scrub_text",
    "vcr_config",
]

CASSETTE_DIR = Path(__file__).resolve().parent.parent / "cassettes"

#: The key the emulator runs get; key-shaped so that the scrubbing is tested by every recording.
TEST_API_KEY = "sk-test-cassette"
#: Models used by every recording (emulated or live), so request bodies match either way.
CHAT_MODEL = "gpt-4.1-nano"
EMBEDDING_MODEL = "text-embedding-3-small"
LIVE_ENV = "AGENTOS_LLM_RECORD_LIVE"
NO_EMULATOR_ENV = "AGENTOS_LLM_CASSETTE_NO_EMULATOR"
#: Where requests go in the no-emulator mode: the discard port on loopback, nothing listens there.
DEAD_BASE_URL = "http://127.0.0.1:9/v1"
REDACTED = "<REDACTED>"

# Request headers dropped before anything is written (vcrpy's filter_headers).
FILTER_HEADERS = (
    "authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
)
# Response headers that identify the account or carry session cookies.
DROP_RESPONSE_HEADERS = frozenset({"set-cookie", "openai-organization", "openai-project"})
FILTER_QUERY_PARAMETERS = ("key", "api_key", "api-key")

#: Key-like strings: OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), Google (AIza), Groq (gsk_), xAI (xai-),
#: Hugging Face (hf_), any bearer token, and the literal test key.
KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(re.escape(TEST_API_KEY)),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"),
    re.compile(r"\bgsk_[A-Za-z0-9]{16,}"),
    re.compile(r"\bxai-[A-Za-z0-9]{16,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{16,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{8,}"),
)


# ---------------------------------------------------------------------- scrubbing


def find_key_like(text: str) -> list[str]:
    """Every key-like substring of ``text``."""
    return [m.group(0) for pattern in KEY_PATTERNS for m in pattern.finditer(text)]


def scrub_text(text: str) -> str:
    """``text`` with every key-like substring replaced by ``<REDACTED>``."""
    for pattern in KEY_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def _scrub_body(body: Any) -> Any:
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        scrubbed = scrub_text(text)
        return body if scrubbed == text else scrubbed.encode("utf-8")
    if isinstance(body, str):
        return scrub_text(body)
    return body


def scrub_request(request: Any) -> Any:
    """vcrpy ``before_record_request``: key-like values out of the URI, headers and body.

    vcrpy runs it on a deep copy, after ``filter_headers``, both before recording and before
    matching, so matching sees the same scrubbed request as the cassette holds.
    """
    request.uri = scrub_text(request.uri)
    for name in list(request.headers):
        value = request.headers[name]
        if isinstance(value, str):
            request.headers[name] = scrub_text(value)
    request.body = _scrub_body(request.body)
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy ``before_record_response``: account headers and cookies dropped, key-like values removed."""
    headers = response.get("headers") or {}
    cleaned: dict[str, Any] = {}
    for name, values in headers.items():
        if name.lower() in DROP_RESPONSE_HEADERS:
            continue
        cleaned[name] = [scrub_text(v) if isinstance(v, str) else v for v in values]
    response["headers"] = cleaned
    body = response.get("body")
    if isinstance(body, dict) and "string" in body:
        body["string"] = _scrub_body(body["string"])
    return response


def vcr_config(module_name: str) -> dict[str, Any]:
    """The ``vcr_config`` for a test module: cassettes in ``cassettes/<module_name>/``."""
    return {
        "cassette_library_dir": str(CASSETTE_DIR / module_name),
        "filter_headers": list(FILTER_HEADERS),
        "filter_query_parameters": list(FILTER_QUERY_PARAMETERS),
        # No scheme, host or port: a cassette replays against any base URL.
        "match_on": ["method", "path", "query", "body"],
        "decode_compressed_response": True,
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "record_on_exception": False,
    }


# ---------------------------------------------------------------------- the recording target


@dataclass(frozen=True)
class Vendor:
    """What differs per vendor when recording: its provider, its key and base-URL env vars, its URLs."""

    provider_id: str
    key_env: str
    base_url_env: str
    live_base_url: str
    #: Where requests go without an emulator (the discard port on loopback, nothing listens there).
    dead_base_url: str
    emulator_base_url: Callable[[WireEmulator], str]
    #: The models the emulator lists.
    models: tuple[str, ...]


OPENAI = Vendor("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1", DEAD_BASE_URL,
                lambda emu: emu.openai_base_url, (CHAT_MODEL, "gpt-4.1-mini", EMBEDDING_MODEL))
ANTHROPIC = Vendor("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com",
                   "http://127.0.0.1:9", lambda emu: emu.anthropic_base_url,
                   ("claude-haiku-4-5", "claude-sonnet-4-0"))


@dataclass
class CassetteTarget:
    """Where the provider sends (the emulator, the real API, or nowhere), and what the cassette holds."""

    base_url: str
    api_key: str
    cassette: Any = None
    live: bool = False
    emulator: WireEmulator | None = None
    providers: list[IProvider] = field(default_factory=list)
    #: Index of this run's first interaction: with ``--record-mode=all`` the loaded ones come first.
    offset: int = 0
    provider_id: str = "openai"

    def script(self, *items: Reply | Fault) -> None:
        """Scripts the emulator's answers; a no-op live or without an emulator (a replay)."""
        if self.emulator is not None:
            self.emulator.script(*items)

    def provider(self) -> IProvider:
        """Our provider for the vendor (its real SDK underneath), pointed at the target, no retries."""
        provider = create_provider(self.provider_id, api_key=self.api_key, base_url=self.base_url, max_retries=0)
        self.providers.append(provider)
        return provider

    # what the cassette holds for this run (recorded now or loaded from disk), in request order

    def _interaction(self, index: int) -> tuple[Any, dict[str, Any]]:
        request, response = self.cassette.data[self.offset + index]
        return request, response

    def request_json(self, index: int) -> Any:
        """The JSON body of this run's ``index``-th request as the cassette holds it."""
        body = self._interaction(index)[0].body
        return json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)

    def _response_text(self, index: int) -> str:
        body = self._interaction(index)[1]["body"]["string"]
        return body.decode("utf-8") if isinstance(body, bytes) else str(body)

    def response_json(self, index: int) -> Any:
        """The JSON body of this run's ``index``-th response."""
        return json.loads(self._response_text(index))

    def response_sse(self, index: int) -> list[Any]:
        """The JSON ``data:`` payloads of this run's ``index``-th (streamed) response, ``[DONE]`` left out."""
        events = []
        for line in self._response_text(index).splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data and data != "[DONE]":
                    events.append(json.loads(data))
        return events


def open_target(cassette: Any, vendor: Vendor = OPENAI) -> Iterator[CassetteTarget]:
    """The body of the ``target`` fixture; ``cassette`` is pytest-recording's ``vcr`` fixture.

    When the cassette is replay-only (``--record-mode=none``, or ``once`` with the cassette on disk),
    the teardown checks that the emulator got no request and that every recorded interaction was played.
    """
    key = os.environ.get(vendor.key_env, "")
    emulator: WireEmulator | None = None
    if os.environ.get(LIVE_ENV) == "1":
        if not key:
            raise RuntimeError(f"{LIVE_ENV}=1 needs {vendor.key_env}")
        base_url = os.environ.get(vendor.base_url_env) or vendor.live_base_url
        target = CassetteTarget(base_url=base_url, api_key=key, live=True)
    elif os.environ.get(NO_EMULATOR_ENV) == "1":
        target = CassetteTarget(base_url=vendor.dead_base_url, api_key=TEST_API_KEY)
    else:
        emulator = WireEmulator(models=list(vendor.models)).start()
        target = CassetteTarget(base_url=vendor.emulator_base_url(emulator), api_key=TEST_API_KEY, emulator=emulator)
    target.provider_id = vendor.provider_id
    target.cassette = cassette
    if cassette is not None and cassette.record_mode == "all":
        target.offset = len(cassette)
    try:
        yield target
        if cassette is not None and cassette.write_protected:
            if emulator is not None:
                assert emulator.requests == [], "a replay reached the emulator: the cassette did not answer"
            assert cassette.all_played, f"{cassette.path}: not every recorded interaction was replayed"
    finally:
        for provider in target.providers:
            provider.close()
        if emulator is not None:
            emulator.stop()
