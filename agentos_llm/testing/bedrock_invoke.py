"""The Bedrock ``InvokeModel`` answers of the wire emulator: embeddings and rerank, picked by the body's shape.

- Amazon Titan ``{inputText, dimensions?, normalize?}`` -> ``{embedding, embeddingsByType, inputTextTokenCount}``
  (v1: 1536 dimensions and no ``embeddingsByType``; v2: 1024 by default, 256 or 512 when asked);
- Cohere ``{texts, input_type, embedding_types?, output_dimension?}`` -> ``{id, embeddings, texts,
  response_type}``, the vectors by type (``{"float": [[...]]}``) when types are asked or the model is Embed v4,
  else a plain list (Embed v3, which also echoes the texts lower-cased); 1536 dimensions for v4, 1024 for v3;
- Amazon Nova ``{taskType, singleEmbeddingParams}`` -> ``{embeddings: [{embeddingType: "TEXT", embedding}]}``
  (3072 dimensions unless ``embeddingDimension`` says otherwise);
- rerank ``{query, documents, top_n?}`` -> ``{results: [{index, relevance_score}]}``, best first; the score is
  the word overlap of query and document, so it is deterministic.

Vectors are deterministic and unit-length (:func:`agentos_llm.testing.openai_wire.embedding_vector`).
Standard library only; the handler that serves these is :func:`agentos_llm.testing.bedrock_wire.invoke`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from agentos_llm.testing.emulator import word_count
from agentos_llm.testing.openai_wire import embedding_vector

__all__ = [
    "cohere_embed",
    "invoke_answer",
    "nova_embed",
    "rerank",
    "rerank_score",
    "titan_embed",
]

_TITAN_V2_DIMS = (256, 512, 1024)
_NOVA_DIMS = (256, 384, 1024, 3072)
_WORD = re.compile(r"\w+")
_Answer = tuple[dict[str, Any], int]


def _invalid(message: str) -> _Answer:
    return {"message": f"Malformed input request: {message}, please reformat your input and try again."}, 400


def titan_embed(model: str, body: dict[str, Any]) -> _Answer:
    """An Amazon Titan Text Embeddings answer."""
    text = body.get("inputText")
    if not isinstance(text, str) or not text:
        return _invalid("#/inputText: expected minLength: 1")
    v1 = "embed-text-v1" in model or "embed-g1" in model
    dims = 1536 if v1 else body.get("dimensions", 1024)
    if dims not in (1536, *_TITAN_V2_DIMS) or isinstance(dims, bool):
        return _invalid(f"#/dimensions: {dims} is not a valid enum value")
    vector = embedding_vector(text, int(dims))
    answer: dict[str, Any] = {"embedding": vector}
    if not v1:
        answer["embeddingsByType"] = {"float": vector}
    answer["inputTextTokenCount"] = max(1, word_count(text))
    return answer, 200


def _typed(vector: list[float], kind: str) -> list[float] | list[int]:
    if kind == "int8":
        return [max(-128, min(127, round(v * 127 * 8))) for v in vector]
    if kind == "uint8":
        return [max(0, min(255, round(v * 127 * 8) + 128)) for v in vector]
    bits = [1 if v > 0 else 0 for v in vector]
    packed = [int("".join(map(str, bits[i:i + 8])).ljust(8, "0"), 2) for i in range(0, len(bits), 8)]
    return packed if kind == "ubinary" else [b - 128 for b in packed]


def cohere_embed(model: str, body: dict[str, Any]) -> _Answer:
    """A Cohere Embed (v3 or v4) answer."""
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return _invalid("#/texts: expected a non-empty list of strings")
    if not isinstance(body.get("input_type"), str):
        return _invalid("#: required key [input_type] not found")
    v4 = "embed-v4" in model
    dims = body.get("output_dimension", 1536 if v4 else 1024)
    if not isinstance(dims, int) or dims <= 0:
        return _invalid(f"#/output_dimension: {dims} is not a valid value")
    types = body.get("embedding_types")
    vectors = [embedding_vector(t, dims) for t in texts]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    answer: dict[str, Any] = {"id": f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"}
    if isinstance(types, list) or v4:
        kinds = [str(k) for k in types] if isinstance(types, list) and types else ["float"]
        unknown = [k for k in kinds if k not in ("float", "int8", "uint8", "binary", "ubinary")]
        if unknown:
            return _invalid(f"#/embedding_types: {unknown[0]} is not a valid enum value")
        answer["embeddings"] = {k: vectors if k == "float" else [_typed(v, k) for v in vectors] for k in kinds}
        answer["response_type"] = "embeddings_by_type"
    else:
        answer["embeddings"] = vectors
        answer["response_type"] = "embeddings_floats"
    answer["texts"] = list(texts) if v4 else [t.lower() for t in texts]
    return answer, 200


def nova_embed(model: str, body: dict[str, Any]) -> _Answer:
    """An Amazon Nova multimodal embeddings answer (text only)."""
    params = body.get("singleEmbeddingParams")
    if body.get("taskType") != "SINGLE_EMBEDDING" or not isinstance(params, dict):
        return _invalid("#/taskType: only SINGLE_EMBEDDING is emulated")
    text = (params.get("text") or {}).get("value") if isinstance(params.get("text"), dict) else None
    if not isinstance(text, str) or not text:
        return _invalid("#/singleEmbeddingParams/text/value: expected minLength: 1")
    dims = params.get("embeddingDimension", 3072)
    if dims not in _NOVA_DIMS:
        return _invalid(f"#/singleEmbeddingParams/embeddingDimension: {dims} is not a valid enum value")
    return {"embeddings": [{"embeddingType": "TEXT", "embedding": embedding_vector(text, int(dims))}]}, 200


def _document_text(document: Any) -> str:
    if isinstance(document, str):
        return document
    if isinstance(document, dict) and isinstance(document.get("text"), str):
        return str(document["text"])
    return json.dumps(document, separators=(",", ":"))


def rerank_score(query: str, document: str) -> float:
    """The emulator's relevance: the share of the query's words found in the document, nudged by how much
    of the document they make (so shorter on-topic documents rank first), in [0, 1)."""
    asked = {w.lower() for w in _WORD.findall(query)}
    words = [w.lower() for w in _WORD.findall(document)]
    if not asked or not words:
        return 0.0
    found = asked.intersection(words)
    share = len(found) / len(asked)
    density = sum(1 for w in words if w in found) / len(words)
    return round(0.9 * share + 0.09 * density, 6)


def rerank(model: str, body: dict[str, Any]) -> _Answer:
    """A rerank answer (Cohere Rerank or Amazon Rerank): the documents' indices by score, best first."""
    query, documents, top_n = body.get("query"), body.get("documents"), body.get("top_n")
    if not isinstance(query, str) or not query:
        return _invalid("#/query: expected minLength: 1")
    if not isinstance(documents, list) or not documents:
        return _invalid("#/documents: expected minItems: 1")
    if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
        return _invalid(f"#/top_n: {top_n} is not a valid value")
    scored = [(rerank_score(query, _document_text(d)), i) for i, d in enumerate(documents)]
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    results = [{"index": i, "relevance_score": s} for s, i in scored[:top_n]]
    answer: dict[str, Any] = {"results": results}
    if "cohere" in model:
        answer = {"id": hashlib.sha256(query.encode()).hexdigest()[:32], **answer}
    return answer, 200


def invoke_answer(model: str, body: dict[str, Any]) -> _Answer:
    """The answer to ``InvokeModel`` of ``model`` (already URL-decoded) with ``body``, and its status."""
    if "inputText" in body:
        return titan_embed(model, body)
    if "texts" in body:
        return cohere_embed(model, body)
    if "taskType" in body or "singleEmbeddingParams" in body:
        return nova_embed(model, body)
    if "query" in body and "documents" in body:
        return rerank(model, body)
    return _invalid("the emulator serves InvokeModel for embeddings and rerank bodies only")
