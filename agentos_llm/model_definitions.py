"""Named model definitions: `define_model("darkbloom_chat", "openrouter", "darkbloom/darkbloom-7b", ...)`.

A definition gives a model of a provider a name of its own, usable wherever the manager takes a model id
(`manager.generate("darkbloom_chat", ...)`, routes, fallbacks, `inspect_request`, `get_model_info`), with
the request options every call of it carries (`provider_options`, under the call's own) and its prices
(USD per 1M tokens: input, output, cached, cache_write). The manager lists definitions beside the providers'
models (`source="definition"`). A definition's prices price every call of that model on that provider when
the upstream reports no cost (`agentos_llm.pricing`, the "definition" source, right after the upstream's own);
`prices="listing"` takes them from the provider's live listing instead, and `copy_listing_prices` copies a
listing's prices into the definition.

`provider/cheap`, `provider/embedding` and `provider/rerank` name a provider's cheap, embedding and rerank
models (its row's `cheap_model`, ...), resolved here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .defaults import PROVIDERS
from .errors import ConfigurationError, InvalidRequestError
from .options import parse_options
from .pricing import parse_prices, register_model_prices
from .types import ModelInfo

if TYPE_CHECKING:
    from .provider import IProvider
    from .routing import Route

__all__ = ["ModelDefinition", "copy_listing_prices", "copy_listing_prices_sync", "define_model", "defined_models",
           "undefine_model"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_ALIASES = ("cheap", "embedding", "rerank")


@dataclass(frozen=True)
class ModelDefinition:
    """A named model: which provider and model serve it, its request options and its prices."""

    name: str
    provider: str
    model: str
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    prices: ModelInfo | Literal["listing"] | None = None
    """USD per 1M tokens (`input_price`, `output_price`, `cached_input_price`, `cache_write_price`), "listing"
    (the provider's live listing's), or None."""
    display_name: str | None = None

    @property
    def target(self) -> str:
        """The model id it stands for: `provider/model`."""
        return f"{self.provider}/{self.model}"

    def info(self, base: ModelInfo | None = None) -> ModelInfo:
        """The definition as a `ModelInfo` (its name as the id), completed from what is known of its model."""
        update: dict[str, Any] = {"id": self.name, "provider": self.provider, "source": "definition", "known": True,
                                  "display_name": self.display_name or (base.display_name if base else None)}
        if isinstance(self.prices, ModelInfo):
            update.update(input_price=self.prices.input_price, output_price=self.prices.output_price,
                          cached_input_price=self.prices.cached_input_price,
                          cache_write_price=self.prices.cache_write_price)
        return (base or ModelInfo(id=self.name, provider=self.provider)).model_copy(update=update)


_MODELS: dict[str, ModelDefinition] = {}


def _check(name: str, provider: str, model: str) -> None:
    from .registry import defined_providers

    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(f"a model name is letters, digits, _ . - (no / or :), up to 64: not {name!r}")
    if name in PROVIDERS or name in defined_providers():
        raise ConfigurationError(f"model name {name!r} is a provider id: pick another name")
    if not isinstance(provider, str) or (provider not in PROVIDERS and provider not in defined_providers()):
        raise ConfigurationError(f"define_model({name!r}): unknown provider {provider!r} (define it first with "
                                 "define_provider, or use a built-in id)")
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(f"define_model({name!r}): model must be the provider's model id")


def _host(provider: str) -> str:
    from .registry import defined_providers

    spec = PROVIDERS.get(provider) or defined_providers().get(provider)
    return spec.host_id if spec is not None else provider


def _register_prices() -> None:
    """Hands every definition's prices to the pricing order, by (host, model); conflicting prices fail."""
    table: dict[tuple[str, str], tuple[str, ModelInfo | Literal["listing"]]] = {}
    for d in _MODELS.values():
        if d.prices is None:
            continue
        key = (_host(d.provider), d.model)
        other = table.get(key)
        if other is not None and other[1] != d.prices:
            raise ConfigurationError(
                f"define_model({d.name!r}): {d.target} already has other prices, from {other[0]!r}; prices belong "
                "to the upstream model, so its definitions must agree")
        table[key] = (d.name, d.prices)
    register_model_prices({k: v for k, (_, v) in table.items()})


def define_model(name: str, provider: str, model: str, *, provider_options: Mapping[str, Any] | None = None,
                 prices: Mapping[str, float] | Literal["listing"] | None = None,
                 display_name: str | None = None) -> ModelDefinition:
    """Defines (or redefines) a named model: `provider`'s `model`, with `provider_options` (any call option:
    temperature, reasoning_effort, extra, extra_headers ...) sent with every call of it (a call's own options
    win), and `prices` in USD per 1M tokens (`{"input": 0.2, "output": 0.8, "cached": 0.05}`) or "listing"."""
    _check(name, provider, model)
    options = dict(provider_options or {})
    if "api_key" in options:
        raise ConfigurationError(f"define_model({name!r}): a key is not a model option; pass api_key per call, "
                                 "or give the provider its key")
    try:
        parse_options(options)
    except InvalidRequestError as exc:
        raise ConfigurationError(f"define_model({name!r}): {exc}") from None
    parsed: ModelInfo | Literal["listing"] | None
    if prices is None or prices == "listing":
        parsed = prices
    elif isinstance(prices, Mapping):
        parsed = parse_prices({model: prices}, f"prices of model {name!r}")[model]
    else:
        raise ConfigurationError(f"define_model({name!r}): prices are a table of USD per 1M tokens or \"listing\"")
    definition = ModelDefinition(name, provider, model.strip(), options, parsed, display_name)
    before = _MODELS.get(name)
    _MODELS[name] = definition
    try:
        _register_prices()
    except ConfigurationError:
        if before is None:
            del _MODELS[name]
        else:
            _MODELS[name] = before
        raise
    return definition


def undefine_model(name: str) -> ModelDefinition | None:
    """Forgets a definition (returns it, or None when there was none)."""
    found = _MODELS.pop(name, None)
    _register_prices()
    return found


def defined_models() -> dict[str, ModelDefinition]:
    """The models made with `define_model`, by name."""
    return dict(_MODELS)


def merge_options(defined: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """A definition's request options under a call's: the call's win; `extra` and `extra_headers` merge by key."""
    merged = {**defined, **options}
    for key in ("extra", "extra_headers"):
        if isinstance(defined.get(key), Mapping) and isinstance(options.get(key), Mapping):
            merged[key] = {**defined[key], **options[key]}
    return merged


def _with_options(route: Route, options: Mapping[str, Any], reason: str) -> Route:
    return replace(route, reason=reason, options=dict(options)) if options else replace(route, reason=reason)


def route_named(manager: Any, model: str) -> Route | None:
    """The route of a definition's name, or of `provider/cheap` (`/embedding`, `/rerank`); None otherwise."""
    from .routing import Route

    definition = _MODELS.get(model)
    if definition is not None:
        inner = manager._resolve_id(definition.target)
        return _with_options(inner, definition.provider_options,
                             f"{model!r} is a defined model: {definition.target} ({inner.reason})")
    for sep in ("/", ":"):
        prefix, found, rest = model.partition(sep)
        if found and rest in _ALIASES and (prefix in manager.providers or prefix in PROVIDERS):
            p: IProvider = manager.get(prefix)
            target = {"cheap": p.spec.cheap_model, "embedding": p.spec.embedding_model,
                      "rerank": p.spec.rerank_model}[rest]
            if not target:
                raise ConfigurationError(f"{p.label} ({prefix}) has no {rest} model; name one: {prefix}/<model>")
            return Route(p, target, f"{model!r}: the {rest} model of {prefix!r}")
    return None


def defined_infos(listed: list[ModelInfo], capability: str | None = None,
                  provider_id: str | None = None) -> list[ModelInfo]:
    """The definitions as `ModelInfo`s, each completed from its model's entry in `listed` (with a
    `capability`, `listed` holds only the models that have it, and a definition is kept when its model is there)."""
    by_key = {(m.provider, m.id): m for m in listed}
    out = []
    for d in _MODELS.values():
        if provider_id and d.provider != provider_id:
            continue
        base = by_key.get((d.provider, d.model))
        if capability is not None and base is None:  # `listed` holds the models that have it
            continue
        out.append(d.info(base))
    return out


def defined_info(name: str | None, info: ModelInfo) -> ModelInfo:
    """`info` of a model asked for by a definition's name, as the definition describes it."""
    definition = _MODELS.get(name) if name else None
    return definition.info(info) if definition is not None else info


def _listed_prices(name: str, listed: list[ModelInfo]) -> ModelDefinition:
    definition = _MODELS.get(name)
    if definition is None:
        raise ConfigurationError(f"no model is defined as {name!r}")
    entry = next((m for m in listed if m.id == definition.model and m.input_price is not None), None)
    if entry is None:
        raise ConfigurationError(f"the listing of {definition.provider} gives no prices for {definition.model!r}")
    prices = ModelInfo(id=definition.model, provider="", input_price=entry.input_price,
                       output_price=entry.output_price, cached_input_price=entry.cached_input_price,
                       cache_write_price=entry.cache_write_price)
    updated = replace(definition, prices=prices)
    _MODELS[name] = updated
    try:
        _register_prices()
    except ConfigurationError:
        _MODELS[name] = definition
        raise
    return updated


async def copy_listing_prices(name: str, provider: IProvider) -> ModelDefinition:
    """Copies the prices `provider`'s live listing gives the definition's model into the definition."""
    return _listed_prices(name, await provider.list_models())


def copy_listing_prices_sync(name: str, provider: IProvider) -> ModelDefinition:
    """`copy_listing_prices`, blocking."""
    return _listed_prices(name, provider.list_models_sync())
