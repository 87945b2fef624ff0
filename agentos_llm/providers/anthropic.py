"""Anthropic's Messages API, on the official `anthropic` SDK (extra `anthropic`).

Thin I/O only: the SDK client sends the request (auth headers, `anthropic-version`, base URL,
connection pool, timeouts) and hands back the raw HTTP response; `agentos_llm.wire.anthropic_messages`
does all the converting. The SDK's own retries are off: the library's retry policy is the only one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar

from ..catalog import catalog_entry
from ..errors import (
    APIConnectionError,
    APITimeoutError,
    MalformedResponseError,
    MissingDependencyError,
    ProviderError,
    UnsupportedCapabilityError,
    error_from_response,
)
from ..options import EmbedOptions
from ..provider import Call, Capability, IProvider, Operation, StreamAssembler
from ..structured import StructuredMode, StructuredPlan
from ..types import CompletionResponse, ModelInfo
from ..wire import anthropic_messages as wire
from ..wire.sse import aiter_sse, iter_sse
from .sdk_clients import SDKClients

try:
    import anthropic
    import httpx2
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise MissingDependencyError("anthropic", "anthropic") from exc

__all__ = ["AnthropicProvider"]

_MESSAGES = "/v1/messages"
_MODELS = "/v1/models"
_MODELS_PAGE = 1000  # the most the models endpoint returns per page
_MAX_MODEL_PAGES = 20


class AnthropicProvider(IProvider):
    """Claude models through the Messages API: text, vision, tools, extended thinking, prompt caching,
    structured output and model listing. Anthropic has no embeddings API."""

    provider_id = "anthropic"
    family: ClassVar[str] = "anthropic"
    capabilities = frozenset({
        Capability.GENERATE, Capability.STREAM, Capability.TOOLS, Capability.VISION,
        Capability.STRUCTURED_OUTPUT, Capability.LIST_MODELS, Capability.REASONING,
    })

    # ------------------------------------------------------------------ clients

    def _client_kwargs(self) -> dict[str, Any]:
        key = self._api_key.get_secret_value() if self._api_key else None
        return {
            "api_key": key, "base_url": self.base_url, "max_retries": 0,
            "timeout": self.retry_policy.timeout, "default_headers": self.default_headers or None,
        }

    @cached_property
    def _clients(self) -> SDKClients[anthropic.Anthropic, anthropic.AsyncAnthropic]:
        return SDKClients(lambda: anthropic.Anthropic(**self._client_kwargs()),
                          lambda: anthropic.AsyncAnthropic(**self._client_kwargs()), lambda client: client.close())

    @property
    def client(self) -> anthropic.Anthropic:
        """The sync SDK client (created on first use, then reused)."""
        return self._clients.sync

    @property
    def async_client(self) -> anthropic.AsyncAnthropic:
        """The async SDK client of the running event loop (one per loop: pooled connections belong to it)."""
        return self._clients.for_running_loop()

    def _close(self) -> None:
        self._clients.close()

    async def _aclose(self) -> None:
        await self._clients.aclose()

    # ------------------------------------------------------------------ converters (pure)

    def _default_max_tokens(self, model: str) -> int:
        known = catalog_entry(self.provider_id, model)
        if known is not None and known.max_output_tokens:
            return known.max_output_tokens
        return wire.DEFAULT_MAX_TOKENS

    def _build_request(self, call: Call) -> dict[str, Any]:
        return wire.build_messages_request(call, max_tokens=self._default_max_tokens(call.model))

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        return wire.parse_message(payload, provider=self.provider_id, model=call.model,
                                  structured_tool=wire.structured_tool_name(call))

    def _stream_assembler(self, call: Call) -> StreamAssembler:
        return wire.MessagesStreamAssembler(provider=self.provider_id, model=call.model,
                                            structured_tool=wire.structured_tool_name(call))

    def _structured_mode(self, call: Call, plan: StructuredPlan[Any]) -> StructuredMode:
        if call.traits.json_schema and plan.format.strict_schema is not None:
            return "json_schema"
        return "tool" if call.traits.tools else "prompt"

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        return wire.parse_model_list(payload, provider=self.provider_id)

    def _embed_plan(self, model: str | None, texts: str | Sequence[str], dimensions: int | None,
                    input_type: str | None) -> tuple[str, list[list[str]], EmbedOptions]:
        raise UnsupportedCapabilityError(
            self.provider_id, "embeddings",
            "Anthropic has no embeddings API; Anthropic recommends Voyage AI (https://docs.voyageai.com) "
            "for embeddings, or use another provider's embed()")

    # ------------------------------------------------------------------ I/O (thin)

    @staticmethod
    def _options(timeout: float | None, headers: Mapping[str, str] | None,
                 params: Mapping[str, Any] | None = None) -> Any:
        options: dict[str, Any] = {"timeout": timeout}
        if headers:
            options["headers"] = dict(headers)
        if params:
            options["params"] = dict(params)
        return options

    def _decode(self, response: httpx2.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            raise MalformedResponseError(
                f"the response is not JSON: {response.text[:200]!r}", provider=self.provider_id,
                status_code=response.status_code, request_id=response.headers.get("request-id")) from None

    @staticmethod
    def _next_page(payload: Any, pages: int) -> str | None:
        if pages >= _MAX_MODEL_PAGES or not isinstance(payload, dict) or not payload.get("has_more"):
            return None
        last = payload.get("last_id")
        return last if isinstance(last, str) and last else None

    @staticmethod
    def _merge_pages(pages: list[Any]) -> Any:
        if len(pages) == 1:
            return pages[0]
        merged = dict(pages[-1])
        merged["data"] = [item for page in pages for item in (page.get("data") or ())]
        return merged

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        if op == "models":
            pages: list[Any] = []
            params: dict[str, Any] = {"limit": _MODELS_PAGE}
            while True:
                response = self.client.get(_MODELS, cast_to=httpx2.Response,
                                           options=self._options(timeout, headers, params))
                pages.append(self._decode(response))
                after = self._next_page(pages[-1], len(pages))
                if after is None:
                    return self._merge_pages(pages)
                params["after_id"] = after
        response = self.client.post(_MESSAGES, body=request, cast_to=httpx2.Response,
                                    options=self._options(timeout, headers))
        return self._decode(response)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        client = self.async_client
        if op == "models":
            pages: list[Any] = []
            params: dict[str, Any] = {"limit": _MODELS_PAGE}
            while True:
                response = await client.get(_MODELS, cast_to=httpx2.Response,
                                            options=self._options(timeout, headers, params))
                pages.append(self._decode(response))
                after = self._next_page(pages[-1], len(pages))
                if after is None:
                    return self._merge_pages(pages)
                params["after_id"] = after
        response = await client.post(_MESSAGES, body=request, cast_to=httpx2.Response,
                                     options=self._options(timeout, headers))
        return self._decode(response)

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        response = self.client.post(_MESSAGES, body=request, cast_to=httpx2.Response, stream=True,
                                    stream_cls=None, options=self._options(timeout, headers))
        return self._events(response)

    def _events(self, response: httpx2.Response) -> Iterator[Any]:
        decode = wire.decode_event
        provider = self.provider_id
        try:
            for event in iter_sse(response.iter_lines()):
                yield decode(event.data, provider)
        finally:
            response.close()

    async def _aevents(self, request: Any, timeout: float | None,
                       headers: Mapping[str, str] | None) -> AsyncIterator[Any]:
        response = await self.async_client.post(_MESSAGES, body=request, cast_to=httpx2.Response, stream=True,
                                                stream_cls=None, options=self._options(timeout, headers))
        decode = wire.decode_event
        provider = self.provider_id
        try:
            async for event in aiter_sse(response.aiter_lines()):
                yield decode(event.data, provider)
        finally:
            await response.aclose()

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        return self._aevents(request, timeout, headers)

    # ------------------------------------------------------------------ errors

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, anthropic.APIStatusError):
            return error_from_response(exc.status_code, exc.body, provider=self.provider_id,
                                       headers=exc.response.headers, fallback_message=exc.message)
        if isinstance(exc, anthropic.APITimeoutError):
            return APITimeoutError("the request timed out", provider=self.provider_id)
        if isinstance(exc, anthropic.APIConnectionError):
            cause = exc.__cause__
            detail = f": {type(cause).__name__}" if cause is not None else ""
            return APIConnectionError(f"cannot reach {self.base_url}{detail}", provider=self.provider_id)
        if isinstance(exc, anthropic.APIError):
            return error_from_response(None, exc.body, provider=self.provider_id, fallback_message=exc.message)
        if isinstance(exc, httpx2.TimeoutException):
            return APITimeoutError(f"the request timed out ({type(exc).__name__})", provider=self.provider_id)
        if isinstance(exc, httpx2.TransportError):
            return APIConnectionError(f"the connection failed: {type(exc).__name__}: {exc}",
                                      provider=self.provider_id)
        return None
