"""`agentos_llm.providers.genai_fast_send`: what it leaves to the SDK, the clients it does not serve, cookies,
changes it must learn anew, threads, its cache of request shapes; against a real HTTP server on 127.0.0.1
(tests/recording_server.py; no mocks of the SDK)."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from recording_server import RecordingServer, Route, wire

from agentos_llm.providers import genai_fast_send
from agentos_llm.providers.genai_fast_send import GenaiFastSend, fast_send_of

from .setting import (
    BODY,
    ERROR_ROUTES,
    GEN,
    MODEL,
    PROBE_MARK,
    SSE_BODY,
    STREAM,
    Spy,
    bodies,
    fast_for,
    fast_send,
    read,
    sdk_send,
)

# ---------------------------------------------------------------------- what goes through the SDK


@pytest.mark.parametrize("options", [
    genai_types.HttpOptions(headers={"X-Call": "one"}),
    genai_types.HttpOptions(timeout=5_000),
    genai_types.HttpOptions(api_version="v1"),
], ids=["headers", "timeout", "api version"])
def test_per_request_options_go_through_the_sdk(server: RecordingServer, make_client: Callable[..., genai.Client],
                                                options: Any) -> None:
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    read(sdk_send(api, "post", GEN, BODY, options))
    spy = Spy(api)
    read(fast_send(fs, "post", GEN, BODY, options))
    assert (spy.calls, spy.probes) == (1, 0)
    assert not fs._templates
    sdk_record, fast_record = server.records
    assert wire(fast_record) == wire(sdk_record)
    read(fast_send(fs, "post", GEN, BODY))  # the client's own options: the fast path
    assert wire(server.records[2]) != wire(sdk_record)  # the per-request option did show on the wire


def test_an_empty_body_goes_through_the_sdk(server: RecordingServer,
                                            make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    path = "models?pageSize=1000"
    read(sdk_send(api, "get", path, {}))
    spy = Spy(api)
    read(fast_send(fs, "get", path, {}))
    assert (spy.calls, spy.probes) == (1, 0)
    sdk_record, fast_record = server.records
    assert fast_record.method == "GET" and fast_record.body == b"" and fast_record.target == f"/v1beta/{path}"
    assert wire(fast_record) == wire(sdk_record)


def test_a_body_with_an_underscore_key_goes_through_the_sdk(server: RecordingServer,
                                                            make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    body = {"_url": {"model": MODEL}, **BODY}
    read(sdk_send(api, "post", GEN, body))
    spy = Spy(api)
    read(fast_send(fs, "post", GEN, body))
    assert (spy.calls, spy.probes) == (1, 0)
    sdk_record, fast_record = server.records
    assert json.loads(fast_record.body) == BODY  # `_build_request` strips it
    assert wire(fast_record) == wire(sdk_record)


def test_extra_body_in_the_http_options_goes_through_the_sdk(server: RecordingServer,
                                                             make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url, extra_body={"labels": {"team": "a"}, "generationConfig": {"seed": 3}})
    api, fs = client._api_client, fast_for(client)
    read(sdk_send(api, "post", GEN, BODY))
    spy = Spy(api)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read(fast_send(fs, "post", GEN, BODY))
        read(fast_send(fs, "post", GEN, BODY))
    assert [(w.category, str(w.message)) for w in caught] == [
        (RuntimeWarning, f"agentos_llm.providers.genai_fast_send: google-genai requests to {GEN} go through the "
                         "SDK's own path: the SDK changes the body (extra_body in its HTTP options?)")]
    assert caught[0].filename == __file__  # it points at the caller of `send`
    assert (spy.probes, spy.sent) == (2, 2)
    assert fs._templates == {("post", GEN): None}
    sdk_record, *fast_records = server.records
    assert json.loads(sdk_record.body)["labels"] == {"team": "a"}
    assert json.loads(sdk_record.body)["generationConfig"] == {"maxOutputTokens": 16, "seed": 3}
    for record in fast_records:
        assert wire(record) == wire(sdk_record)


# ---------------------------------------------------------------------- clients it does not serve


def test_a_vertex_ai_client_gets_none(server: RecordingServer, make_client: Callable[..., genai.Client]) -> None:
    vertex = make_client(server.url, vertexai=True, api_version="v1beta1")  # express mode: a key, no project
    gemini = make_client(server.url)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert vertex._api_client.vertexai
        assert GenaiFastSend.for_api(vertex._api_client) is None
        assert GenaiFastSend.for_api(gemini._api_client) is not None  # the control


def test_an_api_client_keeps_one_fast_send_for_every_thread(server: RecordingServer,
                                                           make_client: Callable[..., genai.Client]) -> None:
    api = make_client(server.url)._api_client
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(fast_send_of(api))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(got) == 8 and isinstance(got[0], GenaiFastSend) and all(g is got[0] for g in got)
    vertex = make_client(server.url, vertexai=True, api_version="v1beta1")._api_client
    assert fast_send_of(vertex) is None and vertex.__dict__[genai_fast_send._KEPT] is None  # not asked again


def test_a_client_over_another_http_client_gets_none(server: RecordingServer, monkeypatch: pytest.MonkeyPatch,
                                                     make_client: Callable[..., genai.Client]) -> None:
    own = httpx.Client()
    try:
        given = make_client(server.url, httpx_client=own)
        monkeypatch.setenv("GOOGLE_GENAI_HTTP_CLIENT", "httpx")
        chosen = make_client(server.url)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for client in (given, chosen):
                assert isinstance(client._api_client._httpx_client, httpx.Client)
                assert not isinstance(client._api_client._httpx_client, httpx2.Client)
                assert GenaiFastSend.for_api(client._api_client) is None
    finally:
        own.close()


@pytest.mark.parametrize("name", genai_fast_send._INTERNALS)
def test_a_missing_internal_means_none_and_one_warning(server: RecordingServer, monkeypatch: pytest.MonkeyPatch,
                                                       make_client: Callable[..., genai.Client], name: str) -> None:
    client = make_client(server.url)
    api = client._api_client
    assert GenaiFastSend.for_api(api) is not None
    owner = api if name in vars(api) else next(c for c in type(api).__mro__ if name in vars(c))
    kept = vars(owner)[name]
    try:
        delattr(owner, name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert GenaiFastSend.for_api(api) is None
            assert GenaiFastSend.for_api(api) is None
    finally:
        setattr(owner, name, kept)
    assert [w.category for w in caught] == [RuntimeWarning]
    assert "lacks internals" in str(caught[0].message) and caught[0].filename == __file__


# ---------------------------------------------------------------------- cookies


def test_cookies_from_the_jar_are_sent_as_the_sdk_sends_them(server: RecordingServer,
                                                             make_client: Callable[..., genai.Client]) -> None:
    server.routes["/one:"] = Route(headers={"Set-Cookie": "session=one; Path=/"})
    server.routes["/two:"] = Route(headers={"Set-Cookie": "session=two; Path=/"})
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    read(fast_send(fs, "post", GEN, BODY))  # learned with an empty jar
    read(fast_send(fs, "post", "models/one:generateContent", BODY))
    read(sdk_send(api, "post", GEN, BODY))
    read(fast_send(fs, "post", GEN, BODY))
    sdk_record, fast_record = server.records[-2:]
    assert ("cookie", "session=one") in wire(sdk_record)[2]
    assert wire(fast_record) == wire(sdk_record)
    # a shape learned with session=one in the jar sends the jar's current cookie, not the one it learned with
    read(fast_send(fs, "post", STREAM, BODY))
    read(fast_send(fs, "post", "models/two:generateContent", BODY))
    read(sdk_send(api, "post", STREAM, BODY))
    read(fast_send(fs, "post", STREAM, BODY))
    sdk_record, fast_record = server.records[-2:]
    assert ("cookie", "session=two") in wire(sdk_record)[2]
    assert wire(fast_record) == wire(sdk_record)
    assert len(server.records) == 8


def test_a_cookie_header_of_the_clients_own_is_sent_as_the_sdk_sends_it(
        server: RecordingServer, make_client: Callable[..., genai.Client]) -> None:
    # The template leaves the Cookie header to the jar, so a header of the client's own could not be rebuilt from
    # it: that shape goes through the SDK (one warning), and the header goes out as the SDK sends it.
    server.routes["/jar:"] = Route(headers={"Set-Cookie": "session=one; Path=/"})
    client = make_client(server.url, headers={"Cookie": "mine=1"})
    api, fs = client._api_client, fast_for(client)
    read(sdk_send(api, "post", "models/jar:generateContent", BODY))
    read(sdk_send(api, "post", GEN, BODY))
    with pytest.warns(RuntimeWarning, match=r"could not be rebuilt exactly \(headers differ\)"):
        read(fast_send(fs, "post", GEN, BODY))
    read(fast_send(fs, "post", GEN, BODY))
    sdk_record, *fast_records = server.records[1:]
    assert ("cookie", "mine=1") in wire(sdk_record)[2]
    assert [wire(r) for r in fast_records] == [wire(sdk_record)] * 2
    assert fs._templates == {("post", GEN): None}


# ---------------------------------------------------------------------- changes are learned anew


def test_headers_changed_in_place_are_learned_anew(server: RecordingServer,
                                                   make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    read(fast_send(fs, "post", GEN, BODY))
    api._http_options.headers["x-goog-api-key"] = "AIzaSyRotatedKey"
    read(sdk_send(api, "post", GEN, BODY))
    read(fast_send(fs, "post", GEN, BODY))
    first, sdk_record, fast_record = server.records
    assert ("x-goog-api-key", "AIzaSyRotatedKey") in wire(fast_record)[2]
    assert wire(fast_record) == wire(sdk_record) != wire(first)


def test_replaced_http_options_are_learned_anew(server: RecordingServer,
                                                make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    read(fast_send(fs, "post", GEN, BODY))
    api._http_options = api._http_options.model_copy(
        update={"headers": {**api._http_options.headers, "X-New": "yes"}, "api_version": "v1"})
    read(sdk_send(api, "post", GEN, BODY))
    read(fast_send(fs, "post", GEN, BODY))
    first, sdk_record, fast_record = server.records
    assert fast_record.target == f"/v1/{GEN}" and ("x-new", "yes") in wire(fast_record)[2]
    assert wire(fast_record) == wire(sdk_record) != wire(first)


def test_a_replaced_http_client_is_learned_anew(server: RecordingServer,
                                                make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    read(fast_send(fs, "post", GEN, BODY))
    old = api._httpx_client
    api._httpx_client = httpx2.Client(headers={"X-Transport": "new"})
    old.close()  # `client.close()` closes the current one
    read(sdk_send(api, "post", GEN, BODY))
    read(fast_send(fs, "post", GEN, BODY))
    first, sdk_record, fast_record = server.records
    assert ("x-transport", "new") in wire(fast_record)[2]
    assert wire(fast_record) == wire(sdk_record) != wire(first)
    assert fast_record.port == sdk_record.port != first.port  # sent by the new client


# ---------------------------------------------------------------------- threads, cache, connections


def test_threads_sending_at_once_while_learning(server: RecordingServer,
                                                make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url)
    fs = fast_for(client)  # fresh: the first calls of each shape learn while others send
    start = threading.Barrier(8)
    failures: list[BaseException] = []
    sent: list[bytes] = []

    def run(i: int) -> None:
        try:
            start.wait(5)
            for j in range(4):
                body = {"contents": [{"role": "user", "parts": [{"text": f"thread {i} call {j}"}]}]}
                path = (GEN, STREAM, f"models/m{j}:generateContent")[(i + j) % 3]
                assert read(fast_send(fs, "post", path, body)) == b'{"ok":true}'
                sent.append(json.dumps(body).encode())
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not failures
    assert len(sent) == 32
    assert sorted(bodies(server.records)) == sorted(sent)  # each exactly once, as sent
    assert not any(PROBE_MARK in r.body for r in server.records)
    assert isinstance(client._api_client._httpx_client, httpx2.Client)  # put back after every probe
    assert all(isinstance(t, genai_fast_send._Template) for t in fs._templates.values())


def test_two_fast_senders_of_one_client_learning_at_once(server: RecordingServer,
                                                         make_client: Callable[..., genai.Client]) -> None:
    # A provider's first calls in two threads make two `GenaiFastSend`s of one API client. Here the second
    # starts learning while the first is inside its probe (the HTTP client swapped for a catcher): neither probe
    # may be sent, and the API client must end up with its own HTTP client again.
    client = make_client(server.url)
    api = client._api_client
    first, second = GenaiFastSend.for_api(api), GenaiFastSend.for_api(api)
    assert first is not None and second is not None
    first_probing, second_probing, first_done = threading.Event(), threading.Event(), threading.Event()
    real = api._request_once
    waited: set[str] = set()

    def paced(request: Any, stream: bool = False) -> Any:
        name = threading.current_thread().name
        if name not in waited:  # the first probe of each thread
            waited.add(name)
            if name == "first":
                first_probing.set()
                second_probing.wait(0.5)  # the second, if it can swap the client meanwhile
            else:
                second_probing.set()
                first_done.wait(0.5)
        return real(request, stream)

    api._request_once = paced
    failures: list[BaseException] = []

    def run(fs: GenaiFastSend, text: str, done: threading.Event | None) -> None:
        try:
            read(fast_send(fs, "post", GEN, {"contents": [{"parts": [{"text": text}]}]}))
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            if done is not None:
                done.set()

    one = threading.Thread(target=run, args=(first, "one", first_done), name="first")
    one.start()
    assert first_probing.wait(5)
    two = threading.Thread(target=run, args=(second, "two", None), name="second")
    two.start()
    one.join(5)
    two.join(5)
    del api._request_once
    assert not failures
    assert sorted(bodies(server.records)) == [b'{"contents": [{"parts": [{"text": "one"}]}]}',
                                              b'{"contents": [{"parts": [{"text": "two"}]}]}']
    assert isinstance(api._httpx_client, httpx2.Client)  # not a catcher left behind
    read(sdk_send(api, "post", GEN, BODY))  # the SDK's own path still sends from either thread
    assert len(server.records) == 3


def test_a_request_sent_through_the_sdk_while_another_thread_learns_goes_out(
        server: RecordingServer, make_client: Callable[..., genai.Client]) -> None:
    # While a probe runs, the API client's HTTP client is a catcher: a send from any other thread (here the
    # SDK's own path, as a call with per-request options takes) must reach the server as it would without one.
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    probing, sent = threading.Event(), threading.Event()
    real = api._request_once

    def paced(request: Any, stream: bool = False) -> Any:
        if threading.current_thread().name == "learner" and not probing.is_set():
            probing.set()
            sent.wait(5)  # the first probe waits (its catcher in place) until this thread has sent
        return real(request, stream)

    api._request_once = paced
    failures: list[BaseException] = []

    def learn() -> None:
        try:
            read(fast_send(fs, "post", GEN, {"contents": [{"parts": [{"text": "learner"}]}]}))
        except BaseException as exc:  # reported below
            failures.append(exc)

    learner = threading.Thread(target=learn, name="learner")
    learner.start()
    try:
        assert probing.wait(5)
        assert isinstance(api._httpx_client, genai_fast_send._Catcher)  # the probe is under way
        assert read(sdk_send(api, "post", STREAM, BODY)) == b'{"ok":true}'
    finally:
        sent.set()
        learner.join(5)
    del api._request_once
    assert not failures
    assert bodies(server.records) == [json.dumps(BODY).encode(),
                                      b'{"contents": [{"parts": [{"text": "learner"}]}]}']
    assert isinstance(fs._templates[("post", GEN)], genai_fast_send._Template)
    assert isinstance(api._httpx_client, httpx2.Client)


def test_the_cache_of_shapes_is_bounded(server: RecordingServer, make_client: Callable[..., genai.Client]) -> None:
    client = make_client(server.url)
    fs = fast_for(client)
    paths = [f"models/m{i}:generateContent" for i in range(70)]
    for i, path in enumerate(paths):
        read(fast_send(fs, "post", path, {**BODY, "n": i}))
        assert len(fs._templates) <= genai_fast_send._CACHE_SIZE == 64
    assert list(fs._templates) == [("post", path) for path in paths[-64:]]  # the oldest were dropped
    read(fast_send(fs, "post", paths[0], {**BODY, "n": 0}))  # learned again
    assert len(fs._templates) == 64 and ("post", paths[0]) in fs._templates
    assert [(r.target, json.loads(r.body)["n"]) for r in server.records] == [
        *((f"/v1beta/{path}", i) for i, path in enumerate(paths)), (f"/v1beta/{paths[0]}", 0)]


def test_connections_are_reused(server: RecordingServer, make_client: Callable[..., genai.Client]) -> None:
    server.routes["/e400:"] = ERROR_ROUTES["e400"]
    server.routes["alt=sse"] = Route(body=SSE_BODY, content_type="text/event-stream")
    client = make_client(server.url)
    api, fs = client._api_client, fast_for(client)
    for _ in range(3):
        read(fast_send(fs, "post", GEN, BODY))
        assert list(fast_send(fs, "post", STREAM, BODY).segments())
        with pytest.raises(genai_errors.ClientError):
            fast_send(fs, "post", "models/e400:generateContent", BODY)
    read(sdk_send(api, "post", GEN, BODY))
    assert len(server.records) == 10
    assert len({r.port for r in server.records}) == 1  # one connection, back in the pool after each call
    assert len(api._httpx_client._transport._pool.connections) == 1


