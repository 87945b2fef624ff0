"""The static model catalog shipped in `data/models.json`, and what it prices."""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from .types import ModelInfo, Usage

__all__ = ["catalog_entry", "catalog_models", "cost_usd"]

# Dated or numbered snapshots ("gpt-4o-2024-08-06", "claude-3-haiku-20240307", "gemini-2.0-flash-001")
# are priced like their family.
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{3,4}|latest)$")


@cache
def _load() -> dict[str, dict[str, dict[str, Any]]]:
    raw = json.loads(resources.files("agentos_llm").joinpath("data/models.json").read_text(encoding="utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def _info(provider: str, model: str, row: dict[str, Any]) -> ModelInfo:
    return ModelInfo(id=model, provider=provider, capabilities=frozenset(row.get("capabilities", ())),
                     **{k: v for k, v in row.items() if k != "capabilities"})


@lru_cache(maxsize=2048)
def catalog_entry(provider: str, model: str) -> ModelInfo | None:
    """The catalog's entry for a model, matching dated snapshots to their family."""
    rows = _load().get(provider)
    if not rows:
        return None
    name = model
    while True:
        row = rows.get(name)
        if row is not None:
            return _info(provider, model, row)
        shorter = _SNAPSHOT.sub("", name)
        if shorter == name:
            return None
        name = shorter


def catalog_models(provider: str) -> list[ModelInfo]:
    """Every catalog entry of a provider."""
    return [_info(provider, m, row) for m, row in _load().get(provider, {}).items()]


def cost_usd(info: ModelInfo | None, usage: Usage) -> float | None:
    """The price of a call from the catalog, or None when the model has no price."""
    if info is None or info.input_price is None:
        return None
    cached = usage.cached_input_tokens
    written = usage.cache_write_input_tokens
    fresh = max(0, usage.input_tokens - cached - written)
    cost = fresh * info.input_price
    cost += cached * (info.cached_input_price if info.cached_input_price is not None else info.input_price)
    cost += written * (info.cache_write_price if info.cache_write_price is not None else info.input_price)
    cost += usage.output_tokens * (info.output_price or 0.0)
    return cost / 1_000_000
