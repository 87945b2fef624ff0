"""Reranking on a provider: validation, one request, usage and cost (or search units)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from .calls import Capability
from .errors import (
    InvalidRequestError,
    UnsupportedCapabilityError,
)
from .request_keys import with_key
from .telemetry.watch import watch
from .types import RerankResponse

if TYPE_CHECKING:
    from .provider import IProvider


class Reranking:
    """`IProvider.rerank` and its sync twin."""

    def _rerank_plan(self, model: str | None, query: str, documents: Sequence[str], top_n: int | None
                     ) -> tuple[str, list[str], Any]:
        p = cast("IProvider", self)
        if Capability.RERANK not in p.capabilities:
            raise UnsupportedCapabilityError(
                p.provider_id, "reranking",
                f"{p.label} offers no rerank API; Cohere, Voyage AI and Bedrock's rerank models do")
        model = model or p.spec.rerank_model
        if not model:
            raise InvalidRequestError(f"no rerank model given and {p.provider_id!r} has no default",
                                      provider=p.provider_id)
        if not isinstance(query, str) or not query:
            raise InvalidRequestError("rerank takes a non-empty query string", provider=p.provider_id)
        docs = [documents] if isinstance(documents, str) else list(documents)
        if not docs or not all(isinstance(d, str) for d in docs):
            raise InvalidRequestError("rerank takes a non-empty list of document strings", provider=p.provider_id)
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise InvalidRequestError(f"top_n must be a positive integer, not {top_n!r}", provider=p.provider_id)
        return model, docs, p._build_rerank_request(model, query, docs, top_n)

    def _rerank_result(self, payload: Any, model: str, docs: list[str]) -> RerankResponse:
        p = cast("IProvider", self)
        result = p._parse(lambda: p._parse_rerank(payload, model, docs))
        result.provider = p.provider_id
        if result.usage.input_tokens or result.usage.cost_usd is not None:
            p._price(result.usage, result.model)
        else:
            result.usage.cost_source = "none"  # billed per search unit (Cohere): no token price applies
        return result

    async def rerank(self, model: str | None, query: str, documents: Sequence[str], *,
                     top_n: int | None = None, api_key: str | SecretStr | None = None) -> RerankResponse:
        """`documents` ranked by relevance to `query`, most relevant first; `top_n` keeps only the best;
        `api_key` sends the request with that key instead of the provider's."""
        p = cast("IProvider", self)
        model, docs, request = p._rerank_plan(model, query, documents, top_n)
        headers = with_key(p, None, api_key)

        async def send() -> RerankResponse:
            payload = await p.retry_policy.acall(lambda t: p._asend_guarded("rerank", request, t, headers))
            return p._rerank_result(payload, model, docs)

        async def metered() -> RerankResponse:
            if p.usage_ledger is not None:
                return await p.usage_ledger.arun(p, "rerank", model, (query, docs), send)
            return await send()

        w = watch(p, "rerank", model, (query, docs))
        return await (metered() if w is None else w.arun(metered))

    def rerank_sync(self, model: str | None, query: str, documents: Sequence[str], *,
                    top_n: int | None = None, api_key: str | SecretStr | None = None) -> RerankResponse:
        """`rerank`, blocking."""
        p = cast("IProvider", self)
        model, docs, request = p._rerank_plan(model, query, documents, top_n)
        headers = with_key(p, None, api_key)

        def metered() -> RerankResponse:
            if p.usage_ledger is not None:
                return p.usage_ledger.run(p, "rerank", model, (query, docs), lambda: p._rerank_result(
                    p.retry_policy.call(lambda t: p._send_guarded("rerank", request, t, headers)), model, docs))
            payload = p.retry_policy.call(lambda t: p._send_guarded("rerank", request, t, headers))
            return p._rerank_result(payload, model, docs)

        w = watch(p, "rerank", model, (query, docs))
        return metered() if w is None else w.run(metered)
