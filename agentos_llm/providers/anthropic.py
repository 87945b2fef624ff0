"""Anthropic's Messages API, on the official `anthropic` SDK (extra `anthropic`).

Thin I/O only: the SDK client sends the request (auth headers, `anthropic-version`, base URL,
connection pool, timeouts) and hands back the raw HTTP response; `agentos_llm.wire.anthropic_messages`
does all the converting. The SDK's own retries are off: the library's retry policy is the only one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from functools import cached_property, partial
from typing import Any, ClassVar

from ..catalog import catalog_entry
from ..errors import MissingDependencyError, ProviderError
from ..http_bridge import CLIENT_KEYS, TRANSPORT_KEYS, httpx_client
from ..options import GenerateOptions
from ..provider import Call, Capability, IProvider, Operation, Received, StreamAssembler
from ..structured import StructuredMode, StructuredPlan
from ..types import CompletionResponse, ModelInfo
from ..wire import anthropic_messages as wire
from ..wire.common import stream_json

try:
    import anthropic
    import httpx2
    from anthropic import _constants as anthropic_constants

    from .sdk_transport import (
        SDKClients,
        aiter_sse_payloads,
        asdk_post,
        decode_json,
        iter_sse_payloads,
        map_sdk_error,
        received_json,
        request_options,
        sdk_post,
        sync_json,
    )
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise MissingDependencyError("anthropic", "anthropic") from exc

__all__ = ["AnthropicProvider"]

# The API version the SDK speaks decides whether temperature, top_p and top_k are accepted at all: version
# 2026-10-21 (anthropic 2.x) refuses them with a 400 even at their defaults; 2023-06-01 took them.
_SAMPLING = getattr(anthropic_constants, "ANTHROPIC_API_VERSION", "2023-06-01") < "2026-10-21"

# The SDK's own rule for whole requests: an answer expected to take over 10 minutes (at 128k tokens an hour)
# must stream; a few models have a lower per-model limit, which the SDK keeps in a table.
_NONSTREAMING_TOKENS = 600 * 128_000 // 3600


def _nonstreaming_limit(model: str) -> int:
    per_model: int | None = getattr(anthropic_constants, "MODEL_NONSTREAMING_TOKENS", {}).get(model)
    return min(per_model, _NONSTREAMING_TOKENS) if per_model else _NONSTREAMING_TOKENS

_MESSAGES = "/v1/messages"
_COUNT = "/v1/messages/count_tokens"
_MODELS = "/v1/models"
_MODELS_PAGE = 1000  # the most the models endpoint returns per page
_MAX_MODEL_PAGES = 20


class AnthropicProvider(IProvider):
    """Claude models through the Messages API: text, vision, tools, extended thinking, prompt caching,
    structured output and model listing. Anthropic has no embeddings API."""

    provider_id = "anthropic"
    api: ClassVar[str] = "anthropic-messages"
    family: ClassVar[str] = "anthropic"
    capabilities = frozenset({
        Capability.GENERATE, Capability.STREAM, Capability.TOOLS, Capability.VISION,
        Capability.STRUCTURED_OUTPUT, Capability.LIST_MODELS, Capability.REASONING,
    })
    no_embeddings_hint: ClassVar[str] = (
        "; Anthropic recommends Voyage AI for embeddings: use the `voyage` provider, e.g. "
        "create_provider(\"voyage\").embed(\"voyage-3.5\", texts) or manager.embed(\"voyage/voyage-3.5\", texts), "
        "with VOYAGE_API_KEY set (or another provider's embed())")

    # ------------------------------------------------------------------ clients

    config_keys: ClassVar[frozenset[str]] = TRANSPORT_KEYS | CLIENT_KEYS

    def _client_kwargs(self, is_async: bool = False) -> dict[str, Any]:
        key = self._api_key.get_secret_value() if self._api_key else None
        kwargs: dict[str, Any] = {
            "api_key": key, "base_url": self.base_url, "max_retries": 0,
            "timeout": self.retry_policy.timeout, "default_headers": self.default_headers or None,
        }
        http_client = httpx_client(
            self.transport, str(self.base_url), is_async=is_async, library="httpx2", where=self.provider_id,
            factory=anthropic.DefaultAsyncHttpxClient if is_async else anthropic.DefaultHttpxClient)
        if http_client is not None:
            kwargs["http_client"] = http_client
        return kwargs

    @cached_property
    def _clients(self) -> SDKClients[anthropic.Anthropic, anthropic.AsyncAnthropic]:
        return SDKClients(lambda: anthropic.Anthropic(**self._client_kwargs()),
                          lambda: anthropic.AsyncAnthropic(**self._client_kwargs(is_async=True)),
                          lambda client: client.close())

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

    def _default_max_tokens(self, model: str, *, stream: bool = True) -> int:
        """The model's whole output limit for a stream; for a whole request at most what the API serves
        within its 10-minute non-streaming window (so the default never needs a stream)."""
        known = catalog_entry(self.catalog_key, model)
        limit = known.max_output_tokens if known is not None and known.max_output_tokens else wire.DEFAULT_MAX_TOKENS
        return limit if stream else min(limit, _nonstreaming_limit(model))

    def _whole_via_stream(self, call: Call) -> bool:
        # A whole answer longer than the non-streaming window allows would be cut off at 10 minutes (the
        # SDK refuses to send it): the caller asked for that length, so it travels as a stream instead.
        asked = call.options.max_tokens
        return not call.stream and asked is not None and asked > _nonstreaming_limit(call.model)

    def _build_request(self, call: Call) -> dict[str, Any]:
        return wire.build_messages_request(call, max_tokens=self._default_max_tokens(call.model, stream=call.stream),
                                           sampling_allowed=_SAMPLING)

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

    def _headers(self, options: GenerateOptions, call: Call | None = None) -> Mapping[str, str] | None:
        # A document by file id lives in the Files API, still behind its beta header.
        if call is None or not wire.needs_files_beta(call.messages):
            return options.extra_headers
        headers = dict(options.extra_headers or {})
        betas = [b for b in headers.pop("anthropic-beta", "").split(",") if b.strip()]
        headers["anthropic-beta"] = ",".join([*betas, wire.FILES_BETA])
        return headers

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        return wire.parse_model_list(payload, provider=self.provider_id)

    def _build_count_request(self, call: Call) -> dict[str, Any]:
        return wire.build_count_request(call, max_tokens=self._default_max_tokens(call.model, stream=False))

    def _parse_token_count(self, payload: Any) -> int:
        return wire.parse_token_count(payload, provider=self.provider_id)


    # ------------------------------------------------------------------ I/O (thin)

    def _decode(self, response: httpx2.Response) -> Any:
        return decode_json(response, self.provider_id)

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
                                           options=request_options(timeout, headers, params))
                pages.append(self._decode(response))
                after = self._next_page(pages[-1], len(pages))
                if after is None:
                    return Received(self._merge_pages(pages), response.headers)
                params["after_id"] = after
        return sync_json(self.client, _COUNT if op == "count" else _MESSAGES, request_options(timeout, headers),
                         self.provider_id, timeout, body=request)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        client = self.async_client
        if op == "models":
            pages: list[Any] = []
            params: dict[str, Any] = {"limit": _MODELS_PAGE}
            while True:
                response = await client.get(_MODELS, cast_to=httpx2.Response,
                                            options=request_options(timeout, headers, params))
                pages.append(self._decode(response))
                after = self._next_page(pages[-1], len(pages))
                if after is None:
                    return Received(self._merge_pages(pages), response.headers)
                params["after_id"] = after
        response = await asdk_post(client, _COUNT if op == "count" else _MESSAGES, request,
                                   request_options(timeout, headers))
        return received_json(response, self.provider_id)

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        response = sdk_post(self.client, _MESSAGES, request, request_options(timeout, headers))
        return iter_sse_payloads(response, self._decode_event, provider=self.provider_id)

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        client = self.async_client
        return aiter_sse_payloads(
            lambda: asdk_post(client, _MESSAGES, request, request_options(timeout, headers), stream=True),
            self._decode_event, provider=self.provider_id)

    @property
    def _decode_event(self) -> Callable[[str], Any]:
        return partial(stream_json, provider=self.provider_id)  # `wire.decode_event`, with one frame less per event

    # ------------------------------------------------------------------ errors

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        return map_sdk_error(exc, anthropic, self.provider_id, self.base_url)
