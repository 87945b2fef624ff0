"""What calls other than chat return: token counts, embeddings, reranking, model info and health."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from .types_responses import Hop
from .types_usage import Usage

# Models off a first call's path are built on first use, not at import (the working API imports faster).
_DEFERRED = ConfigDict(defer_build=True)
_DEFERRED_FORBID = ConfigDict(extra="forbid", defer_build=True)

__all__ = [
    "EmbeddingResponse",
    "HealthStatus",
    "ModelInfo",
    "RerankResponse",
    "RerankResult",
    "TokenCount",
]

class TokenCount(BaseModel):
    """How many input tokens a request would use; `exact` is False for a local estimate."""

    model_config = _DEFERRED_FORBID
    input_tokens: int
    exact: bool = True
    model: str | None = None
    provider: str | None = None
    hops: list[Hop] = Field(default_factory=list)
    """How a manager served the count (see `Hop`); empty from a provider called directly."""


class EmbeddingResponse(BaseModel):
    """Embedding vectors, in the order of the input texts."""

    model_config = _DEFERRED_FORBID
    vectors: list[list[float]]
    model: str
    provider: str = ""
    usage: Usage = Field(default_factory=Usage)
    hops: list[Hop] = Field(default_factory=list)
    """How a manager served the call (see `Hop`); empty from a provider called directly."""


class RerankResult(BaseModel):
    """One document of a reranking, with its place in the input and how relevant it is to the query."""

    model_config = _DEFERRED_FORBID
    index: int
    """The document's position in the list given to `rerank`."""
    relevance_score: float
    document: str
    """The document's text, as given."""


class RerankResponse(BaseModel):
    """Documents ranked by relevance to a query, most relevant first (at most `top_n`)."""

    model_config = _DEFERRED_FORBID
    results: list[RerankResult]
    model: str
    provider: str = ""
    usage: Usage = Field(default_factory=Usage)
    """Tokens where the vendor counts them (Voyage); Cohere bills search units, counted in `search_units`."""
    search_units: int | None = None
    hops: list[Hop] = Field(default_factory=list)
    """How a manager served the call (see `Hop`); empty from a provider called directly."""


class ModelInfo(BaseModel):
    """What is known about one model: limits, capabilities and prices (USD per 1M tokens)."""

    model_config = _DEFERRED_FORBID
    id: str
    provider: str
    display_name: str | None = None
    created: int | None = None
    """When the vendor says the model was created or released (Unix seconds), where it lists one."""
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: frozenset[str] = frozenset()
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None
    cache_write_price: float | None = None
    source: Literal["live", "catalog", "definition", "unknown"] | None = None
    """Where the entry comes from: "live" (the provider's listing, completed from the static catalog),
    "catalog" (the static catalog alone, e.g. because the live listing failed) or "definition" (a
    `define_model` name, listed by the manager); "unknown" when nothing knows the model (`known` is False);
    None when not said."""
    known: bool = True
    """False when neither the live listing, the catalog nor a definition knows the model: its other fields are
    then unknown (None), not facts; the provider may still serve it."""


class HealthStatus(BaseModel):
    """Whether a provider answered, and how fast.

    `state` names the outcome: "ok", "unauthorized" (the key was refused), "rate_limited", "timeout" (no answer
    in time), "unreachable" (no connection), "unsupported" (nothing to ask) or "error" (anything else).
    """

    model_config = _DEFERRED

    provider: str
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    state: Literal["ok", "unauthorized", "rate_limited", "timeout", "unreachable", "unsupported", "error"] = "ok"
