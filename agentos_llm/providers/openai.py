"""OpenAI and every OpenAI-compatible host, on the official `openai` SDK (extra `openai`).

Thin I/O only: the SDK client sends the request (auth, base URL, connection pool, timeouts) and
hands back the raw HTTP response; `agentos_llm.wire.openai_chat` does all the converting. The
SDK's own retries are off: the library's retry policy is the only one.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from typing import Any, ClassVar

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    MalformedResponseError,
    MissingDependencyError,
    ProviderError,
    error_from_response,
)
from ..options import EmbedOptions
from ..provider import Call, Capability, IProvider, Operation, StreamAssembler
from ..structured import StructuredMode, StructuredPlan
from ..types import CompletionResponse, EmbeddingResponse, ModelInfo
from ..wire import openai_chat as wire
from ..wire.sse import aiter_sse, iter_sse

try:
    import httpx2
    import openai
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise MissingDependencyError("openai", "openai") from exc

__all__ = ["OpenAIProvider"]

_PATHS: dict[str, str] = {"chat": "/chat/completions", "embed": "/embeddings", "models": "/models"}
_KEYLESS = "not-needed"  # local servers take any key; the SDK insists on one
# OpenAI's embeddings limits: 2048 inputs and 300k tokens per request (~4 chars a token, with margin).
_EMBED_MAX_INPUTS = 2048
_EMBED_MAX_CHARS = 800_000


class OpenAIProvider(IProvider):
    """OpenAI chat completions, embeddings and models; also the base of OpenAI-compatible hosts."""

    provider_id = "openai"
    family: ClassVar[str] = "openai"
    capabilities = frozenset({
        Capability.GENERATE, Capability.STREAM, Capability.TOOLS, Capability.VISION,
        Capability.STRUCTURED_OUTPUT, Capability.EMBEDDINGS, Capability.LIST_MODELS, Capability.REASONING,
    })
    config_keys: ClassVar[frozenset[str]] = frozenset({"organization", "project"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Compatible hosts share OpenAI's code, but model traits belong to the host's own family.
        if self.provider_id != "openai":
            self.traits_family = str(self.spec.wire.get("traits_family", self.provider_id))
        if not self.base_url:
            from ..errors import ConfigurationError

            raise ConfigurationError(
                f"{self.spec.label} needs a base URL: pass base_url=... or set {self.spec.base_url_env}")

    # ------------------------------------------------------------------ clients

    def _client_kwargs(self) -> dict[str, Any]:
        key = self._api_key.get_secret_value() if self._api_key else _KEYLESS
        kwargs: dict[str, Any] = {
            "api_key": key, "base_url": self.base_url, "max_retries": 0,
            "timeout": self.retry_policy.timeout, "default_headers": self.default_headers or None,
        }
        for name in ("organization", "project"):
            if self.config.get(name):
                kwargs[name] = self.config[name]
        return kwargs

    @cached_property
    def client(self) -> openai.OpenAI:
        """The sync SDK client (created on first use, then reused)."""
        return openai.OpenAI(**self._client_kwargs())

    @property
    def async_client(self) -> openai.AsyncOpenAI:
        """The async SDK client of the running event loop.

        One per loop, reused: pooled connections belong to the loop that opened them, so a provider
        used from several loops (a notebook, repeated `asyncio.run`, the sync bridge) stays usable.
        """
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = openai.AsyncOpenAI(**self._client_kwargs())
        return client

    @cached_property
    def _async_clients(self) -> weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI]:
        return weakref.WeakKeyDictionary()

    def _close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()

    async def _aclose(self) -> None:
        client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    # ------------------------------------------------------------------ converters (pure)

    def _build_request(self, call: Call) -> dict[str, Any]:
        return wire.build_chat_request(call, self.spec.wire, stream=call.stream)

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        return wire.parse_chat_completion(payload, provider=self.provider_id, model=call.model)

    def _stream_assembler(self, call: Call) -> StreamAssembler:
        return wire.ChatStreamAssembler(provider=self.provider_id, model=call.model)

    def _structured_mode(self, call: Call, plan: StructuredPlan[Any]) -> StructuredMode:
        if call.traits.json_schema and plan.format.strict_schema is not None and self.spec.wire.get(
                "json_schema", True):
            return "json_schema"
        return "json_object" if self.spec.wire.get("json_object", True) else "prompt"

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> Any:
        return wire.build_embeddings_request(model, texts, options.dimensions, self.spec.wire)

    def _parse_embeddings(self, payload: Any, model: str, count: int) -> EmbeddingResponse:
        return wire.parse_embeddings(payload, provider=self.provider_id, model=model, count=count)

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        return wire.parse_model_list(payload, provider=self.provider_id)

    def _embed_batches(self, texts: list[str]) -> list[list[str]]:
        batches: list[list[str]] = [[]]
        size = 0
        for text in texts:
            if batches[-1] and (len(batches[-1]) >= _EMBED_MAX_INPUTS or size + len(text) > _EMBED_MAX_CHARS):
                batches.append([])
                size = 0
            batches[-1].append(text)
            size += len(text)
        return batches

    # ------------------------------------------------------------------ I/O (thin)

    @staticmethod
    def _options(timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        options: dict[str, Any] = {"timeout": timeout}
        if headers:
            options["headers"] = dict(headers)
        return options

    def _decode(self, response: httpx2.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            raise MalformedResponseError(
                f"the response is not JSON: {response.text[:200]!r}", provider=self.provider_id,
                status_code=response.status_code, request_id=response.headers.get("x-request-id")) from None

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        options = self._options(timeout, headers)
        if op == "models":
            response = self.client.get(_PATHS[op], cast_to=httpx2.Response, options=options)
        else:
            response = self.client.post(_PATHS[op], body=request, cast_to=httpx2.Response, options=options)
        return self._decode(response)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        options = self._options(timeout, headers)
        if op == "models":
            response = await self.async_client.get(_PATHS[op], cast_to=httpx2.Response, options=options)
        else:
            response = await self.async_client.post(_PATHS[op], body=request, cast_to=httpx2.Response,
                                                    options=options)
        return self._decode(response)

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        response = self.client.post(_PATHS["chat"], body=request, cast_to=httpx2.Response, stream=True,
                                    stream_cls=None, options=self._options(timeout, headers))
        return self._chunks(response)

    def _chunks(self, response: httpx2.Response) -> Iterator[Any]:
        decoder = wire.ChunkDecoder(self.provider_id)
        try:
            for event in iter_sse(response.iter_lines()):
                chunk = decoder.decode(event.data)
                if chunk is not None:
                    yield chunk
        finally:
            response.close()

    async def _aopen_stream_chunks(self, request: Any, timeout: float | None,
                                   headers: Mapping[str, str] | None) -> AsyncIterator[Any]:
        response = await self.async_client.post(_PATHS["chat"], body=request, cast_to=httpx2.Response,
                                                 stream=True, stream_cls=None,
                                                 options=self._options(timeout, headers))
        decoder = wire.ChunkDecoder(self.provider_id)
        try:
            async for event in aiter_sse(response.aiter_lines()):
                chunk = decoder.decode(event.data)
                if chunk is not None:
                    yield chunk
        finally:
            await response.aclose()

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        return self._aopen_stream_chunks(request, timeout, headers)

    # ------------------------------------------------------------------ errors

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, openai.APIStatusError):
            response = exc.response
            return error_from_response(exc.status_code, exc.body, provider=self.provider_id,
                                       headers=response.headers, fallback_message=exc.message)
        if isinstance(exc, openai.APITimeoutError):
            return APITimeoutError("the request timed out", provider=self.provider_id)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            detail = f": {type(cause).__name__}" if cause is not None else ""
            return APIConnectionError(f"cannot reach {self.base_url}{detail}", provider=self.provider_id)
        if isinstance(exc, openai.APIError):
            return error_from_response(None, exc.body, provider=self.provider_id, fallback_message=exc.message)
        if isinstance(exc, httpx2.TimeoutException):
            return APITimeoutError(f"the request timed out ({type(exc).__name__})", provider=self.provider_id)
        if isinstance(exc, httpx2.TransportError):
            return APIConnectionError(f"the connection failed: {type(exc).__name__}: {exc}",
                                      provider=self.provider_id)
        return None
