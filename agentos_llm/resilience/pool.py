"""`CredentialPool`: several credentials of one provider, rotated on 429 and quota errors when the user asks.

The pool is an ordered preference: `pick()` returns the first credential that is not cooling down; a call
failing with a rate-limit or quota error (`report`) puts its credential to rest for the vendor's
Retry-After, or `cooldown` (429) / `quota_cooldown` (402 and quota errors), and the caller retries with the
next `pick()`. When every credential rests, `pick()` raises `RateLimitError` (code "client_rate_limit") with
the soonest one's wait as `retry_after`. Rest periods live in a `StateStore`, so with Redis every worker
rotates together.

Credentials are API keys (held as `SecretStr`, never in a repr, a log line or the store, where a hash
names them) or names of config profiles the manager resolves; each has a label for messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pydantic import SecretStr

from ..errors import QuotaExceededError, RateLimitError
from .breaker import LOCAL_ERROR_CODES
from .keys import CallKey, credential_id
from .store import MemoryStore, StateStore

__all__ = ["CredentialPool", "PooledCredential"]

log = logging.getLogger("agentos_llm.resilience")


class PooledCredential:
    """One credential of a pool: an API key or a config profile's name (exactly one), and a label."""

    __slots__ = ("_api_key", "id", "label", "profile")

    def __init__(self, *, api_key: str | SecretStr | None = None, profile: str | None = None,
                 label: str | None = None) -> None:
        if (api_key is None) == (profile is None):
            raise ValueError("a pooled credential is an api_key or a profile name, exactly one of them")
        self._api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self.profile = profile
        material = ("key", self._api_key.get_secret_value()) if self._api_key is not None else ("profile", profile)
        self.id = credential_id(material)
        """A stable hash naming it in the store and in breaker and limiter keys."""
        self.label = label or profile or f"key {self.id[:8]}"

    @property
    def api_key(self) -> SecretStr | None:
        """The key (None for a profile)."""
        return self._api_key

    def call_key(self, host: str, model: str = "") -> CallKey:
        """The breaker / limiter key of a call with this credential."""
        return CallKey(host, self.id, model, self.label)

    def __repr__(self) -> str:
        kind = "profile" if self.profile is not None else "key"
        return f"PooledCredential({kind}, label={self.label!r}, id={self.id[:8]!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PooledCredential) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


class CredentialPool:
    """The credentials of one provider (`host`), in order of preference."""

    def __init__(self, host: str, keys: Sequence[str | SecretStr | PooledCredential] = (), *,
                 profiles: Sequence[str] = (),
                 rotate_on: tuple[type[BaseException], ...] = (RateLimitError, QuotaExceededError),
                 cooldown: float = 30.0, quota_cooldown: float = 300.0, max_cooldown: float = 3600.0,
                 store: StateStore | None = None, clock: Callable[[], float] = time.time) -> None:
        entries: list[PooledCredential] = []
        for i, item in enumerate(keys, 1):
            entries.append(item if isinstance(item, PooledCredential)
                           else PooledCredential(api_key=item, label=f"key #{i}"))
        entries += [PooledCredential(profile=p) for p in profiles]
        if not entries:
            raise ValueError(f"a credential pool for {host!r} needs at least one key or profile")
        if len({e.id for e in entries}) != len(entries):
            raise ValueError(f"the credential pool for {host!r} lists the same credential twice")
        self.host = host
        self.credentials: tuple[PooledCredential, ...] = tuple(entries)
        self.rotate_on = rotate_on
        self.cooldown = cooldown
        self.quota_cooldown = quota_cooldown
        self.max_cooldown = max_cooldown
        self.store: StateStore = store if store is not None else MemoryStore()
        self.clock = clock
        self._keys = tuple(f"pool|{host}|{e.id}" for e in entries)

    def __repr__(self) -> str:
        return f"CredentialPool({self.host!r}, {[e.label for e in self.credentials]})"

    def __len__(self) -> int:
        return len(self.credentials)

    def __iter__(self) -> Iterator[PooledCredential]:
        return iter(self.credentials)

    def pick(self) -> PooledCredential:
        """The first credential not resting; `RateLimitError` (nothing sent) when all of them rest."""
        records = self.store.get_states(self._keys)
        if not any(records):
            return self.credentials[0]
        now = self.clock()
        resting = []
        for entry, rec in zip(self.credentials, records, strict=True):
            until = float(rec.value.get("until", 0.0)) if rec is not None else 0.0
            if until <= now:
                return entry
            resting.append((until - now, entry.label, str(rec.value.get("error")) if rec is not None else ""))
        wait = min(r[0] for r in resting)
        detail = ", ".join(f"{label} after {error} ({left:.1f}s left)" for left, label, error in resting)
        raise RateLimitError(f"every credential of {self.host} is resting: {detail}; nothing was sent",
                             provider=self.host, retry_after=wait, code="client_rate_limit")

    def report(self, credential: PooledCredential, exc: BaseException) -> bool:
        """A call with `credential` failed with `exc`: when it is a rate-limit or quota error (from the vendor),
        the credential rests and True says to retry with the next `pick()`."""
        if not isinstance(exc, self.rotate_on) or getattr(exc, "code", None) in LOCAL_ERROR_CODES:
            return False
        key = self._keys[self.credentials.index(credential)]
        after = getattr(exc, "retry_after", None)
        rest = float(after) if isinstance(after, (int, float)) and after > 0 else (
            self.quota_cooldown if isinstance(exc, QuotaExceededError) else self.cooldown)
        rest = min(rest, self.max_cooldown)
        now = self.clock()
        record: dict[str, Any] = {"until": now + rest, "error": type(exc).__name__, "label": credential.label}
        for _ in range(4):
            cur = self.store.get_states((key,))[0]
            if cur is not None and float(cur.value.get("until", 0.0)) >= now + rest:
                break
            if self.store.put_state(key, cur.version if cur else 0, record, rest + 60.0):
                break
        others = len(self.credentials) > 1
        log.warning("credential %s of %s rests for %.0f s after %s%s", credential.label, self.host, rest,
                    type(exc).__name__, "; rotating to the next one" if others else "")
        return True

    def restore(self, credential: PooledCredential | None = None) -> None:
        """Ends the rest of `credential` (every one when None)."""
        for entry, key in zip(self.credentials, self._keys, strict=True):
            if credential is None or entry == credential:
                cur = self.store.get_states((key,))[0]
                if cur is not None:
                    self.store.put_state(key, cur.version, None, 1.0)

    def snapshot(self) -> list[dict[str, Any]]:
        """Each credential (label, id, whether it rests, for how long, after what)."""
        now = self.clock()
        out = []
        for entry, rec in zip(self.credentials, self.store.get_states(self._keys), strict=True):
            until = float(rec.value.get("until", 0.0)) if rec is not None else 0.0
            out.append({"label": entry.label, "id": entry.id, "resting": until > now,
                        "retry_after": max(0.0, until - now) if until > now else None,
                        "error": rec.value.get("error") if rec is not None and until > now else None})
        return out
