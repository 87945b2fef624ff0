"""Cohere (v2 chat, embed, rerank; v1 tokenize and models), on the official `cohere` SDK (extra `cohere`).

Thin I/O only: the SDK's HTTP client (the Fern-generated `HttpClient` behind `ClientV2._client_wrapper`)
sends the request, with its auth header, base URL, connection pool and timeouts, and hands back the raw
`httpx` response; `agentos_llm.wire.cohere_*` do all the converting, on the JSON itself, so nothing is lost
to the SDK's typed models. That client and its `request` / `stream` methods (path, `method=`, `json=`,
`request_options=`) are the same from cohere 5.15 to 7.x. The SDK's own retries are off
(`max_retries=0` on every request): the library's retry policy is the only one.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from typing import Any, ClassVar

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    MalformedResponseError,
    MissingDependencyError,
    ProviderError,
    request_id_of,
)
from ..http_bridge import CLIENT_KEYS, TRANSPORT_KEYS, httpx_client
from ..options import EmbedOptions
from ..provider import Call, Capability, IProvider, Operation, Received, StreamAssembler
from ..stream_watchdog import LateSever, Severable
from ..structured import StructuredMode, StructuredPlan
from ..types import CompletionResponse, DocumentPart, EmbeddingResponse, ModelInfo, RerankResponse
from ..wire import cohere_chat as wire
from ..wire import cohere_endpoints as endpoints
from ..wire.cohere_stream import ChatStreamAssembler, decode_event
from .http_bodies import aiter_event_batches, decode_json_body, iter_event_batches, read_body, severer
from .loop_clients import LoopClients

try:
    import cohere
    import httpx
    from cohere.core.api_error import ApiError
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise MissingDependencyError("cohere", "cohere") from exc

__all__ = ["CohereProvider"]

_PATHS: dict[str, str] = {"chat": "v2/chat", "embed": "v2/embed", "rerank": "v2/rerank", "count": "v1/tokenize",
                          "models": "v1/models"}
_MAX_MODEL_PAGES = 20
_CLIENT_NAME = "agentos-llm"


class CohereProvider(IProvider):
    """Command models through the v2 Chat API (text, vision models, tools, documents with citations, reasoning,
    structured output, streaming), Embed v2, Rerank v2, token counting and model listing."""

    provider_id = "cohere"
    api: ClassVar[str] = "cohere-chat"
    family: ClassVar[str] = "cohere"
    capabilities = frozenset({
        Capability.GENERATE, Capability.STREAM, Capability.TOOLS, Capability.VISION,
        Capability.STRUCTURED_OUTPUT, Capability.EMBEDDINGS, Capability.LIST_MODELS, Capability.REASONING,
        Capability.RERANK,
    })

    # ------------------------------------------------------------------ clients

    config_keys: ClassVar[frozenset[str]] = TRANSPORT_KEYS | CLIENT_KEYS

    def _client_kwargs(self, is_async: bool = False) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "api_key": self._api_key.get_secret_value() if self._api_key else "", "base_url": self.base_url,
            "client_name": _CLIENT_NAME, "timeout": self.retry_policy.timeout}
        http_client = httpx_client(self.transport, str(self.base_url), is_async=is_async, where=self.provider_id,
                                   timeout=self.retry_policy.timeout, follow_redirects=True)
        if http_client is not None:
            kwargs["httpx_client"] = http_client
        return kwargs

    @cached_property
    def client(self) -> cohere.ClientV2:
        """The sync SDK client (created on first use, then reused)."""
        return cohere.ClientV2(**self._client_kwargs())

    @cached_property
    def _async_clients(self) -> LoopClients[cohere.AsyncClientV2]:
        return LoopClients(lambda: cohere.AsyncClientV2(**self._client_kwargs(is_async=True)),
                           lambda client: client._client_wrapper.httpx_client.httpx_client.aclose())

    @property
    def async_client(self) -> cohere.AsyncClientV2:
        """The async SDK client of the running event loop."""
        return self._async_clients.get()

    def _close(self) -> None:
        client = self.__dict__.pop("client", None)
        if client is not None:
            client._client_wrapper.httpx_client.httpx_client.close()
        clients = self.__dict__.get("_async_clients")
        if clients is not None and len(clients):
            clients.close()

    async def _aclose(self) -> None:
        clients = self.__dict__.get("_async_clients")
        if clients is not None:
            await clients.aclose()

    # ------------------------------------------------------------------ converters (pure)

    def _build_request(self, call: Call) -> dict[str, Any]:
        return wire.build_chat_request(call)

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        return wire.parse_chat_response(payload, provider=self.provider_id, model=call.model,
                                        structured_tool=wire.structured_tool_name(call))

    def _stream_assembler(self, call: Call) -> StreamAssembler:
        return ChatStreamAssembler(provider=self.provider_id, model=call.model,
                                   structured_tool=wire.structured_tool_name(call))

    def _structured_mode(self, call: Call, plan: StructuredPlan[Any]) -> StructuredMode:
        # `response_format` cannot be combined with tools or documents (v2 chat reference) and takes a subset
        # of JSON schema: a tool carries the answer otherwise.
        documents = any(isinstance(p, DocumentPart) for m in call.messages if isinstance(m.content, list)
                        for p in m.content)
        if (call.traits.json_schema and not call.options.tools and not documents
                and wire.response_schema(plan.format.schema) is not None):
            return "json_schema"
        return "tool" if call.traits.tools and call.traits.tool_choice else "prompt"

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> Any:
        return endpoints.build_embed_request(model, texts, options)

    def _parse_embeddings(self, payload: Any, model: str, count: int) -> EmbeddingResponse:
        return endpoints.parse_embeddings(payload, provider=self.provider_id, model=model, count=count)

    def _embed_batches(self, texts: list[str], model: str = "") -> list[list[str]]:
        return endpoints.embed_batches(texts)

    def _build_rerank_request(self, model: str, query: str, documents: list[str], top_n: int | None) -> Any:
        return endpoints.build_rerank_request(model, query, documents, top_n)

    def _parse_rerank(self, payload: Any, model: str, documents: list[str]) -> RerankResponse:
        return endpoints.parse_rerank(payload, provider=self.provider_id, model=model, documents=documents)

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        return endpoints.parse_model_list(payload, provider=self.provider_id)

    def _build_count_request(self, call: Call) -> dict[str, Any]:
        return endpoints.build_count_request(call)

    def _parse_token_count(self, payload: Any) -> int:
        return endpoints.parse_token_count(payload, provider=self.provider_id)

    # ------------------------------------------------------------------ I/O (thin)

    def _options(self, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        # Typed Any: the SDK's RequestOptions TypedDict gained keys over its versions; these exist in all.
        options: dict[str, Any] = {"max_retries": 0}
        if timeout is not None:
            options["timeout_in_seconds"] = options["timeout"] = timeout
        extra = {**self.default_headers, **(headers or {})}
        if extra:
            options["additional_headers"] = extra
        return options

    def _decode(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            return json.loads(response.content)
        except ValueError:
            raise MalformedResponseError(
                f"the response is not JSON: {response.text[:200]!r}", provider=self.provider_id,
                status_code=response.status_code, request_id=request_id_of(response.headers)) from None

    def _status_error(self, response: httpx.Response, content: bytes | None = None) -> ProviderError:
        content = response.content if content is None else content
        try:
            body: Any = json.loads(content)
        except ValueError:
            body = content.decode("utf-8", "replace")
        return wire.error_from_cohere(response.status_code, body, provider=self.provider_id,
                                      headers=dict(response.headers))

    def _request_within(self, http: Any, timeout: float | None, path: str, **kwargs: Any) -> Received:
        """`http.request`, its body read within the attempt's timeout (one that trickles in must not hold the
        call past it) and decoded; an error status is raised as its typed error."""
        started = time.monotonic()
        with http.stream(path, **kwargs) as response:
            body = read_body(response, timeout, started, self.provider_id)
        if response.status_code >= 400:
            raise self._status_error(response, body)
        return Received(decode_json_body(body, response, self.provider_id), response.headers, response.status_code)

    def _models_params(self, token: str | None) -> dict[str, Any]:
        return {"page_size": endpoints.MODELS_PAGE_SIZE, **({"page_token": token} if token else {})}

    @staticmethod
    def _next_page(page: Any, pages: int) -> str | None:
        token = page.get("next_page_token") if isinstance(page, Mapping) else None
        return token if isinstance(token, str) and token and pages < _MAX_MODEL_PAGES else None

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        http = self.client._client_wrapper.httpx_client
        options = self._options(timeout, headers)
        if op == "models":
            pages: list[Any] = []
            token: str | None = None
            while True:
                pages.append(self._request_within(http, timeout, _PATHS[op], method="GET",
                                                  params=self._models_params(token), request_options=options).payload)
                token = self._next_page(pages[-1], len(pages))
                if token is None:
                    return endpoints.merge_model_pages(pages)
        if op == "count":
            answers = [self._request_within(http, timeout, _PATHS[op], method="POST", json=piece,
                                            request_options=options).payload
                       for piece in endpoints.split_count_request(request)]
            return _merge_counts(answers)
        return self._request_within(http, timeout, _PATHS[op], method="POST", json=request, request_options=options)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        http = self.async_client._client_wrapper.httpx_client
        options = self._options(timeout, headers)
        if op == "models":
            pages: list[Any] = []
            token: str | None = None
            while True:
                response = await http.request(_PATHS[op], method="GET", params=self._models_params(token),
                                              request_options=options)
                pages.append(self._decode(response))
                token = self._next_page(pages[-1], len(pages))
                if token is None:
                    return endpoints.merge_model_pages(pages)
        if op == "count":
            answers = []
            for piece in endpoints.split_count_request(request):
                answers.append(self._decode(await http.request(_PATHS[op], method="POST", json=piece,
                                                               request_options=options)))
            return _merge_counts(answers)
        response = await http.request(_PATHS[op], method="POST", json=request, request_options=options)
        return Received(self._decode(response), response.headers, response.status_code)

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        sever = LateSever()
        return Severable(self._chunks(request, timeout, headers, sever), sever)

    def _chunks(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None, sever: LateSever
                ) -> Iterator[Any]:
        http = self.client._client_wrapper.httpx_client
        with http.stream(_PATHS["chat"], method="POST", json=request,
                         request_options=self._options(timeout, headers)) as response:
            sever.fn = severer(response)
            if response.status_code >= 400:
                response.read()
                raise self._status_error(response)
            yield Received(None, response.headers, response.status_code)
            for events in iter_event_batches(response, self.provider_id):  # a generator resumed per piece of body
                for event in events:
                    payload = decode_event(event.event, event.data, self.provider_id)
                    if payload is not None:
                        yield payload

    async def _achunks(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                       ) -> AsyncIterator[Any]:
        http = self.async_client._client_wrapper.httpx_client
        async with http.stream(_PATHS["chat"], method="POST", json=request,
                               request_options=self._options(timeout, headers)) as response:
            if response.status_code >= 400:
                await response.aread()
                raise self._status_error(response)
            yield Received(None, response.headers, response.status_code)
            async for events in aiter_event_batches(response, self.provider_id):
                for event in events:
                    payload = decode_event(event.event, event.data, self.provider_id)
                    if payload is not None:
                        yield payload

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        return self._achunks(request, timeout, headers)

    # ------------------------------------------------------------------ errors

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, ApiError):  # the SDK's own checks (its typed methods are not used here)
            return wire.error_from_cohere(exc.status_code, exc.body, provider=self.provider_id)
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"the request timed out ({type(exc).__name__})", provider=self.provider_id)
        if isinstance(exc, httpx.TransportError):
            return APIConnectionError(f"the connection failed: {type(exc).__name__}: {exc}",
                                      provider=self.provider_id)
        return None


def _merge_counts(answers: list[Any]) -> Any:
    """Tokenize answers of the pieces of one long text, as one answer (their tokens in order)."""
    if len(answers) == 1:
        return answers[0]
    tokens: list[Any] = []
    for answer in answers:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("tokens"), list):
            return answer
        tokens.extend(answer["tokens"])
    return {"tokens": tokens}
