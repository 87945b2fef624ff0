"""JSON POSTs through a Stainless SDK client (openai, anthropic) without its per-call request building.

`client.post(path, body=..., cast_to=httpx2.Response, options=..., stream=True, stream_cls=None)` spends about
0.3 ms in Python before the request reaches the HTTP client: a `FinalRequestOptions` built and copied twice,
headers merged layer by layer, the URL parsed four times. For one path, one set of extra headers and one kind
of timeout, all of that comes out the same on every call, so `FastPost` asks the SDK once and keeps the answer:

- Learning: it runs the SDK's own steps of `request()` (`_copy_and_prepare` where the SDK has it,
  `_maybe_override_cast_to`, the idempotency key, `_prepare_options`, `_build_request`, `_prepare_request`)
  twice, with two probe bodies, two probe timeouts and two probe idempotency keys, and compares the two
  requests. What differs must be the body, its `Content-Length`, the timeout (`str(timeout)` in a header, the
  `timeout` extension) or the idempotency key; anything else and that request shape is not served. The
  template is then checked by rebuilding both probe requests from it: method, URL, every header in order,
  body and extensions must come out identical, or the shape is not served.
- Per call: the body is encoded as the SDK encodes it (its JSON settings; a body the plain encoder cannot
  take, a `datetime` or a pydantic model, goes through the SDK instead), the request is made from the template
  (cookies from the HTTP client's jar, as `build_request` adds them; a fresh `client._idempotency_key()` when
  the client sends one) and sent with `client._client.send`, as `request()` sends it. Status and transport
  errors become the exceptions `request()` raises, with its max_retries=0 semantics.
- Anything it cannot serve exactly goes through `client.post` itself: an unknown client class (Azure,
  Bedrock, Vertex), retries on, callable keys, token providers, workload identity, middleware, custom auth, a
  raw-response header, a shape whose probes disagree. A client whose attributes are reassigned
  (`client.api_key = ...`) is learned anew; changes made inside an attribute (the HTTP client's own headers,
  `_custom_headers` mutated in place) are not seen.

Nothing here imports a vendor SDK: the client's own package is found in `sys.modules`. `for_client` gives None
for a client it cannot serve, and warns once per process when an SDK internal it needs has moved.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from importlib import import_module
from typing import Any, Final

import httpx2

__all__ = ["AsyncFastPost", "FastPost"]

_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""The SDKs' `openapi_dumps` settings, without their `default` hook: plain JSON data encodes identically, and
anything needing the hook raises `TypeError` (that body then goes through the SDK)."""

_CACHE_SIZE: Final = 64
"""Request shapes (path, extra headers, timeout kind) kept per client; the oldest is dropped beyond it."""

_PROBE_BODIES: Final = ({"fast_post_probe": "a"}, {"fast_post_probe": ["bb", 1]})
_PROBE_KEYS: Final = ("fast-post-probe-key-a", "fast-post-probe-key-b")
_PROBE_TIMEOUTS: Final[dict[type | None, tuple[Any, Any]]] = {
    float: (1234.5, 4321.25), int: (1234, 4321), None: (None, None)}


class _Missing:
    """Not learned yet."""


_MISSING: Final = _Missing()
_warned: set[str] = set()

ExceptionTypes = tuple[type[BaseException], ...]
Key = tuple[str, tuple[tuple[str, str], ...], type | None]


def _warn_once(key: str, message: str, stacklevel: int) -> None:
    """Warns with `message` unless a warning with `key` was given already; `stacklevel` counts from the caller."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel + 1)


@dataclass(frozen=True)
class _Vendor:
    package: str
    classes: tuple[str, str]  # the sync and the async client class served
    error: str  # the SDK's base exception, which `request()` lets through unwrapped
    internals: tuple[str, ...]  # the client's attributes used
    prepares_body: bool  # `request()` starts with `_copy_and_prepare` (anthropic)
    served: Callable[[Any], bool]  # whether the client's credentials and hooks leave `request()` plain


def _openai_served(client: Any) -> bool:
    # No provider runtime (it rewrites options and responses), no key provider (refreshed per request), no
    # workload identity (the auth-retry wrapper swaps tokens and resends on 401): `_send_request` then comes
    # down to `_client.send`.
    return (client._provider_runtime is None and client._api_key_provider is None
            and client.workload_identity is None and client._workload_identity_auth is None
            and isinstance(client.api_key, str))


def _anthropic_served(client: Any) -> bool:
    # Middleware sees (and may replace) every attempt; a token cache signs each request in `custom_auth`.
    return not client._middleware and client._token_cache is None


_COMMON: Final = ("_client", "max_retries", "custom_auth", "_idempotency_header", "_idempotency_key", "_platform",
                  "_maybe_override_cast_to", "_prepare_options", "_build_request", "_prepare_request",
                  "_should_stream_response_body", "_make_status_error_from_response")

_VENDORS: Final = (
    _Vendor("openai", ("OpenAI", "AsyncOpenAI"), "OpenAIError",
            (*_COMMON, "_custom_auth", "_provider_runtime", "_api_key_provider", "workload_identity",
             "_workload_identity_auth", "api_key"),
            False, _openai_served),
    _Vendor("anthropic", ("Anthropic", "AsyncAnthropic"), "AnthropicError",
            (*_COMMON, "_copy_and_prepare", "_middleware", "_token_cache"), True, _anthropic_served),
)

# Methods of `request()`'s path that an instance attribute would replace: such a client is not served.
# (`_custom_auth` is not one: anthropic keeps its token auth there, and `_plain` asks both SDKs' anyway.)
_OVERRIDABLE: Final = frozenset(("request", "_request", "_attempt_request", "post", "_send_request",
                                 "_send_with_auth_retry", "_process_response", "_build_request", "_build_headers",
                                 "_prepare_options", "_prepare_request", "_copy_and_prepare",
                                 "_should_stream_response_body", "_idempotency_key",
                                 "_make_status_error_from_response"))


class _Template:
    """One request shape: everything but the body, the timeout's value and the idempotency key."""

    __slots__ = ("extensions", "headers", "idempotency", "timed", "timeout_extension", "url")

    def __init__(self, url: httpx2.URL, headers: httpx2.Headers, timed: tuple[str, ...],
                 idempotency: tuple[str, ...], extensions: dict[str, Any],
                 timeout_extension: dict[str, Any] | None) -> None:
        self.url = url
        self.headers = headers
        self.timed = timed  # headers whose value is `str(timeout)`
        self.idempotency = idempotency  # headers whose value is the request's idempotency key
        self.extensions = extensions  # without "timeout"
        self.timeout_extension = timeout_extension  # None: one value for every phase, the call's timeout

    def build(self, content: bytes, timeout: float | None, cookies: httpx2.Cookies,
              new_key: Callable[[], str]) -> httpx2.Request:
        headers = httpx2.Headers(self.headers)
        if self.timed:
            value = str(timeout)
            for name in self.timed:
                headers[name] = value
        if self.idempotency:
            key = new_key()
            for name in self.idempotency:
                headers[name] = key
        extensions = dict(self.extensions)
        extensions["timeout"] = (dict(self.timeout_extension) if self.timeout_extension is not None else
                                 {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout})
        return httpx2.Request("POST", self.url, headers=headers, cookies=cookies, content=content,
                              extensions=extensions)


def _differs(a: httpx2.Request, b: httpx2.Request) -> str | None:
    """What differs between two requests on the wire (and in their extensions), or None."""
    if a.method != b.method:
        return "method"
    if str(a.url) != str(b.url) or a.url.raw_path != b.url.raw_path:
        return "URL"
    if a.headers.raw != b.headers.raw:
        return "headers"
    if a.content != b.content:
        return "body"
    if a.extensions != b.extensions:
        return "extensions"
    return None


def probe_headers(a: httpx2.Request, b: httpx2.Request, *, drop_cookie: bool
                  ) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes, bytes]]] | None:
    """Two probe requests' headers, walked in order: the headers a template keeps (with the first probe's values),
    and those of them whose values differ, as (name, value a, value b). Left out: `Content-Length` when it is each
    body's length (httpx2 sets it from the body), and `Cookie` when `drop_cookie` (the HTTP client's jar adds it
    per request). None when the two requests' header names differ."""
    raw_a, raw_b = a.headers.raw, b.headers.raw
    if [k.lower() for k, _ in raw_a] != [k.lower() for k, _ in raw_b]:
        return None
    lengths = (str(len(a.content)).encode(), str(len(b.content)).encode())
    kept: list[tuple[bytes, bytes]] = []
    varying: list[tuple[bytes, bytes, bytes]] = []
    for (name, value_a), (_, value_b) in zip(raw_a, raw_b, strict=True):
        lower = name.lower()
        if lower == b"content-length" and (value_a, value_b) == lengths:
            continue
        if lower == b"cookie" and drop_cookie:
            continue
        if value_a != value_b:
            varying.append((name, value_a, value_b))
        kept.append((name, value_a))
    return kept, varying


def _httpx2_timeouts() -> ExceptionTypes:
    return (httpx2.TimeoutException,)


def _any_error() -> ExceptionTypes:
    return (Exception,)


class _FastPostBase:
    """The learning and the template cache, shared by the sync and the async `post`."""

    _sync: bool

    def __init__(self, client: Any, vendor: _Vendor, sdk: Any) -> None:
        self._client = client
        self._vendor = vendor
        self._options_cls: Any = import_module(f"{vendor.package}._models").FinalRequestOptions
        self._raw_header: str = import_module(f"{vendor.package}._constants").RAW_RESPONSE_HEADER
        base = import_module(f"{vendor.package}._base_client")
        self._get_platform: Callable[[], Any] = base.get_platform
        self._asyncify: Callable[..., Any] = base.asyncify
        self._timeout_error: Any = sdk.APITimeoutError
        self._connection_error: Any = sdk.APIConnectionError
        self._sdk_error: type[BaseException] = getattr(sdk, vendor.error)
        if vendor.package == "openai":
            # `request()` catches what these give (httpx2's, and legacy httpx's once that is imported)
            httpx_errors = import_module("openai._httpx2")
            self._timeouts: Callable[[], ExceptionTypes] = httpx_errors.timeout_exceptions
            # (earlier openai 3.x has no `request_exceptions`: its `request()` wraps every non-SDK exception, as
            # anthropic's does)
            self._connection_errors: Callable[[], ExceptionTypes] = getattr(httpx_errors, "request_exceptions",
                                                                             _any_error)
        else:
            # `_attempt_request` wraps every other non-SDK exception of `send` in an `APIConnectionError`
            self._timeouts = _httpx2_timeouts
            self._connection_errors = _any_error
        self._templates: dict[Key, _Template | None] = {}
        self._seen: tuple[Any, ...] = ()
        self._served = False
        self._refresh()

    @classmethod
    def _serves(cls, client: Any) -> tuple[_Vendor, Any] | None:
        for vendor in _VENDORS:
            sdk = sys.modules.get(vendor.package)
            if sdk is None or type(client) is not getattr(sdk, vendor.classes[0 if cls._sync else 1], None):
                continue
            missing = [name for name in vendor.internals if not hasattr(client, name)]
            try:
                import_module(f"{vendor.package}._models").FinalRequestOptions.construct  # noqa: B018
                import_module(f"{vendor.package}._constants").RAW_RESPONSE_HEADER  # noqa: B018
                base = import_module(f"{vendor.package}._base_client")
                base.get_platform, base.asyncify  # noqa: B018
                if vendor.package == "openai":
                    errors = import_module("openai._httpx2")
                    errors.timeout_exceptions  # noqa: B018
                for name in ("APITimeoutError", "APIConnectionError", vendor.error):
                    getattr(sdk, name)
            except (ImportError, AttributeError) as exc:
                missing.append(str(exc))
            if missing or not hasattr(client, "__dict__"):
                version = getattr(sdk, "__version__", "?")
                _warn_once(f"internals:{vendor.package}",
                           f"agentos_llm.providers.sdk_fast_post: {vendor.package} {version} lacks internals it "
                           f"relies on ({', '.join(missing) or '__dict__'}); requests go through the SDK's public "
                           f"`post` instead", 3)
                return None
            return vendor, sdk
        return None

    @classmethod
    def _eligible(cls, client: Any, vendor: _Vendor) -> bool:
        http_client = httpx2.Client if cls._sync else httpx2.AsyncClient
        return (client.max_retries == 0 and client.custom_auth is None and isinstance(client._client, http_client)
                and not _OVERRIDABLE.intersection(vars(client)) and vendor.served(client))

    def _refresh(self) -> None:
        """Forgets every template and sees whether the client (as it is now) can be served."""
        client = self._client
        self._templates = {}
        self._served = self._eligible(client, self._vendor)
        self._seen = tuple(vars(client).values())

    @staticmethod
    def _key(path: str, headers: Mapping[str, str] | None, timeout: float | None) -> Key:
        return (path, tuple(headers.items()) if headers else (), None if timeout is None else type(timeout))

    def _template(self, key: Key) -> _Template | _Missing | None:
        """The template for `key`, None when the shape goes through the SDK, `_MISSING` when not learned yet."""
        if tuple(vars(self._client).values()) != self._seen:
            self._refresh()
        if not self._served:
            return None
        return self._templates.get(key, _MISSING)

    def _keep(self, key: Key, template: _Template | None) -> _Template | None:
        if len(self._templates) >= _CACHE_SIZE:
            del self._templates[next(iter(self._templates))]
        self._templates[key] = template
        return template

    def _options(self, key: Key, body: Any, timeout: Any) -> Any:
        """What `post` constructs, with our callers' options (`sdk_transport.request_options`)."""
        path, headers, _ = key
        extra = {"headers": dict(headers)} if headers else {}
        return self._options_cls.construct(method="post", url=path, json_data=body, content=None, files=None,
                                           timeout=timeout, **extra)

    def _plain(self, options: Any, request: httpx2.Request) -> str | None:
        """Why `request()` would do more than send this request and hand back the response, or None."""
        client = self._client
        custom_auth = client._custom_auth
        if client.custom_auth is not None or (callable(custom_auth) and custom_auth(options.security) is not None):
            return "custom auth"
        if options.follow_redirects is not None:
            return "follow_redirects"
        if client._should_stream_response_body(request) or self._raw_header in request.headers:
            return "a raw-response header"
        return None

    def _compile(self, key: Key, probes: list[httpx2.Request | str]) -> _Template | None:
        """The template that rebuilds both probe requests exactly, or None (warned once) when there is none."""
        reason = next((p for p in probes if isinstance(p, str)), None)
        template = None
        if reason is None:
            a, b = (p for p in probes if not isinstance(p, str))
            template_or_reason = self._template_of(key, a, b)
            if isinstance(template_or_reason, str):
                reason = template_or_reason
            else:
                template = template_or_reason
        if reason is not None:
            _warn_once(f"shape:{self._vendor.package}:{reason}",
                       f"agentos_llm.providers.sdk_fast_post: {self._vendor.package} requests to {key[0]} go "
                       f"through the SDK's `post`: {reason}", 4)
        return self._keep(key, template)

    def _template_of(self, key: Key, a: httpx2.Request, b: httpx2.Request) -> _Template | str:
        timeouts = _PROBE_TIMEOUTS[key[2]]
        if a.method != "POST" or str(a.url) != str(b.url) or a.url.raw_path != b.url.raw_path:
            return "the request's method or URL depends on its body or timeout"
        extensions = {k: v for k, v in a.extensions.items() if k != "timeout"}
        if extensions != {k: v for k, v in b.extensions.items() if k != "timeout"}:
            return "the request's extensions depend on its body or timeout"
        timeout_extension: dict[str, Any] | None = None
        if key[2] is None:
            timeout_extension = dict(a.extensions.get("timeout") or {})
        explicit_cookie = any(name.lower() == "cookie" for name in (
            *(k for k, _ in key[1]), *self._client.default_headers, *self._client._client.headers))
        walked = probe_headers(a, b, drop_cookie=not explicit_cookie)
        if walked is None:
            return "the request's header names depend on its body or timeout"
        kept, varying = walked
        expected_timeouts = (str(timeouts[0]).encode(), str(timeouts[1]).encode())
        keys = (_PROBE_KEYS[0].encode(), _PROBE_KEYS[1].encode())
        timed: list[str] = []
        idempotency: list[str] = []
        for name, value_a, value_b in varying:
            if (value_a, value_b) == expected_timeouts:
                timed.append(name.decode("ascii"))
            elif (value_a, value_b) == keys:
                idempotency.append(name.decode("ascii"))
            else:
                return f"header {name.decode('ascii', 'replace')!r} depends on the body or timeout"
        template = _Template(a.url, httpx2.Headers(kept), tuple(timed), tuple(idempotency), extensions,
                             timeout_extension)
        cookies = self._client._client.cookies
        for probe, body, timeout, idem in zip((a, b), _PROBE_BODIES, timeouts, _PROBE_KEYS, strict=True):
            rebuilt = template.build(_ENCODER.encode(body).encode(), timeout, cookies, partial(str, idem))
            what = _differs(rebuilt, probe)
            if what is not None:
                return f"the SDK's request could not be rebuilt exactly ({what} differ)"
        return template

    def _sdk_options(self, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        from .sdk_transport import request_options  # that module imports this one

        return request_options(timeout, headers)


def _failed(exc: Exception) -> str:
    return f"learning the request raised {type(exc).__name__}: {exc}"


def _encode(body: Any) -> bytes | None:
    """The body as the SDK sends it, or None when the SDK must encode it (or send it some other way)."""
    if type(body) is not dict and type(body) is not list:
        return None
    try:
        return _ENCODER.encode(body).encode()
    except TypeError:
        return None


class FastPost(_FastPostBase):
    """Sends JSON POSTs through a sync Stainless SDK client's own HTTP client, as `client.post(...)` would,
    without its per-call request building."""

    _sync = True

    @classmethod
    def for_client(cls, client: Any) -> FastPost | None:
        """A `FastPost` for `client` (an `openai.OpenAI` or `anthropic.Anthropic` with max_retries=0 and a
        static key), or None: the caller then uses `client.post` as it would without one."""
        found = cls._serves(client)
        if found is None or not cls._eligible(client, found[0]):
            return None
        return cls(client, *found)

    def post(self, path: str, body: Any, *, timeout: float | None, headers: Mapping[str, str] | None,
             stream: bool) -> httpx2.Response:
        """`client.post(path, body=body, cast_to=httpx2.Response, options={"timeout": timeout, "headers":
        headers}, stream=stream, stream_cls=None)`: the same request, response and exceptions."""
        key = self._key(path, headers, timeout)
        template = self._template(key)
        if isinstance(template, _Missing):
            template = self._learn(key)
        content = _encode(body) if template is not None else None
        if template is None or content is None:
            return self._client.post(path, body=body, cast_to=httpx2.Response,  # type: ignore[no-any-return]
                                     options=self._sdk_options(timeout, headers), stream=stream, stream_cls=None)
        client = self._client
        http = client._client
        request = template.build(content, timeout, http.cookies, client._idempotency_key)
        try:
            response: httpx2.Response = http.send(request, stream=stream)
        except self._timeouts() as err:
            raise self._timeout_error(request=request) from err
        except self._sdk_error:
            raise
        except self._connection_errors() as err:
            raise self._connection_error(request=request) from err
        if not response.is_success:
            if not response.is_closed:
                response.read()
            raise client._make_status_error_from_response(response) from None
        return response

    def _learn(self, key: Key) -> _Template | None:
        kind = key[2]
        if kind not in _PROBE_TIMEOUTS:
            return self._keep(key, None)
        probes: list[httpx2.Request | str]
        try:
            probes = [self._probe(key, body, timeout, idem) for body, timeout, idem
                      in zip(_PROBE_BODIES, _PROBE_TIMEOUTS[kind], _PROBE_KEYS, strict=True)]
        except Exception as exc:  # the SDK refuses such a request (it will say so again), or its internals moved
            probes = [_failed(exc)]
        return self._compile(key, probes)

    def _probe(self, key: Key, body: Any, timeout: Any, idempotency_key: str) -> httpx2.Request | str:
        """The request `request()` would send for `body`, `timeout` and `idempotency_key`; or why it would do more."""
        client = self._client
        options = self._options(key, body, timeout)
        if self._vendor.prepares_body:
            options = client._copy_and_prepare(options)
        if client._maybe_override_cast_to(httpx2.Response, options) is not httpx2.Response:
            return "a cast_to override header"
        if options.idempotency_key is None:
            options.idempotency_key = idempotency_key
        options = client._prepare_options(options)
        request: httpx2.Request = client._build_request(options, retries_taken=0)
        client._prepare_request(request)
        return self._plain(options, request) or request


class AsyncFastPost(_FastPostBase):
    """`FastPost` for an async client (`openai.AsyncOpenAI`, `anthropic.AsyncAnthropic`)."""

    _sync = False

    @classmethod
    def for_client(cls, client: Any) -> AsyncFastPost | None:
        """An `AsyncFastPost` for `client`, or None (see `FastPost.for_client`)."""
        found = cls._serves(client)
        if found is None or not cls._eligible(client, found[0]):
            return None
        return cls(client, *found)

    async def post(self, path: str, body: Any, *, timeout: float | None, headers: Mapping[str, str] | None,
                   stream: bool) -> httpx2.Response:
        """`await client.post(...)` (see `FastPost.post`)."""
        key = self._key(path, headers, timeout)
        template = self._template(key)
        if isinstance(template, _Missing):
            template = await self._learn(key)
        content = _encode(body) if template is not None else None
        if template is None or content is None:
            return await self._client.post(  # type: ignore[no-any-return]
                path, body=body, cast_to=httpx2.Response, options=self._sdk_options(timeout, headers),
                stream=stream, stream_cls=None)
        client = self._client
        http = client._client
        request = template.build(content, timeout, http.cookies, client._idempotency_key)
        try:
            response: httpx2.Response = await http.send(request, stream=stream)
        except self._timeouts() as err:
            raise self._timeout_error(request=request) from err
        except self._sdk_error:
            raise
        except self._connection_errors() as err:
            raise self._connection_error(request=request) from err
        if not response.is_success:
            if not response.is_closed:
                await response.aread()
            raise client._make_status_error_from_response(response) from None
        return response

    async def _learn(self, key: Key) -> _Template | None:
        kind = key[2]
        if kind not in _PROBE_TIMEOUTS:
            return self._keep(key, None)
        client = self._client
        probes: list[httpx2.Request | str]
        try:
            if client._platform is None:
                # as the SDK's async `request()` does first: `get_platform` may block, so it runs in a worker thread
                client._platform = await self._asyncify(self._get_platform)()
                self._refresh()
            probes = [await self._probe(key, body, timeout, idem) for body, timeout, idem
                      in zip(_PROBE_BODIES, _PROBE_TIMEOUTS[kind], _PROBE_KEYS, strict=True)]
        except Exception as exc:  # see FastPost._learn
            probes = [_failed(exc)]
        return self._compile(key, probes)

    async def _probe(self, key: Key, body: Any, timeout: Any, idempotency_key: str) -> httpx2.Request | str:
        """`FastPost._probe`, with the async client's coroutine hooks."""
        client = self._client
        options = self._options(key, body, timeout)
        if self._vendor.prepares_body:
            options = await client._copy_and_prepare(options)
        if client._maybe_override_cast_to(httpx2.Response, options) is not httpx2.Response:
            return "a cast_to override header"
        if options.idempotency_key is None:
            options.idempotency_key = idempotency_key
        options = await client._prepare_options(options)
        request: httpx2.Request = client._build_request(options, retries_taken=0)
        await client._prepare_request(request)
        return self._plain(options, request) or request
