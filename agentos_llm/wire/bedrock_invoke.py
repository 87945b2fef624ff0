"""AWS Bedrock `InvokeModel` bodies for embeddings and reranking (pure: no I/O, no SDK).

Each model family on Bedrock takes its own JSON body through the one `InvokeModel` operation. Which
body a model takes is profile data: `EMBED_MODELS` and `RERANK_MODELS` map a model family (the model
id without an ARN prefix, a cross-region `us.`/`eu.`/`global.` prefix or its `:version` suffix) to a
format, and `EMBED_FORMATS` / `RERANK_FORMATS` say what each format sends and accepts. A model no table
knows (an application inference profile ARN, say) needs the format named in the provider's
configuration (`embed_format=`, `rerank_format=`).

Sources: Titan Text Embeddings
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html, Titan Multimodal
Embeddings G1 .../model-parameters-titan-embed-mm.html, Cohere Embed .../model-parameters-embed.html and
.../model-parameters-embed-v4.html, Nova Multimodal Embeddings
https://docs.aws.amazon.com/nova/latest/userguide/embeddings-schema.html, reranking
https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-supported.html.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequestError, MalformedResponseError
from ..options import EmbedOptions
from ..types import EmbeddingResponse, RerankResponse, RerankResult, Usage

__all__ = [
    "EMBED_FORMATS",
    "EMBED_MODELS",
    "RERANK_FORMATS",
    "RERANK_MODELS",
    "EmbedFormat",
    "InvokeReply",
    "RerankFormat",
    "build_embed_body",
    "build_rerank_body",
    "embed_format_for",
    "model_family",
    "parse_embeddings",
    "parse_rerank",
    "rerank_format_for",
]


@dataclass(frozen=True)
class InvokeReply:
    """A decoded `InvokeModel` answer: its JSON body, and the input token count Bedrock sends as a header
    (`X-Amzn-Bedrock-Input-Token-Count`), which some bodies (Cohere, Nova) do not carry themselves."""

    body: Any
    input_tokens: int | None = None


@dataclass(frozen=True)
class EmbedFormat:
    """One embeddings body: how many texts a request carries, which sizes and input types it takes."""

    name: str
    batch: int
    """Texts per request (Titan and Nova embed one text per call)."""
    dimensions: tuple[int, ...] = ()
    """Output sizes the model takes; empty: one fixed size, `dimensions=` is refused."""
    input_types: Mapping[str, str] = field(default_factory=dict)
    """Our `input_type` (None for "not said") to the vendor's value; empty: the body takes none."""


_COHERE_TYPES = {"query": "search_query", "document": "search_document", "classification": "classification",
                 # Cohere has no symmetric-similarity type; clustering embeds both sides alike.
                 "clustering": "clustering", "similarity": "clustering", "": "search_document"}
# Nova: index with GENERIC_INDEX and query with a retrieval purpose; GENERIC_RETRIEVAL also finds
# non-text items of a mixed index (the embeddings page's "best practices").
_NOVA_PURPOSES = {"query": "GENERIC_RETRIEVAL", "document": "GENERIC_INDEX", "classification": "CLASSIFICATION",
                  "clustering": "CLUSTERING", "similarity": "GENERIC_INDEX", "": "GENERIC_INDEX"}

EMBED_FORMATS: dict[str, EmbedFormat] = {f.name: f for f in (
    EmbedFormat("titan-v2", batch=1, dimensions=(256, 512, 1024)),
    EmbedFormat("titan-v1", batch=1),
    EmbedFormat("titan-multimodal", batch=1, dimensions=(256, 384, 1024)),
    EmbedFormat("cohere-v3", batch=96, input_types=_COHERE_TYPES),
    EmbedFormat("cohere-v4", batch=96, dimensions=(256, 512, 1024, 1536), input_types=_COHERE_TYPES),
    EmbedFormat("nova", batch=1, dimensions=(256, 384, 1024, 3072), input_types=_NOVA_PURPOSES),
)}
"""The embeddings bodies by name (the values `embed_format=` takes)."""

EMBED_MODELS: dict[str, str] = {
    "amazon.titan-embed-text-v2": "titan-v2",
    "amazon.titan-embed-text-v1": "titan-v1",
    "amazon.titan-embed-g1-text-02": "titan-v1",
    "amazon.titan-embed-image-v1": "titan-multimodal",
    "cohere.embed-english-v3": "cohere-v3",
    "cohere.embed-multilingual-v3": "cohere-v3",
    "cohere.embed-v4": "cohere-v4",
    "amazon.nova-2-multimodal-embeddings-v1": "nova",
}
"""Embedding model families on Bedrock and the body each takes."""


@dataclass(frozen=True)
class RerankFormat:
    """One rerank body: the fixed fields it adds to query, documents and top_n."""

    name: str
    fixed: Mapping[str, Any] = field(default_factory=dict)


RERANK_FORMATS: dict[str, RerankFormat] = {f.name: f for f in (
    RerankFormat("cohere", {"api_version": 2}),
    RerankFormat("amazon"),
)}
"""The rerank bodies by name (the values `rerank_format=` takes)."""

RERANK_MODELS: dict[str, str] = {"cohere.rerank-v3-5": "cohere", "amazon.rerank-v1": "amazon"}
"""Rerank model families on Bedrock and the body each takes."""

_GEO = re.compile(r"^(us|eu|apac|au|ca|jp|us-gov|global)\.(?=[a-z0-9-]+\.)")


def model_family(model: str) -> str:
    """The family a model id names: no ARN prefix, no cross-region profile prefix, no `:version` suffix.

    `arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0`, `us.cohere.embed-v4:0` and
    `cohere.embed-v4:0` give `amazon.titan-embed-text-v2` and `cohere.embed-v4`.
    """
    # An ARN's resource ends with the model or profile id after its last "/"; a bare id has no "/".
    return _GEO.sub("", model.rsplit("/", 1)[-1]).split(":", 1)[0]


def embed_format_for(model: str, configured: str | None, *, provider: str) -> EmbedFormat:
    """The embeddings body of a model: from the table, else the configured format, else an error."""
    name = EMBED_MODELS.get(model_family(model)) or configured
    if name is None:
        raise InvalidRequestError(
            f"no known embeddings format for Bedrock model {model!r}: pass embed_format= to create_provider "
            f"(one of {', '.join(EMBED_FORMATS)}), or use a model id such as "
            f"{', '.join(sorted(EMBED_MODELS)[:3])} ...", provider=provider)
    return EMBED_FORMATS[name]


def rerank_format_for(model: str, configured: str | None, *, provider: str) -> RerankFormat:
    """The rerank body of a model: from the table, else the configured format, else an error."""
    name = RERANK_MODELS.get(model_family(model)) or configured
    if name is None:
        raise InvalidRequestError(
            f"no known rerank format for Bedrock model {model!r}: pass rerank_format= to create_provider "
            f"(one of {', '.join(RERANK_FORMATS)}), or use {' or '.join(f'{m}:0' for m in RERANK_MODELS)}",
            provider=provider)
    return RERANK_FORMATS[name]


# ---------------------------------------------------------------------- embeddings


def build_embed_body(fmt: EmbedFormat, texts: Sequence[str], options: EmbedOptions, *, provider: str
                     ) -> dict[str, Any]:
    """The `InvokeModel` body embedding `texts` (as many as `fmt.batch` allows).

    Inputs over the model's length limit are refused by the vendor rather than truncated unnoticed
    (Cohere `truncate: NONE`, Nova `truncationMode: NONE`).
    """
    if len(texts) > fmt.batch:
        raise InvalidRequestError(f"{fmt.name} embeds at most {fmt.batch} text(s) per request", provider=provider)
    dims = options.dimensions
    if dims is not None and dims not in fmt.dimensions:
        sizes = f"one of {', '.join(map(str, fmt.dimensions))}" if fmt.dimensions else "no choice of size"
        raise InvalidRequestError(f"dimensions={dims} is not offered by this {fmt.name} model ({sizes})",
                                  provider=provider)
    kind = fmt.input_types.get(options.input_type or "") if fmt.input_types else None
    if fmt.name == "titan-v2":
        body: dict[str, Any] = {"inputText": texts[0], "normalize": True}
        if dims is not None:
            body["dimensions"] = dims
        return body
    if fmt.name == "titan-v1":
        return {"inputText": texts[0]}
    if fmt.name == "titan-multimodal":
        body = {"inputText": texts[0]}
        if dims is not None:
            body["embeddingConfig"] = {"outputEmbeddingLength": dims}
        return body
    if fmt.name in ("cohere-v3", "cohere-v4"):
        body = {"texts": list(texts), "input_type": kind, "embedding_types": ["float"], "truncate": "NONE"}
        if dims is not None:
            body["output_dimension"] = dims
        return body
    params: dict[str, Any] = {"embeddingPurpose": kind, "text": {"truncationMode": "NONE", "value": texts[0]}}
    if dims is not None:
        params["embeddingDimension"] = dims
    return {"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": params}


def _vector(value: Any, provider: str) -> list[float]:
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise MalformedResponseError("an embedding is not a list of numbers", provider=provider)
    return [float(x) for x in value]


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_embeddings(reply: InvokeReply, *, model: str, count: int, provider: str) -> EmbeddingResponse:
    """Vectors from any of the bodies: Titan `{embedding, inputTextTokenCount}`, Nova `{embeddings: [{embedding,
    embeddingType}]}`, Cohere `{embeddings: [[...]]}` or `{embeddings: {float: [[...]]}}` (by shape, so an
    answer parses whichever format was asked)."""
    body = reply.body
    if not isinstance(body, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(body).__name__}", provider=provider)
    tokens = reply.input_tokens
    if "embedding" in body:
        vectors = [_vector(body["embedding"], provider)]
        tokens = _count(body.get("inputTextTokenCount")) if tokens is None else tokens
    else:
        items = body.get("embeddings")
        if isinstance(items, Mapping):
            items = items.get("float")
        if not isinstance(items, list):
            raise MalformedResponseError("the embeddings answer has no float embeddings", provider=provider)
        vectors = [_vector(item.get("embedding") if isinstance(item, Mapping) else item, provider) for item in items]
    if len(vectors) != count:
        raise MalformedResponseError(f"{len(vectors)} vectors for {count} inputs", provider=provider)
    return EmbeddingResponse(vectors=vectors, model=model, provider=provider, usage=Usage(input_tokens=tokens or 0))


# ---------------------------------------------------------------------- reranking


def build_rerank_body(fmt: RerankFormat, query: str, documents: Sequence[str], top_n: int | None
                      ) -> dict[str, Any]:
    """The `InvokeModel` body ranking `documents` against `query`; no `top_n` ranks them all."""
    n = len(documents) if top_n is None else min(top_n, len(documents))
    return {"query": query, "documents": list(documents), "top_n": n, **fmt.fixed}


def parse_rerank(reply: InvokeReply, *, model: str, documents: Sequence[str], provider: str) -> RerankResponse:
    """`{results: [{index, relevance_score}]}` as a `RerankResponse`, most relevant first."""
    body = reply.body
    if not isinstance(body, Mapping) or not isinstance(body.get("results"), list):
        raise MalformedResponseError("the rerank answer has no results", provider=provider)
    results = []
    for item in body["results"]:
        index = _count(item.get("index")) if isinstance(item, Mapping) else None
        score = item.get("relevance_score") if isinstance(item, Mapping) else None
        if (index is None or not 0 <= index < len(documents)
                or not isinstance(score, (int, float)) or isinstance(score, bool)):
            raise MalformedResponseError(f"a rerank result is not an index and a score: {item!r:.120}",
                                         provider=provider)
        results.append(RerankResult(index=index, relevance_score=float(score), document=documents[index]))
    results.sort(key=lambda r: r.relevance_score, reverse=True)
    meta = body.get("meta")
    billed = meta.get("billed_units") if isinstance(meta, Mapping) else None
    units = _count(billed.get("search_units")) if isinstance(billed, Mapping) else None
    return RerankResponse(results=results, model=model, provider=provider,
                          usage=Usage(input_tokens=reply.input_tokens or 0), search_units=units)
