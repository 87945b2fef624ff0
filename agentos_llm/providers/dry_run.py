"""The HTTP request a provider's I/O hook would send, built by the vendor SDK's own request-building step and
not sent (`IProvider.inspect_request`, see `agentos_llm.inspection`).

Each builder takes what the real call hands its I/O hook (the converted request, the attempt's timeout, the
per-request headers) and runs the step the SDK runs right before sending:

- OpenAI and Anthropic (Stainless clients): `_prepare_options`, `_build_request`, `_prepare_request`, as
  `client.post(...)` does; the result is the `httpx2.Request` the client would send.
- Gemini: the API client's `_build_request`, then the request its transport builds from it (the sync
  `httpx2` client's `build_request`; the async side's aiohttp session builds its own transport headers).
- Bedrock: botocore's whole pipeline (parameter validation, serializer, endpoint rules, signer), stopped at
  its `before-send` event.
- Cohere: the Fern `HttpClient.request` the provider calls, on a copy whose `httpx` client builds the request
  instead of sending it.
- Voyage AI: `httpx.Client.build_request`, as `client.post(...)` does.
"""

from __future__ import annotations

import contextvars
import copy
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..provider import IProvider, Operation

__all__ = ["Built", "build_http"]


@dataclass(frozen=True)
class Built:
    """A request as the transport would send it: method, URL, every header, and the body's bytes."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None


class _Captured(Exception):
    """Raised by a capturing transport to stop a request at the moment it would be sent."""

    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def _from_httpx(request: Any) -> Built:
    content = request.content if request.method.upper() != "GET" else b""
    return Built(request.method, str(request.url), [(k, v) for k, v in request.headers.multi_items()],
                 content or None)


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


# ---------------------------------------------------------------------- OpenAI and Anthropic (Stainless)


def _stainless_options(client: Any, method: str, path: str, body: Any, timeout: float | None,
                       headers: Mapping[str, str] | None, params: Mapping[str, Any] | None = None) -> Any:
    from .sdk_transport import request_options

    models = __import__(f"{type(client).__module__.split('.')[0]}._models", fromlist=["FinalRequestOptions"])
    extra = {"json_data": body, "content": None, "files": None} if method != "get" else {}
    options = models.FinalRequestOptions.construct(method=method, url=path, **extra,
                                                   **request_options(timeout, headers, params))
    if options.idempotency_key is None and method != "get":
        options.idempotency_key = client._idempotency_key()
    return options


def _stainless(client: Any, method: str, path: str, body: Any, timeout: float | None,
               headers: Mapping[str, str] | None) -> Built:
    options = client._prepare_options(_stainless_options(client, method, path, body, timeout, headers))
    request = client._build_request(options, retries_taken=0)
    client._prepare_request(request)
    return _from_httpx(request)


async def _astainless(client: Any, method: str, path: str, body: Any, timeout: float | None,
                      headers: Mapping[str, str] | None) -> Built:
    options = await _maybe(client._prepare_options(
        _stainless_options(client, method, path, body, timeout, headers)))
    request = client._build_request(options, retries_taken=0)
    await _maybe(client._prepare_request(request))
    return _from_httpx(request)


def _openai_path(provider: IProvider, op: Operation) -> str:
    from . import openai as chat
    from . import openai_responses as responses

    if provider.api == "openai-responses" and op in responses._PATHS:
        return responses._PATHS[op]
    return chat._PATHS[op]


def _anthropic_path(op: Operation) -> str:
    from . import anthropic

    return anthropic._COUNT if op == "count" else anthropic._MESSAGES


# ---------------------------------------------------------------------- Gemini


def _gemini_http(provider: Any, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
    api = provider._api
    built = api._build_request("post", request.path, copy.deepcopy(request.body), provider._options(timeout, headers))
    if api.vertexai and (api.project or api.location) and not api.api_key:
        built.headers["Authorization"] = "Bearer <access token from Google credentials>"
    return api, built


def _gemini(provider: Any, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Built:
    api, built = _gemini_http(provider, request, timeout, headers)
    data = json.dumps(built.data).encode() if built.data else None
    client = getattr(api, "_httpx_client", None)
    if client is None:  # pragma: no cover - a transport without httpx (google-auth sessions)
        return Built(built.method.upper(), built.url, list(built.headers.items()), data)
    sent = client.build_request(method=built.method, url=api._httpx_url(built.url, is_async=False), content=data,
                                headers=built.headers, timeout=built.timeout)
    return _from_httpx(sent)


async def _agemini(provider: Any, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                   ) -> Built:
    api, built = _gemini_http(provider, request, timeout, headers)
    data = json.dumps(built.data).encode("utf-8") if built.data else None
    if api._use_aiohttp():  # aiohttp adds its transport headers (Host, User-Agent ...) only when it sends
        return Built(built.method.upper(), built.url, list(built.headers.items()), data)
    sent = api._async_httpx_client.build_request(method=built.method, url=api._httpx_url(built.url, is_async=True),
                                                 content=data, headers=built.headers, timeout=built.timeout)
    return _from_httpx(sent)


# ---------------------------------------------------------------------- Bedrock

_DRY: contextvars.ContextVar[bool] = contextvars.ContextVar("agentos_llm_dry_run", default=False)


def _stop_before_send(request: Any, **_: Any) -> None:
    if _DRY.get():
        raise _Captured(request)


def _bedrock(provider: Any, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None,
             stream: bool) -> Built:
    client = provider.client
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-send.{service}", _stop_before_send, unique_id="agentos-llm-dry-run")
    if op == "chat":
        name = "converse_stream" if stream else "converse"

        def send(c: Any) -> Any:
            return getattr(c, name)(modelId=request.model_id, **request.params)
    else:
        body = json.dumps(request.params, separators=(",", ":")).encode()

        def send(c: Any) -> Any:
            return c.invoke_model(modelId=request.model_id, body=body, contentType="application/json",
                                  accept="application/json")

    token = _DRY.set(True)
    try:
        provider._call(timeout, headers, send)
    except _Captured as captured:
        sent = captured.request
        raw = sent.body
        body_bytes = raw if isinstance(raw, bytes) else raw.encode() if isinstance(raw, str) else None
        return Built(sent.method, sent.url, [(k, v.decode() if isinstance(v, bytes) else str(v))
                                             for k, v in sent.headers.items()], body_bytes or None)
    finally:
        _DRY.reset(token)
    raise RuntimeError("botocore sent no request")  # pragma: no cover


# ---------------------------------------------------------------------- Cohere and Voyage (httpx)


class _CaptureHttpx:
    """Stands in for an `httpx.Client`: builds the request it is asked to send, and stops there."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        raise _Captured(self.real.build_request(method, url, **kwargs))

    def stream(self, method: str, url: Any, **kwargs: Any) -> Any:
        raise _Captured(self.real.build_request(method, url, **kwargs))


class _ACaptureHttpx(_CaptureHttpx):
    async def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        raise _Captured(self.real.build_request(method, url, **kwargs))


def _cohere_http(provider: Any, is_async: bool) -> Any:
    sdk = provider.async_client if is_async else provider.client
    http = copy.copy(sdk._client_wrapper.httpx_client)
    http.httpx_client = (_ACaptureHttpx if is_async else _CaptureHttpx)(http.httpx_client)
    return http


def _cohere(provider: Any, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None,
            stream: bool) -> Built:
    from . import cohere

    http = _cohere_http(provider, False)
    options = provider._options(timeout, headers)
    try:  # the sync client reads whole answers through `stream` too (its body read within the timeout)
        with http.stream(cohere._PATHS[op], method="POST", json=request, request_options=options):
            pass  # pragma: no cover - the capture raises first
    except _Captured as captured:
        return _from_httpx(captured.request)
    raise RuntimeError("the Cohere client sent no request")  # pragma: no cover


async def _acohere(provider: Any, op: Operation, request: Any, timeout: float | None,
                   headers: Mapping[str, str] | None, stream: bool) -> Built:
    from . import cohere

    http = _cohere_http(provider, True)
    options = provider._options(timeout, headers)
    try:
        if stream:
            async with http.stream(cohere._PATHS[op], method="POST", json=request, request_options=options):
                pass  # pragma: no cover - the capture raises first
        await http.request(cohere._PATHS[op], method="POST", json=request, request_options=options)
    except _Captured as captured:
        return _from_httpx(captured.request)
    raise RuntimeError("the Cohere client sent no request")  # pragma: no cover


def _voyage(provider: Any, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None,
            is_async: bool) -> Built:
    import httpx

    path, body = provider._body(op, request)
    client = provider.async_client if is_async else provider.client
    return _from_httpx(client.build_request("POST", path, json=body, timeout=httpx.Timeout(timeout), headers=headers))


# ---------------------------------------------------------------------- dispatch


async def build_http(provider: IProvider, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None, *, stream: bool, is_async: bool) -> Built:
    """The request `provider`'s I/O hook would send for `op` (its sync or its async client's)."""
    api = provider.api
    p: Any = provider
    if api in ("openai-chat", "openai-responses", "anthropic-messages"):
        path = _anthropic_path(op) if api == "anthropic-messages" else _openai_path(provider, op)
        if is_async:
            return await _astainless(p.async_client, "post", path, request, timeout, headers)
        return _stainless(p.client, "post", path, request, timeout, headers)
    if api == "gemini-generate":
        return await _agemini(p, request, timeout, headers) if is_async else _gemini(p, request, timeout, headers)
    if api == "bedrock-converse":
        return _bedrock(p, op, request, timeout, headers, stream)
    if api == "cohere-chat":
        if is_async:
            return await _acohere(p, op, request, timeout, headers, stream)
        return _cohere(p, op, request, timeout, headers, stream)
    if api == "voyage-embed":
        return _voyage(p, op, request, timeout, headers, is_async)
    from ..errors import UnsupportedCapabilityError

    raise UnsupportedCapabilityError(provider.provider_id, "request inspection",
                                     f"{type(provider).__name__} builds no HTTP request this library knows; "
                                     "override `_inspect_http` to describe it")
