"""Routes and fallback for the manager: the targets one call tries, and the rules between its hops.

A route is a name and the model ids tried in order (`"fast": ["groq/llama-3.3-70b-versatile",
"openai/gpt-4.1-mini"]`); a model id with `fallback=[...]` is an ad-hoc route. `Walk` follows one call along
its targets and records a `types.Hop` for each; `agentos_llm.fallback.Router` runs the hops. The rules:

- What moves a call on: `FALLBACK_ON` errors (the provider cannot serve now: rate limits, quota, outages,
  auth, unknown model, an unparsable answer, an open breaker, a client-side limit) and
  `UnsupportedCapabilityError` (raised before sending: that hop's model cannot take this request, say
  images; the next one may). Anything else is raised at once, an invalid request above all (the next hop
  would refuse it too), content-filter refusals included.
- After a `ContextLengthExceededError`, only hops with a larger known context window (catalog, else the
  credential's live listing) are tried: forward, never back; a hop whose window is unknown is skipped.
- Embeddings fall back only to a hop whose vectors have the route's size: the `dimensions` asked, else the
  first hop's size (learned from this manager's earlier answers of that model, else `EMBEDDING_DIMENSIONS`);
  a fallback hop whose size is unknown is skipped, and one that answers with another size is rejected.
- `previous_response_id` pins a call to the first hop's provider and API (the stored history lives there).
- Options are mapped per fallback hop: `max_tokens` is clipped to the hop's output limit, `extra` (vendor
  body fields) is left out on hops of another wire API, the call's `deadline` becomes what is left of it;
  reasoning and sampling options are adapted by each hop's converter. Each change is a note on the hop.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .catalog import catalog_entry, catalog_models
from .config_schema import ROUTE_NAME
from .errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    CircuitOpenError,
    ConfigurationError,
    ContextLengthExceededError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RouteExhaustedError,
    ServerError,
    UnsupportedCapabilityError,
)
from .token_estimate import estimate_text_tokens
from .types import CompletionResponse, Hop, Message, StructuredResponse

if TYPE_CHECKING:
    from .provider import IProvider

__all__ = ["EMBEDDING_DIMENSIONS", "FALLBACK_ON", "MODEL_NAMESPACES", "CallPlan", "Route", "Walk", "check_prefix",
           "check_route", "context_window", "estimate_input"]

log = logging.getLogger("agentos_llm")

Kind = Literal["chat", "structured", "stream", "count", "embed", "rerank"]

FALLBACK_ON: tuple[type[BaseException], ...] = (
    RateLimitError, QuotaExceededError, ServerError, APITimeoutError, APIConnectionError, AuthenticationError,
    PermissionDeniedError, NotFoundError, MalformedResponseError, CircuitOpenError)
"""Errors that say "this hop cannot serve now", so the next hop of a route is tried."""

EMBEDDING_DIMENSIONS: Mapping[str, int] = {
    "text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536,
    "gemini-embedding-001": 3072, "text-embedding-004": 768, "mistral-embed": 1024,
    "embed-v4.0": 1536, "embed-english-v3.0": 1024, "embed-multilingual-v3.0": 1024,
    "voyage-3.5": 1024, "voyage-3.5-lite": 1024, "voyage-3-large": 1024, "voyage-code-3": 1024,
    "amazon.titan-embed-text-v2:0": 1024, "cohere.embed-english-v3": 1024, "cohere.embed-multilingual-v3": 1024,
    "nomic-embed-text": 768, "nomic-ai/nomic-embed-text-v1.5": 768,
}
"""The default vector size of common embedding models (without `dimensions`), whatever host serves them."""


@dataclass(frozen=True)
class Route:
    """Where a model id goes: the provider, the model name the vendor sees, and why."""

    provider: IProvider
    model: str
    reason: str
    options: Mapping[str, Any] = field(default_factory=dict)
    """Request options the model id carries (a `define_model`'s `provider_options`), under the call's own."""


def check_route(name: str, hops: Sequence[str], *, providers: Sequence[str] = ()) -> tuple[str, ...]:
    """A route's hops, checked: a name that cannot shadow a model id, and a non-empty list of model ids."""
    if not isinstance(name, str) or not ROUTE_NAME.fullmatch(name):
        raise ConfigurationError(f"route name {name!r} must be letters, digits, _ . - (no / or :), up to 64")
    if name in providers:
        raise ConfigurationError(f"route name {name!r} is a provider id: pick another name")
    if isinstance(hops, str) or not hops or not all(isinstance(h, str) and h.strip() for h in hops):
        raise ConfigurationError(f'route {name!r} needs a non-empty list of model ids, e.g. ["groq/..", "openai/.."]')
    return tuple(h.strip() for h in hops)


MODEL_NAMESPACES: frozenset[str] = frozenset({
    "mistralai", "deepseek-ai", "x-ai", "coherelabs", "fireworks-ai", "voyageai"})
"""Model namespaces of aggregators and model hubs (OpenRouter, Together, Hugging Face ...) that look like a
misspelt provider id but are not one: `check_prefix` lets them through."""


def check_prefix(model: str, known: Iterable[str], default: IProvider) -> None:
    """Refuses a model id whose namespace looks like a misspelt provider id, before it goes to the default
    provider under that name (`openia/gpt-4o` would reach the default provider as the model "openia/gpt-4o").

    Called only for a model id that nothing else routed (no provider, route, defined model or catalog claims
    it). Refused, with a `ConfigurationError` suggesting the near id, when all of these hold:

    - the id has a "/" and the part before it is within edit distance of a `known` provider id (difflib ratio
      0.75 or more, case ignored); the colon form is not checked, since Ollama tags (`llama3:8b`) and Bedrock
      versions (`...-v1:0`) put colons in model names;
    - that part is not a namespace the default provider serves: no model of its static catalog or of its
      cached live listing starts with it plus "/" (`meta-llama/`, `Qwen/` on Together, `accounts/` on
      Fireworks), and it is not one of `MODEL_NAMESPACES` (`mistralai/` on OpenRouter).

    Writing the default provider's id in front (`openrouter/openia/...`) always sends the name as written.
    """
    prefix, sep, rest = model.partition("/")
    lowered = prefix.lower()
    if not (sep and rest and prefix) or lowered in MODEL_NAMESPACES:
        return
    ids = list(dict.fromkeys(known))
    near = difflib.get_close_matches(lowered, ids, n=1, cutoff=0.75)
    if not near or _serves_namespace(default, prefix + "/"):
        return
    raise ConfigurationError(
        f"{model!r}: {prefix!r} is not a provider id; did you mean {near[0]!r} ({near[0]}/{rest})? "
        f"To send {model!r} to the default provider {default.provider_id!r} as written, name it: "
        f"{default.provider_id}/{model}")


def _serves_namespace(provider: IProvider, namespace: str) -> bool:
    listed = provider.models_cache.get(provider._listing_key()) or ()
    return any(m.id.startswith(namespace) for m in (*catalog_models(provider.catalog_key), *listed))


def context_window(provider: IProvider, model: str) -> int | None:
    """The model's context window: the catalog's, else this credential's cached live listing's."""
    known = catalog_entry(provider.catalog_key, model)
    if known is not None and known.context_window:
        return known.context_window
    listed = provider.models_cache.find(provider._listing_key(), model)
    return listed.context_window if listed is not None else None


def _max_output(provider: IProvider, model: str) -> int | None:
    known = catalog_entry(provider.catalog_key, model)
    return known.max_output_tokens if known is not None else None


def estimate_input(messages: Any) -> int:
    """A quick input-token estimate for the client-side token buckets (the text only; settled after the call)."""
    if isinstance(messages, str):
        return estimate_text_tokens(messages) + 6
    if isinstance(messages, (Message, dict)):
        messages = [messages]
    total = 3
    try:
        for m in messages:
            content = m.get("content") if isinstance(m, dict) else getattr(m, "text", m)
            total += 3 + (estimate_text_tokens(content) if isinstance(content, str) else 0)
    except TypeError:
        return 0
    return total


def _inner(result: Any) -> Any:
    """The response that carries usage, rate limits and hops (a structured answer's completion)."""
    return result.response if isinstance(result, StructuredResponse) else result


@dataclass
class CallPlan:
    """One manager call: its kind, targets, options and the route's settings."""

    kind: Kind
    targets: list[Route]
    route: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    estimated_tokens: float = 0.0
    dimensions: int | None = None
    on_fallback: Callable[[Hop, Route], None] | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float | None:
        """The whole call's deadline (seconds, every hop included), when the call gives one."""
        value = self.options.get("deadline")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def label(self, i: int) -> str:
        t = self.targets[i]
        return f"{t.provider.provider_id}/{t.model}"


class Walk:
    """One call's way along its targets: the hops so far, the errors, and the rules they set for the next."""

    def __init__(self, plan: CallPlan, dims: Callable[[Route], int | None] | None = None) -> None:
        self.plan = plan
        self.hops: list[Hop] = []
        self.errors: list[BaseException] = []
        self.min_window: int | None = None  # set by a context-length error
        self.hedged = False
        self._known_dims = dims
        self.dims: int | None = None
        if plan.kind == "embed":
            self.dims = plan.dimensions or (dims(plan.targets[0]) if dims is not None else None)

    # ------------------------------------------------------------------ before a hop

    def left(self) -> float | None:
        """Seconds the call's deadline leaves (None: no deadline)."""
        deadline = self.plan.deadline
        return None if deadline is None else deadline - (time.monotonic() - self.plan.started)

    def max_wait(self, provider: IProvider, options: Mapping[str, Any]) -> float | None:
        """How long the client-side limits may hold a hop: what the deadline leaves, else one attempt's timeout."""
        left = self.left()
        if left is not None:
            return max(0.0, left)
        timeout = options.get("timeout")
        if isinstance(timeout, (int, float)) and timeout > 0:
            return float(timeout)
        policy = provider.retry_policy
        return policy.deadline or policy.timeout

    def skip_reason(self, i: int, target: Route) -> str | None:
        """Why hop `i` must not be tried, or None."""
        left = self.left()
        if left is not None and left <= 0:
            return f"the call's deadline of {self.plan.deadline:g}s is spent"
        if self.min_window is not None:
            window = context_window(target.provider, target.model)
            if window is None:
                return "its context window is unknown, and a smaller one was already too small"
            if window <= self.min_window:
                return f"its context window ({window}) is not larger than {self.min_window}, already too small"
        if i == 0:
            return None
        if self.plan.kind == "embed":
            size = self.plan.dimensions or (self._known_dims(target) if self._known_dims is not None else None)
            if self.dims is None:
                return ("the route's vector size is unknown (pass dimensions=..., or let its first hop answer "
                        "once)")
            if size is None:
                return f"its vector size is unknown (the route's is {self.dims})"
            if size != self.dims:
                return f"its vectors have {size} dimensions, the route's {self.dims}"
        first = self.plan.targets[0].provider
        if self.plan.options.get("previous_response_id") and (
                target.provider.provider_id, target.provider.api) != (first.provider_id, first.api):
            return f"previous_response_id belongs to {first.provider_id} ({first.api})"
        return None

    def options_for(self, i: int, target: Route) -> tuple[dict[str, Any], list[str]]:
        """The options hop `i` is sent, and notes on what changed from the caller's."""
        opts = self.plan.options
        if target.options and self.plan.kind not in ("embed", "rerank"):
            from .model_definitions import merge_options

            opts = merge_options(target.options, opts)  # a defined model's options, under the call's
        notes: list[str] = []
        if not opts or self.plan.kind in ("embed", "rerank"):
            return opts, notes
        out: dict[str, Any] | None = None
        if i > 0:
            asked = opts.get("max_tokens")
            cap = _max_output(target.provider, target.model) if isinstance(asked, int) else None
            if cap and isinstance(asked, int) and asked > cap:
                out = {**opts, "max_tokens": cap}
                notes.append(f"max_tokens {asked} clipped to {cap}, the model's output limit")
            first = self.plan.targets[0].provider
            if opts.get("extra") and target.provider.api != first.api:
                out = out if out is not None else dict(opts)
                del out["extra"]
                notes.append(f"extra left out: its vendor fields were given for {first.api or first.provider_id}")
        left = self.left()
        if left is not None:
            out = out if out is not None else dict(opts)
            out["deadline"] = max(left, 0.001)
        return (opts if out is None else out), notes

    # ------------------------------------------------------------------ after a hop

    def _hop(self, target: Route, outcome: Literal["served", "failed", "skipped", "cancelled"], started: float,
             error: BaseException | None = None, notes: Sequence[str] = (), usage: Any = None) -> Hop:
        hop = Hop(provider=target.provider.provider_id, model=target.model,
                  error=None if error is None else type(error).__name__,
                  elapsed_ms=(time.perf_counter() - started) * 1000.0 if started else 0.0,
                  note="; ".join(notes) or None, outcome=outcome, usage=usage)
        self.hops.append(hop)
        return hop

    def skipped(self, i: int, target: Route, reason: str) -> None:
        """Hop `i` was not tried (a rule of the route)."""
        hop = self._hop(target, "skipped", 0.0, notes=[f"skipped: {reason}"])
        self._moving_on(i, hop)

    def failed(self, i: int, target: Route, exc: BaseException, started: float, notes: Sequence[str]) -> bool:
        """Records hop `i`'s failure; False when the error must be raised instead of trying the next hop."""
        if isinstance(exc, ContextLengthExceededError):
            window = context_window(target.provider, target.model)
            self.min_window = max(self.min_window or 0, window or 0)
        elif not isinstance(exc, (*FALLBACK_ON, UnsupportedCapabilityError)):
            return False
        local = isinstance(exc, (CircuitOpenError, UnsupportedCapabilityError)) or (
            getattr(exc, "code", None) == "client_rate_limit")
        self.errors.append(exc)
        hop = self._hop(target, "skipped" if local else "failed", started, exc,
                        [*notes, "nothing was sent"] if local else notes)
        self._moving_on(i, hop, exc)
        return True

    def cancelled(self, target: Route, started: float, notes: Sequence[str]) -> None:
        """A hedged hop stopped because another answered first."""
        self._hop(target, "cancelled", started, notes=notes)

    def _moving_on(self, i: int, hop: Hop, exc: BaseException | None = None) -> None:
        if i + 1 >= len(self.plan.targets):
            return
        if exc is not None:
            log.warning("falling back from %s after %s: %s", self.plan.label(i), type(exc).__name__, exc)
        hook = self.plan.on_fallback
        if hook is not None:
            try:
                hook(hop, self.plan.targets[i + 1])
            except Exception:  # a hook must never break the call it watches
                log.exception("the on_fallback hook failed")

    def rejects(self, i: int, target: Route, result: Any, started: float, notes: list[str]) -> bool:
        """Whether a fallback hop's answer breaks the route's rules (embeddings of another size): then it is
        recorded as failed and the next hop is tried."""
        if self.plan.kind != "embed":
            return False
        vectors = getattr(result, "vectors", None)
        size = len(vectors[0]) if vectors else None
        if self.dims is None or i == 0 or size is None or size == self.dims:
            if self.dims is None:
                self.dims = size
            return False
        exc = UnsupportedCapabilityError(target.provider.provider_id, "embedding dimensions",
                                         f"{target.model} answered with {size} dimensions, the route's are "
                                         f"{self.dims}")
        self.errors.append(exc)
        hop = self._hop(target, "failed", started, exc, [*notes, f"answer rejected: {size} dimensions, not "
                                                                 f"{self.dims}"], usage=getattr(result, "usage", None))
        self._moving_on(i, hop, exc)
        return True

    def served(self, target: Route, result: Any, started: float, notes: Sequence[str]) -> Any:
        """Records the hop that served and puts every hop on the result."""
        inner = _inner(result)
        usage = result.usage if isinstance(result, StructuredResponse) else getattr(inner, "usage", None)
        self._hop(target, "served", started, notes=notes, usage=usage)
        inner.hops = self.hops
        return result

    def serving(self, target: Route, started: float, notes: Sequence[str]) -> None:
        """Records the hop a stream is served by (at its first event; `attach_stream_hops` completes it)."""
        self._hop(target, "served", started, notes=notes)

    def exhausted(self) -> BaseException:
        """The error when no hop served: a one-hop call's own error, else `RouteExhaustedError`."""
        if len(self.plan.targets) == 1 and self.errors:
            return self.errors[-1]
        what = f"route {self.plan.route!r}" if self.plan.route else "the fallback route"
        detail = ", ".join(f"{h.provider}/{h.model} ({h.error or h.outcome})" for h in self.hops)
        return RouteExhaustedError(f"every hop of {what} failed: {detail}", errors=self.errors, hops=self.hops,
                                   route=self.plan.route)


def attach_stream_hops(walk: Walk, response: CompletionResponse) -> None:
    """Puts the hops on a stream's whole response (the serving hop's usage known only now)."""
    if walk.hops and walk.hops[-1].outcome == "served":
        walk.hops[-1].usage = response.usage
    response.hops = walk.hops
