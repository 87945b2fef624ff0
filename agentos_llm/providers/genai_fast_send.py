"""Sync Gemini API requests through google-genai's own HTTP client, without its per-call request building.

For one attempt at a request, google-genai's API client (`client._api_client`) runs `_build_request` (HTTP
options patched, the URL joined, the headers copied, a server-timeout header added) and `_request_once`
(`json.dumps`, then `httpx2.Client.build_request`, which merges headers layer by layer and parses the URL
again): some 40-50 µs of Python per call, before a byte is sent. For one method and path, with the client's own
HTTP options, all of it comes out the same on every call but the body, so `GenaiFastSend` asks the SDK once and
keeps the answer:

- Learning: it runs `_request_once(_build_request(...), stream=True)` itself, twice, with two probe bodies,
  and catches the `httpx2.Request` at the client's `send` (nothing is sent). The two requests may differ only in
  the body and its `Content-Length`, and each body must be `json.dumps` of its probe (an `extra_body` in the
  HTTP options, which rewrites bodies, fails this). The template is checked by rebuilding both probe requests
  from it: method, URL, every header in order, body and extensions must come out identical, or that request
  shape goes through the SDK.
- Per call: the body is encoded as `_request_once` encodes it (`json.dumps`), the request made from the
  template (cookies from the HTTP client's jar, as `build_request` adds them) and sent with the client's own
  `send(request, stream=True)`; then `APIError.raise_for_response` and the SDK's `HttpResponse`, as
  `_request_once` does. Same bytes on the wire, same exceptions, same response.
- What it does not serve goes through `_request_once` as before: Vertex AI (credentials and tokens per request),
  a client whose sync transport is not an `httpx2.Client`, per-request HTTP options (a call's own timeout or
  headers), an empty body, a body with the `_`-prefixed keys `_build_request` strips, a shape whose probes
  disagree. A client whose HTTP options, HTTP client or default headers were replaced or changed is learned
  anew; other changes made inside its HTTP options (base URL, API version, timeout) are not seen.

`fast_send_of(api)` keeps one per API client, on the client itself, for every provider and thread using it.

The async side keeps the SDK's path: its transport is aiohttp when installed, which takes no prebuilt request.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Final

import httpx2
from google.genai import _api_client as genai_api_client
from google.genai import errors as genai_errors

from .sdk_fast_post import _differs, _warn_once, probe_headers

__all__ = ["GenaiFastSend", "fast_send_of"]

_INTERNALS: Final = ("_build_request", "_request_once", "_httpx_client", "_http_options")
_PROBE_BODIES: Final = ({"fast_send_probe": "a"}, {"fast_send_probe": ["bb", 1]})
_CACHE_SIZE: Final = 64
"""Request shapes (method, path) kept per client; the oldest is dropped beyond it."""
_PROBING: Final = threading.Lock()
"""Held while a probe has an API client's HTTP client swapped for a `_Catcher`. Per process, not per
`GenaiFastSend`: two of them can serve one API client (`fast_send_of` keeps one, but `for_api` makes a new one
each time), and a probe that swapped in while another's catcher was in place would take that catcher for the
real client, be sent for real once the other probe put the client back, and then leave the catcher installed
for good."""

Key = tuple[str, str]
_MISSING: Final[Any] = object()
_KEPT: Final = "_agentos_llm_fast_send"
"""Where `fast_send_of` keeps an API client's `GenaiFastSend`: in the client's own `__dict__`."""


class _Caught(Exception):
    """The request `_request_once` would have sent, caught at the HTTP client's `send`."""

    def __init__(self, request: httpx2.Request, stream: Any) -> None:
        super().__init__("caught")
        self.request = request
        self.stream = stream


class _Catcher:
    """Stands in for the API client's HTTP client while a probe runs: the probing thread's `send` is caught,
    every other use (another thread sending meanwhile) goes to the real client."""

    def __init__(self, real: httpx2.Client) -> None:
        self._real = real
        self._thread = threading.get_ident()

    def send(self, request: httpx2.Request, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != self._thread:
            return self._real.send(request, *args, **kwargs)
        raise _Caught(request, kwargs.get("stream") if not args else args[0])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Template:
    """One request shape: everything but the body."""

    __slots__ = ("extensions", "headers", "method", "url")

    def __init__(self, method: str, url: httpx2.URL, headers: httpx2.Headers, extensions: dict[str, Any]) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.extensions = extensions

    def build(self, content: bytes, cookies: httpx2.Cookies) -> httpx2.Request:
        extensions = {k: dict(v) if type(v) is dict else v for k, v in self.extensions.items()}  # "timeout" is mutable
        return httpx2.Request(self.method, self.url, headers=httpx2.Headers(self.headers), cookies=cookies,
                              content=content, extensions=extensions)


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()  # `_request_once`'s encoding (then httpx2's, of a str, as UTF-8)


class GenaiFastSend:
    """Sends one attempt of a sync request through a google-genai API client's own `httpx2.Client`, as
    `api._request_once(api._build_request(method, path, body, options), stream=True)` would."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self._lock = threading.Lock()
        self._templates: dict[Key, _Template | None] = {}
        self._learned_from: tuple[Any, Any, Any, Any] = (None, None, None, None)

    @classmethod
    def for_api(cls, api: Any) -> GenaiFastSend | None:
        """A `GenaiFastSend` for `api` (a Gemini API client over an `httpx2.Client`), or None: the caller then
        sends through `_request_once` as it would without one."""
        if not all(hasattr(api, name) for name in _INTERNALS):
            _warn_once("internals:google-genai",
                       "agentos_llm.providers.genai_fast_send: this google-genai lacks internals it learns requests "
                       "through; Gemini requests take the SDK's own path (slower; please report it)", 2)
            return None
        if getattr(api, "vertexai", True) or not isinstance(api._httpx_client, httpx2.Client):
            return None
        return cls(api)

    def send(self, method: str, path: str, body: dict[str, Any], options: Any) -> Any:
        """`api._request_once(api._build_request(method, path, body, options), True)`: the same request, response
        (the SDK's `HttpResponse` over an open `httpx2.Response`) and exceptions."""
        api = self.api
        template = None
        if options is None and body and type(body) is dict and not any(k[:1] == "_" for k in body):
            if not self._unchanged():
                self._forget()
            template = self._templates.get((method, path), _MISSING)
            if template is _MISSING:
                template = self._learn(method, path)
        if template is None:
            return api._request_once(api._build_request(method, path, body, options), True)
        http = api._httpx_client
        response = http.send(template.build(_encode(body), http.cookies), stream=True)
        genai_errors.APIError.raise_for_response(response)
        return genai_api_client.HttpResponse(response.headers, response)

    def _unchanged(self) -> bool:
        """Whether the API client still has what the templates were learned from, as far as is cheaply seen:
        the same HTTP options, HTTP client and key, and equal default headers."""
        api = self.api
        options, http, headers, key = self._learned_from
        return (api._http_options is options and api._httpx_client is http and api.api_key is key
                and options.headers == headers)

    def _forget(self) -> None:
        # Under `_PROBING` too: while a probe runs, the API client's HTTP client is a catcher, not the real one.
        with self._lock, _PROBING:
            if self._unchanged():  # another thread saw the change first
                return
            api = self.api
            options = api._http_options
            headers = dict(options.headers) if options.headers is not None else None
            self._learned_from = (options, api._httpx_client, headers, api.api_key)
            self._templates = {}

    def _learn(self, method: str, path: str) -> _Template | None:
        with self._lock:
            key = (method, path)
            if key in self._templates:  # another thread learned it meanwhile
                return self._templates[key]
            probes = [self._probe(method, path, body) for body in _PROBE_BODIES]
            reason = next((p for p in probes if isinstance(p, str)), None)
            template: _Template | None = None
            if reason is None:
                a, b = (p for p in probes if not isinstance(p, str))
                got = _template_of(a, b, self.api._httpx_client.cookies)
                reason, template = (got, None) if isinstance(got, str) else (None, got)
            if reason is not None:
                _warn_once(f"shape:google-genai:{reason}",
                           f"agentos_llm.providers.genai_fast_send: google-genai requests to {path} go through "
                           f"the SDK's own path: {reason}", 4)
            if len(self._templates) >= _CACHE_SIZE:
                del self._templates[next(iter(self._templates))]
            self._templates[key] = template
            return template

    def _probe(self, method: str, path: str, body: dict[str, Any]) -> httpx2.Request | str:
        """The request `_request_once` would send for `body`, caught before it is sent; or why it cannot be."""
        api = self.api
        with _PROBING:
            real = api._httpx_client
            api._httpx_client = _Catcher(real)
            try:
                api._request_once(api._build_request(method, path, dict(body), None), True)
            except _Caught as caught:
                if caught.stream is not True:
                    return "the SDK does not send it as a stream"
                return caught.request
            except Exception as exc:  # the SDK refuses such a request (it will say so again), or its internals moved
                return f"learning the request raised {type(exc).__name__}: {exc}"
            finally:
                api._httpx_client = real
        return "the SDK sent it some other way"


def _template_of(a: httpx2.Request, b: httpx2.Request, cookies: httpx2.Cookies) -> _Template | str:
    """The template that rebuilds both probe requests exactly, or why there is none."""
    if a.method != b.method or str(a.url) != str(b.url) or a.url.raw_path != b.url.raw_path:
        return "the request's method or URL depends on its body"
    if a.extensions != b.extensions:
        return "the request's extensions depend on its body"
    contents = [_encode(body) for body in _PROBE_BODIES]
    if [a.content, b.content] != contents:
        return "the SDK changes the body (extra_body in its HTTP options?)"
    walked = probe_headers(a, b, drop_cookie=True)
    if walked is None:
        return "the request's header names depend on its body"
    kept, varying = walked
    if varying:
        return f"header {varying[0][0].decode('ascii', 'replace')!r} depends on the body"
    template = _Template(a.method, a.url, httpx2.Headers(kept), dict(a.extensions))
    for probe, content in zip((a, b), contents, strict=True):
        what = _differs(template.build(content, cookies), probe)
        if what is not None:
            return f"the SDK's request could not be rebuilt exactly ({what} differ)"
    return template


def fast_send_of(api: Any) -> GenaiFastSend | None:
    """The `GenaiFastSend` of a google-genai API client, or None when it does not serve it: made on first use and
    kept on the client, so every provider and thread sending through the client shares one."""
    kept = api.__dict__.get(_KEPT, _MISSING)
    if kept is _MISSING:
        kept = api.__dict__.setdefault(_KEPT, GenaiFastSend.for_api(api))  # one wins when two threads race
    return kept  # type: ignore[no-any-return]
