"""Shared pieces of the cassette tests: vcrpy configuration, secret scrubbing and the recording target.

Cassettes live in the repo-root ``cassettes/`` directory and are recorded through the real vendor
SDKs: ``openai`` (``httpx2``; vcrpy >= 9 patches ``httpx2`` transports natively), ``anthropic``,
``google-genai``, ``cohere`` and Voyage's plain ``httpx`` (vcrpy's ``httpx`` patcher), and ``boto3`` for
Bedrock (vcrpy's ``boto3`` patcher swaps ``botocore.awsrequest``'s connection classes for recording stubs).

Where requests go while a test runs:

- default: a :class:`~agentos_llm.testing.emulator.WireEmulator` on a random loopback port, with the
  key ``sk-test-cassette`` (key-shaped on purpose, so the scrubbing is exercised on every recording;
  Cohere, Voyage and Bedrock get key-shaped dummies of their own, Bedrock AWS keys that SigV4 signs with);
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
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentos_llm.provider import IProvider
from agentos_llm.registry import create_provider
from agentos_llm.testing.emulator import Fault, Reply, WireEmulator

__all__ = [
    "ANTHROPIC",
    "AWS_TEST_CREDENTIALS",
    "BEDROCK",
    "BEDROCK_TEST_API_KEY",
    "CASSETTE_DIR",
    "CHAT_MODEL",
    "COHERE",
    "COHERE_TEST_API_KEY",
    "EMBEDDING_MODEL",
    "OPENAI",
    "TEST_API_KEY",
    "VOYAGE",
    "VOYAGE_TEST_API_KEY",
    "CassetteTarget",
    "Vendor",
    "cassette_lines",
    "find_key_like",
    "open_target",
    "scrub_request",
    "scrub_response",
    "scrub_text",
    "skip_live",
    "vcr_config",
    "without_path_prefix",
]

CASSETTE_DIR = Path(__file__).resolve().parent.parent / "cassettes"

#: The key the emulator runs get; key-shaped so that the scrubbing is tested by every recording.
TEST_API_KEY = "sk-test-cassette"
#: Cohere keys are 40 letters and digits with no prefix: this dummy is listed as a pattern by itself.
COHERE_TEST_API_KEY = "TestCassetteCohereKey0000000000000000000"
#: Voyage AI keys start with ``pa-``.
VOYAGE_TEST_API_KEY = "pa-TestCassetteVoyageKey000000000000000000000"
#: A Bedrock API key (``ABSK`` and base64), sent as ``Authorization: Bearer``.
BEDROCK_TEST_API_KEY = "ABSKVGVzdENhc3NldHRlQmVkcm9ja0FwaUtleTAwMDA="
#: Dummy AWS credentials SigV4 signs with: long-term keys (``AKIA``) and temporary ones (``ASIA`` with a
#: session token, which goes out as ``X-Amz-Security-Token``).
AWS_TEST_CREDENTIALS: dict[str, dict[str, str]] = {
    "keys": {"aws_access_key_id": "AKIATESTCASSETTE0001",
             "aws_secret_access_key": "TestCassetteSecretAccessKey/0000000000000"},
    "session": {"aws_access_key_id": "ASIATESTCASSETTE0002",
                "aws_secret_access_key": "TestCassetteSecretAccessKey/0000000000002",
                "aws_session_token": "IQoJb3JpZ2luX2VjEExhbXBsZVRlc3RDYXNzZXR0ZVNlc3Npb25Ub2tlbjAwMDAwMDAw"},
}
#: The region every emulated or replayed Bedrock call names (it is in SigV4's scope, not in the request).
AWS_TEST_REGION = "us-east-1"
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
    # AWS: SigV4 signs every request (the Authorization header names the access key id), temporary
    # credentials add their session token, and botocore tags each call; none of it is needed to replay.
    "x-amz-date",
    "x-amz-security-token",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
)
# Response headers that identify the account or carry session cookies.
DROP_RESPONSE_HEADERS = frozenset({"set-cookie", "openai-organization", "openai-project"})
FILTER_QUERY_PARAMETERS = ("key", "api_key", "api-key", "X-Amz-Credential", "X-Amz-Security-Token",
                           "X-Amz-Signature")
#: The content type of AWS's binary event stream (Bedrock's ConverseStream).
EVENT_STREAM = "application/vnd.amazon.eventstream"

#: Key-like strings: OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), Google (AIza), Groq (gsk_), xAI (xai-),
#: Hugging Face (hf_), Voyage AI (pa-), AWS access key ids (AKIA long-term, ASIA temporary), AWS session
#: tokens (IQoJb3JpZ2lu, FwoGZXIvYXdz), Bedrock API keys (ABSK, bedrock-api-key-), any bearer token, and
#: the literal test keys and dummy secrets (Cohere's keys have no prefix to look for).
KEY_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(re.escape(TEST_API_KEY)),
    re.compile(re.escape(COHERE_TEST_API_KEY)),
    *(re.compile(re.escape(secret)) for creds in AWS_TEST_CREDENTIALS.values() for secret in creds.values()),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"),
    re.compile(r"\bgsk_[A-Za-z0-9]{16,}"),
    re.compile(r"\bxai-[A-Za-z0-9]{16,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{16,}"),
    re.compile(r"\bpa-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\b(?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9+/=]{16,}"),
    re.compile(r"\bABSK[A-Za-z0-9+/=]{16,}"),
    re.compile(r"\bbedrock-api-key-[A-Za-z0-9+/=%]{16,}"),
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
        if isinstance(value, bytes):
            # botocore hands some header values over as bytes: as text they are readable in the cassette,
            # and the key scan sees them (YAML would store bytes as base64).
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                continue
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
        content_type = " ".join(v for k, vs in cleaned.items() if k.lower() == "content-type" for v in vs
                                if isinstance(v, str))
        if EVENT_STREAM in content_type and isinstance(body["string"], bytes):
            body["string"] = scrub_event_stream(body["string"])
        else:
            body["string"] = _scrub_body(body["string"])
    return response


_PRELUDE = struct.Struct(">III")  # total length, headers length, CRC-32 of the first eight bytes


def scrub_event_stream(body: bytes) -> bytes:
    """An AWS event stream with key-like values taken out of its message payloads, each changed message framed
    again (lengths and both CRC-32s), so botocore's checks still pass on replay. A stream with nothing to
    take out is returned as it came, byte for byte; so is one that does not parse (the key scan then
    reads it as it is)."""
    out = bytearray()
    position = 0
    while position < len(body):
        if len(body) - position < _PRELUDE.size + 4:
            return body
        total, headers_length, _ = _PRELUDE.unpack_from(body, position)
        if total < _PRELUDE.size + headers_length + 4 or position + total > len(body):
            return body
        start = position + _PRELUDE.size
        headers = body[start:start + headers_length]
        payload = body[start + headers_length:position + total - 4]
        scrubbed = _scrub_body(payload)
        if scrubbed is payload:
            out += body[position:position + total]
        else:
            prelude = struct.pack(">II", _PRELUDE.size + headers_length + len(scrubbed) + 4, headers_length)
            message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + scrubbed
            out += message + struct.pack(">I", zlib.crc32(message))
        position += total
    return body if out == body else bytes(out)


def cassette_lines(path: Path) -> Iterator[tuple[str, str]]:
    """Every line of a cassette file to scan for secrets, with where it is: the file's own lines, then, for a
    YAML cassette, the lines of each ``!!binary`` value decoded (a key in a binary body or header would
    otherwise hide in base64)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        yield f"{path.name}:{number}", line
    if path.suffix != ".yaml":
        return
    found: list[bytes] = []

    def walk(node: Any) -> None:
        if isinstance(node, bytes):
            found.append(node)
        elif isinstance(node, Mapping):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(text))
    for index, blob in enumerate(found):
        for number, line in enumerate(blob.decode("utf-8", errors="replace").splitlines(), 1):
            yield f"{path.name}: binary value {index}, line {number}", line


def without_path_prefix(prefix: str) -> Callable[[Any], Any]:
    """A ``before_record_request`` that scrubs, then takes ``prefix`` off the request path: the emulator serves
    some vendors under a prefix of their own (Voyage under ``/voyage``), and vcrpy runs the hook before
    matching as well, so a cassette matches the vendor's real paths whichever server recorded it."""

    def hook(request: Any) -> Any:
        request = scrub_request(request)
        parsed = request.parsed_uri
        if parsed.path.startswith(prefix + "/"):
            request.uri = parsed._replace(path=parsed.path[len(prefix):]).geturl()
        return request

    return hook


def vcr_config(module_name: str, *, path_prefix: str | None = None) -> dict[str, Any]:
    """The ``vcr_config`` for a test module: cassettes in ``cassettes/<module_name>/``; ``path_prefix`` is
    taken off request paths (see `without_path_prefix`)."""
    return {
        "cassette_library_dir": str(CASSETTE_DIR / module_name),
        "filter_headers": list(FILTER_HEADERS),
        "filter_query_parameters": list(FILTER_QUERY_PARAMETERS),
        # No scheme, host or port: a cassette replays against any base URL.
        "match_on": ["method", "path", "query", "body"],
        "decode_compressed_response": True,
        "before_record_request": scrub_request if path_prefix is None else without_path_prefix(path_prefix),
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
    #: Empty for a vendor whose SDK finds its own endpoint (Bedrock: the region's).
    live_base_url: str
    #: Where requests go without an emulator (the discard port on loopback, nothing listens there).
    dead_base_url: str
    emulator_base_url: Callable[[WireEmulator], str]
    #: The models the emulator lists.
    models: tuple[str, ...]
    #: The key emulated and replayed runs send (None: the provider takes other credentials, see `test_config`).
    test_key: str | None = TEST_API_KEY
    #: More `create_provider` arguments for emulated and replayed runs.
    test_config: Mapping[str, Any] = field(default_factory=dict)
    #: More `create_provider` arguments live, read from the environment when the run starts.
    live_config: Callable[[], dict[str, Any]] = dict
    #: Whether a live run needs `key_env` (Bedrock does not: the AWS credential chain may answer instead).
    key_required: bool = True


OPENAI = Vendor("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1", DEAD_BASE_URL,
                lambda emu: emu.openai_base_url, (CHAT_MODEL, "gpt-4.1-mini", EMBEDDING_MODEL))
ANTHROPIC = Vendor("anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com",
                   "http://127.0.0.1:9", lambda emu: emu.anthropic_base_url,
                   ("claude-haiku-4-5", "claude-sonnet-4-0"))
COHERE = Vendor("cohere", "COHERE_API_KEY", "COHERE_BASE_URL", "https://api.cohere.com", "http://127.0.0.1:9",
                lambda emu: emu.cohere_base_url,
                ("command-a-03-2025", "command-r7b-12-2024", "embed-v4.0", "rerank-v3.5"),
                test_key=COHERE_TEST_API_KEY)
# The emulator serves Voyage under /voyage/v1; `vcr_config(..., path_prefix="/voyage")` takes that off the
# recorded paths, so the dead base URL is the vendor's own path.
VOYAGE = Vendor("voyage", "VOYAGE_API_KEY", "VOYAGE_BASE_URL", "https://api.voyageai.com/v1", DEAD_BASE_URL,
                lambda emu: emu.voyage_base_url, (), test_key=VOYAGE_TEST_API_KEY)
# Bedrock signs with SigV4 from dummy AWS keys when emulated or replayed; live, the AWS chain (or a Bedrock API
# key in AWS_BEARER_TOKEN_BEDROCK) answers, in AWS_REGION (us-east-1 by default).
BEDROCK = Vendor("bedrock", "AWS_BEARER_TOKEN_BEDROCK", "BEDROCK_BASE_URL", "", "http://127.0.0.1:9",
                 lambda emu: emu.bedrock_base_url, (), test_key=None,
                 test_config={"region": AWS_TEST_REGION, **AWS_TEST_CREDENTIALS["keys"]},
                 live_config=lambda: {"region": os.environ.get("AWS_REGION") or AWS_TEST_REGION},
                 key_required=False)


@dataclass
class CassetteTarget:
    """Where the provider sends (the emulator, the real API, or nowhere), and what the cassette holds."""

    base_url: str
    api_key: str | None
    cassette: Any = None
    live: bool = False
    emulator: WireEmulator | None = None
    providers: list[IProvider] = field(default_factory=list)
    #: Index of this run's first interaction: with ``--record-mode=all`` the loaded ones come first.
    offset: int = 0
    provider_id: str = "openai"
    #: More `create_provider` arguments (the vendor's `test_config` or `live_config`).
    config: dict[str, Any] = field(default_factory=dict)
    #: Set by `skip_live`: the teardown then leaves the cassette unchecked.
    skipped: bool = False

    def script(self, *items: Reply | Fault) -> None:
        """Scripts the emulator's answers; a no-op live or without an emulator (a replay)."""
        if self.emulator is not None:
            self.emulator.script(*items)

    def provider(self, **overrides: Any) -> IProvider:
        """Our provider for the vendor (its real SDK underneath), pointed at the target, no retries;
        ``overrides`` replace `create_provider` arguments (``api_key`` included; a None config value drops it)."""
        kwargs: dict[str, Any] = {"api_key": self.api_key, "base_url": self.base_url or None, "max_retries": 0,
                                  **self.config, **overrides}
        kwargs = {k: v for k, v in kwargs.items() if v is not None or k in ("api_key", "base_url")}
        provider = create_provider(self.provider_id, **kwargs)
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

    def response_body(self, index: int) -> bytes:
        """The raw body of this run's ``index``-th response."""
        body = self._interaction(index)[1]["body"]["string"]
        return body if isinstance(body, bytes) else str(body).encode("utf-8")

    def response_headers(self, index: int) -> dict[str, list[str]]:
        """The recorded headers of this run's ``index``-th response, names lower-cased."""
        return {k.lower(): v for k, v in self._interaction(index)[1]["headers"].items()}

    def request_path(self, index: int) -> str:
        """The path of this run's ``index``-th request, as matched (the query left out)."""
        return str(self._interaction(index)[0].path)

    def _response_text(self, index: int) -> str:
        return self.response_body(index).decode("utf-8")

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


def skip_live(target: CassetteTarget) -> None:
    """Skips a test that scripts a fault on the emulator when it runs live, where nothing would fail.
    Such tests are named ``test_error_*``: re-record live with ``-k "not error"`` to keep their emulated
    cassettes (``--record-mode=rewrite`` deletes a cassette before its test runs)."""
    if target.live:
        target.skipped = True
        pytest.skip("a scripted fault cannot be recorded live")


def open_target(cassette: Any, vendor: Vendor = OPENAI) -> Iterator[CassetteTarget]:
    """The body of the ``target`` fixture; ``cassette`` is pytest-recording's ``vcr`` fixture.

    When the cassette is replay-only (``--record-mode=none``, or ``once`` with the cassette on disk),
    the teardown checks that the emulator got no request and that every recorded interaction was played.
    """
    key = os.environ.get(vendor.key_env, "")
    emulator: WireEmulator | None = None
    if os.environ.get(LIVE_ENV) == "1":
        if vendor.key_required and not key:
            raise RuntimeError(f"{LIVE_ENV}=1 needs {vendor.key_env}")
        base_url = os.environ.get(vendor.base_url_env) or vendor.live_base_url
        target = CassetteTarget(base_url=base_url, api_key=key or None, live=True, config=vendor.live_config())
    elif os.environ.get(NO_EMULATOR_ENV) == "1":
        target = CassetteTarget(base_url=vendor.dead_base_url, api_key=vendor.test_key,
                                config=dict(vendor.test_config))
    else:
        emulator = WireEmulator(models=list(vendor.models)).start()
        target = CassetteTarget(base_url=vendor.emulator_base_url(emulator), api_key=vendor.test_key,
                                emulator=emulator, config=dict(vendor.test_config))
    target.provider_id = vendor.provider_id
    target.cassette = cassette
    if cassette is not None and cassette.record_mode == "all":
        target.offset = len(cassette)
    try:
        yield target
        if cassette is not None and cassette.write_protected and not target.skipped:
            if emulator is not None:
                assert emulator.requests == [], "a replay reached the emulator: the cassette did not answer"
            assert cassette.all_played, f"{cassette.path}: not every recorded interaction was replayed"
    finally:
        for provider in target.providers:
            provider.close()
        if emulator is not None:
            emulator.stop()
