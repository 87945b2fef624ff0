"""Embeddings and model listings of the chat-completions hosts (`/embeddings`, `/models`, Ollama's
`/api/tags`) as our types (pure).
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Mapping
from typing import Any

from ..errors import MalformedResponseError
from ..types import EmbeddingResponse, ModelInfo
from .openai_chat_response import _raise_error_body, usage_from_wire


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):
        floats = array("f")
        floats.frombytes(base64.b64decode(value))
        if sys.byteorder != "little":  # pragma: no cover - the wire is little-endian
            floats.byteswap()
        return floats.tolist()
    return [float(x) for x in value]


def parse_embeddings(payload: Any, *, provider: str, model: str, count: int) -> EmbeddingResponse:
    """Vectors in input order (by each item's `index`), however the host ordered them."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_error_body(payload, provider)
    items = payload.get("data")
    if not isinstance(items, list):
        raise MalformedResponseError("the embeddings response has no data list", provider=provider)
    ordered = sorted(items, key=lambda d: d.get("index", 0)) if any("index" in d for d in items) else items
    vectors = [_vector(d.get("embedding")) for d in ordered]
    if len(vectors) != count:
        raise MalformedResponseError(f"{len(vectors)} vectors for {count} inputs", provider=provider)
    return EmbeddingResponse(vectors=vectors, model=payload.get("model") or model, provider=provider,
                             usage=usage_from_wire(payload.get("usage")))


# OpenRouter's `supported_parameters` and Ollama's `capabilities`, as our capability names.
_LISTED_CAPABILITIES = {
    "tools": "tools", "reasoning": "reasoning", "structured_outputs": "json_schema",
    "vision": "vision", "thinking": "reasoning", "embedding": "embeddings",
}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _listed_capabilities(names: Any) -> frozenset[str]:
    if not isinstance(names, list):
        return frozenset()
    return frozenset(_LISTED_CAPABILITIES[n] for n in names if isinstance(n, str) and n in _LISTED_CAPABILITIES)


def parse_model_list(payload: Any, *, provider: str) -> list[ModelInfo]:
    """`GET /models` as ModelInfo: context windows, prices (per-token strings become USD per 1M tokens) and
    capabilities where the host lists them (OpenRouter: `pricing`, `context_length`, `top_provider`,
    `supported_parameters`, `architecture.input_modalities`; vLLM: `max_model_len`)."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    out = []
    for item in payload.get("data") or ():
        if not isinstance(item, Mapping) or not item.get("id"):
            continue
        pricing = _mapping(item.get("pricing"))
        top = _mapping(item.get("top_provider"))
        capabilities = _listed_capabilities(item.get("supported_parameters"))
        modalities = _mapping(item.get("architecture")).get("input_modalities")
        if isinstance(modalities, list) and "image" in modalities:
            capabilities |= {"vision"}
        out.append(ModelInfo(
            id=item["id"], provider=provider, display_name=item.get("name"),
            context_window=_positive_int(item.get("context_length")) or _positive_int(item.get("context_window"))
            or _positive_int(item.get("max_model_len")) or _positive_int(top.get("context_length")),
            max_output_tokens=_positive_int(top.get("max_completion_tokens")),
            capabilities=capabilities,
            input_price=_per_million(pricing.get("prompt")),
            output_price=_per_million(pricing.get("completion")),
            cached_input_price=_per_million(pricing.get("input_cache_read")),
            cache_write_price=_per_million(pricing.get("input_cache_write")),
        ))
    return out


def _per_million(per_token: Any) -> float | None:
    """USD per 1M tokens from a per-token price; None when absent or not a price (OpenRouter's "-1": variable)."""
    if per_token is None or isinstance(per_token, bool):
        return None
    try:
        price = float(per_token)
    except (TypeError, ValueError):
        return None
    return round(price * 1_000_000, 9) if price >= 0 else None


def _context_length(model_info: Mapping[str, Any]) -> int | None:
    """`<arch>.context_length` of an Ollama `model_info` (any `*.context_length` if the arch is unnamed)."""
    arch = model_info.get("general.architecture")
    if isinstance(arch, str):
        found = _positive_int(model_info.get(f"{arch}.context_length"))
        if found:
            return found
    return next((_positive_int(v) for k, v in model_info.items()
                 if k.endswith(".context_length") and _positive_int(v)), None)


def parse_ollama_models(payload: Any, *, provider: str) -> list[ModelInfo]:
    """Ollama's `/api/tags` with each model's `/api/show`, as ModelInfo.

    `payload` is `{"tags": <the /api/tags body>, "show": {model name: <its /api/show body>}}`; a model
    without a `show` entry is listed with its name only.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("tags"), Mapping):
        raise MalformedResponseError("expected the /api/tags object", provider=provider)
    shows = _mapping(payload.get("show"))
    out = []
    for item in payload["tags"].get("models") or ():
        if not isinstance(item, Mapping):
            continue
        name = item.get("model") or item.get("name")
        if not isinstance(name, str) or not name:
            continue
        show = _mapping(shows.get(name))
        out.append(ModelInfo(
            id=name, provider=provider, display_name=item.get("name") if isinstance(item.get("name"), str) else None,
            context_window=_context_length(_mapping(show.get("model_info"))),
            capabilities=_listed_capabilities(show.get("capabilities")),
        ))
    return out
