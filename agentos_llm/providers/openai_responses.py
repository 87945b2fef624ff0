"""The OpenAI Responses API (`POST /responses`), for OpenAI and every host that offers it (extra `openai`).

Thin I/O only, on the same SDK clients as the chat provider (a sibling of one host shares them):
`agentos_llm.wire.openai_responses` and `agentos_llm.wire.openai_responses_stream` do all the
converting. Embeddings and model listing are the chat provider's, unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cached_property
from typing import Any, ClassVar, Literal

from ..errors import MissingDependencyError, UnsupportedCapabilityError
from ..provider import Call, IProvider, Operation, StreamAssembler
from ..types import CompletionResponse
from ..wire import openai_responses as wire
from ..wire.openai_responses_stream import EventDecoder, ResponsesStreamAssembler
from .openai import OpenAIProvider

try:
    from .sdk_transport import (
        aiter_sse_payloads,
        asdk_post,
        iter_sse_payloads,
        received_json,
        request_options,
        sdk_post,
        sync_json,
    )
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test in a subprocess
    raise MissingDependencyError("openai", "openai") from exc

__all__ = ["OpenAIResponsesProvider"]

_PATHS: dict[str, str] = {"chat": "/responses", "count": "/responses/input_tokens"}


class OpenAIResponsesProvider(OpenAIProvider):
    """A host over the Responses API: generate, stream and exact token counts; embeddings and models as chat."""

    provider_id = "openai-responses"
    api: ClassVar[str] = "openai-responses"
    takes_server_tools: ClassVar[bool] = True

    @cached_property
    def _host_fields(self) -> dict[str, Any]:
        """Body fields the caller's row configuration sets (e.g. OpenRouter's `provider_routing`).

        The row's fixed chat fields stay out: they are chat-completions parameters.
        """
        config = self.spec.wire.get("config")
        rules = config.values() if isinstance(config, Mapping) else ()
        names = {rule["body"] for rule in rules if isinstance(rule, Mapping) and "body" in rule}
        chat_body: Mapping[str, Any] = self.wire.get("chat_body") or {}
        return {k: v for k, v in chat_body.items() if k in names}

    @property
    def _vendor(self) -> str:
        # Whose blocks go back verbatim: the host's (an alias row such as `openai-responses` is OpenAI's).
        return self.catalog_key

    def _accepts(self, part_kind: Literal["documents", "audio"]) -> bool:
        return part_kind == "documents"

    def _count_provider(self) -> IProvider:
        if self.wire.get("count_tokens") == "none":
            raise UnsupportedCapabilityError(self.provider_id, "token counting",
                                             f"{self.label} has no token-counting endpoint")
        return self

    # ------------------------------------------------------------------ converters (pure)

    def _build_request(self, call: Call) -> dict[str, Any]:
        return wire.build_responses_request(call, self.wire, provider=self._vendor, stream=call.stream,
                                            host_fields=self._host_fields)

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        return wire.parse_response(payload, provider=self.provider_id, model=call.model, vendor=self._vendor)

    def _stream_assembler(self, call: Call) -> StreamAssembler:
        return ResponsesStreamAssembler(provider=self.provider_id, model=call.model, vendor=self._vendor)

    def _build_count_request(self, call: Call) -> dict[str, Any] | None:
        # Exact counts where the host has the endpoint (OpenAI); a local estimate elsewhere.
        if self.wire.get("count_tokens", "estimate") != "responses":
            return None
        return wire.build_count_request(call, self.wire, provider=self._vendor, host_fields=self._host_fields)

    def _parse_token_count(self, payload: Any) -> int:
        return wire.parse_token_count(payload, provider=self.provider_id)

    # ------------------------------------------------------------------ I/O (thin)

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        if op not in _PATHS:
            return super()._send(op, request, timeout, headers)
        return sync_json(self.client, _PATHS[op], request_options(timeout, headers), self.provider_id, timeout,
                         body=request)

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        if op not in _PATHS:
            return await super()._asend(op, request, timeout, headers)
        response = await asdk_post(self.async_client, _PATHS[op], request, request_options(timeout, headers))
        return received_json(response, self.provider_id)

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        response = sdk_post(self.client, _PATHS["chat"], request, request_options(timeout, headers))
        return iter_sse_payloads(response, EventDecoder(self.provider_id).decode, named=True,
                                 provider=self.provider_id)

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        client = self.async_client
        return aiter_sse_payloads(
            lambda: asdk_post(client, _PATHS["chat"], request, request_options(timeout, headers), stream=True),
            EventDecoder(self.provider_id).decode, named=True, provider=self.provider_id)

