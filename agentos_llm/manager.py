"""`AIModelProviderManager`: the providers an agent can use, and which one serves each model id.

Routing forms: `provider/model` and `provider:model` (the prefix is stripped before the vendor sees
it), a bare provider id (its default model), a bare model (the first provider whose catalog lists
it, else the default provider, unless its "namespace/" looks like a misspelt provider id:
`agentos_llm.routing.check_prefix` says when that is refused), or the name of a route (`routes=` /
`add_route` / the config file's `[routes]`: model ids tried in order). A request moves to another
provider only along its route or the call's `fallback=[...]`. The calls themselves, with fallback,
breakers, limits, credential rotation and hedging, are in `agentos_llm.manager_calls`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .catalog import catalog_entry
from .defaults import PROVIDERS, auto_detect_order, key_env_hint
from .errors import AgentOSLLMError, ConfigurationError, MissingDependencyError
from .fallback import Router
from .manager_calls import OnFallback, RoutedCalls
from .model_definitions import defined_info, defined_infos, merge_options, route_named
from .provider import IProvider
from .registry import create_provider, defined_providers
from .routing import Route, check_prefix
from .routing_guard import HopGuard, LimitsArg, RotateArg, store_from_url
from .types import HealthStatus, ModelInfo

if TYPE_CHECKING:
    from .config_schema import ConfigFile
    from .discovery import Discovery
    from .inspection import InspectedRequest
    from .ledger import Budget, UsageLedger
    from .provider import Messages
    from .quota import QuotaSnapshot
    from .resilience import Breakers, StateStore

__all__ = ["AIModelProviderManager", "Route"]

log = logging.getLogger("agentos_llm")


class AIModelProviderManager(RoutedCalls):
    """Holds providers and routes model ids (and named routes) to them.

    Resilience, all on the manager (a bare provider has none of it): `routes` names routes; circuit breakers
    are on by default (`breakers=False` turns them off); `limits` sets client-side limits (a `Limits` for every
    provider, a mapping by provider id, False for none; limits the vendors' headers state are learned);
    `state_store` is where breakers and limits keep their state (a `MemoryStore` by default, `RedisStore(url)`
    to share it between workers); `rotate_credentials` rotates keys on 429 and quota errors (True: the config
    profiles of each provider; or keys by provider id); `on_fallback(hop, next_route)` is called whenever a
    call moves past a hop. See docs/routing-and-resilience.md.
    """

    def __init__(self, providers: Iterable[IProvider] = (), *, default: str | None = None,
                 ledger: UsageLedger | None = None, budgets: Iterable[Budget] | None = None,
                 routes: Mapping[str, Sequence[str]] | None = None, breakers: bool | Breakers = True,
                 limits: LimitsArg = None, state_store: StateStore | None = None,
                 rotate_credentials: RotateArg = False, on_fallback: OnFallback | None = None) -> None:
        self._providers: dict[str, IProvider] = {}
        self._reasons: dict[str, str] = {}
        self._router = Router(HopGuard(breakers=breakers, limits=limits, state_store=state_store,
                                       rotate=rotate_credentials))
        self._route_table: dict[str, tuple[str, ...]] = {}
        self.on_fallback = on_fallback
        """Called with (the hop that did not serve, the route tried next) whenever a call moves on."""
        self.ledger: UsageLedger | None = None
        """The usage ledger every provider records to (`attach_ledger`)."""
        if ledger is not None:
            self.attach_ledger(ledger, budgets=budgets)
        self.skipped: dict[str, str] = {}
        """Providers auto-detect saw but could not build, with the reason."""
        self._missing: dict[str, tuple[MissingDependencyError, str]] = {}
        """Skipped providers whose extra is not installed: the error, and why the provider was wanted."""
        self.default_model: str | None = None
        """What a call without a model uses ("provider/model"; None: the default provider's default model)."""
        self.default_model_source: str | None = None
        for p in providers:
            self.register(p)
        self._default = default
        if default is not None and default not in self._providers:
            raise ConfigurationError(f"default provider {default!r} is not registered")
        for name, hops in (routes or {}).items():
            self.add_route(name, hops)

    # ------------------------------------------------------------------ building

    @classmethod
    def from_env(cls, *, order: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                 default: str | None = None, discover: bool = False,
                 routes: Mapping[str, Sequence[str]] | None = None, breakers: bool | Breakers | None = None,
                 limits: LimitsArg = None, state_store: StateStore | None = None,
                 rotate_credentials: RotateArg = False, on_fallback: OnFallback | None = None,
                 **provider_kwargs: Any) -> AIModelProviderManager:
        """Builds every provider whose env var is present or that the config file configures, in auto-detect
        order (the first is the default), then the config file's other providers in its order.

        `order` (or `AGENTOS_LLM_PROVIDER_ORDER`) replaces the order; unknown ids are an error.
        A provider whose extra is not installed is skipped and listed in `skipped`.
        The config file's `default_model = "provider/model"` is what a call without a model uses, unless
        `default` names a provider. A broken config file is a `ConfigurationError` naming the file and line.
        `discover=True` then adds the local servers that answer (see `discover`).
        The resilience arguments are the constructor's; the config file's `[routes]`, `[resilience]`
        (state_store, breakers) and `[providers.<id>.limits]` apply where the arguments say nothing.
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
        resilience = settings.resilience
        if state_store is None and resilience is not None and resilience.state_store:
            state_store = store_from_url(resilience.state_store)
        if breakers is None:
            breakers = resilience.breakers if resilience is not None else True
        manager = cls(breakers=breakers, limits=limits, state_store=state_store,
                      rotate_credentials=rotate_credentials, on_fallback=on_fallback)
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
                manager._skip(pid, why, exc)
                continue
            manager.register(provider, reason=why)
        if discover:
            manager.discover_sync(env=env, provider_kwargs=provider_kwargs)
        for name, hops in {**(settings.routes or {}), **(routes or {})}.items():
            manager.add_route(name, hops)
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
                self._skip(pid, f"discovered at {found.base_url}", exc)
                continue
            provider._remember_models(list(found.models))  # what the probe listed: no second listing call
            if found.default_model and provider.default_model == found.default_model:
                provider.default_model_source = f"discovered at {found.base_url}"
            self.skipped.pop(pid, None)
            self._missing.pop(pid, None)
            self.register(provider, reason=f"discovered at {found.base_url}")
        for s in discovery.skipped:
            # A closed default port is not news; a configured URL, or a server that answered badly, is.
            if s.provider_id not in self._providers and (s.answered or s.source != "default"):
                self.skipped.setdefault(s.provider_id, f"probed at {s.base_url}: {s.reason}")

    def _skip(self, provider_id: str, why: str, exc: AgentOSLLMError) -> None:
        """Records a provider that was wanted (`why`) but could not be built."""
        self.skipped[provider_id] = f"{why}, but {exc}"
        if isinstance(exc, MissingDependencyError):
            self._missing[provider_id] = (exc, why)

    def _install_hint(self, provider_id: str | None = None) -> MissingDependencyError | None:
        """The error to raise when a provider (None: any) is missing only because its extra is not installed:
        it names the pip line, where "set OPENAI_API_KEY" would send the user after a key they have set."""
        if provider_id is not None:
            found = self._missing.get(provider_id)
            if found is None:
                return None
            exc, why = found
            return MissingDependencyError(exc.extra, exc.module, context=f"provider {provider_id!r} is not ready: "
                                                                         f"{why}")
        if not self._missing:
            return None
        (first, (exc, why)), *others = self._missing.items()
        also = "".join(f" ({pid} too: {e.pip_command})" for pid, (e, _) in others)
        return MissingDependencyError(exc.extra, exc.module, context=f"no provider is ready{also}; {first}: {why}")

    def register(self, provider: IProvider, *, reason: str = "registered") -> None:
        """Adds (or replaces) a provider under its `provider_id` (with its config file's
        `[providers.<id>.limits]`, unless `limits=` in code names it)."""
        self._providers[provider.provider_id] = provider
        self._reasons[provider.provider_id] = reason
        if self.ledger is not None:
            provider.usage_ledger = self.ledger
        self._router.hop_guard.adopt(provider, _settings_of(provider))

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
        raise self._install_hint() or ConfigurationError(
            f"no provider is configured: set one of {key_env_hint()} (checked in this order), "
            "or register a provider")

    def _not_configured(self, provider_id: str) -> ConfigurationError:
        missing = self._install_hint(provider_id)
        if missing is not None:
            return missing
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
        """Which provider serves `model`, the model name it will see, and why (a route name: its first hop)."""
        hops = self._route_table.get(model) if model else None
        if hops:
            first = self._resolve_id(hops[0])
            return Route(first.provider, first.model, f"route {model!r}, hop 1 of {len(hops)}: {first.reason}")
        return self._resolve_id(model)

    def _route_name_taken(self, name: str) -> bool:
        return name in self._providers or name in PROVIDERS or name in defined_providers()

    def _resolve_id(self, model: str | None) -> Route:
        """`resolve` for a model id (a route's hops are model ids, never other routes)."""
        if not model and self.default_model:
            route = self.resolve(self.default_model)
            return Route(route.provider, route.model,
                         f"no model given: the default model {self.default_model} ({self.default_model_source})")
        if not model:
            p = self.default_provider
            return Route(p, p.default_model, f"no model given: default provider {p.provider_id!r}, "
                                             "its default model")
        named = route_named(self, model)  # a `define_model` name, or `provider/cheap` (`/embedding`, `/rerank`)
        if named is not None:
            return named
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
        for pid in self._missing:  # a model of a provider skipped for its extra: say so, not "sent elsewhere"
            spec = PROVIDERS.get(pid)
            hint = self._install_hint(pid) if spec is not None and catalog_entry(spec.host_id, model) else None
            if hint is not None:
                raise hint
        p = self.default_provider
        check_prefix(model, [*self._providers, *PROVIDERS, *defined_providers()], p)
        return Route(p, model, f"no catalog lists {model!r}: default provider {p.provider_id!r}")

    def describe(self, model: str | None = None) -> str:
        """Says which providers were found and why, or where one model id routes and why."""
        if model is not None and model in self._route_table:
            hops = [self._resolve_id(h) for h in self._route_table[model]]
            return f"{model}: a route of {len(hops)} hop(s)\n" + "\n".join(
                f"  {i}. {h.provider.provider_id}/{h.model} ({h.reason})" for i, h in enumerate(hops, 1))
        if model is not None:
            route = self.resolve(model)
            return (f"{model} -> {route.provider.provider_id}/{route.model} ({route.reason}; key from "
                    f"{route.provider.credential_source or 'no key'})")
        missing = self._install_hint()
        if not self._providers and missing is not None:
            extras = ",".join(dict.fromkeys(e.extra for e, _ in self._missing.values()))
            wanted = "; ".join(f"{pid}: {why}" for pid, (_, why) in self._missing.items())
            lines = [f"no provider ready ({wanted}), but the extras are not installed: "
                     f'pip install "agentos-llm[{extras}]"']
        elif not self._providers:
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
        lines.extend(f"route {name}: {' -> '.join(hops)}" for name, hops in self._route_table.items())
        breakers = self._router.hop_guard.breakers
        if breakers is None:
            lines.append("circuit breakers: off")
        else:
            lines.extend(f"circuit breaker {st}" for st in breakers.snapshot())
        return "\n".join(lines)

    def health(self) -> dict[str, Any]:
        """The manager's resilience state, asked of nothing but its state store: every circuit breaker it has
        used (`BreakerStatus.as_dict()`), the client-side limits in use, each credential pool, the named
        routes and the store."""
        snap = self._router.hop_guard.snapshot()
        snap["routes"] = {name: list(hops) for name, hops in self._route_table.items()}
        return snap

    # ------------------------------------------------------------------ default targets of embed and rerank

    def _embed_route(self, model: str | None) -> Route:
        if model:
            return self.resolve(model)
        for p in self._providers.values():
            if p.spec.embedding_model and "embeddings" in p.capabilities:
                return Route(p, p.spec.embedding_model, "first provider with an embedding model")
        raise ConfigurationError("no registered provider offers embeddings")

    def _rerank_route(self, model: str | None) -> Route:
        if model:
            return self.resolve(model)
        for p in self._providers.values():
            if p.spec.rerank_model and "rerank" in p.capabilities:
                return Route(p, p.spec.rerank_model, "first provider with a rerank model")
        raise ConfigurationError("no registered provider offers reranking (Cohere, Voyage AI and Bedrock do)")

    async def list_models(self, provider_id: str | None = None, *, capability: str | None = None) -> list[ModelInfo]:
        """Models of one provider, or of every registered provider (listed concurrently), then the models
        `define_model` named (`source="definition"`); `capability` keeps those that have it.

        Each provider answers from its cached or live listing, or its static catalog when the listing
        fails; a provider that still fails is logged and left out, never sinking the others.
        """
        if provider_id:
            listed = await _listing(self.get(provider_id), capability)
            return [*listed, *defined_infos(listed, capability, provider_id)]
        providers = list(self._providers.values())
        results = await asyncio.gather(*(_listing(p, capability) for p in providers), return_exceptions=True)
        out: list[ModelInfo] = []
        for p, result in zip(providers, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                _log_listing_failure(p, result)
            else:
                out.extend(result)
        return [*out, *defined_infos(out, capability)]

    def list_models_sync(self, provider_id: str | None = None, *, capability: str | None = None) -> list[ModelInfo]:
        """`list_models`, blocking."""
        if provider_id:
            listed = _listing_sync(self.get(provider_id), capability)
            return [*listed, *defined_infos(listed, capability, provider_id)]
        out: list[ModelInfo] = []
        for p in self._providers.values():
            try:
                out.extend(_listing_sync(p, capability))
            except Exception as exc:
                _log_listing_failure(p, exc)
        return [*out, *defined_infos(out, capability)]

    async def get_model_info(self, model: str) -> ModelInfo:
        """What the routed provider knows about a model id (`provider/model`, a bare model, a defined model's
        name ...): its live listing merged with the catalog, else the catalog."""
        route = self.resolve(model)
        return defined_info(model, await route.provider.get_model_info(route.model))

    def get_model_info_sync(self, model: str) -> ModelInfo:
        """`get_model_info`, blocking."""
        route = self.resolve(model)
        return defined_info(model, route.provider.get_model_info_sync(route.model))

    async def check_health(self, *, timeout: float = 10.0) -> list[HealthStatus]:
        """Every registered provider's `check_health`, concurrently, each within `timeout` seconds: one row per
        provider in registration order (`HealthStatus.state`: ok, unauthorized, rate_limited, timeout,
        unreachable, unsupported, error), never an exception."""
        from .health import check_all

        return await check_all(list(self._providers.values()), timeout)

    def check_health_sync(self, *, timeout: float = 10.0) -> list[HealthStatus]:
        """`check_health`, blocking (each provider on its sync transport, in threads)."""
        from .health import check_all_sync

        return check_all_sync(list(self._providers.values()), timeout)

    async def inspect_request(self, model: str | None, messages: Messages, **options: Any) -> InspectedRequest:
        """What `generate` (with `stream=True`: `stream`) would send for `model` to its first hop, not sent
        (`IProvider.inspect_request`); a defined model's options are in it."""
        route = self.resolve(model)
        return await route.provider.inspect_request(route.model, messages, **merge_options(route.options, options))

    def inspect_request_sync(self, model: str | None, messages: Messages, **options: Any) -> InspectedRequest:
        """`inspect_request`, for the sync client."""
        route = self.resolve(model)
        return route.provider.inspect_request_sync(route.model, messages, **merge_options(route.options, options))

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
        """Closes every registered provider (and those built for rotated credentials)."""
        for p in self._providers.values():
            await p.aclose()
        await self._router.hop_guard.aclose()

    def close(self) -> None:
        """Closes every registered provider's sync client (and those built for rotated credentials)."""
        for p in self._providers.values():
            p.close()
        self._router.hop_guard.close()

    async def __aenter__(self) -> AIModelProviderManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __enter__(self) -> AIModelProviderManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _settings_of(provider: IProvider) -> ConfigFile | None:
    """The config file the provider was built from (None when it cannot be read: the provider was built
    anyway, from arguments)."""
    from .credentials import load_settings

    try:
        return load_settings(provider._settings.config_path)
    except (ConfigurationError, AttributeError):
        return None


def _near(provider_id: str) -> str:
    import difflib

    near = difflib.get_close_matches(provider_id, [*PROVIDERS, *defined_providers()], n=1)
    return f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(sorted(PROVIDERS))})"


def _listing(provider: IProvider, capability: str | None) -> Awaitable[list[ModelInfo]]:
    # Asked without `capability` when there is none: a subclass may override `list_models()` as it was.
    return provider.list_models(capability=capability) if capability else provider.list_models()


def _listing_sync(provider: IProvider, capability: str | None) -> list[ModelInfo]:
    return provider.list_models_sync(capability=capability) if capability else provider.list_models_sync()


def _log_listing_failure(provider: IProvider, exc: Exception) -> None:
    log.warning("listing the models of %s failed, left out: %s: %s", provider.provider_id, type(exc).__name__, exc)
