"""Pure converters for Cohere's other endpoints: `POST /v2/embed`, `POST /v2/rerank`, `POST /v1/tokenize` (token
counting for a chat call) and `GET /v1/models`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, MalformedResponseError
from ..options import EmbedOptions
from ..types import EmbeddingResponse, ModelInfo, RerankResponse, RerankResult, Usage
from .cohere_chat import PROVIDER, build_chat_request, raise_error_body

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call

__all__ = [
    "EMBED_BATCH_LIMIT",
    "INPUT_TYPES",
    "MODELS_PAGE_SIZE",
    "TOKENIZE_TEXT_LIMIT",
    "build_count_request",
    "build_embed_request",
    "build_rerank_request",
    "count_text",
    "embed_batches",
    "merge_model_pages",
    "output_dimensions",
    "parse_embeddings",
    "parse_model_list",
    "parse_rerank",
    "parse_token_count",
    "split_count_request",
]

EMBED_BATCH_LIMIT = 96
"""The most texts `/v2/embed` takes per call ("Maximum number of texts per call is 96")."""
MODELS_PAGE_SIZE = 1000
"""The largest `page_size` of `GET /v1/models`."""
TOKENIZE_TEXT_LIMIT = 65536
"""The most characters `/v1/tokenize` takes in one `text`."""
INPUT_TYPES: Mapping[str, str] = {
    "query": "search_query",
    "document": "search_document",
    "classification": "classification",
    "clustering": "clustering",
    # Cohere has no input type for symmetric similarity; texts compared with each other are embedded alike,
    # which is what "clustering" does.
    "similarity": "clustering",
}
"""Our `input_type` -> Cohere's. Embed v3 and later require one: `search_document` when none is given."""

# `output_dimension`, https://docs.cohere.com/reference/embed: "Possible values are 256, 512, 1024, and 1536"
# on embed-v4.0 and newer; the v3 models have one fixed size and refuse the field.
_DIMENSIONS: tuple[tuple[re.Pattern[str], tuple[int, ...]], ...] = (
    (re.compile(r"^embed-v[4-9]"), (256, 512, 1024, 1536)),
    (re.compile(r"^embed-(english|multilingual)(-light)?-v[23]"), ()),
)
# `GET /v1/models` endpoints and features -> our capability names.
_ENDPOINTS = {"chat": ("generate", "stream"), "embed": ("embeddings",), "rerank": ("rerank",)}
_FEATURES = {"tools": "tools", "tool_use": "tools", "strict_tools": "tools", "json_schema": "json_schema",
             "vision": "vision", "reasoning": "reasoning", "thinking": "reasoning"}


def output_dimensions(model: str) -> tuple[int, ...] | None:
    """The `output_dimension` values a model takes: a tuple (empty: none), or None when unknown."""
    for pattern, sizes in _DIMENSIONS:
        if pattern.search(model.rsplit("/", 1)[-1]):
            return sizes
    return None


def embed_batches(texts: list[str]) -> list[list[str]]:
    """`texts` in batches the endpoint takes."""
    return [texts[i:i + EMBED_BATCH_LIMIT] for i in range(0, len(texts), EMBED_BATCH_LIMIT)]


def build_embed_request(model: str, texts: list[str], options: EmbedOptions) -> dict[str, Any]:
    """The `/v2/embed` body: float vectors, the input type (default `search_document`), the size where asked."""
    body: dict[str, Any] = {"model": model, "texts": texts,
                            "input_type": INPUT_TYPES[options.input_type or "document"],
                            "embedding_types": ["float"]}
    if options.dimensions is not None:
        sizes = output_dimensions(model)
        if sizes is not None and options.dimensions not in sizes:
            takes = f"takes {', '.join(map(str, sizes))}" if sizes else "has one fixed size"
            raise InvalidRequestError(f"dimensions={options.dimensions}: Cohere's {model} {takes}",
                                      provider=PROVIDER)
        body["output_dimension"] = options.dimensions
    return body


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value)


def _billed(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = payload.get("meta")
    billed = meta.get("billed_units") if isinstance(meta, Mapping) else None
    return billed if isinstance(billed, Mapping) else {}


def parse_embeddings(payload: Any, *, provider: str = PROVIDER, model: str, count: int) -> EmbeddingResponse:
    """A `/v2/embed` answer (`embeddings.float`, or the older list of vectors) in input order."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    raise_error_body(payload, provider)
    embeddings = payload.get("embeddings")
    vectors = embeddings.get("float") if isinstance(embeddings, Mapping) else embeddings
    if not isinstance(vectors, list) or len(vectors) != count:
        got = len(vectors) if isinstance(vectors, list) else "no"
        raise MalformedResponseError(f"expected {count} float embeddings, got {got}", provider=provider)
    out = []
    for vector in vectors:
        if not isinstance(vector, list):
            raise MalformedResponseError("an embedding is not a list of numbers", provider=provider)
        out.append([float(x) for x in vector])
    usage = Usage(input_tokens=_int(_billed(payload).get("input_tokens")))
    return EmbeddingResponse(vectors=out, model=model, provider=provider, usage=usage)


def build_rerank_request(model: str, query: str, documents: list[str], top_n: int | None) -> dict[str, Any]:
    """The `/v2/rerank` body."""
    body: dict[str, Any] = {"model": model, "query": query, "documents": documents}
    if top_n is not None:
        body["top_n"] = top_n
    return body


def parse_rerank(payload: Any, *, provider: str = PROVIDER, model: str, documents: Sequence[str]) -> RerankResponse:
    """A `/v2/rerank` answer, most relevant first; each result carries its document's text as given."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    raise_error_body(payload, provider)
    results = payload.get("results")
    if not isinstance(results, list):
        raise MalformedResponseError("the rerank answer has no results", provider=provider)
    out = []
    for item in results:
        index = item.get("index") if isinstance(item, Mapping) else None
        score = item.get("relevance_score") if isinstance(item, Mapping) else None
        if not isinstance(index, int) or not 0 <= index < len(documents) or not isinstance(score, (int, float)):
            raise MalformedResponseError(f"a rerank result is not an index of the documents: {item!r:.100}",
                                         provider=provider)
        out.append(RerankResult(index=index, relevance_score=float(score), document=documents[index]))
    out.sort(key=lambda r: r.relevance_score, reverse=True)
    units = _billed(payload).get("search_units")
    return RerankResponse(results=out, model=model, provider=provider,
                          search_units=_int(units) if units is not None else None)


def merge_model_pages(pages: Sequence[Any]) -> Any:
    """The pages of `GET /v1/models` as one answer (an error page is returned as it is)."""
    if len(pages) == 1:
        return pages[0]
    models: list[Any] = []
    for page in pages:
        if not isinstance(page, Mapping) or not isinstance(page.get("models"), list):
            return page
        models.extend(page["models"])
    return {"models": models}


def parse_model_list(payload: Any, *, provider: str = PROVIDER) -> list[ModelInfo]:
    """`GET /v1/models` as ModelInfo: `endpoints` and `features` give capabilities, `context_length` the window."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    raise_error_body(payload, provider)
    out = []
    for item in payload.get("models") or ():
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            continue
        caps: set[str] = set()
        for endpoint in item.get("endpoints") or ():
            caps.update(_ENDPOINTS.get(str(endpoint), ()))
        for feature in item.get("features") or ():
            if str(feature) in _FEATURES:
                caps.add(_FEATURES[str(feature)])
        window = item.get("context_length")
        out.append(ModelInfo(id=item["name"], provider=provider, capabilities=frozenset(caps),
                             context_window=_int(window) or None))
    return out


# ---------------------------------------------------------------------- token counting


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    pieces: list[str] = []
    for item in content if isinstance(content, list) else ():
        if isinstance(item, Mapping):
            value = item.get("text") or item.get("thinking") or item.get("document")
            pieces.append(value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    return "\n".join(pieces)


def count_text(body: Mapping[str, Any]) -> str:
    """The text `/v1/tokenize` counts for a chat body: an approximation of Cohere's chat template.

    Each message as `role: content` (tool plans, tool calls with their JSON arguments, tool results and
    thinking included), then the tool definitions, the documents and the response schema as compact
    JSON, one per line, in a fixed order. Cohere adds its own preamble and control tokens around
    this (several hundred tokens on Command models), which `usage.tokens.input_tokens` counts and
    this does not: the result is close to the billed input tokens (`usage.billed_units`).
    """
    lines: list[str] = []
    for msg in body.get("messages") or ():
        if not isinstance(msg, Mapping):
            continue
        role = msg.get("role")
        if msg.get("tool_plan"):
            lines.append(f"{role}: {msg['tool_plan']}")
        text = _content_text(msg.get("content"))
        if text:
            lines.append(f"{role}: {text}")
        for call in msg.get("tool_calls") or ():
            fn = call.get("function") or {}
            lines.append(f"{role}: {fn.get('name')}({fn.get('arguments') or '{}'})")
    compact = (",", ":")
    for key in ("tools", "documents"):
        for item in body.get(key) or ():
            lines.append(json.dumps(item, separators=compact, sort_keys=True, ensure_ascii=False))
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("json_schema"):
        lines.append(json.dumps(response_format["json_schema"], separators=compact, sort_keys=True))
    return "\n".join(lines)


def build_count_request(call: Call) -> dict[str, Any]:
    """The `/v1/tokenize` body for what `generate` would send for the call (see `count_text`)."""
    body = build_chat_request(replace(call, stream=False))
    return {"text": count_text(body) or " ", "model": call.model}


def split_count_request(request: Mapping[str, Any], limit: int = TOKENIZE_TEXT_LIMIT) -> list[dict[str, Any]]:
    """The tokenize bodies for a text longer than the endpoint takes: cut at line ends (else anywhere)."""
    text = str(request.get("text") or "")
    if len(text) <= limit:
        return [dict(request)]
    out: list[dict[str, Any]] = []
    while text:
        cut = text.rfind("\n", 0, limit) + 1 if len(text) > limit else len(text)
        if cut <= 0:
            cut = limit
        out.append({**request, "text": text[:cut]})
        text = text[cut:]
    return out


def parse_token_count(payload: Any, *, provider: str = PROVIDER) -> int:
    """The number of tokens of a `/v1/tokenize` answer (`len(tokens)`)."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    tokens = payload.get("tokens")
    if not isinstance(tokens, list):
        raise_error_body(payload, provider)
        raise MalformedResponseError("the tokenize answer has no tokens", provider=provider)
    return len(tokens)
