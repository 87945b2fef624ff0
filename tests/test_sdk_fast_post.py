"""`agentos_llm.providers.sdk_fast_post`: the same request on the wire as the SDK's `client.post`, the same
responses and exceptions, against a real HTTP server on 127.0.0.1 (no mocks of the SDKs).

The server (tests/recording_server.py) records every request (method, target, headers, body, the client's
port) and answers by the path: 200 with a small JSON body by default, or a configured status, headers, delay or
cookie.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import warnings
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from recording_server import RecordingServer, Route, closed_port, serving, wire

from agentos_llm.providers import sdk_fast_post
from agentos_llm.providers.sdk_fast_post import AsyncFastPost, FastPost

OPENAI_PATH = "/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
BODY: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}
UNICODE_BODY: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "héllo ✓ 日本語 🙂 \u2028"}],
                                "stop": ["\n", "\"quoted\"", "back\\slash"], "temperature": 0.7, "n": 1}


# ---------------------------------------------------------------------- the recording server


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with serving() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS", "OPENAI_BASE_URL", "OPENAI_API_KEY",
                 "OPENAI_ADMIN_KEY", "ANTHROPIC_CUSTOM_HEADERS", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
                 "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sdk_fast_post, "_warned", set())


# ---------------------------------------------------------------------- clients as the providers make them


def make_client(vendor: str, is_async: bool, base_url: str, *, default_headers: dict[str, str] | None = None,
                **extra: Any) -> Any:
    """As `_client_kwargs` in providers/openai.py and providers/anthropic.py build them."""
    kwargs: dict[str, Any] = {"base_url": base_url, "max_retries": 0, "timeout": 600.0,
                              "default_headers": default_headers or None, **extra}
    if vendor == "openai":
        kwargs.setdefault("api_key", "sk-test")
        return (openai.AsyncOpenAI if is_async else openai.OpenAI)(**kwargs)
    kwargs.setdefault("api_key", "sk-ant-test")
    return (anthropic.AsyncAnthropic if is_async else anthropic.Anthropic)(**kwargs)


def default_base(vendor: str, url: str) -> str:
    return f"{url}/v1" if vendor == "openai" else url


def path_of(vendor: str) -> str:
    return OPENAI_PATH if vendor == "openai" else ANTHROPIC_PATH


def options(timeout: float | None, headers: dict[str, str] | None) -> dict[str, Any]:
    opts: dict[str, Any] = {"timeout": timeout}
    if headers:
        opts["headers"] = dict(headers)
    return opts


def sdk_post(client: Any, path: str, body: Any, timeout: float | None = 30.0,
             headers: dict[str, str] | None = None, stream: bool = True) -> httpx2.Response:
    response = client.post(path, body=body, cast_to=httpx2.Response, options=options(timeout, headers),
                           stream=stream, stream_cls=None)
    response.read()
    response.close()
    return response  # type: ignore[no-any-return]


def fast_post(fp: FastPost, path: str, body: Any, timeout: float | None = 30.0,
              headers: dict[str, str] | None = None, stream: bool = True) -> httpx2.Response:
    response = fp.post(path, body, timeout=timeout, headers=headers, stream=stream)
    response.read()
    response.close()
    return response


async def asdk_post(client: Any, path: str, body: Any, timeout: float | None = 30.0,
                    headers: dict[str, str] | None = None, stream: bool = True) -> httpx2.Response:
    response = await client.post(path, body=body, cast_to=httpx2.Response, options=options(timeout, headers),
                                 stream=stream, stream_cls=None)
    await response.aread()
    await response.aclose()
    return response  # type: ignore[no-any-return]


async def afast_post(fp: AsyncFastPost, path: str, body: Any, timeout: float | None = 30.0,
                     headers: dict[str, str] | None = None, stream: bool = True) -> httpx2.Response:
    response = await fp.post(path, body, timeout=timeout, headers=headers, stream=stream)
    await response.aread()
    await response.aclose()
    return response


@pytest.fixture
def no_sdk_post(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Makes the SDKs' `post` fail, at the class (an instance attribute would make FastPost defer to it): what
    runs after this is the fast path only."""

    def arm() -> None:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the SDK's post was used")

        for cls in (openai.OpenAI, openai.AsyncOpenAI, anthropic.Anthropic, anthropic.AsyncAnthropic):
            monkeypatch.setattr(cls, "post", refuse)

    return arm


# ---------------------------------------------------------------------- the same request on the wire

CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "per-call headers": {"headers": {"X-Trace-Id": "abc-123", "anthropic-beta": "tools-2024", "Accept": "text/x"}},
    "no timeout": {"timeout": None},
    "default headers": {"client": {"default_headers": {"X-Custom": "one", "User-Agent": "agentos/1"}}},
    "base path": {"base": "/proxy/v1"},
    "base query": {"base": "/v1?api-version=2024-10"},
    "unicode body": {"body": UNICODE_BODY},
    "whole answer": {"stream": False},
    "int timeout": {"timeout": 45},
}
OPENAI_CASES = {**CASES, "organization and project": {"client": {"organization": "org-1", "project": "proj-1"}}}


def case_params() -> list[Any]:
    return [pytest.param(vendor, name, case, id=f"{vendor}-{name}")
            for vendor, cases in (("openai", OPENAI_CASES), ("anthropic", CASES)) for name, case in cases.items()]


def base_of(vendor: str, url: str, case: dict[str, Any]) -> str:
    return url + case["base"] if "base" in case else default_base(vendor, url)


@pytest.mark.parametrize(("vendor", "name", "case"), case_params())
def test_same_request_as_sdk_sync(server: RecordingServer, vendor: str, name: str, case: dict[str, Any],
                                  no_sdk_post: Any) -> None:
    client = make_client(vendor, False, base_of(vendor, server.url, case), **case.get("client", {}))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        path, body = path_of(vendor), case.get("body", BODY)
        kwargs = {"timeout": case.get("timeout", 30.0), "headers": case.get("headers"),
                  "stream": case.get("stream", True)}
        sdk_post(client, path, body, **kwargs)
        # a second timeout value of the same kind: the template fills it in (learned with other values)
        other = {**kwargs, "timeout": None if kwargs["timeout"] is None else kwargs["timeout"] + 2}
        sdk_post(client, path, {**body, "n": 2}, **other)
        no_sdk_post()
        first = fast_post(fp, path, body, **kwargs)
        fast_post(fp, path, {**body, "n": 2}, **other)
        assert first.status_code == 200 and first.json() == {"ok": True}
        a, b, c, d = server.records
        assert wire(c) == wire(a)
        assert wire(d) == wire(b)
        assert wire(a) != wire(b)  # the body (and the timeout headers) did change
    finally:
        client.close()


@pytest.mark.parametrize(("vendor", "name", "case"), case_params())
async def test_same_request_as_sdk_async(server: RecordingServer, vendor: str, name: str, case: dict[str, Any],
                                         no_sdk_post: Any) -> None:
    client = make_client(vendor, True, base_of(vendor, server.url, case), **case.get("client", {}))
    try:
        fp = AsyncFastPost.for_client(client)
        assert fp is not None
        path, body = path_of(vendor), case.get("body", BODY)
        kwargs = {"timeout": case.get("timeout", 30.0), "headers": case.get("headers"),
                  "stream": case.get("stream", True)}
        await asdk_post(client, path, body, **kwargs)
        other = {**kwargs, "timeout": None if kwargs["timeout"] is None else kwargs["timeout"] + 2}
        await asdk_post(client, path, {**body, "n": 2}, **other)
        no_sdk_post()
        first = await afast_post(fp, path, body, **kwargs)
        await afast_post(fp, path, {**body, "n": 2}, **other)
        assert first.status_code == 200 and first.json() == {"ok": True}
        a, b, c, d = server.records
        assert wire(c) == wire(a)
        assert wire(d) == wire(b)
        assert wire(a) != wire(b)
    finally:
        await client.close()


def test_the_timeout_shows_in_headers_and_extensions(server: RecordingServer) -> None:
    client = make_client("anthropic", False, server.url)
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        response = fast_post(fp, ANTHROPIC_PATH, BODY, timeout=12.5)
        assert response.request.extensions["timeout"] == {"connect": 12.5, "read": 12.5, "write": 12.5, "pool": 12.5}
        headers = dict((k.lower(), v) for k, v in server.records[-1].headers)
        assert headers["x-stainless-timeout"] == "12.5"
        assert headers["x-stainless-read-timeout"] == "12.5"
    finally:
        client.close()


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_a_per_call_idempotency_key_is_sent_fresh(server: RecordingServer, vendor: str, no_sdk_post: Any) -> None:
    client = make_client(vendor, False, default_base(vendor, server.url))
    client._idempotency_header = "Idempotency-Key"  # what a Stainless client that sends one sets
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        sdk_post(client, path_of(vendor), BODY)
        no_sdk_post()
        fast_post(fp, path_of(vendor), BODY)
        fast_post(fp, path_of(vendor), BODY)
        keys = [dict((k.lower(), v) for k, v in r.headers)["idempotency-key"] for r in server.records]
        assert all(key.startswith("stainless-python-retry-") for key in keys)
        assert len(set(keys)) == 3  # one per call, as `request()` makes
        drop = ("idempotency-key",)
        assert wire(server.records[1], drop) == wire(server.records[0], drop)
        assert wire(server.records[2], drop) == wire(server.records[0], drop)
    finally:
        client.close()


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_cookies_from_the_jar_are_sent_as_the_sdk_sends_them(server: RecordingServer, vendor: str) -> None:
    client = make_client(vendor, False, default_base(vendor, server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        fast_post(fp, path_of(vendor), BODY)  # learned with an empty jar
        server.routes["set-cookie"] = Route(headers={"Set-Cookie": "session=abc123; Path=/"})
        fast_post(fp, path_of(vendor) + "?set-cookie", BODY)
        sdk_post(client, path_of(vendor), BODY)
        fast_post(fp, path_of(vendor), BODY)
        sdk_record, fast_record = server.records[-2:]
        assert ("cookie", "session=abc123") in wire(sdk_record)[2]
        assert wire(fast_record) == wire(sdk_record)
    finally:
        client.close()


def test_a_shape_learned_with_a_cookie_in_the_jar_sends_the_jars_current_one(server: RecordingServer) -> None:
    client = make_client("anthropic", False, server.url)
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        # The SDK's first call sets attributes on the client (its tracer), which makes FastPost learn anew: done
        # first, so that what is learned below is used below.
        sdk_post(client, ANTHROPIC_PATH, BODY)
        server.routes["first"] = Route(headers={"Set-Cookie": "session=one; Path=/"})
        fast_post(fp, ANTHROPIC_PATH + "?first", BODY)
        fast_post(fp, ANTHROPIC_PATH, BODY, headers={"X-New": "shape"})  # learned with session=one in the jar
        server.routes["second"] = Route(headers={"Set-Cookie": "session=two; Path=/"})
        fast_post(fp, ANTHROPIC_PATH + "?second", BODY)
        sdk_post(client, ANTHROPIC_PATH, BODY, headers={"X-New": "shape"})
        fast_post(fp, ANTHROPIC_PATH, BODY, headers={"X-New": "shape"})
        sdk_record, fast_record = server.records[-2:]
        assert ("cookie", "session=two") in wire(sdk_record)[2]
        assert wire(fast_record) == wire(sdk_record)
    finally:
        client.close()


def test_an_explicit_cookie_header_wins_over_the_jar_as_in_the_sdk(server: RecordingServer,
                                                                   no_sdk_post: Any) -> None:
    client = make_client("openai", False, default_base("openai", server.url), default_headers={"Cookie": "mine=1"})
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        server.routes["jar"] = Route(headers={"Set-Cookie": "session=one; Path=/"})
        sdk_post(client, OPENAI_PATH + "?jar", BODY)
        sdk_post(client, OPENAI_PATH, BODY)
        no_sdk_post()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fast_post(fp, OPENAI_PATH, BODY)
        sdk_record, fast_record = server.records[-2:]
        assert ("cookie", "mine=1") in wire(sdk_record)[2]
        assert wire(fast_record) == wire(sdk_record)
    finally:
        client.close()


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_a_body_the_plain_encoder_cannot_take_goes_through_the_sdk(server: RecordingServer, vendor: str) -> None:
    client = make_client(vendor, False, default_base(vendor, server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        body = {**BODY, "metadata": {"at": datetime.datetime(2024, 5, 1, 12, 0, 0)}}
        sdk_post(client, path_of(vendor), body)
        fast_post(fp, path_of(vendor), body)
        a, b = server.records
        assert b"2024-05-01T12:00:00" in a.body
        assert wire(b) == wire(a)
    finally:
        client.close()


def test_a_reassigned_key_is_learned_anew(server: RecordingServer) -> None:
    client = make_client("openai", False, default_base("openai", server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        fast_post(fp, OPENAI_PATH, BODY)
        client.api_key = "sk-rotated"
        sdk_post(client, OPENAI_PATH, BODY)
        fast_post(fp, OPENAI_PATH, BODY)
        _, sdk_record, fast_record = server.records
        assert ("authorization", "Bearer sk-rotated") in wire(fast_record)[2]
        assert wire(fast_record) == wire(sdk_record)
    finally:
        client.close()


def test_a_header_the_sdk_varies_unexpectedly_makes_the_shape_go_through_the_sdk(
        server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def sign(self: Any, request: httpx2.Request) -> None:  # a body-dependent header, as a signing hook adds
        request.headers["X-Body-Digest"] = hashlib.sha256(request.content).hexdigest()

    monkeypatch.setattr(openai.OpenAI, "_prepare_request", sign)
    client = make_client("openai", False, default_base("openai", server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        with pytest.warns(RuntimeWarning, match="X-Body-Digest.*depends on the body"):
            fast_post(fp, OPENAI_PATH, BODY)
        sdk_post(client, OPENAI_PATH, BODY)
        fast, sdk = server.records
        assert wire(fast) == wire(sdk)
        assert dict(wire(fast)[2])["x-body-digest"] == hashlib.sha256(fast.body).hexdigest()
    finally:
        client.close()


def test_a_request_the_template_cannot_rebuild_goes_through_the_sdk(server: RecordingServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def shorter_connect(self: Any, request: httpx2.Request) -> None:  # not one value for every phase
        request.extensions["timeout"] = {**request.extensions["timeout"], "connect": 5.0}

    monkeypatch.setattr(openai.OpenAI, "_prepare_request", shorter_connect)
    client = make_client("openai", False, default_base("openai", server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        with pytest.warns(RuntimeWarning, match="could not be rebuilt exactly .extensions differ"):
            response = fast_post(fp, OPENAI_PATH, BODY, timeout=30.0)
        assert response.request.extensions["timeout"] == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    finally:
        client.close()


def test_a_request_the_sdk_refuses_to_build_raises_what_the_sdk_raises(server: RecordingServer) -> None:
    # no key at all: the SDK's header validation refuses every request
    client = openai.OpenAI(api_key=None, base_url=server.url, max_retries=0, _enforce_credentials=False)
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        with pytest.raises(TypeError) as sdk_raised:
            sdk_post(client, OPENAI_PATH, BODY)
        with pytest.warns(RuntimeWarning, match="learning the request raised TypeError"), \
                pytest.raises(TypeError) as fast_raised:
            fast_post(fp, OPENAI_PATH, BODY)
        assert str(fast_raised.value) == str(sdk_raised.value)
        assert "authentication" in str(fast_raised.value)
        assert not server.records
    finally:
        client.close()


# ---------------------------------------------------------------------- the same exceptions

OPENAI_ERROR = json.dumps({"error": {"message": "bad model", "type": "invalid_request_error", "param": "model",
                                     "code": "model_not_found"}}).encode()
ANTHROPIC_ERROR = json.dumps({"type": "error", "error": {"type": "invalid_request_error",
                                                         "message": "max_tokens: too big"}}).encode()
ERROR_ROUTES = {
    "e400": Route(400, OPENAI_ERROR),
    "e401": Route(401, ANTHROPIC_ERROR),
    "e404": Route(404, b"<html>not here</html>", {"Content-Type": "text/html"}),
    "e429": Route(429, OPENAI_ERROR, {"retry-after": "7", "x-request-id": "req_1"}),
    "e500": Route(500, b""),
    "e529": Route(529, ANTHROPIC_ERROR),
}


def same_error(a: BaseException, b: BaseException) -> None:
    assert type(a) is type(b)
    assert str(a) == str(b)
    assert a.__cause__ is None and b.__cause__ is None and b.__suppress_context__
    assert isinstance(a, (openai.APIStatusError, anthropic.APIStatusError))
    assert isinstance(b, (openai.APIStatusError, anthropic.APIStatusError))
    assert (a.status_code, a.body, a.message) == (b.status_code, b.body, b.message)
    assert a.response.headers.get("retry-after") == b.response.headers.get("retry-after")
    assert b.response.is_closed


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("route", sorted(ERROR_ROUTES))
@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_status_errors_are_the_sdks(server: RecordingServer, vendor: str, route: str, stream: bool) -> None:
    server.routes.update(ERROR_ROUTES)
    client = make_client(vendor, False, default_base(vendor, server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        path = f"{path_of(vendor)}?{route}"
        with pytest.raises(Exception) as sdk_raised:
            sdk_post(client, path, BODY, stream=stream)
        with pytest.raises(Exception) as fast_raised:
            fast_post(fp, path, BODY, stream=stream)
        same_error(sdk_raised.value, fast_raised.value)
        assert isinstance(fp._templates[fp._key(path, None, 30.0)], sdk_fast_post._Template)
    finally:
        client.close()


@pytest.mark.parametrize("route", ["e400", "e429", "e500"])
@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
async def test_status_errors_are_the_sdks_async(server: RecordingServer, vendor: str, route: str) -> None:
    server.routes.update(ERROR_ROUTES)
    client = make_client(vendor, True, default_base(vendor, server.url))
    try:
        fp = AsyncFastPost.for_client(client)
        assert fp is not None
        path = f"{path_of(vendor)}?{route}"
        with pytest.raises(Exception) as sdk_raised:
            await asdk_post(client, path, BODY)
        with pytest.raises(Exception) as fast_raised:
            await afast_post(fp, path, BODY)
        same_error(sdk_raised.value, fast_raised.value)
    finally:
        await client.close()


def same_transport_error(a: BaseException, b: BaseException, expected: type[BaseException],
                         cause: type[BaseException]) -> None:
    assert type(a) is type(b)
    assert isinstance(b, expected)
    assert str(a) == str(b)
    assert isinstance(a.__cause__, cause) and type(b.__cause__) is type(a.__cause__)
    assert isinstance(b, (openai.APIConnectionError, anthropic.APIConnectionError))
    assert b.request.method == "POST"


def sdk_module(vendor: str) -> Any:
    return openai if vendor == "openai" else anthropic


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_a_refused_connection_is_the_sdks_connection_error(vendor: str) -> None:
    client = make_client(vendor, False, default_base(vendor, f"http://127.0.0.1:{closed_port()}"))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        with pytest.raises(Exception) as sdk_raised:
            sdk_post(client, path_of(vendor), BODY)
        with pytest.raises(Exception) as fast_raised:
            fast_post(fp, path_of(vendor), BODY)
        same_transport_error(sdk_raised.value, fast_raised.value, sdk_module(vendor).APIConnectionError,
                             httpx2.ConnectError)
        assert not isinstance(fast_raised.value, sdk_module(vendor).APITimeoutError)
    finally:
        client.close()


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_a_read_timeout_is_the_sdks_timeout_error(server: RecordingServer, vendor: str) -> None:
    server.routes["slow"] = Route(delay=1.0)
    client = make_client(vendor, False, default_base(vendor, server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        path = path_of(vendor) + "?slow"
        with pytest.raises(Exception) as sdk_raised:
            sdk_post(client, path, BODY, timeout=0.2)
        with pytest.raises(Exception) as fast_raised:
            fast_post(fp, path, BODY, timeout=0.2)
        same_transport_error(sdk_raised.value, fast_raised.value, sdk_module(vendor).APITimeoutError,
                             httpx2.ReadTimeout)
    finally:
        client.close()


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
async def test_transport_errors_are_the_sdks_async(server: RecordingServer, vendor: str) -> None:
    server.routes["slow"] = Route(delay=1.0)
    client = make_client(vendor, True, default_base(vendor, server.url))
    refused = make_client(vendor, True, default_base(vendor, f"http://127.0.0.1:{closed_port()}"))
    try:
        for target, timeout, expected, cause in (
                (client, 0.2, sdk_module(vendor).APITimeoutError, httpx2.ReadTimeout),
                (refused, 5.0, sdk_module(vendor).APIConnectionError, httpx2.ConnectError)):
            fp = AsyncFastPost.for_client(target)
            assert fp is not None
            path = path_of(vendor) + "?slow"
            with pytest.raises(Exception) as sdk_raised:
                await asdk_post(target, path, BODY, timeout=timeout)
            with pytest.raises(Exception) as fast_raised:
                await afast_post(fp, path, BODY, timeout=timeout)
            same_transport_error(sdk_raised.value, fast_raised.value, expected, cause)
    finally:
        await client.close()
        await refused.close()


# ---------------------------------------------------------------------- what it does not serve


def test_clients_it_cannot_serve_exactly_get_none(server: RecordingServer) -> None:
    clients: list[Any] = [
        openai.AzureOpenAI(api_key="k", api_version="2024-10-21", azure_endpoint=server.url, max_retries=0),
        openai.OpenAI(api_key="sk", base_url=server.url, max_retries=2),
        anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=1),
        openai.OpenAI(api_key=lambda: "sk-from-a-provider", base_url=server.url, max_retries=0),
        anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0,
                            middleware=[lambda request, call_next: call_next(request)]),
    ]
    async_client = openai.AsyncOpenAI(api_key="sk", base_url=server.url, max_retries=0)
    sync_client = anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for client in clients:
                assert FastPost.for_client(client) is None, type(client)
            assert FastPost.for_client(async_client) is None
            assert AsyncFastPost.for_client(sync_client) is None
            assert FastPost.for_client(object()) is None
            assert FastPost.for_client(sync_client) is not None  # the control
    finally:
        for client in (*clients, sync_client):
            client.close()
        asyncio.run(async_client.close())


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_a_client_with_its_own_send_goes_through_the_sdk(server: RecordingServer, vendor: str) -> None:
    client = make_client(vendor, False, default_base(vendor, server.url))
    sent: list[httpx2.Request] = []
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        original = client._client.send

        def send(request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
            sent.append(request)
            return original(request, **kwargs)

        if vendor == "openai":
            client._send_request = lambda request, **kwargs: send(request, **kwargs)
        else:  # `_request(cast_to, options, ...)`, after `request()` prepared the options
            client._request = lambda cast_to, options, **kwargs: send(client._build_request(options), stream=True)
        assert FastPost.for_client(client) is None
        fast_post(fp, path_of(vendor), BODY)
        assert len(sent) == 1 and len(server.records) == 1
    finally:
        client.close()


def test_a_client_that_stops_qualifying_goes_through_the_sdk(server: RecordingServer) -> None:
    client = make_client("openai", False, default_base("openai", server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        fast_post(fp, OPENAI_PATH, BODY)
        assert fp._served
        client.max_retries = 1
        fast_post(fp, OPENAI_PATH, BODY)
        assert not fp._served and not fp._templates
    finally:
        client.close()


@pytest.mark.parametrize(("where", "name"), [
    ("openai._constants", "RAW_RESPONSE_HEADER"),
    ("openai._base_client.BaseClient", "_maybe_override_cast_to"),
    ("openai._httpx2", "timeout_exceptions"),
])
def test_a_missing_internal_means_none_and_one_warning(server: RecordingServer, monkeypatch: pytest.MonkeyPatch,
                                                       where: str, name: str) -> None:
    client = make_client("openai", False, default_base("openai", server.url))
    try:
        assert FastPost.for_client(client) is not None
        monkeypatch.delattr(f"{where}.{name}")
        with pytest.warns(RuntimeWarning, match=f"openai {openai.__version__} lacks .*{name}.*public `post`"):
            assert FastPost.for_client(client) is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert FastPost.for_client(client) is None  # warned once per process
    finally:
        client.close()


def test_a_missing_anthropic_internal_means_none(server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client("anthropic", True, server.url)
    try:
        monkeypatch.delattr("anthropic._base_client.AsyncAPIClient._copy_and_prepare")
        with pytest.warns(RuntimeWarning, match="anthropic .* lacks .*_copy_and_prepare"):
            assert AsyncFastPost.for_client(client) is None
    finally:
        asyncio.run(client.close())


def test_importing_the_module_imports_no_vendor_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys, agentos_llm, agentos_llm.providers.sdk_fast_post; "
            "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------- connections


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_connections_are_reused(server: RecordingServer, vendor: str) -> None:
    server.routes["e400"] = ERROR_ROUTES["e400"]
    client = make_client(vendor, False, default_base(vendor, server.url))
    try:
        fp = FastPost.for_client(client)
        assert fp is not None
        for _ in range(3):
            fast_post(fp, path_of(vendor), BODY)
            fast_post(fp, path_of(vendor), BODY, stream=False)
            with pytest.raises(sdk_module(vendor).BadRequestError):
                fp.post(path_of(vendor) + "?e400", BODY, timeout=30.0, headers=None, stream=True)
        sdk_post(client, path_of(vendor), BODY)
        assert len(server.records) == 10
        assert len({r.port for r in server.records}) == 1  # one connection, back in the pool after each call
        assert len(client._client._transport._pool.connections) == 1
    finally:
        client.close()


async def test_connections_are_reused_async(server: RecordingServer) -> None:
    client = make_client("anthropic", True, server.url)
    try:
        fp = AsyncFastPost.for_client(client)
        assert fp is not None
        for _ in range(3):
            await afast_post(fp, ANTHROPIC_PATH, BODY)
            await afast_post(fp, ANTHROPIC_PATH, BODY, stream=False)
        assert len({r.port for r in server.records}) == 1
    finally:
        await client.close()
