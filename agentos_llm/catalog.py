"""The static model catalog shipped in `data/models.json`, what it prices, and the cache of live listings.

The catalog knows the default and common models of every provider row (limits, capabilities, USD
prices per 1M tokens). Live listings are merged over it per credential and kept in a
`ModelListCache` for a while; when a live listing fails, the catalog answers alone.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from .model_traits import ModelTraits, traits_for
from .types import ModelInfo, Usage

__all__ = [
    "CAPABILITY_NAMES",
    "DEFAULT_MODELS_TTL",
    "MODEL_LISTS",
    "ModelListCache",
    "catalog_entry",
    "catalog_models",
    "cost_usd",
    "listing_key",
    "model_traits",
    "validate_catalog",
]

# Dated or numbered snapshots ("gpt-4o-2024-08-06", "claude-3-haiku-20240307", "gemini-2.0-flash-001")
# are priced like their family, and so is Ollama's default tag ("llama3.2:latest").
_SNAPSHOT = re.compile(r"(-(\d{4}-\d{2}-\d{2}|\d{8}|\d{3,4}|latest)|:latest)$")
# Bedrock's cross-region inference profiles ("us.", "eu.", "global." ...) serve the model of the same id without
# the prefix; the catalog prices them alike (regional profiles of some newer models cost ~10% more: see docs).
_GEO_PROFILE = re.compile(r"^(us|eu|apac|au|ca|jp|us-gov|global)\.(?=[a-z0-9-]+\.)")


CAPABILITY_NAMES = frozenset({"tools", "vision", "json_schema", "reasoning", "embeddings", "rerank", "documents",
                              "audio"})
"""The capability names the catalog (and `ModelInfo.capabilities`) use."""
_ROW_KEYS = frozenset({"context_window", "max_output_tokens", "capabilities", "input_price", "output_price",
                       "cached_input_price", "cache_write_price", "display_name"})


def validate_catalog(raw: Mapping[str, Any]) -> None:
    """Rejects a catalog with an unknown field or capability name (a typo must fail, not pass silently)."""
    for provider, rows in raw.items():
        if provider.startswith("_"):
            continue
        for model, row in rows.items():
            bad = set(row) - _ROW_KEYS
            if bad:
                raise ValueError(f"models.json {provider}/{model}: unknown field(s) {sorted(bad)}")
            caps = set(row.get("capabilities", ())) - CAPABILITY_NAMES
            if caps:
                raise ValueError(f"models.json {provider}/{model}: unknown capabilities {sorted(caps)}")


@cache
def _load() -> dict[str, dict[str, dict[str, Any]]]:
    raw = json.loads(resources.files("agentos_llm").joinpath("data/models.json").read_text(encoding="utf-8"))
    validate_catalog(raw)
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def _info(provider: str, model: str, row: dict[str, Any]) -> ModelInfo:
    return ModelInfo(id=model, provider=provider, capabilities=frozenset(row.get("capabilities", ())),
                     source="catalog", **{k: v for k, v in row.items() if k != "capabilities"})


@lru_cache(maxsize=2048)
def catalog_entry(provider: str, model: str) -> ModelInfo | None:
    """The catalog's entry for a model, matching dated snapshots to their family.

    The result is shared (cached): copy it before changing it.
    """
    rows = _load().get(provider)
    if not rows:
        return None
    name = model if model in rows else _GEO_PROFILE.sub("", model)
    while True:
        row = rows.get(name)
        if row is not None:
            return _info(provider, model, row)
        shorter = _SNAPSHOT.sub("", name)
        if shorter == name:
            return None
        name = shorter


def catalog_models(provider: str) -> list[ModelInfo]:
    """Every catalog entry of a provider (fresh objects)."""
    return [_info(provider, m, row) for m, row in _load().get(provider, {}).items()]


@lru_cache(maxsize=2048)
def model_traits(provider: str, family: str, model: str) -> ModelTraits:
    """What a model accepts: `traits_for` (request shaping), with tools, images and JSON-schema output
    taken from the catalog when the catalog lists the model's capabilities.

    Runs on every call, hence cached: one dict lookup once warm.
    """
    traits = traits_for(family, model)
    known = catalog_entry(provider, model)
    if known is None or not known.capabilities:
        return traits
    caps = known.capabilities
    return replace(traits, tools="tools" in caps, vision="vision" in caps, json_schema="json_schema" in caps)


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


# ---------------------------------------------------------------------- live listings, per credential

DEFAULT_MODELS_TTL = 3600.0
"""Seconds a live model listing is reused (`MODEL_LISTS.ttl` changes it for the process)."""

ListingKey = tuple[str, str, str]


def listing_key(provider: str, base_url: str | None, secret: str | None,
                scope: Mapping[str, Any] | None = None) -> ListingKey:
    """The cache key of one credential's listing: provider id, base URL and a hash of the key.

    `scope` (headers, organization/project, ...) can change what a key sees, so it joins the hash.
    The key itself is never stored.
    """
    import hashlib  # here, not at import: only listings need it

    material = json.dumps([secret or "", dict(scope or {})], sort_keys=True, default=str)
    return provider, base_url or "", hashlib.sha256(material.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Listing:
    stored_at: float
    models: tuple[ModelInfo, ...]
    ids: frozenset[str]


class ModelListCache:
    """Live model listings by credential, each reused for `ttl` seconds.

    `clock` (monotonic seconds) is injectable so tests can expire entries without sleeping.
    """

    def __init__(self, ttl: float = DEFAULT_MODELS_TTL, *, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 256) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[ListingKey, _Listing] = OrderedDict()
        self._lock = threading.Lock()

    def _fresh(self, key: ListingKey) -> _Listing | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry.stored_at >= self.ttl:
            del self._entries[key]
            return None
        return entry

    def get(self, key: ListingKey) -> list[ModelInfo] | None:
        """A fresh copy of the listing, or None when absent or expired."""
        with self._lock:
            entry = self._fresh(key)
        return None if entry is None else [m.model_copy() for m in entry.models]

    def lists(self, key: ListingKey, model: str) -> bool:
        """Whether a fresh listing holds `model` (no copying: routing asks this on every call)."""
        with self._lock:
            entry = self._fresh(key)
        return entry is not None and model in entry.ids

    def find(self, key: ListingKey, model: str) -> ModelInfo | None:
        """A fresh listing's entry for `model`, shared and not copied (pricing asks this): do not change it."""
        with self._lock:
            entry = self._fresh(key)
        if entry is None or model not in entry.ids:
            return None
        return next((m for m in entry.models if m.id == model), None)

    def put(self, key: ListingKey, models: Iterable[ModelInfo]) -> None:
        """Stores a listing (copies of the models: callers may change theirs)."""
        stored = tuple(m.model_copy() for m in models)
        with self._lock:
            self._entries[key] = _Listing(self.clock(), stored, frozenset(m.id for m in stored))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forgets every listing."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


MODEL_LISTS = ModelListCache()
"""The process-wide cache every provider uses unless given its own (`provider.models_cache = ...`)."""
