"""Whether a provider answers (`check_health`) and what its key may still spend (`get_quota`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from .errors import AgentOSLLMError
from .types import HealthStatus

if TYPE_CHECKING:
    from .provider import IProvider
    from .quota import QuotaSnapshot
    from .quota_fetch import QuotaSettings


class HealthAndQuota:
    """`IProvider.check_health`, `get_quota` and their sync twins."""

    async def check_health(self) -> HealthStatus:
        """Whether the provider answers with this credential (lists models; never raises)."""
        p = cast("IProvider", self)
        started = time.perf_counter()
        try:
            await p._asend_guarded("models", None, p._health_timeout(), None)
        except AgentOSLLMError as exc:
            return p._health(started, exc)
        return p._health(started, None)

    def check_health_sync(self) -> HealthStatus:
        """`check_health`, blocking (on the sync transport: no async client gets bound to another loop)."""
        p = cast("IProvider", self)
        started = time.perf_counter()
        try:
            p._send_guarded("models", None, p._health_timeout(), None)
        except AgentOSLLMError as exc:
            return p._health(started, exc)
        return p._health(started, None)

    async def get_quota(self, *, timeout: float | None = None,
                        settings: QuotaSettings | Mapping[str, Any] | None = None) -> QuotaSnapshot:
        """What this key may still spend: the host's quota endpoint (a preset, or the config file's
        `[providers.<id>.quota]`) plus the rate limits of recent responses. Never raises: failures are the
        snapshot's status ("unsupported", "unauthorized", "error") and message. See `agentos_llm.quota_fetch`.
        """
        p = cast("IProvider", self)
        from .quota_fetch import fetch_quota

        return await fetch_quota(p, timeout=timeout, settings=settings)

    def get_quota_sync(self, *, timeout: float | None = None,
                       settings: QuotaSettings | Mapping[str, Any] | None = None) -> QuotaSnapshot:
        """`get_quota`, blocking."""
        p = cast("IProvider", self)
        from .quota_fetch import fetch_quota_sync

        return fetch_quota_sync(p, timeout=timeout, settings=settings)

    def _health_timeout(self) -> float:
        p = cast("IProvider", self)
        return min(10.0, p.retry_policy.timeout or 10.0)

    def _health(self, started: float, error: AgentOSLLMError | None) -> HealthStatus:
        p = cast("IProvider", self)
        from .health import state_of

        return HealthStatus(provider=p.provider_id, ok=error is None, state=state_of(error),
                            error=None if error is None else f"{type(error).__name__}: {error}",
                            latency_ms=(time.perf_counter() - started) * 1000)
