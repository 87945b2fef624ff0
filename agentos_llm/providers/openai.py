"""OpenAI and every OpenAI-compatible host, on the official `openai` SDK (extra `openai`).

Thin I/O only: the SDK client sends the request (auth, base URL, connection pool, timeouts) and
hands back the raw HTTP response; `agentos_llm.wire.openai_chat` does all the converting. The
SDK's own retries are off: the library's retry policy is the only one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from typing import Any, ClassVar, Literal

from ..defaults import PROVIDERS, ProviderSpec, get_spec
from ..errors import (
    ConfigurationError,
    MalformedResponseError,
    MissingDependencyError,
    ProviderError,
    UnsupportedCapabilityError,
)
from ..host_quirks import HostQuirks
from ..http_bridge import CLIENT_KEYS, TRANSPORT_KEYS, httpx_client
from ..options import EmbedOptions
from ..provider import Call, Capability, IProvider, Operation, StreamAssembler
from ..structured import StructuredMode, StructuredPlan
from ..types import CompletionResponse, EmbeddingResponse, ModelInfo
from ..wire import openai_chat as wire

try:
    import httpx2
    import openai

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
    raise MissingDependencyError("openai", "openai") from exc

__all__ = ["OpenAIProvider"]

_PATHS: dict[str, str] = {"chat": "/chat/completions", "embed": "/embeddings", "models": "/models"}
_KEYLESS = "not-needed"  # local servers take any key; the SDK insists on one
# OpenAI's embeddings limits: 2048 inputs and 300k tokens per request (~4 chars a token, with margin).
_EMBED_MAX_INPUTS = 2048
_EMBED_MAX_CHARS = 800_000


def _row_config(spec: ProviderSpec) -> Mapping[str, Mapping[str, str]]:
    """The row-specific constructor keys of a row (`wire["config"]`), e.g. OpenRouter's `app_name`."""
    config = spec.wire.get("config")
    return config if isinstance(config, Mapping) else {}


# Every key any row takes: a class-level superset (define_provider checks it); each instance then
# accepts only its own row's keys.
_ROW_CONFIG_KEYS = frozenset(k for spec in PROVIDERS.values() for k in _row_config(spec))


class OpenAIProvider(IProvider):
    """OpenAI chat completions, embeddings and models; also the base of OpenAI-compatible hosts."""

    provider_id = "openai"
    api: ClassVar[str] = "openai-chat"
    family: ClassVar[str] = "openai"
    capabilities = frozenset({
        Capability.GENERATE, Capability.STREAM, Capability.TOOLS, Capability.VISION,
        Capability.STRUCTURED_OUTPUT, Capability.EMBEDDINGS, Capability.LIST_MODELS, Capability.REASONING,
    })
    config_keys: ClassVar[frozenset[str]] = (frozenset({"organization", "project", "wire"}) | _ROW_CONFIG_KEYS
                                             | TRANSPORT_KEYS | CLIENT_KEYS)

    def __init__(self, *, spec: ProviderSpec | None = None, env: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        spec = spec or get_spec(self.provider_id)
        row_config = _row_config(spec)
        foreign = sorted(k for k in kwargs if k in _ROW_CONFIG_KEYS and k not in row_config)
        if foreign:
            raise ConfigurationError(f"{spec.label} takes no {', '.join(foreign)}"
                                     + (f"; its own keys: {', '.join(sorted(row_config))}" if row_config else ""))
        row_values = {k: kwargs.pop(k) for k in list(kwargs) if k in row_config}
        super().__init__(spec=spec, env=env, **kwargs)
        if not self.base_url:
            raise ConfigurationError(
                f"{self.spec.label} needs a base URL: pass base_url=... or set {self.spec.base_url_env}")
        self.config.update(row_values)
        self.wire = self._resolve_wire(row_config, row_values, os.environ if env is None else env)
        """The host's quirks as the converters read them: the row's, the `wire=` override, row config."""
        # Compatible hosts share OpenAI's code, but model traits belong to the host's own family.
        if self.catalog_key != "openai":
            self.traits_family = str(self.wire.get("traits_family", self.catalog_key))
        if not self.wire.get("embeddings", self.spec.embedding_model is not None):
            self.capabilities = self.capabilities - {Capability.EMBEDDINGS}

    def _resolve_wire(self, row_config: Mapping[str, Mapping[str, str]], values: Mapping[str, Any],
                      env: Mapping[str, str]) -> dict[str, Any]:
        override = self.config.get("wire") or {}
        if not isinstance(override, Mapping):
            raise ConfigurationError("wire= takes a mapping of host quirks (see agentos_llm.defaults)")
        resolved = HostQuirks({**self.spec.wire, **override}, where=f"wire= for {self.provider_id!r}")
        chat_body = dict(resolved.get("chat_body") or {})
        for name, rule in row_config.items():
            value = values.get(name)
            if value is None and rule.get("env"):
                value = env.get(rule["env"]) or None
            if value is None:
                continue
            header = rule.get("header")
            if header and header.lower() not in {h.lower() for h in self.default_headers}:
                self.default_headers[header] = str(value)  # explicit default_headers win over row config
            if "body" in rule:
                chat_body[rule["body"]] = value
        if chat_body:
            resolved["chat_body"] = chat_body
        return resolved

    # ------------------------------------------------------------------ clients

    def _client_kwargs(self, is_async: bool = False) -> dict[str, Any]:
        key = self._api_key.get_secret_value() if self._api_key else _KEYLESS
        kwargs: dict[str, Any] = {
            "api_key": key, "base_url": self.base_url, "max_retries": 0,
            "timeout": self.retry_policy.timeout, "default_headers": self.default_headers or None,
        }
        for name in ("organization", "project"):
            if self.config.get(name):
                kwargs[name] = self.config[name]
        http_client = httpx_client(self.transport, str(self.base_url), is_async=is_async, library="httpx2",
                                   accepts=("httpx2", "httpx"), where=self.provider_id,
                                   factory=openai.DefaultAsyncHttpxClient if is_async else openai.DefaultHttpxClient)
        if http_client is not None:
            kwargs["http_client"] = http_client
        return kwargs

    @cached_property
    def _clients(self) -> SDKClients[openai.OpenAI, openai.AsyncOpenAI]:
        return SDKClients(lambda: openai.OpenAI(**self._client_kwargs()),
                          lambda: openai.AsyncOpenAI(**self._client_kwargs(is_async=True)),
                          lambda client: client.close())

    @property
    def client(self) -> openai.OpenAI:
        """The sync SDK client (created on first use, then reused)."""
        return self._clients.sync

    @property
    def async_client(self) -> openai.AsyncOpenAI:
        """The async SDK client of the running event loop (one per loop: pooled connections belong to it)."""
        return self._clients.for_running_loop()

    def _adopt_transport(self, other: IProvider) -> None:
        if isinstance(other, OpenAIProvider):
            self.__dict__["_clients"] = other._clients  # one connection pool per host and credential

    def _accepts(self, part_kind: Literal["documents", "audio"]) -> bool:
        return bool(self.wire.get(part_kind, False))

    def _count_provider(self) -> IProvider:
        # Chat Completions has no counting endpoint; a host that offers Responses counts exactly there.
        mode = self.wire.get("count_tokens", "estimate")
        if mode == "responses" and "openai-responses" in self.spec.apis:
            return self.sibling("openai-responses")
        if mode == "none":
            raise UnsupportedCapabilityError(self.provider_id, "token counting",
                                             f"{self.label} has no token-counting endpoint")
        return self

    def _close(self) -> None:
        self._clients.close()

    async def _aclose(self) -> None:
        await self._clients.aclose()

    # ------------------------------------------------------------------ converters (pure)

    def _build_request(self, call: Call) -> dict[str, Any]:
        return wire.build_chat_request(call, self.wire, stream=call.stream)

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        return wire.parse_chat_completion(payload, provider=self.provider_id, model=call.model, wire=self.wire)

    def _stream_assembler(self, call: Call) -> StreamAssembler:
        return wire.ChatStreamAssembler(provider=self.provider_id, model=call.model, wire=self.wire)

    def _structured_mode(self, call: Call, plan: StructuredPlan[Any]) -> StructuredMode:
        if call.traits.json_schema and plan.format.strict_schema is not None and self.wire.get("json_schema", True):
            return "json_schema"
        return "json_object" if self.wire.get("json_object", True) else "prompt"

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> Any:
        return wire.build_embeddings_request(model, texts, options.dimensions, self.wire)

    def _parse_embeddings(self, payload: Any, model: str, count: int) -> EmbeddingResponse:
        return wire.parse_embeddings(payload, provider=self.provider_id, model=model, count=count)

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        if self.wire.get("models_api") == "ollama":
            return wire.parse_ollama_models(payload, provider=self.provider_id)
        return wire.parse_model_list(payload, provider=self.provider_id)

    def _embed_batches(self, texts: list[str], model: str = "") -> list[list[str]]:
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

    def _decode(self, response: httpx2.Response) -> Any:
        return decode_json(response, self.provider_id)

    @property
    def server_root(self) -> str:
        """The server's root URL: the base URL without its trailing `/v1` (Ollama's native API lives there)."""
        root = str(self.base_url).rstrip("/")
        return root[:-3] if root.endswith("/v1") else root

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        options = request_options(timeout, headers)
        if op == "models":
            if self.wire.get("models_api") == "ollama":
                return self._ollama_models(options)
            return sync_json(self.client, _PATHS[op], options, self.provider_id, timeout, method="get")
        return sync_json(self.client, _PATHS[op], options, self.provider_id, timeout, body=request)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        options = request_options(timeout, headers)
        if op == "models":
            if self.wire.get("models_api") == "ollama":
                return await self._aollama_models(options)
            response = await self.async_client.get(_PATHS[op], cast_to=httpx2.Response, options=options)
        else:
            response = await asdk_post(self.async_client, _PATHS[op], request, options)
        return received_json(response, self.provider_id)

    # Ollama lists models on its native API: /api/tags, then /api/show per model for its details.
    # A model whose /api/show fails is still listed, without details.

    def _ollama_models(self, options: Any) -> dict[str, Any]:
        root = self.server_root
        tags = self._decode(self.client.get(f"{root}/api/tags", cast_to=httpx2.Response, options=options))
        show: dict[str, Any] = {}
        for name in _ollama_names(tags):
            try:
                show[name] = self._decode(self.client.post(f"{root}/api/show", body={"model": name},
                                                           cast_to=httpx2.Response, options=options))
            except (openai.APIStatusError, MalformedResponseError):
                continue
        return {"tags": tags, "show": show}

    async def _aollama_models(self, options: Any) -> dict[str, Any]:
        root = self.server_root
        tags = self._decode(await self.async_client.get(f"{root}/api/tags", cast_to=httpx2.Response,
                                                        options=options))

        async def one(name: str) -> Any:
            try:
                return self._decode(await self.async_client.post(f"{root}/api/show", body={"model": name},
                                                                 cast_to=httpx2.Response, options=options))
            except (openai.APIStatusError, MalformedResponseError):
                return None

        names = _ollama_names(tags)
        shows = await asyncio.gather(*(one(n) for n in names))
        return {"tags": tags, "show": {n: s for n, s in zip(names, shows, strict=True) if s is not None}}

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        response = sdk_post(self.client, _PATHS["chat"], request, request_options(timeout, headers))
        return iter_sse_payloads(response, wire.ChunkDecoder(self.provider_id).decode, provider=self.provider_id)

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        client = self.async_client
        return aiter_sse_payloads(
            lambda: asdk_post(client, _PATHS["chat"], request, request_options(timeout, headers), stream=True),
            wire.ChunkDecoder(self.provider_id).decode, provider=self.provider_id)

    # ------------------------------------------------------------------ errors

    def _map_exception(self, exc: Exception) -> ProviderError | None:
        return map_sdk_error(exc, openai, self.provider_id, self.base_url)


def _ollama_names(tags: Any) -> list[str]:
    models = tags.get("models") if isinstance(tags, Mapping) else None
    names = [m.get("model") or m.get("name") for m in models or () if isinstance(m, Mapping)]
    return [n for n in names if isinstance(n, str) and n]
