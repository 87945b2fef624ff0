"""Google Gemini (Gemini API and Vertex AI), on the official `google-genai` SDK (extra `gemini`).

Thin I/O only: the SDK's API client authenticates (API key or application default credentials),
builds URLs for either backend and sends, and hands back the raw JSON; `agentos_llm.wire.gemini_generate`
does all the converting, on the REST JSON itself, so a call never pays for the SDK's typed-object round
trip. Streams use the transport under `generate_content_stream` (`streamGenerateContent?alt=sse`, read
segment by segment). The SDK's own retries are off: the library's retry policy is the only one.

The async transport is the SDK's choice (httpx2, or aiohttp when it is installed); both are handled.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import quote

from ..defaults import ProviderSpec, get_spec
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    MissingDependencyError,
    ProviderError,
)
from ..http_bridge import CLIENT_KEYS, TRANSPORT_KEYS, genai_http_options
from ..options import EmbedOptions
from ..provider import Call, Capability, IProvider, Operation, Received, StreamAssembler
from ..stream_watchdog import LateSever, Severable
from ..structured import StructuredMode, StructuredPlan
from ..types import CompletionResponse, EmbeddingResponse, ModelInfo
from ..wire import gemini_generate as wire
from ..wire.common import stream_json
from .genai_fast_send import fast_send_of
from .genai_loops import GenaiLoops
from .http_bodies import aiter_data_batches, decode_json_body, iter_data_batches, read_body, severer

try:
    import httpx2
    from google.genai import Client
    from google.genai import _transformers as sdk_transformers
    from google.genai import errors as genai_errors
    from google.genai import types as genai_types
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise MissingDependencyError("gemini", "google.genai") from exc

__all__ = ["GeminiProvider"]

_MODEL_PAGE = 1000  # the Gemini API's largest page of models
_INTERNALS = ("_build_request", "_request", "_async_request", "async_request")
"""What the fast path calls on the SDK's API client (`client._api_client`): private, so checked, not assumed."""
_CONFIG_KEYS = ("systemInstruction", "tools", "toolConfig", "safetySettings", "cachedContent", "labels")
"""Top-level keys of a REST `generateContent` body that the public API takes in its flat `config`."""
GEMINI_API_VERSION = "v1beta"
"""The Gemini API version used unless `api_version=` says otherwise. Google documents `v1beta` as the
version that carries the newest features first and as its SDKs' default; every recorded response of
this project's wire corpus used it. `v1` works too for plain calls (`api_version="v1"`)."""


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, int(seconds * 1000))


class GeminiProvider(IProvider):
    """Gemini `generateContent`, streaming, embeddings and models, on the Gemini API or Vertex AI.

    Vertex AI: pass `vertexai=True` with `project` and `location` (application default credentials,
    no key needed), or `vertexai=True` with an API key (express mode). `api_version` picks the API
    version: by default `v1beta` on the Gemini API (where every feature this provider sends is
    available: tools, system instructions, thinking, JSON-schema output; google-genai 3.x itself would
    send `v1`) and the SDK's `v1beta1` on Vertex AI.
    """

    provider_id = "gemini"
    api: ClassVar[str] = "gemini-generate"
    family: ClassVar[str] = "gemini"
    capabilities = frozenset({
        Capability.GENERATE, Capability.STREAM, Capability.TOOLS, Capability.VISION,
        Capability.STRUCTURED_OUTPUT, Capability.EMBEDDINGS, Capability.LIST_MODELS, Capability.REASONING,
    })
    config_keys: ClassVar[frozenset[str]] = frozenset({"vertexai", "project", "location", "credentials",
                                                       "api_version"}) | TRANSPORT_KEYS | CLIENT_KEYS

    def __init__(self, *, spec: ProviderSpec | None = None, **kwargs: Any) -> None:
        spec = spec or get_spec(self.provider_id)
        self.vertexai = bool(kwargs.get("vertexai"))
        if self.vertexai:
            # Vertex AI authenticates with application default credentials; a key is only for express
            # mode, and an env key must not override an explicit project.
            explicit = kwargs.get("project") or kwargs.get("location") or kwargs.get("credentials")
            spec = replace(spec, key_required=False, key_env=() if explicit else spec.key_env)
        elif kwargs.get("project") or kwargs.get("location") or kwargs.get("credentials"):
            raise ConfigurationError("project, location and credentials are for Vertex AI: pass vertexai=True too")
        super().__init__(spec=spec, **kwargs)

    def __repr__(self) -> str:
        where = f", vertexai=True, project={self.config.get('project')!r}" if self.vertexai else ""
        return (f"{type(self).__name__}(provider_id={self.provider_id!r}, base_url={self.base_url!r}, "
                f"credential_source={self.credential_source!r}{where})")

    # ------------------------------------------------------------------ client

    @cached_property
    def client(self) -> Client:
        """The SDK client (created on first use, then reused; its async side keeps a pool per event loop)."""
        http = genai_types.HttpOptions(
            base_url=self.base_url or None,
            api_version=self.config.get("api_version") or (None if self.vertexai else GEMINI_API_VERSION),
            headers=self.default_headers or None,
            timeout=_ms(self.retry_policy.timeout),
            # One attempt: also turns off the SDK's hidden reconnect-and-retry of its aiohttp transport.
            retry_options=genai_types.HttpRetryOptions(attempts=1),
            # Proxy, CA bundle, limits or the application's clients (agentos_llm.http_bridge); the host decides
            # the proxy, and without a base URL it is Google's (every API host is under googleapis.com).
            **genai_http_options(self.transport, self.base_url or (
                "https://aiplatform.googleapis.com" if self.vertexai else "https://generativelanguage.googleapis.com"),
                where=self.provider_id),
        )
        kwargs: dict[str, Any] = {"http_options": http, "vertexai": self.vertexai}
        if self._api_key is not None:
            kwargs["api_key"] = self._api_key.get_secret_value()
        for name in ("project", "location", "credentials"):
            if self.config.get(name):
                kwargs[name] = self.config[name]
        try:
            client = Client(**kwargs)
        except ValueError as exc:  # the SDK's own configuration checks
            raise ConfigurationError(f"cannot set up the google-genai client: {exc}") from None
        _sessions_without_env_lookups(client._api_client)
        return client

    @property
    def _api(self) -> Any:
        # The SDK's API client: it sends what the converters built and returns the raw JSON.
        return self.client._api_client

    @cached_property
    def fast_path(self) -> bool:
        """Whether calls go through google-genai's API client directly (its private `_api_client`, `_build_request`,
        `_request`, ...: no typed-object round trip). False when an SDK version moved them: calls then take the
        public `client.models` API (slower, same results), and a warning says so once per provider."""
        api = getattr(self.client, "_api_client", None)
        if api is not None and all(callable(getattr(api, name, None)) for name in _INTERNALS):
            return True
        version = getattr(sys.modules.get("google.genai"), "__version__", "?")
        warnings.warn(f"google-genai {version} no longer has the internals the Gemini provider's fast path uses; "
                      "falling back to its public API (slower; please report it)", RuntimeWarning, stacklevel=2)
        return False

    @cached_property
    def _loops(self) -> GenaiLoops:
        # The SDK keeps an async session per event loop but closes only those of running loops.
        return GenaiLoops()

    def _close(self) -> None:
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()
            self._loops.close(client._api_client)

    async def _aclose(self) -> None:
        client = self.__dict__.get("client")
        if client is not None:
            await client.aio.aclose()
            await self._loops.aclose(client._api_client)

    # ------------------------------------------------------------------ converters (pure)

    def _build_request(self, call: Call) -> wire.GeminiRequest:
        return wire.build_generate_request(call, vertex=self.vertexai)

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        return wire.parse_generate_response(payload, provider=self.provider_id, model=call.model)

    def _stream_assembler(self, call: Call) -> StreamAssembler:
        return wire.GenerateStreamAssembler(provider=self.provider_id, model=call.model)

    def _structured_mode(self, call: Call, plan: StructuredPlan[Any]) -> StructuredMode:
        return "json_schema" if call.traits.json_schema else "prompt"

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> Any:
        # Which Vertex endpoint a model takes is the SDK's knowledge; it is asked, not repeated here.
        predict = self.vertexai and not sdk_transformers.t_is_vertex_embed_content_model(model)
        return wire.build_embed_request(model, texts, options, vertex=self.vertexai, predict=predict)

    def _parse_embeddings(self, payload: Any, model: str, count: int) -> EmbeddingResponse:
        return wire.parse_embeddings(payload, provider=self.provider_id, model=model, count=count)

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        return wire.parse_model_list(payload, provider=self.provider_id)

    def _build_count_request(self, call: Call) -> wire.GeminiRequest:
        return wire.build_count_request(call, vertex=self.vertexai)

    def _parse_token_count(self, payload: Any) -> int:
        return wire.parse_token_count(payload, provider=self.provider_id)

    def _embed_batches(self, texts: list[str], model: str = "") -> list[list[str]]:
        step = wire.EMBED_BATCH_LIMIT
        return [texts[i:i + step] for i in range(0, len(texts), step)]

    # ------------------------------------------------------------------ I/O (thin)

    def _options(self, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        # The client's own timeout is the policy's; per-request options only when a call differs.
        if not headers and timeout == self.retry_policy.timeout:
            return None
        return genai_types.HttpOptions(timeout=_ms(timeout), headers=dict(headers) if headers else None)

    def _decode(self, body: str | bytes) -> Any:
        # An empty body too is malformed: every endpoint used here answers with a JSON object.
        return decode_json_body(body, None, self.provider_id)

    def _send_once(self, method: str, path: str, body: dict[str, Any], options: Any) -> Any:
        """One sync attempt, the response open (the SDK's `HttpResponse`): from a learned template where
        `GenaiFastSend` serves the client, else through the SDK's own `_request_once`."""
        api = self._api
        fast = fast_send_of(api)
        if fast is not None:
            return fast.send(method, path, body, options)
        return _once(api)(api._build_request(method, path, body, options), True)

    def _request_within(self, method: str, path: str, body: dict[str, Any], options: Any, timeout: float | None
                        ) -> Received:
        """A sync request whose body is read within the attempt's timeout (the SDK's `request` would read a
        body that trickles in for as long as the server likes)."""
        started = time.monotonic()
        response = self._send_once(method, path, body, options)
        return Received(self._decode(read_body(response.response_stream, timeout, started, self.provider_id)),
                        response.headers, response.status_code)

    def _models_path(self, token: str | None) -> str:
        path = f"publishers/google/models?pageSize={_MODEL_PAGE}" if self.vertexai else f"models?pageSize={_MODEL_PAGE}"
        return f"{path}&pageToken={quote(token)}" if token else path

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        options = self._options(timeout, headers)
        if op == "chat" and not self.fast_path:
            model, contents, config = _public_args(request, options)
            return _public_received(self.client.models.generate_content(model=model, contents=contents,
                                                                        config=config))
        if op == "models":
            pages = []
            token: str | None = None
            while True:
                got = self._request_within("get", self._models_path(token), {}, options, timeout)
                page = got.payload
                pages.append(page)
                token = page.get("nextPageToken") if isinstance(page, dict) else None
                if not token:
                    return Received(_merge_pages(pages), got.headers)
        return self._request_within("post", request.path, request.body, options, timeout)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        options = self._options(timeout, headers)
        if op == "chat" and not self.fast_path:
            model, contents, config = _public_args(request, options)
            return _public_received(await self.client.aio.models.generate_content(model=model, contents=contents,
                                                                                  config=config))
        api = self._api
        self._loops.enter(api)
        if op == "models":
            pages = []
            token: str | None = None
            while True:
                got = await self._arequest_within("get", self._models_path(token), {}, options)
                page = got.payload
                pages.append(page)
                token = page.get("nextPageToken") if isinstance(page, dict) else None
                if not token:
                    return Received(_merge_pages(pages), got.headers)
        return await self._arequest_within("post", request.path, request.body, options)

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        if not self.fast_path:  # the SDK's own stream: its connection is out of reach (it fails once a read returns)
            return self._public_chunks(request, self._options(timeout, headers))
        sever = LateSever()
        return Severable(self._chunks(request, self._options(timeout, headers), sever), sever)

    def _public_chunks(self, request: wire.GeminiRequest, options: Any) -> Iterator[Any]:
        # The fallback: the SDK's typed chunks, dumped back to the REST JSON the assembler reads.
        model, contents, config = _public_args(request, options)
        chunks = self.client.models.generate_content_stream(model=model, contents=contents, config=config)
        try:
            for chunk in chunks:
                yield _public_json(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    async def _public_achunks(self, request: wire.GeminiRequest, options: Any) -> AsyncIterator[Any]:
        model, contents, config = _public_args(request, options)
        chunks = await self.client.aio.models.generate_content_stream(model=model, contents=contents, config=config)
        try:
            async for chunk in chunks:
                yield _public_json(chunk)
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    def _chunks(self, request: wire.GeminiRequest, options: Any, sever: LateSever) -> Iterator[Any]:
        # The transport of `generate_content_stream`, its server-sent events read here (as on every other wire:
        # a body that is no event stream, or not UTF-8, is malformed; a line that is not JSON raises our error,
        # never the SDK's with the raw body); the HTTP response is closed when the stream is left early.
        response = self._send_once("post", request.path, request.body, options)
        sever.fn = severer(response.response_stream)
        try:
            yield Received(None, response.headers, response.status_code)  # the SDK keeps them as a plain dict
            provider = self.provider_id
            for datas in iter_data_batches(response.response_stream, provider):
                for data in datas:
                    yield stream_json(data, provider)  # `wire.decode_stream_event`, a call less
        finally:
            close = getattr(response.response_stream, "close", None)
            if close is not None:
                close()

    async def _achunks(self, request: wire.GeminiRequest, options: Any) -> AsyncIterator[Any]:
        api = self._api
        self._loops.enter(api)
        sent = api._build_request("post", request.path, request.body, options)
        response = await _async_once(api)(sent, True)
        try:
            yield Received(None, response.headers, response.status_code)
            provider = self.provider_id
            async for datas in aiter_data_batches(response.response_stream, provider):  # httpx2 or aiohttp
                for data in datas:
                    yield stream_json(data, provider)
        finally:
            await _aclose_body(response.response_stream)

    async def _arequest_within(self, method: str, path: str, body: dict[str, Any], options: Any) -> Received:
        """An async request whose body is read as bytes and decoded strictly: the SDK's `async_request` decodes
        it leniently on httpx (bytes that are not UTF-8 would become U+FFFD instead of an error)."""
        api = self._api
        response = await _async_once(api)(api._build_request(method, path, body, options), True)
        try:
            raw = await _aread_body(response.response_stream)
        finally:
            await _aclose_body(response.response_stream)
        return Received(self._decode(raw), response.headers, response.status_code)

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        if not self.fast_path:
            return self._public_achunks(request, self._options(timeout, headers))
        return self._achunks(request, self._options(timeout, headers))

    # ------------------------------------------------------------------ errors

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, genai_errors.APIError):
            response = getattr(exc, "response", None)
            headers = getattr(response, "headers", None)
            return wire.error_from_google(exc.code, exc.details, provider=self.provider_id,
                                          headers=_plain_headers(headers), fallback_message=exc.message)
        if isinstance(exc, (httpx2.TimeoutException, asyncio.TimeoutError)):
            return APITimeoutError(f"the request timed out ({type(exc).__name__})", provider=self.provider_id)
        if isinstance(exc, httpx2.TransportError):
            return APIConnectionError(f"the connection failed: {type(exc).__name__}: {exc}",
                                      provider=self.provider_id)
        for module in ("httpx", "aiohttp"):  # the SDK's other transports, when installed and chosen
            mapped = _transport_error(sys.modules.get(module), exc, self.provider_id)
            if mapped is not None:
                return mapped
        refresh = sys.modules.get("google.auth.exceptions")
        if refresh is not None and isinstance(exc, refresh.GoogleAuthError):
            return AuthenticationError(f"Google credentials failed: {type(exc).__name__}: {exc}",
                                       provider=self.provider_id)
        return None


def _once(api: Any) -> Callable[[Any, bool], Any]:
    """The SDK's one attempt at a request (`_request_once(request, stream)`): what its `_request` calls through a
    tenacity wrapper, which makes a single attempt here (`HttpRetryOptions(attempts=1)`, errors re-raised as they
    are) at a cost of some 20 µs. `_request` itself where an SDK version lacks it."""
    once = getattr(api, "_request_once", None)
    if callable(once):
        return once  # type: ignore[no-any-return]
    return lambda request, stream: api._request(request, None, stream=stream)


def _async_once(api: Any) -> Callable[[Any, bool], Awaitable[Any]]:
    """`_once` for the async side (`_async_request_once`, else `_async_request`)."""
    once = getattr(api, "_async_request_once", None)
    if callable(once):
        return once  # type: ignore[no-any-return]
    return lambda request, stream: api._async_request(request, None, stream=stream)


def _sessions_without_env_lookups(api: Any) -> None:
    """Makes the aiohttp sessions google-genai opens (one per event loop) stop reading the environment.

    The SDK opens them with `trust_env=True`: aiohttp then looks up ~/.netrc and the proxy variables on every
    request, each in a worker thread (two thread hops, about 0.1-0.3 ms a call). The transport policy has read
    the environment already and gives the proxy with each request (`http_bridge.genai_http_options`), so the
    session need not. An SDK without the hook keeps its own behaviour."""
    opened = getattr(api, "_get_aiohttp_session", None)
    if opened is None or not inspect.iscoroutinefunction(opened):
        return

    async def session() -> Any:
        got = await opened()
        if getattr(got, "_trust_env", False) is True:  # an aiohttp.ClientSession (not google-auth's session)
            got._trust_env = False
        return got

    api._get_aiohttp_session = session


def _public_args(request: wire.GeminiRequest, options: Any) -> tuple[str, Any, genai_types.GenerateContentConfig]:
    """The public `generate_content` arguments for a REST request: its model, contents and flat config."""
    body = dict(request.body)
    contents = body.pop("contents", [])
    config: dict[str, Any] = dict(body.pop("generationConfig", None) or {})
    for key in _CONFIG_KEYS:
        if key in body:
            config[key] = body.pop(key)
    if options is not None:
        config["httpOptions"] = options
    model = request.path.rsplit(":", 1)[0]
    return model, contents, genai_types.GenerateContentConfig.model_validate(config)


def _public_json(response: Any) -> Any:
    """A typed SDK response as the REST JSON the converters read."""
    return response.model_dump(mode="json", by_alias=True, exclude_none=True)


def _public_received(response: Any) -> Received:
    http = getattr(response, "sdk_http_response", None)
    return Received(_public_json(response), getattr(http, "headers", None), 200)


def _merge_pages(pages: list[Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"models": [], "publisherModels": []}
    for page in pages:
        if isinstance(page, dict):
            if page.get("error"):
                return page
            merged["models"].extend(page.get("models") or ())
            merged["publisherModels"].extend(page.get("publisherModels") or ())
    return merged


def _plain_headers(headers: Any) -> dict[str, str] | None:
    if headers is None:
        return None
    try:
        return {str(k): str(v) for k, v in headers.items()}
    except (AttributeError, TypeError):
        return None


def _transport_error(module: Any, exc: Exception, provider: str) -> ProviderError | None:
    if module is None:
        return None
    timeout = getattr(module, "TimeoutException", None) or getattr(module, "ServerTimeoutError", None)
    if timeout is not None and isinstance(exc, timeout):
        return APITimeoutError(f"the request timed out ({type(exc).__name__})", provider=provider)
    broken = getattr(module, "TransportError", None) or getattr(module, "ClientError", None)
    if broken is not None and isinstance(exc, broken):
        return APIConnectionError(f"the connection failed: {type(exc).__name__}: {exc}", provider=provider)
    return None


async def _aread_body(stream: Any) -> bytes:
    """The whole body of the SDK's async response: an httpx2 response or an aiohttp one."""
    read = getattr(stream, "aread", None)  # httpx2
    if read is not None:
        return bytes(await read())
    return bytes(await stream.read())  # aiohttp


async def _aclose_body(stream: Any) -> None:
    close = getattr(stream, "aclose", None)  # httpx2 (idempotent)
    if close is not None:
        await close()
    elif callable(getattr(stream, "release", None)):  # aiohttp: back to the pool (idempotent)
        released = stream.release()
        if inspect.isawaitable(released):
            await released
