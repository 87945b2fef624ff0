"""`FakeProvider`: scripted answers for agent unit tests, with no HTTP at all.

It goes through the same base-class policy as real providers (validation, retries, streaming
assembly, structured output), so agent code tested against it behaves the same on a real one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..catalog import ModelListCache
from ..defaults import ProviderSpec
from ..options import EmbedOptions
from ..provider import Call, Capability, IProvider, Operation
from ..types import (
    CompletionResponse,
    EmbeddingResponse,
    FinishReason,
    Message,
    ModelInfo,
    RerankResponse,
    RerankResult,
    StreamEvent,
    TextDeltaEvent,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    Usage,
    UsageEvent,
)

__all__ = ["FakeProvider", "FakeReply"]


@dataclass
class FakeReply:
    """One scripted answer: text and/or tool calls, with optional usage."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str | None = None
    usage: Usage | None = None
    finish_reason: FinishReason | None = None


Script = str | FakeReply | CompletionResponse | BaseException | Callable[[Call], Any]
_SPEC = ProviderSpec(id="fake", label="Fake provider (tests)", implementation=None, extra="",
                     key_required=False, default_model="fake-model", embedding_model="fake-embedding",
                     rerank_model="fake-rerank")


def _fake_vector(text: str, dims: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


class FakeProvider(IProvider):
    """A provider that answers from a script: strings, `FakeReply`s, responses, exceptions or callables.

    With the script empty it echoes the last user message. Every call is recorded in `calls`.
    """

    provider_id = "fake"
    capabilities = frozenset({Capability.GENERATE, Capability.STREAM, Capability.TOOLS, Capability.VISION,
                              Capability.STRUCTURED_OUTPUT, Capability.EMBEDDINGS, Capability.LIST_MODELS,
                              Capability.RERANK})
    config_keys: ClassVar[frozenset[str]] = frozenset({"models"})

    def __init__(self, script: Iterable[Script] = (), *, provider_id: str = "fake", max_retries: int = 0,
                 **kwargs: Any) -> None:
        spec = kwargs.pop("spec", None) or (
            _SPEC if provider_id == "fake" else ProviderSpec(**{**_SPEC.__dict__, "id": provider_id}))
        super().__init__(spec=spec, max_retries=max_retries, **kwargs)
        self.script: deque[Script] = deque(script)
        self.calls: list[Call] = []
        self.models: list[str] = list(self.config.get("models") or [spec.default_model])
        # Listings are not cached: tests change `models` between calls and expect to see it.
        self.models_cache = ModelListCache(ttl=0)

    def add(self, *items: Script) -> None:
        """Appends answers to the script."""
        self.script.extend(items)

    # ------------------------------------------------------------------ hooks

    def _build_request(self, call: Call) -> Call:
        return call

    def _next(self, call: Call) -> CompletionResponse:
        self.calls.append(call)
        item: Script = self.script.popleft() if self.script else f"Echo: {_last_user_text(call.messages)}"
        if isinstance(item, BaseException):
            raise item
        if callable(item) and not isinstance(item, (str, FakeReply, CompletionResponse)):
            item = item(call)
        if isinstance(item, CompletionResponse):
            return item
        reply = item if isinstance(item, FakeReply) else FakeReply(text=str(item))
        usage = reply.usage or Usage(input_tokens=sum(len(m.text.split()) for m in call.messages) or 1,
                                     output_tokens=len(reply.text.split()) or 1)
        finish = reply.finish_reason or (FinishReason.TOOL_CALLS if reply.tool_calls else FinishReason.STOP)
        return CompletionResponse(
            id=f"fake-{len(self.calls)}", provider=self.provider_id, model=call.model, text=reply.text,
            reasoning=reply.reasoning, tool_calls=list(reply.tool_calls), finish_reason=finish,
            raw_finish_reason=finish.value, usage=usage,
            message=Message(role="assistant", content=reply.text or None, tool_calls=list(reply.tool_calls),
                            reasoning=reply.reasoning))

    def _send(self, op: Operation, request: Any, timeout: float | None, headers: Mapping[str, str] | None) -> Any:
        if op == "chat":
            return self._next(request)
        if op in ("embed", "rerank"):
            return request
        return {"data": [{"id": m} for m in self.models]}

    async def _asend(self, op: Operation, request: Any, timeout: float | None,
                     headers: Mapping[str, str] | None) -> Any:
        return self._send(op, request, timeout, headers)

    def _parse_response(self, payload: Any, call: Call) -> CompletionResponse:
        return payload.model_copy(deep=True)  # type: ignore[no-any-return]

    def _stream_assembler(self, call: Call) -> _FakeAssembler:
        return _FakeAssembler()

    def _events(self, call: Call) -> list[Any]:
        response = self._next(call)
        chunks: list[Any] = [TextDeltaEvent(delta=w) for w in _pieces(response.text)]
        for i, tc in enumerate(response.tool_calls):
            chunks.append(ToolCallDeltaEvent(index=i, id=tc.id, name=tc.name,
                                             arguments_delta=json.dumps(tc.arguments)))
            chunks.append(ToolCallEvent(index=i, tool_call=tc))
        chunks.append(UsageEvent(usage=response.usage))
        chunks.append(response)
        return chunks

    def _open_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                     ) -> Iterator[Any]:
        return iter(self._events(request))

    async def _aopen_stream_gen(self, request: Any) -> AsyncIterator[Any]:
        for chunk in self._events(request):
            yield chunk

    def _aopen_stream(self, request: Any, timeout: float | None, headers: Mapping[str, str] | None
                      ) -> AsyncIterator[Any]:
        return self._aopen_stream_gen(request)

    def _build_embed_request(self, model: str, texts: list[str], options: EmbedOptions) -> Any:
        return {"model": model, "texts": texts, "dimensions": options.dimensions or 8}

    def _parse_embeddings(self, payload: Any, model: str, count: int) -> EmbeddingResponse:
        vectors = [_fake_vector(t, payload["dimensions"]) for t in payload["texts"]]
        tokens = sum(len(t.split()) for t in payload["texts"])
        return EmbeddingResponse(vectors=vectors, model=model, provider=self.provider_id,
                                 usage=Usage(input_tokens=tokens))

    def _build_rerank_request(self, model: str, query: str, documents: list[str], top_n: int | None) -> Any:
        return {"query": query, "documents": documents, "top_n": top_n}

    def _parse_rerank(self, payload: Any, model: str, documents: list[str]) -> RerankResponse:
        # Deterministic relevance: the share of the query's words found in the document.
        words = set(payload["query"].lower().split())
        scored = [RerankResult(index=i, document=d,
                               relevance_score=len(words & set(d.lower().split())) / (len(words) or 1))
                  for i, d in enumerate(documents)]
        scored.sort(key=lambda r: (-r.relevance_score, r.index))
        return RerankResponse(results=scored[:payload["top_n"]], model=model, provider=self.provider_id,
                              usage=Usage(input_tokens=sum(len(d.split()) for d in documents)))

    def _parse_model_list(self, payload: Any) -> list[ModelInfo]:
        return [ModelInfo(id=m["id"], provider=self.provider_id) for m in payload["data"]]

    def supports_model(self, model: str) -> bool:
        """Whether `model` is one of the fake's models."""
        return model in self.models


class _FakeAssembler:
    """Passes scripted events through; the final chunk is the whole response."""

    def __init__(self) -> None:
        self.response: CompletionResponse | None = None

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        if isinstance(chunk, CompletionResponse):
            self.response = chunk
            return ()
        return (chunk,)

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        assert self.response is not None, "the fake stream ended without its response"
        return (), self.response


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words) if w or i < len(words) - 1]


def _last_user_text(messages: list[Message]) -> str:
    for m in reversed(messages):
        if m.role == "user":
            return m.text
    return ""
