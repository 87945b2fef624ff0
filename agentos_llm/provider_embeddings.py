"""Embeddings on a provider: validation, batching under the vendor's limits, usage and cost."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from pydantic import SecretStr

from .calls import Capability
from .errors import (
    InvalidRequestError,
    UnsupportedCapabilityError,
)
from .options import EmbedOptions
from .request_keys import with_key
from .telemetry.watch import watch
from .types import EmbeddingResponse

if TYPE_CHECKING:
    from .provider import IProvider


class Embeddings:
    """`IProvider.embed` and its sync twin."""

    def _embed_plan(self, model: str | None, texts: str | Sequence[str], dimensions: int | None,
                    input_type: str | None) -> tuple[str, list[list[str]], EmbedOptions]:
        p = cast("IProvider", self)
        if Capability.EMBEDDINGS not in p.capabilities:
            raise UnsupportedCapabilityError(p.provider_id, "embeddings",
                                             f"{p.label} offers no embeddings API{p.no_embeddings_hint}")
        model = model or p.spec.embedding_model
        if not model:
            raise InvalidRequestError(f"no embedding model given and {p.provider_id!r} has no default",
                                      provider=p.provider_id)
        items = [texts] if isinstance(texts, str) else list(texts)
        if not items or not all(isinstance(t, str) for t in items):
            raise InvalidRequestError("embed takes a non-empty list of strings", provider=p.provider_id)
        try:
            options = EmbedOptions(dimensions=dimensions, input_type=input_type)  # type: ignore[arg-type]
        except ValueError as exc:
            raise InvalidRequestError(f"invalid embedding options: {exc}", provider=p.provider_id) from None
        return model, p._embed_batches(items, model), options

    def _embed_result(self, model: str, parts: list[EmbeddingResponse]) -> EmbeddingResponse:
        p = cast("IProvider", self)
        usage = parts[0].usage
        for part in parts[1:]:
            usage = usage + part.usage
        served = parts[0].model or model
        p._price(usage, served)
        return EmbeddingResponse(vectors=[v for part in parts for v in part.vectors], model=served,
                                 provider=p.provider_id, usage=usage)

    async def embed(self, model: str | None, texts: str | Sequence[str], *, dimensions: int | None = None,
                    input_type: str | None = None, api_key: str | SecretStr | None = None) -> EmbeddingResponse:
        """Embedding vectors in input order, batched under the vendor's limits.

        `input_type` (query, document, classification, clustering, similarity) says what the texts are
        for, on vendors that embed differently per task (Gemini); others ignore it. `api_key` sends the
        requests with that key instead of the provider's (see `agentos_llm.request_keys`).
        """
        p = cast("IProvider", self)
        model, batches, options = p._embed_plan(model, texts, dimensions, input_type)
        headers = with_key(p, None, api_key)

        async def one(batch: list[str]) -> EmbeddingResponse:
            request = p._build_embed_request(model, batch, options)
            payload = await p.retry_policy.acall(lambda t: p._asend_guarded("embed", request, t, headers))
            return p._parse(lambda: p._parse_embeddings(payload, model, len(batch)))

        async def all_batches() -> EmbeddingResponse:
            parts: list[EmbeddingResponse] = []
            for start in range(0, len(batches), 4):  # a few batches at a time, in order
                parts.extend(await asyncio.gather(*(one(b) for b in batches[start:start + 4])))
            return p._embed_result(model, parts)

        async def metered() -> EmbeddingResponse:
            if p.usage_ledger is not None:
                return await p.usage_ledger.arun(p, "embed", model, batches, all_batches)
            return await all_batches()

        w = watch(p, "embed", model, texts)
        return await (metered() if w is None else w.arun(metered))

    def embed_sync(self, model: str | None, texts: str | Sequence[str], *, dimensions: int | None = None,
                   input_type: str | None = None, api_key: str | SecretStr | None = None) -> EmbeddingResponse:
        """`embed`, blocking."""
        p = cast("IProvider", self)
        model, batches, options = p._embed_plan(model, texts, dimensions, input_type)
        headers = with_key(p, None, api_key)

        def metered() -> EmbeddingResponse:
            if p.usage_ledger is not None:
                return p.usage_ledger.run(p, "embed", model, batches, lambda: p._embed_result(
                    model, [p._embed_batch_sync(model, b, options, headers) for b in batches]))
            return p._embed_result(model, [p._embed_batch_sync(model, b, options, headers) for b in batches])

        w = watch(p, "embed", model, texts)
        return metered() if w is None else w.run(metered)

    def _embed_batch_sync(self, model: str, batch: list[str], options: EmbedOptions,
                          headers: Mapping[str, str] | None = None) -> EmbeddingResponse:
        p = cast("IProvider", self)
        request = p._build_embed_request(model, batch, options)
        payload = p.retry_policy.call(lambda t: p._send_guarded("embed", request, t, headers))
        return p._parse(lambda: p._parse_embeddings(payload, model, len(batch)))
