"""How `IProvider` turns any exception from a hook into a typed error of this library."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, TypeVar, cast

from .errors import (
    AgentOSLLMError,
    APIConnectionError,
    APITimeoutError,
    MalformedResponseError,
    ProviderError,
)
from .http_bridge import tls_failure

if TYPE_CHECKING:
    from .provider import IProvider

T = TypeVar("T")
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class ErrorTranslation:
    """`IProvider`'s error policy: translate, re-raise without chaining, parse safely."""

    def _translate(self, exc: Exception) -> AgentOSLLMError:
        """Any exception from a hook, as a typed error of this library."""
        p = cast("IProvider", self)
        if isinstance(exc, AgentOSLLMError):
            if isinstance(exc, ProviderError) and exc.provider is None:
                exc.provider = p.provider_id
            return exc
        refused = tls_failure(exc, p)  # a certificate the client refused: say so, whatever the SDK's wrapper
        if refused is not None:
            refused.vendor_exception = exc
            return refused
        mapped = p._map_exception(exc)
        if mapped is not None:
            if mapped.provider is None:
                mapped.provider = p.provider_id
            # The SDK's own exception text may quote what the server echoed (a key, even): keep it
            # for debugging, but out of tracebacks.
            mapped.vendor_exception = exc
            return mapped
        name = type(exc).__name__
        if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
            return APITimeoutError(f"request timed out ({name})", provider=p.provider_id)
        if isinstance(exc, (ConnectionError, OSError)):
            return APIConnectionError(f"connection failed: {name}: {exc}", provider=p.provider_id)
        if isinstance(exc, _PARSE_ERRORS):
            return MalformedResponseError(f"cannot parse the response: {name}: {exc}", provider=p.provider_id)
        return ProviderError(f"{name}: {exc}", provider=p.provider_id)

    def _reraise(self, exc: Exception) -> NoReturn:
        """Raises `exc` as a typed error. What it translates is kept on `vendor_exception`, never chained:
        a vendor's exception (or its cause) may quote the raw server body, and with it an echoed key."""
        p = cast("IProvider", self)
        err = p._translate(exc)
        if err is exc:
            raise exc
        if isinstance(err, ProviderError) and err.vendor_exception is None:
            err.vendor_exception = exc
        raise err from None

    def _parse(self, parse: Callable[[], T]) -> T:
        p = cast("IProvider", self)
        try:
            return parse()
        except AgentOSLLMError:
            raise
        except _PARSE_ERRORS as exc:
            err = MalformedResponseError(f"cannot parse the response: {type(exc).__name__}: {exc}",
                                         provider=p.provider_id)
            err.vendor_exception = exc
            raise err from None
