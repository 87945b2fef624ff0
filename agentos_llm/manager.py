"""`AIModelProviderManager`: the providers an agent can use, and which one serves each model id.

Routing forms: `provider/model` and `provider:model` (the prefix is stripped before the vendor sees
it), a bare provider id (its default model), a bare model (the first provider whose catalog lists
it, else the default provider). A request is never moved to another provider unless the call
names fallbacks.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .defaults import PROVIDERS, auto_detect_order, key_env_hint
from .errors import (
    AgentOSLLMError,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    MissingDependencyError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from .provider import AsyncEventStream, EventStream, IProvider, Messages
from .registry import create_provider, defined_providers
from .types import (
    CompletionResponse,
    EmbeddingResponse,
    ModelInfo,
    RerankResponse,
    StreamEvent,
    StructuredResponse,
    TokenCount,
)

if TYPE_CHECKING:
    from .discovery import Discovery
    from .ledger import Budget, UsageLedger
    from .quota import QuotaSnapshot

__all__ = ["AIModelProviderManager", "Route"]

log = logging.getLogger("agentos_llm")
T = TypeVar("T")

# Errors that say "this provider cannot serve right now", so a named fallback may be tried.
_FALLBACK_ON = (RateLimitError, QuotaExceededError, ServerError, APITimeoutError, APIConnectionError,
                AuthenticationError, PermissionDeniedError, NotFoundError)


@dataclass(frozen=True)
class Route:
    """Where a model id goes: the provider, the model name the vendor sees, and why."""

    provider: IProvider
    model: str
    reason: str


class AIModelProviderManager:
    """Holds providers and routes model ids to them."""

    def __init__(self, providers: Iterable[IProvider] = (), *, default: str | None = None,
                 ledger: UsageLedger | None = None, budgets: Iterable[Budget] | None = None) -> None:
        self._providers: dict[str, IProvider] = {}
        self._reasons: dict[str, str] = {}
        self.ledger: UsageLedger | None = None
        """The usage ledger every provider records to (`attach_ledger`)."""
        if ledger is not None:
            self.attach_ledger(ledger, budgets=budgets)
        self.skipped: dict[str, str] = {}
        """Providers auto-detect saw but could not build, with the reason."""
        self.default_model: str | None = None
        """What a call without a model uses ("provider/model"; None: the default provider's default model)."""
        self.default_model_source: str | None = None
        for p in providers:
            self.register(p)
        self._default = default
        if default is not None and default not in self._providers:
            raise ConfigurationError(f"default provider {default!r} is not registered")

    # ------------------------------------------------------------------ building

    @classmethod
    def from_env(cls, *, order: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                 default: str | None = None, discover: bool = False, **provider_kwargs: Any
                 ) -> AIModelProviderManager:
        """Builds every provider whose env var is present or that the config file configures, in auto-detect
        order (the first is the default), then the config file's other providers in its order.

        `order` (or `AGENTOS_LLM_PROVIDER_ORDER`) replaces the order; unknown ids are an error.
        A provider whose extra is not installed is skipped and listed in `skipped`.
        The config file's `default_model = "provider/model"` is what a call without a model uses, unless
        `default` names a provider. A broken config file is a `ConfigurationError` naming the file and line.
        `discover=True` then adds the local servers that answer (see `discover`).
        """
        from .credentials import config_path, load_settings

        environ = os.environ if env is None else env
        path = config_path(environ)
        settings = load_settings(path)
        defined = defined_providers()
        ids = auto_detect_order(order, environ, known=list(defined))
        if order is None and not environ.get("AGENTOS_LLM_PROVIDER_ORDER"):
            ids = (*ids, *(d for d in defined if d not in ids))
            ids = (*ids, *(p for p in settings.providers if p not in ids))
        manager = cls()
        for pid in ids:
            spec = defined.get(pid) or PROVIDERS.get(pid)
            table = settings.providers.get(pid)
            if spec is None:
                manager.skipped[pid] = f"[providers.{pid}] in {path} names no known provider{_near(pid)}"
                continue
            present = [v for v in spec.detect_vars if environ.get(v)]
            also = getattr(spec, "detect_also", ())
            if present and not (also and not any(environ.get(v) for v in also)):
                why = f"{present[0]} is set"
            elif table is not None and table.configures(spec.key_required):
                why = f"configured in {path}"
            else:
                continue
            try:
                provider = create_provider(pid, env=environ, **provider_kwargs)
            except AgentOSLLMError as exc:  # a missing extra, a bad key source, a sign-in that cannot refresh
                manager.skipped[pid] = f"{why}, but {exc}"
                continue
            manager.register(provider, reason=why)
        if discover:
            manager.discover_sync(env=env, provider_kwargs=provider_kwargs)
        if default is not None:
            manager.set_default(default)
        elif settings.default_model:
            manager.set_default_model(settings.default_model, source=f"config:{path}")
        return manager

    async def discover(self, *, providers: Sequence[str] | None = None, base_urls: Mapping[str, str] | None = None,
                       env: Mapping[str, str] | None = None, timeout: float | None = None,
                       deadline: float | None = None, provider_kwargs: Mapping[str, Any] | None = None
                       ) -> Discovery:
        """Probes the local model servers (`agentos_llm.discovery.discover_local_providers`) and registers
        the ones that answer, with their model listing cached; a provider already registered is kept.

        `timeout` bounds each probe request and `deadline` the whole run (the discovery defaults when None);
        `provider_kwargs` go to each provider created.
        """
        from .discovery import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, discover_local_providers

        found = await discover_local_providers(providers=providers, base_urls=base_urls, env=env,
                                               timeout=timeout or DEFAULT_TIMEOUT,
                                               deadline=deadline or DEFAULT_DEADLINE)
        self._adopt(found, env, provider_kwargs or {})
        return found

    def discover_sync(self, *, providers: Sequence[str] | None = None, base_urls: Mapping[str, str] | None = None,
                      env: Mapping[str, str] | None = None, timeout: float | None = None,
                      deadline: float | None = None, provider_kwargs: Mapping[str, Any] | None = None
                      ) -> Discovery:
        """`discover`, blocking."""
        from .discovery import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, discover_local_providers_sync

        found = discover_local_providers_sync(providers=providers, base_urls=base_urls, env=env,
                                              timeout=timeout or DEFAULT_TIMEOUT, deadline=deadline or DEFAULT_DEADLINE)
        self._adopt(found, env, provider_kwargs or {})
        return found

    def _adopt(self, discovery: Discovery, env: Mapping[str, str] | None, provider_kwargs: Mapping[str, Any]
               ) -> None:
        for found in discovery.found:
            pid = found.provider_id
            if pid in self._providers:
                continue  # configured explicitly (or found before): never replaced
            kwargs = dict(provider_kwargs) if env is None else {"env": env, **provider_kwargs}
            try:
                provider = found.create(**kwargs)
            except (MissingDependencyError, ConfigurationError) as exc:
                self.skipped[pid] = f"discovered at {found.base_url}, but {exc}"
                continue
            provider._remember_models(list(found.models))  # what the probe listed: no second listing call
            if found.default_model and provider.default_model == found.default_model:
                provider.default_model_source = f"discovered at {found.base_url}"
            self.skipped.pop(pid, None)
            self.register(provider, reason=f"discovered at {found.base_url}")
        for s in discovery.skipped:
            # A closed default port is not news; a configured URL, or a server that answered badly, is.
            if s.provider_id not in self._providers and (s.answered or s.source != "default"):
                self.skipped.setdefault(s.provider_id, f"probed at {s.base_url}: {s.reason}")

    def register(self, provider: IProvider, *, reason: str = "registered") -> None:
        """Adds (or replaces) a provider under its `provider_id`."""
        self._providers[provider.provider_id] = provider
        self._reasons[provider.provider_id] = reason
        if self.ledger is not None:
            provider.usage_ledger = self.ledger

    def attach_ledger(self, ledger: UsageLedger | None, *, budgets: Iterable[Budget] | None = None) -> None:
        """Records every call of every provider, registered now or later, in `ledger` (None detaches);
        `budgets` replace the ledger's budgets (see `agentos_llm.ledger`)."""
        if budgets is not None:
            if ledger is None:
                raise ConfigurationError("budgets need a ledger: attach_ledger(UsageLedger(...), budgets=[...])")
            ledger.set_budgets(budgets)
        self.ledger = ledger
        for provider in self._providers.values():
            provider.usage_ledger = ledger

    def unregister(self, provider_id: str) -> IProvider:
        """Removes a provider and returns it (the caller closes it)."""
        try:
            provider = self._providers.pop(provider_id)
        except KeyError:
            raise ConfigurationError(f"provider {provider_id!r} is not registered") from None
        self._reasons.pop(provider_id, None)
        if self._default == provider_id:
            self._default = None
        return provider

    def set_default(self, provider_id: str) -> None:
        """Makes a registered provider the default (a call without a model then uses its default model)."""
        if provider_id not in self._providers:
            raise ConfigurationError(f"provider {provider_id!r} is not registered")
        self._default = provider_id
        self.default_model = None

    def set_default_model(self, model: str, *, source: str = "argument") -> None:
        """What a call without a model uses: "provider/model" (its provider becomes the default provider when
        registered; otherwise such calls say how to configure it)."""
        provider_id, sep, rest = model.partition("/")
        if not (sep and rest):
            raise ConfigurationError(f'the default model is written "provider/model", not {model!r}')
        self.default_model = model
        self.default_model_source = source
        if provider_id in self._providers:
            self._default = provider_id

    @property
    def providers(self) -> dict[str, IProvider]:
        """The registered providers, in registration order."""
        return dict(self._providers)

    def get(self, provider_id: str) -> IProvider:
        """A registered provider; `ConfigurationError` says how to configure it otherwise.

        An alias row over another API of a registered host (`openai-responses` when `openai` is
        registered) is that host's provider over that API, with the same credential.
        """
        provider = self._providers.get(provider_id)
        if provider is None:
            spec = PROVIDERS.get(provider_id)
            host = self._providers.get(spec.host) if spec is not None and spec.host else None
            if host is not None and spec is not None and spec.default_api in host.spec.apis:
                return host.sibling(spec.default_api)
            raise self._not_configured(provider_id)
        return provider

    @property
    def default_provider(self) -> IProvider:
        """The provider bare models go to: the explicit default, else the first registered."""
        if self._default is not None:
            return self._providers[self._default]
        for provider in self._providers.values():
            return provider
        raise ConfigurationError(
            f"no provider is configured: set one of {key_env_hint()} (checked in this order), "
            "or register a provider")

    def _not_configured(self, provider_id: str) -> ConfigurationError:
        spec = PROVIDERS.get(provider_id) or defined_providers().get(provider_id)
        if spec is None:
            return ConfigurationError(f"unknown provider {provider_id!r}; registered: "
                                      f"{', '.join(self._providers) or 'none'}")
        why = self.skipped.get(provider_id)
        hint = f" ({why})" if why else ""
        return ConfigurationError(f"provider {provider_id!r} is not configured{hint}: set "
                                  f"{' or '.join(spec.detect_vars) or 'its key'} or register it")

    # ------------------------------------------------------------------ routing

    def resolve(self, model: str | None = None) -> Route:
        """Which provider serves `model`, the model name it will see, and why."""
        if not model and self.default_model:
            route = self.resolve(self.default_model)
            return Route(route.provider, route.model,
                         f"no model given: the default model {self.default_model} ({self.default_model_source})")
        if not model:
            p = self.default_provider
            return Route(p, p.default_model, f"no model given: default provider {p.provider_id!r}, "
                                             "its default model")
        for sep in ("/", ":"):
            prefix, found, rest = model.partition(sep)
            if found and rest and (prefix in self._providers or prefix in PROVIDERS
                                   or prefix in defined_providers()):
                return Route(self.get(prefix), rest, f"prefix {prefix!r} names the provider")
        if model in self._providers:
            p = self._providers[model]
            return Route(p, p.default_model, f"{model!r} is a provider id: its default model")
        if model in PROVIDERS or model in defined_providers():
            raise self._not_configured(model)
        for p in self._providers.values():
            if p.supports_model(model):
                return Route(p, model, f"the catalog of {p.provider_id!r} lists {model!r}")
        p = self.default_provider
        return Route(p, model, f"no catalog lists {model!r}: default provider {p.provider_id!r}")

    def describe(self, model: str | None = None) -> str:
        """Says which providers were found and why, or where one model id routes and why."""
        if model is not None:
            route = self.resolve(model)
            return (f"{model} -> {route.provider.provider_id}/{route.model} ({route.reason}; key from "
                    f"{route.provider.credential_source or 'no key'})")
        if not self._providers:
            lines = [f"no provider configured; set one of: {key_env_hint()}, or run: agentos-llm setup"]
        else:
            default = self.default_provider.provider_id
            lines = [
                f"{pid}{' (default)' if pid == default else ''}: {self._reasons[pid]}; key from "
                f"{p.credential_source or 'no key needed'}; default model {p.default_model or '-'}"
                + (f" (from {p.default_model_source})" if p.default_model and p.default_model_source else "")
                for pid, p in self._providers.items()
            ]
        if self.default_model:
            lines.insert(0, f"default model: {self.default_model} (from {self.default_model_source})")
        lines.extend(f"{pid}: skipped, {why}" for pid, why in self.skipped.items())
        return "\n".join(lines)

    def _routes(self, model: str | None, fallback: Sequence[str] | None) -> list[Route]:
        return [self.resolve(model), *(self.resolve(m) for m in fallback or ())]

    @staticmethod
    def _hop(i: int, route: Route) -> AbstractContextManager[None]:
        """Marks the ledger row of fallback attempt `i` (the ledger is imported only when one is attached)."""
        if i == 0 or route.provider.usage_ledger is None:
            return nullcontext()
        from .ledger.context import fallback_hop

        return fallback_hop(i)

    @staticmethod
    def _log_fallback(route: Route, exc: ProviderError) -> None:
        log.warning("falling back from %s/%s after %s: %s", route.provider.provider_id, route.model,
                    type(exc).__name__, exc)

    # ------------------------------------------------------------------ calls

    async def generate(self, model: str | None, messages: Messages, *, fallback: Sequence[str] | None = None,
                       **options: Any) -> CompletionResponse:
        """`generate` on the provider `model` routes to; `fallback` model ids are tried in order on
        provider-side failures (rate limits, quota, outages, auth), never otherwise."""
        routes = self._routes(model, fallback)
        for i, route in enumerate(routes):
            try:
                with self._hop(i, route):
                    return await route.provider.generate(route.model, messages, **options)
            except _FALLBACK_ON as exc:
                if i == len(routes) - 1:
                    raise
                self._log_fallback(route, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def generate_sync(self, model: str | None, messages: Messages, *, fallback: Sequence[str] | None = None,
                      **options: Any) -> CompletionResponse:
        """`generate`, blocking."""
        routes = self._routes(model, fallback)
        for i, route in enumerate(routes):
            try:
                with self._hop(i, route):
                    return route.provider.generate_sync(route.model, messages, **options)
            except _FALLBACK_ON as exc:
                if i == len(routes) - 1:
                    raise
                self._log_fallback(route, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(self, model: str | None, messages: Messages, *, fallback: Sequence[str] | None = None,
               **options: Any) -> AsyncEventStream:
        """`stream` on the routed provider; fallbacks apply only before the first event."""
        routes = self._routes(model, fallback)
        if len(routes) == 1:
            return routes[0].provider.stream(routes[0].model, messages, **options)
        return AsyncEventStream(self._astream_fallback(routes, messages, options))

    async def _astream_fallback(self, routes: list[Route], messages: Messages, options: dict[str, Any]
                                ) -> AsyncIterator[StreamEvent]:
        for i, route in enumerate(routes):
            with self._hop(i, route):  # the row's hop is read when the stream is made
                events = route.provider.stream(route.model, messages, **options)
            try:
                first = await events.__anext__()
            except _FALLBACK_ON as exc:
                await events.aclose()
                if i == len(routes) - 1:
                    raise
                self._log_fallback(route, exc)
                continue
            async with events:
                yield first
                async for event in events:
                    yield event
            return

    def stream_sync(self, model: str | None, messages: Messages, *, fallback: Sequence[str] | None = None,
                    **options: Any) -> EventStream:
        """`stream_sync` on the routed provider; fallbacks apply only before the first event."""
        routes = self._routes(model, fallback)
        if len(routes) == 1:
            return routes[0].provider.stream_sync(routes[0].model, messages, **options)
        return EventStream(self._stream_fallback(routes, messages, options))

    def _stream_fallback(self, routes: list[Route], messages: Messages, options: dict[str, Any]
                         ) -> Iterator[StreamEvent]:
        for i, route in enumerate(routes):
            with self._hop(i, route):
                events = route.provider.stream_sync(route.model, messages, **options)
            try:
                first = next(events)
            except _FALLBACK_ON as exc:
                events.close()
                if i == len(routes) - 1:
                    raise
                self._log_fallback(route, exc)
                continue
            with events:
                yield first
                yield from events
            return

    async def generate_structured(self, model: str | None, messages: Messages, schema: type[T] | Any,
                                  **options: Any) -> StructuredResponse[T]:
        """`generate_structured` on the routed provider."""
        route = self.resolve(model)
        return await route.provider.generate_structured(route.model, messages, schema, **options)

    def generate_structured_sync(self, model: str | None, messages: Messages, schema: type[T] | Any,
                                 **options: Any) -> StructuredResponse[T]:
        """`generate_structured`, blocking."""
        route = self.resolve(model)
        return route.provider.generate_structured_sync(route.model, messages, schema, **options)

    async def count_tokens(self, model: str | None, messages: Messages, **options: Any) -> TokenCount:
        """`count_tokens` on the provider `model` routes to."""
        route = self.resolve(model)
        return await route.provider.count_tokens(route.model, messages, **options)

    def count_tokens_sync(self, model: str | None, messages: Messages, **options: Any) -> TokenCount:
        """`count_tokens`, blocking."""
        route = self.resolve(model)
        return route.provider.count_tokens_sync(route.model, messages, **options)

    def _embed_route(self, model: str | None) -> Route:
        if model:
            return self.resolve(model)
        for p in self._providers.values():
            if p.spec.embedding_model and "embeddings" in p.capabilities:
                return Route(p, p.spec.embedding_model, "first provider with an embedding model")
        raise ConfigurationError("no registered provider offers embeddings")

    async def embed(self, model: str | None, texts: str | Sequence[str], *, dimensions: int | None = None,
                    input_type: str | None = None) -> EmbeddingResponse:
        """`embed` on the routed provider (no model: the first provider with an embedding model)."""
        route = self._embed_route(model)
        return await route.provider.embed(route.model, texts, dimensions=dimensions, input_type=input_type)

    def embed_sync(self, model: str | None, texts: str | Sequence[str], *, dimensions: int | None = None,
                   input_type: str | None = None) -> EmbeddingResponse:
        """`embed`, blocking."""
        route = self._embed_route(model)
        return route.provider.embed_sync(route.model, texts, dimensions=dimensions, input_type=input_type)

    def _rerank_route(self, model: str | None) -> Route:
        if model:
            return self.resolve(model)
        for p in self._providers.values():
            if p.spec.rerank_model and "rerank" in p.capabilities:
                return Route(p, p.spec.rerank_model, "first provider with a rerank model")
        raise ConfigurationError("no registered provider offers reranking (Cohere, Voyage AI and Bedrock do)")

    async def rerank(self, model: str | None, query: str, documents: Sequence[str], *,
                     top_n: int | None = None) -> RerankResponse:
        """`rerank` on the routed provider (no model: the first provider with a rerank model)."""
        route = self._rerank_route(model)
        return await route.provider.rerank(route.model, query, documents, top_n=top_n)

    def rerank_sync(self, model: str | None, query: str, documents: Sequence[str], *,
                    top_n: int | None = None) -> RerankResponse:
        """`rerank`, blocking."""
        route = self._rerank_route(model)
        return route.provider.rerank_sync(route.model, query, documents, top_n=top_n)

    async def list_models(self, provider_id: str | None = None) -> list[ModelInfo]:
        """Models of one provider, or of every registered provider (listed concurrently).

        Each provider answers from its cached or live listing, or its static catalog when the listing
        fails; a provider that still fails is logged and left out, never sinking the others.
        """
        if provider_id:
            return await self.get(provider_id).list_models()
        providers = list(self._providers.values())
        results = await asyncio.gather(*(p.list_models() for p in providers), return_exceptions=True)
        out: list[ModelInfo] = []
        for p, result in zip(providers, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                _log_listing_failure(p, result)
            else:
                out.extend(result)
        return out

    def list_models_sync(self, provider_id: str | None = None) -> list[ModelInfo]:
        """`list_models`, blocking."""
        if provider_id:
            return self.get(provider_id).list_models_sync()
        out: list[ModelInfo] = []
        for p in self._providers.values():
            try:
                out.extend(p.list_models_sync())
            except Exception as exc:
                _log_listing_failure(p, exc)
        return out

    async def get_model_info(self, model: str) -> ModelInfo:
        """What the routed provider knows about a model id (`provider/model`, a bare model, ...): its live
        listing merged with the catalog, else the catalog."""
        route = self.resolve(model)
        return await route.provider.get_model_info(route.model)

    def get_model_info_sync(self, model: str) -> ModelInfo:
        """`get_model_info`, blocking."""
        route = self.resolve(model)
        return route.provider.get_model_info_sync(route.model)

    async def quotas(self, *, timeout: float = 10.0) -> list[QuotaSnapshot]:
        """Every registered provider's quota snapshot (`IProvider.get_quota`), asked concurrently, each within
        `timeout` seconds: one row per provider in registration order, never an exception; a provider with
        nothing to ask answers status "unsupported", one that fails or hangs status "error"."""
        from .quota_fetch import gather_quotas

        return await gather_quotas(list(self._providers.values()), timeout=timeout)

    def quotas_sync(self, *, timeout: float = 10.0) -> list[QuotaSnapshot]:
        """`quotas`, blocking."""
        from .sync_bridge import run_sync

        return run_sync(self.quotas(timeout=timeout))

    async def aclose(self) -> None:
        """Closes every registered provider."""
        for p in self._providers.values():
            await p.aclose()

    def close(self) -> None:
        """Closes every registered provider's sync client."""
        for p in self._providers.values():
            p.close()

    async def __aenter__(self) -> AIModelProviderManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> AIModelProviderManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _near(provider_id: str) -> str:
    import difflib

    near = difflib.get_close_matches(provider_id, [*PROVIDERS, *defined_providers()], n=1)
    return f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(sorted(PROVIDERS))})"


def _log_listing_failure(provider: IProvider, exc: Exception) -> None:
    log.warning("listing the models of %s failed, left out: %s: %s", provider.provider_id, type(exc).__name__, exc)
