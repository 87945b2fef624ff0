"""Voyage AI's embeddings and rerank API, spoken over HTTP with `httpx` (extra `voyage`).

Not the `voyageai` SDK: it pulls in requests, aiohttp, tokenizers and huggingface-hub for what is two
JSON endpoints. Thin I/O only: an `httpx` client posts the bodies `agentos_llm.wire.voyage` builds and
hands back the decoded JSON with the response headers; failures become typed errors here. No retries
of its own: the library's retry policy is the only one.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from functools import cached_property
from typing import Any, ClassVar, NoReturn

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    MalformedResponseError,
    MissingDependencyError,
    ProviderError,
    UnsupportedCapabilityError,
    error_from_response,
    request_id_of,
)
from ..http_bridge import CLIENT_KEYS, TRANSPORT_KEYS, httpx_client
from ..options import EmbedOptions
from ..provider import Call, Capability, IProvider, Operation, Received, StreamAssembler
from ..types import CompletionResponse, EmbeddingResponse, ModelInfo, RerankResponse
from ..wire import voyage as wire
from .http_bodies import read_body
from .loop_clients import LoopClients

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise MissingDependencyError("voyage", "httpx") from exc

__all__ = ["VoyageProvider"]

_PATHS: dict[str, str] = {"embed": "embeddings", "rerank": "rerank", "models": "embeddings"}
# Connections per client: `embed` sends up to 4 batches at once, and agents run many calls side by side.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=32, keepalive_expiry=30.0)
_OFFERS = "Voyage AI offers embeddings (embed) and reranking (rerank) only"


class _Clients:
    """One sync `httpx.Client`, and one `httpx.AsyncClient` per event loop (`LoopClients`: pooled connections
    belong to the loop that opened them, so a provider used from several loops stays usable)."""

    def __init__(self, make_sync: Callable[[], httpx.Client], make_async: Callable[[], httpx.AsyncClient]) -> None:
        self._make_sync = make_sync
        self._sync: httpx.Client | None = None
        self._async: LoopClients[httpx.AsyncClient] = LoopClients(make_async, lambda client: client.aclose())

    @property
    def sync(self) -> httpx.Client:
        if self._sync is None:
            self._sync = self._make_sync()
        return self._sync

    def for_running_loop(self) -> httpx.AsyncClient:
        return self._async.get()

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        if len(self._async):
            self._async.close()

    async def aclose(self) -> None:
        await self._async.aclose()


class VoyageProvider(IProvider):
    """Voyage AI: embeddings (`embed`) and reranking (`rerank`). No chat, no model listing, no token counting.

    Configuration: `truncation` (default True, Voyage's default): over-long inputs are cut to the model's
    context; `truncation=False` makes Voyage refuse them instead (`ContextLengthExceededError`).
    """

    provider_id = "voyage"
    api: ClassVar[str] = "voyage-embed"
    family: ClassVar[str] = "voyage"
    capabilities = frozenset({Capability.EMBEDDINGS, Capability.RERANK})
    config_keys: ClassVar[frozenset[str]] = frozenset({"truncation"}) | TRANSPORT_KEYS | CLIENT_KEYS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        truncation = self.config.get("truncation", True)
        if not isinstance(truncation, bool):
            raise ConfigurationError(f"truncation must be True or False, not {truncation!r}")
        self.truncation: bool = truncation
        """Whether Voyage cuts over-long inputs to the context (True) or refuses them (False)."""

    # ------------------------------------------------------------------ clients

    def _client_kwargs(self) -> dict[str, Any]:
        headers = dict(self.default_headers)
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        return {"base_url": str(self.base_url).rstrip("/") + "/", "headers": headers, "limits": _LIMITS,
                "timeout": httpx.Timeout(self.retry_policy.timeout)}

    def _make_client(self, is_async: bool) -> Any:
        kwargs = self._client_kwargs()
        client = httpx_client(self.transport, kwargs["base_url"], is_async=is_async, always=True,
                              where=self.provider_id, **kwargs)
        if client is (self.transport.async_http_client if is_async else self.transport.http_client):
            # The application's own client: requests name paths under Voyage's base URL and carry the key.
            client.base_url = kwargs["base_url"]
            client.headers.update(kwargs["headers"])
        return client

    @cached_property
    def _clients(self) -> _Clients:
        return _Clients(lambda: self._make_client(False), lambda: self._make_client(True))

    @property
    def client(self) -> httpx.Client:
        """The sync HTTP client (created on first use, then reused)."""
        return self._clients.sync

    @property
    def async_client(self) -> httpx.AsyncClient:
        """The async HTTP client of the running event loop (one per loop)."""
        return self._clients.for_running_loop()

    def _close(self) -> None:
        self._clients.close()

    async def _aclose(self) -> None:
        await self._clients.aclose()

    # ------------------------------------------------------------------ what Voyage does not offer

    def _no_chat(self, what: str) -> NoReturn:
        raise UnsupportedCapabilityError(
            self.provider_id, what, f"{_OFFERS}; use a chat provider for generate, stream and structured output")

    def _build_request(self, call: Call) -> Any:
        self._no_chat("generation")

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        self._no_chat("generation")

    def _stream_assembler(self, call: Call) -> StreamAssembler:
        self._no_chat("streaming")

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        self._no_chat("streaming")

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        self._no_chat("streaming")

    def _build_count_request(self, call: Call) -> Any:
        # Counting chat messages means nothing for a host without chat models, and Voyage has no tokenize endpoint.
        raise UnsupportedCapabilityError(
            self.provider_id, "token counting", f"{_OFFERS}; it has no token-counting endpoint")

    async def list_models(self, *, capability: str | None = None, api_key: Any = None) -> list[ModelInfo]:
        """The static catalog's Voyage models: Voyage has no model-listing endpoint (no request is made)."""
        return self.list_models_sync(capability=capability)

    def list_models_sync(self, *, capability: str | None = None, api_key: Any = None) -> list[ModelInfo]:
        """`list_models`, blocking."""
        from ..provider_surface import check_capability, filter_models

        check_capability(capability)
        return filter_models(self, self.catalog(), capability)

    # ------------------------------------------------------------------ converters (pure)

    def _embed_batches(self, texts: list[str], model: str = "") -> list[list[str]]:
        return wire.embed_batches(texts, model)

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> dict[str, Any]:
        return wire.build_embed_request(model, texts, dimensions=options.dimensions, input_type=options.input_type,
                                        truncation=self.truncation, provider=self.provider_id)

    def _parse_embeddings(self, payload: Any, model: str, count: int) -> EmbeddingResponse:
        return wire.parse_embeddings(payload, provider=self.provider_id, model=model, count=count)

    def _build_rerank_request(self, model: str, query: str, documents: list[str], top_n: int | None
                              ) -> dict[str, Any]:
        return wire.build_rerank_request(model, query, documents, top_n, truncation=self.truncation,
                                         provider=self.provider_id)

    def _parse_rerank(self, payload: Any, model: str, documents: list[str]) -> RerankResponse:
        return wire.parse_rerank(payload, provider=self.provider_id, model=model, documents=documents)

    # ------------------------------------------------------------------ I/O (thin)

    def _body(self, op: Operation, request: Any) -> tuple[str, Any]:
        path = _PATHS.get(op)
        if path is None:
            self._no_chat("generation" if op == "chat" else "token counting")
        if op == "models":
            # The health check: Voyage lists no models, so the cheapest call that proves the key is a
            # one-word embedding (about one token).
            request = wire.build_embed_request(self.spec.embedding_model or "voyage-3.5", ["ping"], dimensions=None,
                                               input_type=None, truncation=True, provider=self.provider_id)
        return path, request

    def _decode(self, response: httpx.Response, content: bytes | None = None) -> Any:
        content = response.content if content is None else content
        try:
            payload = json.loads(content) if content else None
        except ValueError:  # invalid UTF-8 included
            payload = None
            if response.is_success:
                raise MalformedResponseError(
                    f"the response is not JSON: {content[:200].decode('utf-8', 'replace')!r}",
                    provider=self.provider_id, status_code=response.status_code,
                    request_id=request_id_of(response.headers)) from None
        if response.is_success and payload is None:
            raise MalformedResponseError("the response body is empty", provider=self.provider_id,
                                         status_code=response.status_code, request_id=request_id_of(response.headers))
        if not response.is_success:
            body = payload if payload is not None else content.decode("utf-8", "replace")
            raise error_from_response(response.status_code, body, provider=self.provider_id,
                                      headers=response.headers, fallback_message=response.reason_phrase or None)
        return payload

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        path, body = self._body(op, request)
        started = time.monotonic()
        client = self.client
        response = client.send(client.build_request("POST", path, json=body, timeout=httpx.Timeout(timeout),
                                                    headers=headers), stream=True)
        # The body is read within the attempt's timeout: httpx's timeouts bound each read only.
        content = read_body(response, timeout, started, self.provider_id)
        return Received(self._decode(response, content), response.headers, response.status_code)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        path, body = self._body(op, request)
        response = await self.async_client.post(path, json=body, timeout=httpx.Timeout(timeout), headers=headers)
        return Received(self._decode(response), response.headers, response.status_code)

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"the request timed out ({type(exc).__name__})", provider=self.provider_id)
        if isinstance(exc, httpx.TransportError):
            return APIConnectionError(f"cannot reach {self.base_url}: {type(exc).__name__}", provider=self.provider_id)
        return None
