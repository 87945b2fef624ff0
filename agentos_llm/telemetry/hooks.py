"""Manager-wide hooks: `on_request`, `on_response` and `on_error`, called for every provider call a manager makes.

    handle = manager.add_hook(on_request=print, on_error=alert)
    ...
    manager.remove_hook(handle)

Each provider call (every hop of a fallback route, each attempt of structured output) calls `on_request` once
before it is sent, then exactly one of `on_response` (it answered) or `on_error` (it failed, or a stream was
left before its end: `status == "cancelled"`, `error` None). Every hook gets a `CallEvent`. Hooks run inline in
the calling thread or task and must be plain functions (hand the event to your own queue for slow work); an
exception in a hook is logged on `agentos_llm.telemetry` and never reaches the call.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigurationError
from ..types import StructuredResponse

if TYPE_CHECKING:
    from ..types import Usage
    from .watch import Watch

__all__ = ["CallEvent", "HookHandle", "Hooks", "ManagerHooks"]

log = logging.getLogger("agentos_llm.telemetry")
Hook = Callable[["CallEvent"], object]


@dataclass(frozen=True)
class CallEvent:
    """What a hook is told about one provider call.

    `kind` says which hook is called; `call_id` is the same for a call's request and its outcome. `request` is
    what was asked: the `Call` (messages and options) of chat, stream and count_tokens, the list of texts of
    embed, `(query, documents)` of rerank. `response` is the result (`CompletionResponse`, `EmbeddingResponse`,
    `RerankResponse`, `TokenCount`) on success. `status` is "ok", "error" or "cancelled" (None before the
    outcome); `latency_s` and `ttft_s` (first stream event) are seconds since the call started. No field holds
    a key: the options' `api_key` is a `SecretStr`.
    """

    kind: Literal["request", "response", "error"]
    call_id: int
    operation: str
    """chat, stream, embed, rerank or count_tokens."""
    provider: str
    model: str
    api: str
    base_url: str | None
    request: Any = None
    response: Any = None
    error: BaseException | None = None
    status: Literal["ok", "error", "cancelled"] | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    usage: Usage | None = None
    request_id: str | None = None

    @property
    def cost_usd(self) -> float | None:
        """The call's cost in USD, where it was priced."""
        return self.usage.cost_usd if self.usage is not None else None


@dataclass(frozen=True)
class HookHandle:
    """What `add_hook` returns: pass it to `remove_hook`."""

    on_request: Hook | None
    on_response: Hook | None
    on_error: Hook | None


def _check(name: str, fn: Hook | None) -> None:
    if fn is None:
        return
    if not callable(fn):
        raise ConfigurationError(f"{name} must be a function taking a CallEvent, not {type(fn).__name__}")
    if inspect.iscoroutinefunction(fn):
        raise ConfigurationError(f"{name} must be a plain function: hooks run inline and are not awaited "
                                 "(hand the event to a queue or a task of your own)")


class Hooks:
    """The hooks of one manager (copy-on-write tuples: calls read them without a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.handles: tuple[HookHandle, ...] = ()

    def add(self, handle: HookHandle) -> None:
        with self._lock:
            self.handles = (*self.handles, handle)

    def remove(self, handle: HookHandle) -> bool:
        with self._lock:
            kept = tuple(h for h in self.handles if h is not handle)
            found = len(kept) != len(self.handles)
            self.handles = kept
        return found

    # ------------------------------------------------------------------ calling them

    def request(self, w: Watch) -> None:
        """Calls every `on_request` for a call about to be sent."""
        handles = self.handles
        if not any(h.on_request is not None for h in handles):
            return
        event = _event(w, "request")
        for h in handles:
            if h.on_request is not None:
                _call("on_request", h.on_request, event)

    def outcome(self, w: Watch, result: Any, error: BaseException | None, status: str, latency: float) -> None:
        """Calls every `on_response` (status ok) or `on_error` (error, cancelled) for a finished call."""
        ok = status == "ok"
        handles = self.handles
        if not any((h.on_response if ok else h.on_error) is not None for h in handles):
            return
        usage = getattr(_inner(result), "usage", None) if result is not None else w.usage
        event = _event(w, "response" if ok else "error", result, error, status, latency, usage)
        for h in handles:
            fn = h.on_response if ok else h.on_error
            if fn is not None:
                _call("on_response" if ok else "on_error", fn, event)


def _inner(result: Any) -> Any:
    return result.response if isinstance(result, StructuredResponse) else result


def _event(w: Watch, kind: Literal["request", "response", "error"], result: Any = None,
           error: BaseException | None = None, status: str | None = None, latency: float | None = None,
           usage: Any = None) -> CallEvent:
    p = w.provider
    request_id = getattr(result, "request_id", None) if result is not None else getattr(error, "request_id", None)
    return CallEvent(kind=kind, call_id=w.call_id, operation=w.op, provider=p.provider_id, model=w.model,
                     api=p.api, base_url=p.base_url, request=w.source, response=result, error=error,
                     status=status,  # type: ignore[arg-type]
                     latency_s=latency, ttft_s=w.ttft, usage=usage,
                     request_id=request_id if isinstance(request_id, str) else None)


def _call(name: str, fn: Hook, event: CallEvent) -> None:
    try:
        fn(event)
    except Exception:  # a hook never breaks a call
        log.exception("%s hook %r raised (the call goes on)", name, getattr(fn, "__qualname__", fn))


class ManagerHooks:
    """`add_hook` / `remove_hook` of `AIModelProviderManager` (see `agentos_llm.telemetry.hooks`)."""

    _call_hooks: Hooks | None = None

    def add_hook(self, *, on_request: Hook | None = None, on_response: Hook | None = None,
                 on_error: Hook | None = None) -> HookHandle:
        """Observes every provider call this manager makes from now on: `on_request(event)` before each is
        sent, then `on_response(event)` or `on_error(event)` (a `CallEvent`). Returns a handle for
        `remove_hook`. Hooks must be plain functions; their exceptions are logged, never raised."""
        _check("on_request", on_request)
        _check("on_response", on_response)
        _check("on_error", on_error)
        if on_request is None and on_response is None and on_error is None:
            raise ConfigurationError("add_hook needs at least one of on_request, on_response, on_error")
        handle = HookHandle(on_request, on_response, on_error)
        hooks = self._call_hooks
        if hooks is None:
            hooks = self._call_hooks = Hooks()
        hooks.add(handle)
        return handle

    def remove_hook(self, handle: HookHandle) -> None:
        """Stops the hooks `add_hook` returned `handle` for (`ConfigurationError` when not registered)."""
        hooks = self._call_hooks
        if hooks is None or not hooks.remove(handle):
            raise ConfigurationError("that hook handle is not registered on this manager")
        if not hooks.handles:
            self._call_hooks = None  # no hooks: calls pay nothing again

    @property
    def hooks(self) -> tuple[HookHandle, ...]:
        """The registered hook handles, in registration order."""
        return self._call_hooks.handles if self._call_hooks is not None else ()
