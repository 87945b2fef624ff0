"""What a call cost, and where the price came from.

`price_usage` fills `usage.cost_usd` and `usage.cost_source` from the first source that knows:

1. ``"provider"``: a cost the provider reported (OpenRouter's `usage.cost`; LiteLLM's
   `x-litellm-response-cost` header, read by `cost_from_headers`);
2. ``"definition"``: the prices of a `define_model` definition of that model on that provider (or, with
   `prices="listing"`, its credential's live listing's): stated for exactly this model on this host, they
   come before any general price data (see `agentos_llm.model_definitions`);
3. ``"genai-prices"``: pydantic's maintained price data (the `genai-prices` package: historic, tiered,
   time-of-day and cache read/write prices), for the host's genai-prices provider (`HOST_PROVIDERS`) or,
   for a host without a row there, the provider whose API URL matches the base URL;
4. ``"listing"``: prices from this credential's cached live model listing (OpenRouter and gateways list them);
5. ``"catalog"``: the static catalog (`agentos_llm/data/models.json`);
6. ``"config"``: prices set per model in the config file (`[providers.<id>.prices."<model>"]`) or in
   `define_provider(..., prices=...)`;
7. ``"none"``: nobody knows (`cost_usd` stays None).

The price data loads on the first cost computed (`import agentos_llm` does not import genai-prices). What
a model costs under genai-prices is resolved once per (host, model) and compiled into a few float
multiplications, so pricing a call costs microseconds; see `benchmarks/bench_cost.py`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import catalog_entry, cost_usd
from .errors import ConfigurationError
from .types import CostSource, ModelInfo, Usage

if TYPE_CHECKING:
    from .provider import IProvider

__all__ = [
    "HOST_PROVIDERS",
    "MODEL_REWRITES",
    "CostSource",
    "cost_from_headers",
    "genai_prices_cost",
    "parse_prices",
    "price_usage",
    "register_model_prices",
    "register_prices",
]

log = logging.getLogger("agentos_llm")

HOST_PROVIDERS: Mapping[str, str | None] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "openrouter": "openrouter",
    "groq": "groq",
    "together": "together",
    "mistral": "mistral",
    "xai": "x-ai",
    "deepseek": "deepseek",
    "fireworks": "fireworks",
    "cerebras": "cerebras",
    "cohere": "cohere",
    "voyage": "voyageai",
    "bedrock": "aws",
    # genai-prices reads LiteLLM's `vendor/model` names itself (and guesses the vendor from a bare name).
    "litellm": "litellm",
    # Self-hosted servers: whatever they serve costs nothing per token.
    "ollama": None,
    "vllm": None,
    "sglang": None,
    "lmstudio": None,
    "llamacpp": None,
}
"""Our host id -> its genai-prices provider id (None: never priced by genai-prices). A host not listed here
(`openai-compatible`, hosts made with `define_provider`) is matched by its base URL against genai-prices'
API URL patterns."""

MODEL_REWRITES: Mapping[str, tuple[tuple[str, str], ...]] = {
    # Gemini names models "models/gemini-2.5-flash" in some answers.
    "gemini": ((r"^models/", ""),),
    # An inference-profile ARN names the profile after its last "/"; genai-prices knows the geo prefixes
    # (us., eu., global. ...: regional profiles cost ~10% more) but not every region's, nor every version suffix.
    "bedrock": ((r"^arn:aws[^/]*/", ""), (r"^(us|eu|apac|au|ca|jp|us-gov|global)\.(?=[a-z0-9-]+\.)", ""),
                (r"-v\d+(:\d+)?$", ""), (r":\d+$", "")),
    "openrouter": ((r"^openrouter/", ""),),
}
"""Model-id rewrites tried one after another (each on the previous result) when genai-prices does not know
the model by the name the host gave."""

_REWRITES = {host: tuple((re.compile(p), r) for p, r in rules) for host, rules in MODEL_REWRITES.items()}

LITELLM_COST_HEADER = "x-litellm-response-cost"


def cost_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """The cost a gateway reported in the response headers (LiteLLM's `x-litellm-response-cost`), or None."""
    if not headers:
        return None
    raw = headers.get(LITELLM_COST_HEADER)
    if raw is None:
        raw = next((v for k, v in headers.items() if k.lower() == LITELLM_COST_HEADER), None)
    try:
        value = float(raw) if raw is not None else math.nan
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


# ---------------------------------------------------------------------- prices set by the user


_PRICE_KEYS = {"input": "input_price", "output": "output_price", "cached": "cached_input_price",
               "cache_write": "cache_write_price"}


def _price_entry(model: str, raw: Any, where: str) -> ModelInfo:
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where}: the prices of {model!r} must be a table of USD per 1M tokens")
    bad = set(raw) - set(_PRICE_KEYS)
    if bad:
        raise ConfigurationError(f"{where}: unknown price key(s) for {model!r}: {', '.join(sorted(map(str, bad)))}; "
                                 f"known: {', '.join(_PRICE_KEYS)}")
    values: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigurationError(f"{where}: {model!r} {key} must be a non-negative number, not {value!r}")
        values[_PRICE_KEYS[key]] = float(value)
    if "input_price" not in values:
        raise ConfigurationError(f"{where}: the prices of {model!r} need at least `input`")
    return ModelInfo(id=model, provider="", **values)  # type: ignore[arg-type]


def parse_prices(prices: Mapping[str, Any], where: str = "prices") -> dict[str, ModelInfo]:
    """Validated prices per model: `{model: {input, output, cached, cache_write}}` in USD per 1M tokens.

    `input` is required; `output` defaults to 0; `cached` and `cache_write` default to `input`.
    """
    if not isinstance(prices, Mapping):
        raise ConfigurationError(f"{where}: expected a table of models, not {type(prices).__name__}")
    return {str(model): _price_entry(str(model), raw, where) for model, raw in prices.items()}


_REGISTERED: dict[str, dict[str, ModelInfo]] = {}


def register_prices(provider_id: str, prices: Mapping[str, Any] | None) -> None:
    """Sets (or with None, forgets) the per-model prices of a provider id (`define_provider(prices=...)`)."""
    if prices:
        _REGISTERED[provider_id] = parse_prices(prices, f"prices of provider {provider_id!r}")
    else:
        _REGISTERED.pop(provider_id, None)


_DEFINED_MODELS: dict[tuple[str, str], ModelInfo | str] = {}


def register_model_prices(table: Mapping[tuple[str, str], ModelInfo | str]) -> None:
    """Replaces the prices of `define_model` definitions: (host id, model) -> prices, or "listing"."""
    global _DEFINED_MODELS
    _DEFINED_MODELS = dict(table)


def _defined(provider: IProvider, model: str) -> ModelInfo | None:
    """The prices a `define_model` definition gives `model` on `provider`'s host (a dated snapshot of it too)."""
    table = _DEFINED_MODELS
    if not table:
        return None
    from .catalog import _SNAPSHOT

    for name in dict.fromkeys((model, _SNAPSHOT.sub("", model))):
        for host in dict.fromkeys((provider.catalog_key, provider.provider_id)):
            found = table.get((host, name))
            if found == "listing":
                listed = provider.models_cache.find(provider._listing_key(), name)
                return listed if listed is not None and listed.input_price is not None else None
            if isinstance(found, ModelInfo):
                return found
    return None


_warned: set[tuple[str, str]] = set()


@lru_cache(maxsize=32)
def _config_file(explicit: str | None, xdg: str | None, home: str | None) -> Path:
    # `home` only keys the cache: `config_path` reads it itself (through `Path.home()`).
    from .credentials import CONFIG_ENV_VAR, config_path

    env = {k: v for k, v in ((CONFIG_ENV_VAR, explicit), ("XDG_CONFIG_HOME", xdg)) if v is not None}
    return config_path(env)


def _configured(provider: IProvider, model: str) -> ModelInfo | None:
    """Prices from the config file (`[providers.<id>.prices."<model>"]`), then from `define_provider`."""
    from .credentials import CONFIG_ENV_VAR, provider_config

    env = os.environ if provider._env is None else provider._env
    # `config_path` builds paths from scratch (~50 us); local servers ask on every call, so keep it per env.
    path = _config_file(env.get(CONFIG_ENV_VAR), env.get("XDG_CONFIG_HOME"), os.environ.get("HOME"))
    for section in dict.fromkeys((provider.provider_id, provider.catalog_key)):
        try:
            table = provider_config(section, path).get("prices")
        except ConfigurationError:
            table = None  # an unreadable file fails where credentials are read, not after a paid call
        if isinstance(table, Mapping) and model in table:
            try:
                return _price_entry(model, table[model], f"{path} [providers.{section}.prices]")
            except ConfigurationError as exc:
                # A typo must not fail a call that was already paid for: say it once, and leave the cost unknown.
                if (section, model) not in _warned:
                    _warned.add((section, model))
                    log.warning("ignoring configured prices: %s", exc)
    return _REGISTERED.get(provider.provider_id, {}).get(model)


# ---------------------------------------------------------------------- genai-prices


@dataclass(frozen=True)
class _Unit:
    usage_key: str
    per: int
    dims: frozenset[tuple[str, str]]


class _GenaiPrices:
    """genai-prices, loaded on first use; the units of its price keys, read from its data."""

    def __init__(self) -> None:
        from genai_prices import data_snapshot
        from genai_prices.types import TieredPrices

        self.snapshot = data_snapshot.get_snapshot
        self.tiered = TieredPrices
        try:
            from genai_prices.data_units import unit_data
        except ImportError:  # pragma: no cover - an older or newer layout: the slow exact path only
            unit_data = {}
        self.units: dict[str, _Unit] = {
            raw.get("price_key", key): _Unit(key, int(raw["per"]), frozenset(raw.get("dimensions", {}).items()))
            for key, raw in unit_data.items()
        }


_lib: _GenaiPrices | None = None
_lib_failed = False
_lib_lock = threading.Lock()


def _genai() -> _GenaiPrices | None:
    if _lib is not None or _lib_failed:
        return _lib
    with _lib_lock:
        return _genai_locked()


def _genai_locked(warm: bool = False) -> _GenaiPrices | None:
    """The library, loaded under `_lib_lock`; `warm`: its price snapshot loaded too before it is published."""
    global _lib, _lib_failed
    if _lib is None and not _lib_failed:
        try:
            lib = _GenaiPrices()
            if warm:
                lib.snapshot()
            _lib = lib
        except Exception as exc:  # not installed (Python 3.10), or a layout we do not know
            _lib_failed = True
            log.info("genai-prices is unavailable (%s: %s): costs come from listings and the catalog",
                     type(exc).__name__, exc)
    return _lib


_prefetching = False


def prefetch() -> None:
    """Starts loading genai-prices (and its price snapshot) in a background thread, once per process, so the
    first response's price does not wait for it: called as the first request goes out, the load (about 0.1 s)
    runs while that request waits on the network. Pricing that comes first takes the same lock and waits."""
    global _prefetching
    if _lib is not None or _lib_failed or _prefetching:
        return
    _prefetching = True
    threading.Thread(target=_load_quietly, name="agentos-llm-prices", daemon=True).start()


def _load_quietly() -> None:
    with _lib_lock:  # a price asked meanwhile waits for the library and its snapshot
        _genai_locked(warm=True)


_REPORTED = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "output_reasoning_tokens")
"""The genai-prices usage keys our `Usage` fills, in the order of `_reported`."""


def _reported(usage: Usage) -> tuple[int, int, int, int, int]:
    # Both conventions count cached reads and cache writes inside the input tokens and reasoning inside the
    # output tokens, so the numbers map one to one.
    return (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens, usage.cache_write_input_tokens,
            usage.reasoning_tokens)


def _usage_values(usage: Usage) -> dict[str, int]:
    """Our usage as genai-prices usage keys."""
    return dict(zip(_REPORTED, _reported(usage), strict=True))


_Price = float | tuple[float, tuple[tuple[int, float], ...]]
_Plan = tuple[tuple[int, int, _Price, tuple[int, ...]], ...]
"""Per priced unit: its slot in `_reported` (-1: per request), per how many, the price, the units nested in it."""


def _compile(price: Any, lib: _GenaiPrices) -> _Plan | None:
    """genai-prices' pricing of one `ModelPrice`, as floats: each priced unit with the units nested in it.

    genai-prices prices the *leaf* count of each priced unit: its usage minus what more specific priced units
    (cache reads inside input tokens, ...) already priced. Units our usage never fills (audio, searches, ...)
    count zero and take nothing from the others, so the plan leaves them out. None when a price is of a kind
    the plan does not know (genai-prices' own, slower calculation answers then).
    """
    if not lib.units:
        return None
    entries: list[tuple[_Unit, _Price]] = []
    for key, value in vars(price).items():
        if key.startswith("_") or value is None:
            continue
        unit = lib.units.get(key)
        if unit is None or (unit.usage_key not in _REPORTED and unit.usage_key != "requests"):
            continue  # an unknown price key is ignored by genai-prices too (with a warning)
        if isinstance(value, lib.tiered):
            tiers = sorted(((int(t.start), float(t.price)) for t in value.tiers), reverse=True)
            entries.append((unit, (float(value.base), tuple(tiers))))
        elif isinstance(value, Decimal):
            entries.append((unit, float(value)))
        else:
            return None
    # The most specific units first, so a unit's nested units are priced before it.
    entries.sort(key=lambda e: (-len(e[0].dims), e[0].usage_key))
    return tuple(
        (_REPORTED.index(unit.usage_key) if unit.usage_key in _REPORTED else -1, unit.per, value,
         tuple(j for j, (other, _) in enumerate(entries) if j != i and unit.dims < other.dims))
        for i, (unit, value) in enumerate(entries)
    )


def _run(plan: _Plan, usage: Usage) -> float:
    values = _reported(usage)
    leaves: list[int] = []
    total = 0.0
    for slot, per, price, nested in plan:
        if slot < 0:
            count = 1  # a price per request (Perplexity)
        else:
            count = values[slot]
            for j in nested:
                count -= leaves[j]
            count = max(count, 0)
        leaves.append(count)
        if isinstance(price, tuple):
            # Cliff tiers on the input tokens of the request, as genai-prices applies them (highest first).
            rate = price[0]
            for start, tier_price in price[1]:
                if values[0] > start:
                    rate = tier_price
                    break
        else:
            rate = price
        total += rate * count / per
    return total


_plans: dict[int, tuple[Any, _Plan | None]] = {}


def _plan_for(price: Any, lib: _GenaiPrices) -> _Plan | None:
    found = _plans.get(id(price))
    if found is not None and found[0] is price:
        return found[1]
    plan = _compile(price, lib)
    if len(_plans) > 8192:
        _plans.clear()
    _plans[id(price)] = (price, plan)  # the price object is kept, so its id is not reused
    return plan


def _candidates(host: str, model: str) -> list[str]:
    names = [model]
    for pattern, replacement in _REWRITES.get(host, ()):
        rewritten = pattern.sub(replacement, names[-1])
        if rewritten != names[-1]:
            names.append(rewritten)
    return names


@lru_cache(maxsize=4096)
def _find(snapshot_id: int, gp_provider: str | None, api_url: str | None, host: str, model: str) -> Any:
    """genai-prices' (provider, model) for one of our models, or None; once per (host, model)."""
    lib = _genai()
    if lib is None or (gp_provider is None and not api_url):
        return None
    snapshot = lib.snapshot()
    for name in _candidates(host, model):
        try:
            return snapshot.find_provider_model(name, None, gp_provider, None if gp_provider else api_url)
        except (LookupError, ValueError):
            continue
    return None


def now() -> datetime:
    """The time prices are looked up for (a module attribute, so tests can fix it)."""
    return datetime.now(timezone.utc)


_system_now = now


_CURRENT_PLAN_SECONDS = 60.0
_current_plans: dict[tuple[int, str, str, str | None], tuple[float, _Plan]] = {}


def genai_prices_cost(host: str, model: str, usage: Usage, *, base_url: str | None = None,
                      when: datetime | None = None) -> float | None:
    """The cost of `usage` under genai-prices for one of our hosts and a model name, or None when it does
    not know the model (or is not installed)."""
    lib = _genai()
    if lib is None:
        return None
    # The current price of a model is looked up once a minute (a price period starts at a date, so a minute
    # late at most once), not on every call: the lookup is most of pricing's cost. A given `when`, or a `now`
    # a test fixed, is looked up every time.
    current = when is None and now is _system_now
    if current:
        key = (id(lib.snapshot()), host, model, base_url)
        found = _current_plans.get(key)
        if found is not None and found[0] > time.monotonic():
            return _run(found[1], usage)
    gp_provider = HOST_PROVIDERS.get(host)
    if gp_provider is None and host in HOST_PROVIDERS:
        return None
    found = _find(id(lib.snapshot()), gp_provider, None if gp_provider else base_url, host, model)
    if found is None:
        return None
    gp_host, gp_model = found
    when = when or now()
    try:
        price = gp_model.get_prices(when)
        plan = _plan_for(price, lib)
        if plan is not None:
            if current:
                if len(_current_plans) > 4096:
                    _current_plans.clear()
                _current_plans[key] = (time.monotonic() + _CURRENT_PLAN_SECONDS, plan)
            return _run(plan, usage)
        from genai_prices import Usage as GenaiUsage

        exact = gp_model.calc_price(GenaiUsage(**_usage_values(usage)), gp_host, genai_request_timestamp=when)
        return float(exact.total_price)
    except Exception as exc:  # a price must never fail a call: the next source answers
        log.debug("genai-prices could not price %s/%s: %s: %s", host, model, type(exc).__name__, exc)
        return None


# ---------------------------------------------------------------------- the order


def _same_prices(a: ModelInfo, b: ModelInfo) -> bool:
    return (a.input_price, a.output_price, a.cached_input_price, a.cache_write_price) == (
        b.input_price, b.output_price, b.cached_input_price, b.cache_write_price)


def _listed(provider: IProvider, model: str) -> ModelInfo | None:
    """This credential's cached listing entry for `model` when the listing itself priced it."""
    cache = provider.models_cache
    if not len(cache):
        return None
    info = cache.find(provider._listing_key(), model)
    if info is None or info.input_price is None:
        return None
    known = catalog_entry(provider.catalog_key, model)
    # A listing without prices of its own carries the catalog's (merged in): those count as the catalog's.
    return None if known is not None and _same_prices(info, known) else info


_Source = Callable[["IProvider", str], "ModelInfo | None"]
_FALLBACKS: tuple[tuple[CostSource, _Source], ...] = (
    ("listing", _listed),
    ("catalog", lambda p, m: catalog_entry(p.catalog_key, m)),
    ("config", _configured),
)


_COST_FIELDS = ("cost_usd", "cost_source")


def _priced(usage: Usage, cost: float | None, source: CostSource) -> None:
    """`usage.cost_usd, usage.cost_source = cost, source`, as pydantic assigns them (a plain `Usage` validates no
    assignment), without its `__setattr__` machinery: this runs on every call."""
    if type(usage) is Usage:
        d = usage.__dict__
        d["cost_usd"] = cost
        d["cost_source"] = source
        usage.__pydantic_fields_set__.update(_COST_FIELDS)
    else:
        usage.cost_usd, usage.cost_source = cost, source


def price_usage(provider: IProvider, usage: Usage, model: str) -> None:
    """Fills `usage.cost_usd` and `usage.cost_source` for a call `provider` made to `model` (in place).

    A cost already on the usage without a source of ours is one the provider reported, and is kept.
    Never raises.
    """
    if usage.cost_usd is not None and usage.cost_source in (None, "provider"):
        _priced(usage, usage.cost_usd, "provider")
        return
    if _DEFINED_MODELS:
        cost = cost_usd(_defined(provider, model), usage)
        if cost is not None:
            _priced(usage, cost, "definition")
            return
    cost = genai_prices_cost(provider.catalog_key, model, usage, base_url=provider.base_url)
    if cost is not None:
        _priced(usage, cost, "genai-prices")
        return
    for source, lookup in _FALLBACKS:
        try:
            info = lookup(provider, model)
        except Exception as exc:  # pragma: no cover - defensive: pricing never fails a call
            log.debug("pricing from the %s failed: %s: %s", source, type(exc).__name__, exc)
            continue
        cost = cost_usd(info, usage)
        if cost is not None:
            _priced(usage, cost, source)
            return
    _priced(usage, None, "none")
