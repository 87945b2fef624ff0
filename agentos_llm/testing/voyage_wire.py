"""The Voyage AI dialect of the wire emulator: ``POST /voyage/v1/embeddings`` and ``POST /voyage/v1/rerank``.

Served under :attr:`WireEmulator.voyage_base_url` (``url + "/voyage/v1"``), apart from OpenAI's
``/v1/embeddings``. Embeddings are deterministic unit vectors seeded by model, input type and text, of the
asked ``output_dimension`` (1024 by default); rerank scores are the share of the query's words a document
holds. Tokens are words, as elsewhere in the emulator. The server's limits are checked as Voyage does: 1,000
texts or documents, the per-model batch token budget, ``output_dimension`` only on the models that take it,
and with ``truncation: false`` the 32,000-token context. A popped :class:`Reply` adds its ``delay`` and may set
``prompt_tokens`` (the usage) and ``model``; a :class:`Fault` answers with Voyage's ``{"detail": ...}`` body.
Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
from typing import Any

from agentos_llm.testing.emulator import Fault, Reply, Route, WireRequest, WireResponse, word_count

__all__ = [
    "CONTEXT_TOKENS",
    "DEFAULT_DIMENSIONS",
    "embeddings",
    "error_body",
    "fault_response",
    "relevance",
    "rerank",
    "routes",
    "voyage_vector",
]

DEFAULT_DIMENSIONS = 1024
CONTEXT_TOKENS = 32_000
"""Every emulated model's context (in words), enforced when a request asks for ``truncation: false``."""
_MAX_ITEMS = 1000
_FLEXIBLE = frozenset({"voyage-4-large", "voyage-4", "voyage-4-lite", "voyage-4-nano", "voyage-3-large",
                       "voyage-3.5", "voyage-3.5-lite", "voyage-code-3"})
_BATCH_TOKENS = {"voyage-4-lite": 1_000_000, "voyage-3.5-lite": 1_000_000, "voyage-4": 320_000,
                 "voyage-3.5": 320_000, "voyage-2": 320_000}
_DEFAULT_BATCH_TOKENS = 120_000
_WORD = re.compile(r"\w+")
_MESSAGES = {
    400: "Bad request.",
    401: "Provided API key is invalid.",
    403: "You do not have access to this resource.",
    404: "Not found.",
    429: "You have reached the rate limit of your account. Please slow down and try again later.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "The service is temporarily unavailable. Please try again later.",
}


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """Voyage's error body: a top-level ``detail`` string."""
    return {"detail": message or _MESSAGES.get(status, f"Emulated {status} error")}


def fault_response(fault: Fault) -> WireResponse:
    """``fault`` as Voyage answers: broken JSON for ``malformed``, else its status with a ``detail`` body
    (``body`` as given; the message of ``stream_error``; the default message, with ``code`` when set)."""
    if fault.malformed:
        return WireResponse(status=200, headers={"content-type": "application/json"}, body=b'{"data": [')
    if isinstance(fault.body, dict):
        return WireResponse.json(fault.body, fault.status)
    if isinstance(fault.body, str):
        return WireResponse(status=fault.status, headers={"content-type": "application/json"},
                            body=fault.body.encode())
    message = None
    if fault.stream_error is not None:
        message = str(fault.stream_error.get("message") or json.dumps(fault.stream_error))
    elif fault.code is not None:
        message = f"{_MESSAGES.get(fault.status, f'Emulated {fault.status} error')} ({fault.code})"
    return WireResponse.json(error_body(fault.status, message), fault.status)


def voyage_vector(text: str, dims: int, *, model: str = "", input_type: str | None = None) -> list[float]:
    """A deterministic unit vector for ``text``, seeded by the model and input type as well (Voyage prepends a
    prompt per input type, so a query and a document of one text embed differently)."""
    seed = f"{model}\x00{input_type or ''}\x00{text}".encode()
    values: list[float] = []
    block = 0
    while len(values) < dims:
        digest = hashlib.sha256(seed + block.to_bytes(4, "little")).digest()
        values.extend(u / 2147483647.5 - 1.0 for u in struct.unpack("<8I", digest))
        block += 1
    del values[dims:]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def relevance(query: str, document: str) -> float:
    """The emulated relevance: the share of the query's distinct words (case-folded) found in the document."""
    wanted = {w.casefold() for w in _WORD.findall(query)}
    if not wanted:
        return 0.0
    have = {w.casefold() for w in _WORD.findall(document)}
    return round(len(wanted & have) / len(wanted), 6)


def _tokens(text: str) -> int:
    return max(1, word_count(text))


def _bad(message: str, status: int = 400) -> WireResponse:
    return WireResponse.json(error_body(status, message), status)


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def _too_long(texts: list[str], extra: int = 0) -> WireResponse | None:
    for index, text in enumerate(texts):
        n = _tokens(text) + extra
        if n > CONTEXT_TOKENS:
            return _bad(f"Input at index {index} has {n} tokens, which is longer than the model's context length "
                        f"of {CONTEXT_TOKENS} tokens. Please set truncation=True or reduce the length.")
    return None


def embeddings(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST /voyage/v1/embeddings``: deterministic vectors in input order, float lists or base64 float32."""
    if isinstance(item, Fault):
        return fault_response(item)
    body = request.body if isinstance(request.body, dict) else {}
    texts = _strings(body.get("input"))
    model = body.get("model")
    if texts is None or not isinstance(model, str) or not model:
        return _bad("Request body must have 'input' (a string or a non-empty list of strings) and 'model'.")
    if len(texts) > _MAX_ITEMS:
        return _bad(f"The input list may hold at most {_MAX_ITEMS} texts; got {len(texts)}.")
    tokens = sum(_tokens(t) for t in texts)
    budget = _BATCH_TOKENS.get(model, _DEFAULT_BATCH_TOKENS)
    if tokens > budget:
        return _bad(f"The max allowed tokens per submitted batch is {budget}. Your batch has {tokens} tokens.")
    input_type = body.get("input_type")
    if input_type not in (None, "query", "document"):
        return _bad("input_type must be null, 'query' or 'document'.")
    dims = body.get("output_dimension")
    if dims is not None:
        if model not in _FLEXIBLE:
            return _bad(f"Model {model} does not support the output_dimension argument.")
        if dims not in (256, 512, 1024, 2048):
            return _bad("output_dimension must be one of 256, 512, 1024, 2048.")
    if body.get("truncation") is False and (refused := _too_long(texts)) is not None:
        return refused
    size = dims if isinstance(dims, int) else DEFAULT_DIMENSIONS
    base64_out = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        vector = voyage_vector(text, size, model=model, input_type=input_type)
        embedding: list[float] | str = vector
        if base64_out:
            embedding = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "embedding": embedding, "index": index})
    reply = item if isinstance(item, Reply) else Reply()
    total = reply.prompt_tokens if reply.prompt_tokens is not None else tokens
    return WireResponse.json({"object": "list", "data": data, "model": reply.model or model,
                              "usage": {"total_tokens": total}})


def rerank(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST /voyage/v1/rerank``: documents by :func:`relevance`, best first (ties by position), ``top_k`` kept."""
    if isinstance(item, Fault):
        return fault_response(item)
    body = request.body if isinstance(request.body, dict) else {}
    query, model = body.get("query"), body.get("model")
    documents = body.get("documents")
    if not isinstance(query, str) or not query or not isinstance(model, str) or not model \
            or not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
        return _bad("Request body must have 'query', 'documents' (a non-empty list of strings) and 'model'.")
    if len(documents) > _MAX_ITEMS:
        return _bad(f"The number of documents may not exceed {_MAX_ITEMS}; got {len(documents)}.")
    top_k = body.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        return _bad("top_k must be a positive integer.")
    if body.get("truncation") is False and (refused := _too_long(documents, _tokens(query))) is not None:
        return refused
    ranked = sorted(range(len(documents)), key=lambda i: (-relevance(query, documents[i]), i))
    if top_k is not None:
        ranked = ranked[:top_k]
    data: list[dict[str, Any]] = []
    for i in ranked:
        result: dict[str, Any] = {"relevance_score": relevance(query, documents[i]), "index": i}
        if body.get("return_documents") is True:
            result["document"] = documents[i]
        data.append(result)
    reply = item if isinstance(item, Reply) else Reply()
    # Voyage's count: the query once per document, plus every document.
    tokens = _tokens(query) * len(documents) + sum(_tokens(d) for d in documents)
    total = reply.prompt_tokens if reply.prompt_tokens is not None else tokens
    return WireResponse.json({"object": "list", "data": data, "model": reply.model or model,
                              "usage": {"total_tokens": total}})


def routes() -> list[Route]:
    """The Voyage AI routes (under ``/voyage/v1``)."""
    return [
        Route("POST", re.compile(r"^/voyage/v1/embeddings$"), embeddings),
        Route("POST", re.compile(r"^/voyage/v1/rerank$"), rerank),
    ]
