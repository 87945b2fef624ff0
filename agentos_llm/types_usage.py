"""Token usage and cost, with one inclusive convention for every vendor."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    model_validator,
)

__all__ = [
    "CostSource",
    "Usage",
]

CostSource = Literal["provider", "definition", "genai-prices", "listing", "catalog", "config", "none", "mixed"]
"""Where a cost came from (see `agentos_llm.pricing`); "definition" is a `define_model` price; "mixed" is a sum of
usages priced from different sources."""


class Usage(BaseModel):
    """Token usage with one inclusive convention for every vendor.

    `input_tokens` counts cached reads and cache writes; `output_tokens` counts reasoning tokens.
    """

    model_config = ConfigDict(extra="forbid")
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    cost_source: CostSource | None = None
    """Where `cost_usd` came from: "provider", "genai-prices", "listing", "catalog", "config" or "none"
    (unknown); None until the usage is priced (by the provider class, after each call)."""

    @model_validator(mode="after")
    def _total(self) -> Usage:
        if not self.total_tokens:
            self.total_tokens = self.input_tokens + self.output_tokens
        return self

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None and other.cost_usd is None else (
            (self.cost_usd or 0.0) + (other.cost_usd or 0.0))
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_input_tokens=self.cache_write_input_tokens + other.cache_write_input_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=cost,
            cost_source=_sum_source(self.cost_source, other.cost_source),
        )


def _sum_source(a: CostSource | None, b: CostSource | None) -> CostSource | None:
    """The source of a sum: the common one; an unpriced side (None) takes the other's; "mixed" otherwise."""
    if a is None or a == b:
        return b
    return a if b is None else "mixed"
