"""What guards each hop of a manager call: circuit breakers, client-side limits and credential pools.

The manager builds one `HopGuard` from its arguments and the config file:

- breakers on by default (`breakers=False` turns them off, or pass your own `Breakers`);
- a `Limiter` that learns the vendors' rate-limit headers, with `[providers.<id>.limits]` (rpm, tpm,
  concurrency) from the config file unless `limits=` in code names that provider (`limits=False`: none);
- one `StateStore` for all of them: `state_store=` (e.g. `RedisStore(url)`), else the config file's
  `[resilience] state_store`, else a `MemoryStore`;
- with `rotate_credentials=True`, a `CredentialPool` per provider whose config table has profiles (the
  provider's own credential first, then the other profiles), or the keys given in code
  (`rotate_credentials={"openai": ["sk-...", "sk-..."]}`). A provider is built per credential (same class,
  settings and base URL), on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from .errors import AgentOSLLMError, ConfigurationError
from .resilience import Breakers, CallKey, CredentialPool, Guard, Limiter, Limits, MemoryStore, PooledCredential

if TYPE_CHECKING:
    from .config_schema import ConfigFile
    from .provider import IProvider
    from .resilience import StateStore

__all__ = ["HopGuard", "store_from_url"]

log = logging.getLogger("agentos_llm")

LimitsArg = bool | Limits | Mapping[str, Limits] | Limiter | None
RotateArg = bool | Mapping[str, Sequence[str | SecretStr]]


def store_from_url(url: str) -> StateStore:
    """A state store from the config file's `[resilience] state_store` ("memory" or a Redis URL)."""
    if url == "memory":
        return MemoryStore()
    from .resilience.redis_store import RedisStore

    return RedisStore(url)


class _Pool:
    """A provider's credentials and the provider built for each."""

    __slots__ = ("owner", "pool", "providers")

    def __init__(self, pool: CredentialPool, providers: dict[str, IProvider], owner: IProvider) -> None:
        self.pool = pool
        self.providers = providers
        self.owner = owner

    def clones(self) -> list[IProvider]:
        """The providers built for the pool (the registered one is its owner's to close)."""
        return [p for p in self.providers.values() if p is not self.owner]


class HopGuard:
    """Breakers, limits and credential pools of one manager (see the module docstring)."""

    def __init__(self, *, breakers: bool | Breakers = True, limits: LimitsArg = None,
                 state_store: StateStore | None = None, rotate: RotateArg = False) -> None:
        if state_store is None:
            state_store = breakers.store if isinstance(breakers, Breakers) else MemoryStore()
        self.store: StateStore = state_store
        self.breakers: Breakers | None = (breakers if isinstance(breakers, Breakers)
                                          else Breakers(store=state_store) if breakers else None)
        self.in_code: frozenset[str] = frozenset()
        if limits is False:
            self.limiter: Limiter | None = None
        elif isinstance(limits, Limiter):
            self.limiter = limits
        else:
            self.limiter = Limiter(None if limits is True else limits, store=state_store)
            if isinstance(limits, Limits):
                self.in_code = frozenset({"*"})
            elif isinstance(limits, Mapping):
                self.in_code = frozenset(limits)
        self.guard = Guard(self.breakers, self.limiter)
        self.active = self.breakers is not None or self.limiter is not None
        self.rotate = rotate
        self._pools: dict[str, _Pool | None] = {}
        self._keys: dict[tuple[int, str, str | None], tuple[IProvider, Any, CallKey]] = {}

    def __repr__(self) -> str:
        return (f"HopGuard(breakers={self.breakers is not None}, limiter={self.limiter is not None}, "
                f"store={self.store!r})")

    # ------------------------------------------------------------------ keys and config

    def key(self, provider: IProvider, model: str, label: str | None = None) -> CallKey:
        """The breaker and limiter key of a call (cached per provider object while its key is the same)."""
        slot = (id(provider), model, label)
        hit = self._keys.get(slot)
        secret = provider._api_key
        if hit is not None and hit[0] is provider and hit[1] is secret:
            return hit[2]
        if len(self._keys) > 4096:
            self._keys.clear()
        key = CallKey.for_provider(provider, model, label=label)
        self._keys[slot] = (provider, secret, key)  # the provider held: its id cannot be reused meanwhile
        return key

    def adopt(self, provider: IProvider, settings: ConfigFile | None) -> None:
        """Applies the config file's `[providers.<id>.limits]` to a provider registered now (limits given in
        code for it win)."""
        if self.limiter is None or settings is None or provider.provider_id in self.in_code or "*" in self.in_code:
            return
        table = settings.providers.get(provider.provider_id)
        cfg = table.limits if table is not None else None
        if cfg is not None:
            self.limiter.set_limits(provider.provider_id, Limits(concurrency=cfg.concurrency,
                                                                 requests_per_minute=cfg.rpm,
                                                                 tokens_per_minute=cfg.tpm, learn=cfg.learn))
        self._pools.pop(provider.provider_id, None)

    # ------------------------------------------------------------------ credential pools

    def pool_for(self, provider: IProvider) -> _Pool | None:
        """The provider's credential pool when rotation is on for it (built on first use)."""
        if not self.rotate:
            return None
        pid = provider.provider_id
        if pid not in self._pools:
            self._pools[pid] = self._build_pool(provider)
        found = self._pools[pid]
        if found is not None:
            for p in found.providers.values():  # a ledger attached later reaches the clones too
                p.usage_ledger = provider.usage_ledger
        return found

    def candidates(self, provider: IProvider) -> list[tuple[IProvider, PooledCredential]] | None:
        """The credentials a hop may use now, in order (resting ones left out); None without a pool.
        Empty: every one rests (`pool.pick()` then raises the client-side `RateLimitError`)."""
        found = self.pool_for(provider)
        if found is None:
            return None
        states = found.pool.snapshot()
        return [(found.providers[c.id], c) for c, st in zip(found.pool.credentials, states, strict=True)
                if not st["resting"]]

    def all_resting(self, provider: IProvider) -> BaseException:
        """The error when every credential of the provider rests."""
        found = self.pool_for(provider)
        try:
            if found is not None:
                found.pool.pick()
        except AgentOSLLMError as exc:
            return exc
        return ConfigurationError(f"no credential of {provider.provider_id} could be used")

    def rest(self, provider: IProvider, credential: PooledCredential, exc: BaseException) -> bool:
        """A call with `credential` failed with `exc`: True when it rests and the next credential is to be tried."""
        found = self.pool_for(provider)
        return found is not None and found.pool.report(credential, exc)

    def _build_pool(self, provider: IProvider) -> _Pool | None:
        pid = provider.provider_id
        if isinstance(self.rotate, Mapping):
            keys = self.rotate.get(pid)
            if not keys:
                return None
            creds = [PooledCredential(api_key=k, label=f"key #{i}") for i, k in enumerate(keys, 1)]
            own = provider.api_key.get_secret_value() if provider.api_key is not None else None
            built = {c.id: (provider if own is not None and c.api_key is not None
                            and c.api_key.get_secret_value() == own else _clone(provider, api_key=c.api_key))
                     for c in creds}
            return _Pool(CredentialPool(pid, creds, store=self.store), built, provider)
        return self._profile_pool(provider)

    def _profile_pool(self, provider: IProvider) -> _Pool | None:
        from .credentials import load_settings

        settings = provider._settings
        try:
            table = load_settings(settings.config_path).providers.get(settings.section)
        except ConfigurationError as exc:
            log.warning("credential rotation for %s is off: %s", provider.provider_id, exc)
            return None
        if table is None or not table.profiles or provider.api_key is None:
            return None
        own = PooledCredential(api_key=provider.api_key,
                               label=provider.credential_profile or provider.credential_source or "default")
        creds, built = [own], {own.id: provider}
        for name, profile in table.profiles.items():
            if name == provider.credential_profile:
                continue
            try:
                clone = _clone(provider, profile=name, base_url=None if profile.base_url else provider.base_url)
            except AgentOSLLMError as exc:
                log.warning("credential rotation for %s leaves out profile %r: %s", provider.provider_id, name, exc)
                continue
            cred = PooledCredential(profile=name)
            if cred.id not in built:
                creds.append(cred)
                built[cred.id] = clone
        if len(creds) < 2:
            return None
        return _Pool(CredentialPool(provider.provider_id, creds, store=self.store), built, provider)

    # ------------------------------------------------------------------ health

    def snapshot(self) -> dict[str, Any]:
        """Every breaker's state, the limits in use, and each credential pool (plain data)."""
        out = self.guard.snapshot()
        out["credentials"] = {pid: p.pool.snapshot() for pid, p in self._pools.items() if p is not None}
        out["state_store"] = repr(self.store)
        return out

    def close(self) -> None:
        """Closes the providers built for credentials (not the registered ones)."""
        for found in self._pools.values():
            for p in found.clones() if found is not None else ():
                p.close()

    async def aclose(self) -> None:
        """`close` for async clients."""
        for found in self._pools.values():
            for p in found.clones() if found is not None else ():
                await p.aclose()


def _clone(provider: IProvider, *, api_key: SecretStr | None = None, profile: str | None = None,
           base_url: str | None = None) -> IProvider:
    """The same provider class and settings with another credential (a key, or a config profile)."""
    policy = provider.retry_policy
    by_key = profile is None
    clone = type(provider)(
        spec=provider.spec, api_key=api_key, profile=profile, base_url=provider.base_url if by_key else base_url,
        timeout=policy.timeout, max_retries=policy.max_retries, deadline=policy.deadline,
        default_headers=provider.default_headers if by_key else None,
        default_model=provider.default_model if by_key else None, env=provider._env, **provider.config)
    clone.usage_ledger = provider.usage_ledger
    return clone
