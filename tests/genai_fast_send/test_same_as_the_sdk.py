"""`agentos_llm.providers.genai_fast_send`: the same request on the wire as google-genai's own
`api._request_once(api._build_request(method, path, body, options), True)`, the same response and exceptions,
against a real HTTP server on 127.0.0.1 (tests/recording_server.py; no mocks of the SDK).

`api` is `genai.Client(...)._api_client`, built with the Gemini API's HTTP options as the provider builds them.
Where a test counts what went through the SDK, a spy on the instance's `_request_once` counts and delegates; the
probes `GenaiFastSend` learns with go through `_request_once` too and are caught before a byte is sent, so the
spy counts them apart. Every test checks that it leaves no thread or socket open.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import _api_client as genai_api_client
from google.genai import errors as genai_errors
from recording_server import RecordingServer, Route, closed_port, wire

from agentos_llm import create_provider
from agentos_llm.providers import genai_fast_send
from agentos_llm.providers.genai_fast_send import GenaiFastSend, fast_send_of

from .setting import (
    BODY,
    ERROR_ROUTES,
    GEMINI_JSON,
    GEN,
    KEY,
    LARGE_BODY,
    MODEL,
    PROBE_MARK,
    SSE_BODY,
    STREAM,
    UNICODE_BODY,
    Spy,
    fast_for,
    fast_send,
    read,
    sdk_send,
    without_date,
)

# ---------------------------------------------------------------------- the same request on the wire

CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "default headers": {"client": {"headers": {"X-Custom": "one", "Accept": "application/json",
                                               "X-Goog-User-Project": "proj-1"}}},
    "api version v1": {"client": {"api_version": "v1"}},
    "api version v1beta": {"client": {"api_version": "v1beta"}},
    "the SDK's default api version": {"client": {"api_version": None}},
    "no api version in the path": {"no_version": True},
    "base URL with a path prefix": {"base": "/proxy/gemini"},
    "stream path": {"path": STREAM},
    "patch with a query string": {"method": "patch", "path": "cachedContents/abc123?updateMask=ttl",
                                  "body": {"ttl": "600s"}},
    "no client timeout": {"client": {"timeout": None}},
    "unicode body": {"body": UNICODE_BODY},
    "large body": {"body": LARGE_BODY},
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_the_same_request_as_the_sdk(server: RecordingServer, make_client: Callable[..., genai.Client],
                                     case: dict[str, Any]) -> None:
    client = make_client(server.url + case.get("base", ""), **case.get("client", {}))
    api = client._api_client
    if case.get("no_version"):
        api._http_options.api_version = None  # `_build_request` then joins the path to the base URL alone
    fs = fast_for(client)
    method, path, body = case.get("method", "post"), case.get("path", GEN), case.get("body", BODY)
    other = {**body, "generationConfig": {"temperature": 0.25, "candidateCount": 1}}
    assert read(sdk_send(api, method, path, body)) == b'{"ok":true}'
    read(sdk_send(api, method, path, other))
    spy = Spy(api)
    assert read(fast_send(fs, method, path, body)) == b'{"ok":true}'  # learns the shape, then sends
    assert (spy.probes, spy.sent) == (2, 0)
    assert isinstance(fs._templates[(method, path)], genai_fast_send._Template)
    assert read(fast_send(fs, method, path, other)) == b'{"ok":true}'  # from the template
    assert spy.calls == 2  # nothing more went through the SDK
    assert len(server.records) == 4  # one request per call: the probes never reached the server
    assert not any(PROBE_MARK in r.body for r in server.records)
    a, b, c, d = server.records
    assert wire(c) == wire(a)
    assert wire(d) == wire(b)
    assert wire(a) != wire(b)  # the body did change
    assert json.loads(c.body) == body and c.method == method.upper()
    if "base" in case:
        assert c.target.startswith("/proxy/gemini/v1beta/models/")
    if case.get("no_version"):
        assert c.target == f"/{GEN}"
    if case.get("client", {}).get("timeout", 30_000) is None:
        assert "x-server-timeout" not in dict(wire(c)[2])
    else:
        assert dict(wire(c)[2])["x-server-timeout"] == "30"


def test_many_calls_after_learning_stay_the_same(server: RecordingServer,
                                                 make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    for i in range(5):
        body = {**BODY, "generationConfig": {"seed": i}}
        read(sdk_send(api, "post", GEN, body))
        read(fast_send(fs, "post", GEN, body))
    assert len(server.records) == 10
    for sdk, fast in zip(server.records[::2], server.records[1::2], strict=True):
        assert wire(fast) == wire(sdk)


# ---------------------------------------------------------------------- the same response


def test_the_response_is_the_sdks(server: RecordingServer, make_client: Callable[..., genai.Client]) -> None:
    server.routes[":generateContent"] = Route(body=GEMINI_JSON, headers={"X-Request-Id": "req-1",
                                                                         "Server-Timing": "gfet4t7; dur=12"})
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    sdk = sdk_send(api, "post", GEN, BODY)
    fast = fast_send(fs, "post", GEN, BODY)
    try:
        assert type(fast) is genai_api_client.HttpResponse
        assert fast.status_code == sdk.status_code == 200
        assert isinstance(fast.headers, dict)
        assert without_date(fast.headers) == without_date(sdk.headers)
        assert fast.headers["x-request-id"] == "req-1" and "date" in fast.headers
        assert type(fast.response_stream) is type(sdk.response_stream)
        assert isinstance(fast.response_stream, httpx2.Response)
        # open, not yet read: the caller reads the body within its own deadline
        assert not fast.response_stream.is_closed and not sdk.response_stream.is_closed
        assert not fast.response_stream.is_stream_consumed
        assert fast.byte_stream is None
    finally:
        assert read(fast) == read(sdk) == GEMINI_JSON


def test_a_stream_reads_as_the_sdks(server: RecordingServer, make_client: Callable[..., genai.Client]) -> None:
    events = SSE_BODY + b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":" \\u00e9"}]}}]}\r\n\r\n'
    server.routes["alt=sse"] = Route(body=events, content_type="text/event-stream")
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    sdk_segments = list(sdk_send(api, "post", STREAM, BODY).segments())
    fast = fast_send(fs, "post", STREAM, BODY)
    assert fast.headers["content-type"] == "text/event-stream"
    fast_segments = list(fast.segments())
    assert fast_segments == sdk_segments
    assert [s["candidates"][0]["content"]["parts"][0]["text"] for s in fast_segments] == ["hi", " é"]
    assert read(fast_send(fs, "post", STREAM, BODY)) == events  # the bytes as they came
    assert wire(server.records[1]) == wire(server.records[0])


# ---------------------------------------------------------------------- the same exceptions


def same_error(a: BaseException, b: BaseException) -> None:
    assert type(a) is type(b)
    assert isinstance(a, genai_errors.APIError) and isinstance(b, genai_errors.APIError)
    assert (a.code, a.status, a.message, a.details) == (b.code, b.status, b.message, b.details)
    assert str(a) == str(b)
    assert type(a.__context__) is type(b.__context__) and a.__cause__ is None and b.__cause__ is None
    assert isinstance(b.response, httpx2.Response) and b.response.is_stream_consumed  # read, as the SDK does
    assert without_date(b.response.headers) == without_date(a.response.headers)


@pytest.mark.parametrize("route", list(ERROR_ROUTES))
def test_status_errors_are_the_sdks(server: RecordingServer, make_client: Callable[..., genai.Client],
                                    route: str) -> None:
    server.routes.update({f"/{name}:": r for name, r in ERROR_ROUTES.items()})
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    path = f"models/{route}:generateContent"
    with pytest.raises(genai_errors.APIError) as sdk_raised:
        sdk_send(api, "post", path, BODY)
    with pytest.raises(genai_errors.APIError) as fast_raised:
        fast_send(fs, "post", path, BODY)
    same_error(sdk_raised.value, fast_raised.value)
    assert fast_raised.value.code == ERROR_ROUTES[route].status
    expected = genai_errors.ClientError if ERROR_ROUTES[route].status < 500 else genai_errors.ServerError
    assert type(fast_raised.value) is expected
    assert isinstance(fs._templates[("post", path)], genai_fast_send._Template)  # the fast path did send it
    sdk_record, fast_record = server.records
    assert wire(fast_record) == wire(sdk_record)


def test_a_refused_connection_is_the_sdks(make_client: Callable[..., genai.Client]) -> None:
    client = make_client(f"http://127.0.0.1:{closed_port()}")
    api, fs = client._api_client, fast_for(client)
    with pytest.raises(Exception) as sdk_raised:
        sdk_send(api, "post", GEN, BODY)
    with pytest.raises(Exception) as fast_raised:
        fast_send(fs, "post", GEN, BODY)
    assert type(fast_raised.value) is type(sdk_raised.value) is httpx2.ConnectError
    assert str(fast_raised.value) == str(sdk_raised.value)
    assert str(fast_raised.value.request.url) == str(sdk_raised.value.request.url)
    assert isinstance(fs._templates[("post", GEN)], genai_fast_send._Template)


def test_a_read_timeout_is_the_sdks(server: RecordingServer, make_client: Callable[..., genai.Client]) -> None:
    server.routes["slow"] = Route(delay=0.5)
    client = make_client(server.url, timeout=100)  # milliseconds
    api, fs = client._api_client, fast_for(client)
    path = "models/slow:generateContent"
    with pytest.raises(Exception) as sdk_raised:
        sdk_send(api, "post", path, BODY)
    with pytest.raises(Exception) as fast_raised:
        fast_send(fs, "post", path, BODY)
    assert type(fast_raised.value) is type(sdk_raised.value) is httpx2.ReadTimeout
    assert str(fast_raised.value) == str(sdk_raised.value)
    assert fast_raised.value.request.extensions["timeout"] == sdk_raised.value.request.extensions["timeout"]
    assert isinstance(fs._templates[("post", path)], genai_fast_send._Template)
    assert wire(server.records[1]) == wire(server.records[0])



# ---------------------------------------------------------------------- through the provider


def test_the_provider_sends_through_the_fast_path(server: RecordingServer) -> None:
    server.routes[":generateContent"] = Route(body=GEMINI_JSON)
    server.routes[":streamGenerateContent"] = Route(body=SSE_BODY, content_type="text/event-stream")
    p = create_provider("gemini", api_key=KEY, base_url=server.url, max_retries=0)
    messages = [{"role": "user", "content": "hi there ✓"}]
    try:
        spy = Spy(p.client._api_client)
        assert p.generate_sync(MODEL, messages).text == "hi"
        assert (spy.probes, spy.sent) == (2, 0)  # learned, then sent from the template
        assert p.generate_sync(MODEL, messages).text == "hi"
        for _ in range(2):
            with p.stream_sync(MODEL, messages) as events:
                assert [e.response.text for e in events if e.type == "done"] == ["hi"]
        assert (spy.probes, spy.sent) == (4, 0)  # one more shape learned; nothing sent through the SDK
        api = p.client._api_client  # type: ignore[attr-defined]
        assert fast_send_of(api) is api.__dict__[genai_fast_send._KEPT] and isinstance(fast_send_of(api), GenaiFastSend)
        fast = server.records[:]
        api.__dict__[genai_fast_send._KEPT] = None  # the same calls through the SDK's `_request_once`
        assert p.generate_sync(MODEL, messages).text == "hi"
        with p.stream_sync(MODEL, messages) as events:
            assert [e.response.text for e in events if e.type == "done"] == ["hi"]
        assert spy.sent == 2
    finally:
        p.close()
    assert len(fast) == 4 and len(server.records) == 6
    sdk_generate, sdk_stream = server.records[4:]
    assert sdk_generate.target == f"/v1beta/{GEN}" and sdk_stream.target == f"/v1beta/{STREAM}"
    assert wire(fast[0]) == wire(fast[1]) == wire(sdk_generate)
    assert wire(fast[2]) == wire(fast[3]) == wire(sdk_stream)
    assert json.loads(sdk_generate.body)["contents"] == [{"role": "user", "parts": [{"text": "hi there ✓"}]}]


# ---------------------------------------------------------------------- imports


def test_importing_agentos_llm_imports_neither_the_module_nor_google_genai() -> None:
    code = ("import sys, agentos_llm; agentos_llm.create_provider; "
            "print(sorted(m for m in ('agentos_llm.providers.genai_fast_send', 'agentos_llm.providers.gemini', "
            "'google.genai', 'httpx2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

