"""Gemini embeddings, model listings and token counts: request bodies and parsing (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import MalformedResponseError
from ..options import EmbedOptions
from ..types import EmbeddingResponse, ModelInfo, Usage
from .common import token_count_field
from .gemini_common import _TASK_TYPES, PROVIDER, GeminiRequest, bare_model_name, model_path
from .gemini_response import _int, _raise_for_body

# ---------------------------------------------------------------------- embeddings and models


def build_embed_request(model: str, texts: list[str], options: EmbedOptions, *, vertex: bool = False,
                        predict: bool = False) -> GeminiRequest:
    """`batchEmbedContents` for the texts (Vertex: its `embedContentConfig` shape, or `predict` for the
    older text-embedding models)."""
    path = model_path(model, vertex=vertex)
    task = _TASK_TYPES.get(options.input_type) if options.input_type else None
    dims = options.dimensions
    if vertex and predict:
        instance: dict[str, Any] = {}
        if task:
            instance["task_type"] = task
        body: dict[str, Any] = {"instances": [{"content": t, **instance} for t in texts]}
        if dims is not None:
            body["parameters"] = {"outputDimensionality": dims}
        return GeminiRequest(path=f"{path}:predict", body=body)
    config: dict[str, Any] = {}
    if task:
        config["taskType"] = task
    if dims is not None:
        config["outputDimensionality"] = dims
    requests: list[dict[str, Any]] = []
    for text in texts:
        item: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
        if vertex:
            if config:
                item["embedContentConfig"] = config
        else:
            item["model"] = path
            item.update(config)
        requests.append(item)
    return GeminiRequest(path=f"{path}:batchEmbedContents", body={"requests": requests})


def _values(item: Any) -> list[float]:
    values = item.get("values") if isinstance(item, Mapping) else None
    if not isinstance(values, list):
        raise MalformedResponseError("an embedding has no values", provider=PROVIDER)
    return [float(v) for v in values]


def parse_embeddings(payload: Any, *, provider: str = PROVIDER, model: str, count: int) -> EmbeddingResponse:
    """Vectors in input order from `batchEmbedContents`, `embedContent` or Vertex `predict`."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_for_body(payload, provider)
    tokens = 0
    if isinstance(payload.get("embeddings"), list):
        vectors = [_values(e) for e in payload["embeddings"]]
    elif isinstance(payload.get("embedding"), Mapping):
        vectors = [_values(payload["embedding"])]
    elif isinstance(payload.get("predictions"), list):
        vectors = []
        for p in payload["predictions"]:
            emb = p.get("embeddings") if isinstance(p, Mapping) else None
            vectors.append(_values(emb))
            stats = emb.get("statistics") if isinstance(emb, Mapping) else None
            if isinstance(stats, Mapping):
                tokens += _int(stats.get("token_count")) or _int(stats.get("tokenCount"))
    else:
        raise MalformedResponseError("the embeddings response has no embeddings", provider=provider)
    if len(vectors) != count:
        raise MalformedResponseError(f"{len(vectors)} vectors for {count} inputs", provider=provider)
    meta = payload.get("usageMetadata")
    if isinstance(meta, Mapping):
        tokens = _int(meta.get("promptTokenCount")) or tokens
    return EmbeddingResponse(vectors=vectors, model=model, provider=provider, usage=Usage(input_tokens=tokens))


_METHOD_CAPABILITIES = {
    "generateContent": ("generate", "stream"),
    "streamGenerateContent": ("stream",),
    "embedContent": ("embeddings",),
    "batchEmbedContents": ("embeddings",),
}


def parse_model_list(payload: Any, *, provider: str = PROVIDER) -> list[ModelInfo]:
    """`GET models` (all pages merged under "models"), or Vertex's `publisherModels`, as ModelInfo."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_for_body(payload, provider)
    out: list[ModelInfo] = []
    for item in [*(payload.get("models") or ()), *(payload.get("publisherModels") or ())]:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        caps: set[str] = set()
        for method in item.get("supportedGenerationMethods") or item.get("supportedActions") or ():
            caps.update(_METHOD_CAPABILITIES.get(str(method), ()))
        if item.get("thinking") is True:
            caps.add("reasoning")
        limit_in, limit_out = item.get("inputTokenLimit"), item.get("outputTokenLimit")
        out.append(ModelInfo(
            id=bare_model_name(item["name"]), provider=provider, display_name=item.get("displayName"),
            context_window=limit_in if isinstance(limit_in, int) else None,
            max_output_tokens=limit_out if isinstance(limit_out, int) else None,
            capabilities=frozenset(caps)))
    return out


def parse_token_count(payload: Any, *, provider: str = PROVIDER) -> int:
    """`totalTokens` of a `countTokens` answer."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_for_body(payload, provider)
    # An empty request counts 0, and the field is then left out.
    return token_count_field(payload, "totalTokens", provider=provider, default=0)
