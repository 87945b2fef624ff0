"""Voyage AI's embeddings and rerank endpoints as pure functions (no I/O, standard library only).

Request bodies for `POST {base}/embeddings` and `POST {base}/rerank` from our arguments, and the
answers back as `EmbeddingResponse` / `RerankResponse`. The per-model limits that shape a request
(batch token budgets, which models take `output_dimension`) are data here, in `EMBED_MODELS`.

Sources: https://docs.voyageai.com/reference/embeddings-api and
https://docs.voyageai.com/reference/reranker-api.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequestError, MalformedResponseError
from ..types import EmbeddingResponse, RerankResponse, RerankResult, Usage

__all__ = [
    "EMBED_MODELS",
    "FLEXIBLE_DIMENSIONS",
    "MAX_EMBED_TEXTS",
    "MAX_RERANK_DOCUMENTS",
    "EmbedModel",
    "build_embed_request",
    "build_rerank_request",
    "embed_batches",
    "embed_model",
    "estimate_tokens",
    "parse_embeddings",
    "parse_rerank",
    "voyage_input_type",
]

MAX_EMBED_TEXTS = 1000
"""The most texts one embeddings request may carry ("The maximum length of the list is 1,000")."""
MAX_RERANK_DOCUMENTS = 1000
"""The most documents one rerank request may carry ("The number of documents cannot exceed 1,000")."""
FLEXIBLE_DIMENSIONS = (256, 512, 1024, 2048)
"""The `output_dimension`s the Matryoshka-trained models take (1024 is their default)."""


@dataclass(frozen=True)
class EmbedModel:
    """What shapes an embeddings request for one model."""

    batch_tokens: int
    """The most tokens all texts of one request may add up to."""
    dimensions: tuple[int, ...] | None = ()
    """The `output_dimension`s the model takes: () none (its size is fixed), None unknown (sent as asked)."""


# "The total number of tokens in the list is at most 1M for voyage-4-lite and voyage-3.5-lite; 320K for voyage-4,
# voyage-3.5 and voyage-2; and 120K for voyage-4-large, voyage-3-large, voyage-code-3, voyage-finance-2, and
# voyage-law-2" (embeddings API reference). output_dimension: "256, 512, 1024 (default), 2048" on the voyage-4
# family, voyage-3-large, voyage-3.5, voyage-3.5-lite and voyage-code-3; the other models refuse it.
EMBED_MODELS: dict[str, EmbedModel] = {
    "voyage-4-lite": EmbedModel(1_000_000, FLEXIBLE_DIMENSIONS),
    "voyage-3.5-lite": EmbedModel(1_000_000, FLEXIBLE_DIMENSIONS),
    "voyage-4": EmbedModel(320_000, FLEXIBLE_DIMENSIONS),
    "voyage-3.5": EmbedModel(320_000, FLEXIBLE_DIMENSIONS),
    "voyage-4-large": EmbedModel(120_000, FLEXIBLE_DIMENSIONS),
    "voyage-4-nano": EmbedModel(120_000, FLEXIBLE_DIMENSIONS),
    "voyage-3-large": EmbedModel(120_000, FLEXIBLE_DIMENSIONS),
    "voyage-code-3": EmbedModel(120_000, FLEXIBLE_DIMENSIONS),
    "voyage-2": EmbedModel(320_000),
    "voyage-3": EmbedModel(120_000),
    "voyage-3-lite": EmbedModel(120_000),
    "voyage-large-2": EmbedModel(120_000),
    "voyage-large-2-instruct": EmbedModel(120_000),
    "voyage-code-2": EmbedModel(120_000),
    "voyage-finance-2": EmbedModel(120_000),
    "voyage-law-2": EmbedModel(120_000),
    "voyage-multilingual-2": EmbedModel(120_000),
}
# A model not in the table gets the smallest documented budget, and its `output_dimension` goes to the server to
# judge (a newer model may well take one).
_UNKNOWN_MODEL = EmbedModel(120_000, None)

# Our input types as Voyage's: it knows only query and document; "no prompt" (null) serves the rest.
_INPUT_TYPES = {"query": "query", "document": "document"}


def embed_model(model: str) -> EmbedModel:
    """The table row of `model` (a row for unknown models when it has none)."""
    return EMBED_MODELS.get(model, _UNKNOWN_MODEL)


def voyage_input_type(value: str | None) -> str | None:
    """Voyage's `input_type` for ours: query and document as they are; classification, clustering,
    similarity and None as null (no prompt prepended)."""
    return _INPUT_TYPES.get(value) if value is not None else None


def estimate_tokens(text: str) -> int:
    """A deliberately high token estimate of one text: a token per 3 ASCII characters, one per other
    character, plus one. Voyage has no counting endpoint; overestimating only makes batches smaller."""
    ascii_chars = len(text.encode("ascii", "ignore"))
    return 1 + -(-ascii_chars // 3) + (len(text) - ascii_chars)


def embed_batches(texts: list[str], model: str) -> list[list[str]]:
    """`texts` split, in order, so no request exceeds `MAX_EMBED_TEXTS` texts nor the model's token budget
    (by `estimate_tokens`). A text over the budget on its own travels alone; the server judges it."""
    budget = embed_model(model).batch_tokens
    batches: list[list[str]] = [[]]
    used = 0
    for text in texts:
        cost = estimate_tokens(text)
        if batches[-1] and (len(batches[-1]) >= MAX_EMBED_TEXTS or used + cost > budget):
            batches.append([])
            used = 0
        batches[-1].append(text)
        used += cost
    return batches


def build_embed_request(model: str, texts: list[str], *, dimensions: int | None, input_type: str | None,
                        truncation: bool, provider: str | None = None) -> dict[str, Any]:
    """The embeddings body. `dimensions` on a model with a fixed size raises `InvalidRequestError` (not sent)."""
    if not texts or len(texts) > MAX_EMBED_TEXTS:
        raise InvalidRequestError(f"one embeddings request takes 1 to {MAX_EMBED_TEXTS} texts, not {len(texts)}",
                                  provider=provider)
    body: dict[str, Any] = {"input": texts, "model": model, "input_type": voyage_input_type(input_type)}
    if dimensions is not None:
        allowed = embed_model(model).dimensions
        if allowed is not None and dimensions not in allowed:
            takes = (f"takes dimensions {', '.join(map(str, allowed))}" if allowed
                     else "has a fixed size and takes no dimensions")
            raise InvalidRequestError(f"Voyage model {model!r} {takes}, not {dimensions}", provider=provider)
        body["output_dimension"] = dimensions
    body["output_dtype"] = "float"
    body["truncation"] = truncation
    return body


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):  # encoding_format "base64": little-endian float32
        floats = array("f")
        floats.frombytes(base64.b64decode(value))
        if sys.byteorder != "little":  # pragma: no cover - the wire is little-endian
            floats.byteswap()
        return floats.tolist()
    if not isinstance(value, list):
        raise TypeError(f"an embedding is a list of numbers or a base64 string, not {type(value).__name__}")
    return [float(x) for x in value]


def _usage(payload: Mapping[str, Any]) -> Usage:
    usage = payload.get("usage")
    total = usage.get("total_tokens") if isinstance(usage, Mapping) else None
    if not isinstance(total, int) or isinstance(total, bool):
        return Usage()
    return Usage(input_tokens=total, total_tokens=total)


def _data(payload: Any, what: str, provider: str | None) -> list[Mapping[str, Any]]:
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    items = payload.get("data")
    if not isinstance(items, list) or not all(isinstance(d, Mapping) for d in items):
        raise MalformedResponseError(f"the {what} response has no data list", provider=provider)
    return items


def parse_embeddings(payload: Any, *, provider: str | None, model: str, count: int) -> EmbeddingResponse:
    """`{data: [{embedding, index}], model, usage: {total_tokens}}` as vectors in input order (by `index`)."""
    items = _data(payload, "embeddings", provider)
    ordered = sorted(items, key=lambda d: d.get("index", 0)) if all("index" in d for d in items) else items
    vectors = [_vector(d.get("embedding")) for d in ordered]
    if len(vectors) != count:
        raise MalformedResponseError(f"{len(vectors)} vectors for {count} inputs", provider=provider)
    served = payload.get("model")
    return EmbeddingResponse(vectors=vectors, model=served if isinstance(served, str) and served else model,
                             provider=provider or "", usage=_usage(payload))


def build_rerank_request(model: str, query: str, documents: list[str], top_n: int | None, *, truncation: bool,
                         provider: str | None = None) -> dict[str, Any]:
    """The rerank body; the documents are not asked back (we keep the texts we sent)."""
    if len(documents) > MAX_RERANK_DOCUMENTS:
        raise InvalidRequestError(
            f"Voyage reranks at most {MAX_RERANK_DOCUMENTS} documents per request, not {len(documents)}",
            provider=provider)
    body: dict[str, Any] = {"query": query, "documents": documents, "model": model}
    if top_n is not None:
        body["top_k"] = top_n
    body["truncation"] = truncation
    body["return_documents"] = False
    return body


def parse_rerank(payload: Any, *, provider: str | None, model: str, documents: list[str]) -> RerankResponse:
    """`{data: [{index, relevance_score}], model, usage: {total_tokens}}` as results, most relevant first,
    each with the text of the document it ranks."""
    results = []
    for item in _data(payload, "rerank", provider):
        index, score = item.get("index"), item.get("relevance_score")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(documents):
            raise MalformedResponseError(f"a rerank result names no document given: index {index!r}",
                                         provider=provider)
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise MalformedResponseError(f"a rerank result has no relevance_score: {score!r}", provider=provider)
        results.append(RerankResult(index=index, relevance_score=float(score), document=documents[index]))
    results.sort(key=lambda r: -r.relevance_score)  # stable: equal scores keep the server's order
    served = payload.get("model")
    return RerankResponse(results=results, model=served if isinstance(served, str) and served else model,
                          provider=provider or "", usage=_usage(payload))
