"""The manager's calls, each along a route: generate, stream, structured output, token counting, embeddings
and reranking, with fallback, hops, breakers, limits, credential rotation and hedging.

`AIModelProviderManager` inherits these; they plan the call (its targets: a named route, a model id, and
`fallback=[...]`), then hand it to the `Router` (`agentos_llm.fallback`), the stream relay
(`agentos_llm.fallback_streams`) or a hedged race (`agentos_llm.hedging`). Per call, beside the provider
options: `fallback` (model ids or route names tried after the first), `on_fallback(hop, next_route)`,
`hedge=True` / `hedge_after=seconds | "p95"` (whole calls only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from .errors import ConfigurationError, InvalidRequestError
from .fallback import Router
from .fallback_streams import astream, stream
from .hedging import hedge_delay
from .provider import AsyncEventStream, EventStream, IProvider, Messages
from .routing import CallPlan, Kind, Route, check_route, estimate_input
from .telemetry.hooks import ManagerHooks
from .telemetry.routes import route_watch
from .token_estimate import estimate_text_tokens
from .types import CompletionResponse, EmbeddingResponse, Hop, RerankResponse, StructuredResponse, TokenCount

__all__ = ["RoutedCalls"]

T = TypeVar("T")
Fallback = str | Sequence[str] | None
OnFallback = Callable[[Hop, Route], None]
_HEDGE_KEYS = ("hedge", "hedge_after")


class RoutedCalls(ManagerHooks):
    """The call methods of `AIModelProviderManager` (see the module docstring)."""

    _router: Router
    _route_table: dict[str, tuple[str, ...]]
    _providers: dict[str, IProvider]
    on_fallback: OnFallback | None

    def resolve(self, model: str | None = None) -> Route:  # pragma: no cover - the manager's
        raise NotImplementedError

    def _resolve_id(self, model: str | None) -> Route:  # pragma: no cover - the manager's
        raise NotImplementedError

    def _embed_route(self, model: str | None) -> Route:  # pragma: no cover - the manager's
        raise NotImplementedError

    def _rerank_route(self, model: str | None) -> Route:  # pragma: no cover - the manager's
        raise NotImplementedError

    def _route_name_taken(self, name: str) -> bool:  # pragma: no cover - the manager's
        raise NotImplementedError

    # ------------------------------------------------------------------ routes

    def add_route(self, name: str, hops: Sequence[str]) -> None:
        """Names a route: model ids (`provider/model`, ...) tried in order; the name then works wherever a model
        id does. Replaces a route of that name."""
        if self._route_name_taken(name):
            raise ConfigurationError(f"route name {name!r} is a provider id: pick another name")
        self._route_table[name] = check_route(name, hops)

    def remove_route(self, name: str) -> tuple[str, ...]:
        """Forgets a route; returns its hops."""
        try:
            return self._route_table.pop(name)
        except KeyError:
            raise ConfigurationError(f"no route named {name!r} (routes: {', '.join(self._route_table) or 'none'})"
                                     ) from None

    @property
    def routes(self) -> dict[str, tuple[str, ...]]:
        """The named routes and their hops."""
        return dict(self._route_table)

    def _targets(self, model: str | None, fallback: Fallback, first: Callable[[str | None], Route]
                 ) -> tuple[list[Route], str | None]:
        name = model if model and model in self._route_table else None
        targets = [self._resolve_id(h) for h in self._route_table[name]] if name else [first(model)]
        for extra in [fallback] if isinstance(fallback, str) else (fallback or ()):
            targets.extend(self._resolve_id(h) for h in self._route_table.get(extra, (extra,)))
        return targets, name

    def _plan(self, kind: Kind, model: str | None, fallback: Fallback, options: dict[str, Any], *,
              estimated: float = 0.0, dimensions: int | None = None,
              first: Callable[[str | None], Route] | None = None) -> tuple[CallPlan, float | None]:
        hook = options.pop("on_fallback", None) or self.on_fallback
        hedge, hedge_after = options.pop("hedge", None), options.pop("hedge_after", None)
        targets, name = self._targets(model, fallback, first or self.resolve)
        plan = CallPlan(kind, targets, name, options, estimated, dimensions, hook)
        if kind == "stream" and (hedge or hedge_after is not None):
            raise InvalidRequestError("streams are not hedged: hedge and hedge_after apply to whole calls "
                                      "(generate, generate_structured, embed, rerank, count_tokens)")
        return plan, hedge_delay(self._router, kind, targets[0], hedge, hedge_after)

    @staticmethod
    def _chat_estimate(messages: Messages, options: Mapping[str, Any]) -> float:
        out = options.get("max_tokens")
        return estimate_input(messages) + (out if isinstance(out, int) else 0)

    @staticmethod
    def _hedged(options: Mapping[str, Any]) -> bool:
        return any(options.get(k) is not None and options.get(k) is not False for k in _HEDGE_KEYS)

    def _run(self, plan: CallPlan, attempt: Callable[[IProvider, str, dict[str, Any]], T]) -> T:
        """`Router.run` under the manager's hooks and route span (`agentos_llm.telemetry`), when any."""
        w = route_watch(plan, self._call_hooks)
        if w is None:
            return self._router.run(plan, attempt)
        return w.run(lambda: self._router.run(plan, attempt))

    async def _arun(self, plan: CallPlan, attempt: Callable[[IProvider, str, dict[str, Any]], Awaitable[T]],
                    delay: float | None) -> T:
        """`Router.arun` under the manager's hooks and route span, when any."""
        w = route_watch(plan, self._call_hooks)
        if w is None:
            return await self._router.arun(plan, attempt, delay)
        return await w.arun(lambda: self._router.arun(plan, attempt, delay))

    # ------------------------------------------------------------------ generate

    async def generate(self, model: str | None, messages: Messages, *, fallback: Fallback = None,
                       **options: Any) -> CompletionResponse:
        """`generate` on the provider `model` routes to (a model id or a route name). The hops after it
        (`fallback` model ids or route names, or the route's) are tried in order on provider-side failures
        (rate limits, quota, outages, auth, an open breaker), never on an invalid request; `response.hops`
        says what each did. `hedge=True` / `hedge_after=s` races the next hop after a delay."""
        plan, delay = self._plan("chat", model, fallback, options, estimated=self._chat_estimate(messages, options))
        return await self._arun(plan, lambda p, m, o: p.generate(m, messages, **o), delay)

    def generate_sync(self, model: str | None, messages: Messages, *, fallback: Fallback = None,
                      **options: Any) -> CompletionResponse:
        """`generate`, blocking (a hedged call runs on the library's background loop)."""
        if self._hedged(options):
            from .sync_bridge import run_sync

            return run_sync(self.generate(model, messages, fallback=fallback, **options))
        plan, _ = self._plan("chat", model, fallback, options, estimated=self._chat_estimate(messages, options))
        return self._run(plan, lambda p, m, o: p.generate_sync(m, messages, **o))

    # ------------------------------------------------------------------ stream

    def stream(self, model: str | None, messages: Messages, *, fallback: Fallback = None,
               **options: Any) -> AsyncEventStream:
        """`stream` along the route; a hop is left for the next only before its first event. The `done`
        event's response has the hops."""
        plan, _ = self._plan("stream", model, fallback, options, estimated=self._chat_estimate(messages, options))
        events = astream(self._router, plan, lambda p, m, o: p.stream(m, messages, **o))
        w = route_watch(plan, self._call_hooks)
        return AsyncEventStream(events if w is None else w.astream(events))

    def stream_sync(self, model: str | None, messages: Messages, *, fallback: Fallback = None,
                    **options: Any) -> EventStream:
        """`stream_sync` along the route; a hop is left for the next only before its first event."""
        plan, _ = self._plan("stream", model, fallback, options, estimated=self._chat_estimate(messages, options))
        events = stream(self._router, plan, lambda p, m, o: p.stream_sync(m, messages, **o))
        w = route_watch(plan, self._call_hooks)
        return EventStream(events if w is None else w.stream(events))

    # ------------------------------------------------------------------ structured output

    async def generate_structured(self, model: str | None, messages: Messages, schema: type[T] | Any, *,
                                  fallback: Fallback = None, **options: Any) -> StructuredResponse[T]:
        """`generate_structured` along the route (hops on `result.response.hops`). An answer that never
        validates (`StructuredOutputError`) is the model's, not an outage: it does not fall back."""
        plan, delay = self._plan("structured", model, fallback, options,
                                 estimated=self._chat_estimate(messages, options))
        return await self._arun(plan, lambda p, m, o: p.generate_structured(m, messages, schema, **o), delay)

    def generate_structured_sync(self, model: str | None, messages: Messages, schema: type[T] | Any, *,
                                 fallback: Fallback = None, **options: Any) -> StructuredResponse[T]:
        """`generate_structured`, blocking."""
        if self._hedged(options):
            from .sync_bridge import run_sync

            return run_sync(self.generate_structured(model, messages, schema, fallback=fallback, **options))
        plan, _ = self._plan("structured", model, fallback, options, estimated=self._chat_estimate(messages, options))
        return self._run(plan, lambda p, m, o: p.generate_structured_sync(m, messages, schema, **o))

    # ------------------------------------------------------------------ token counting

    async def count_tokens(self, model: str | None, messages: Messages, *, fallback: Fallback = None,
                           **options: Any) -> TokenCount:
        """`count_tokens` along the route (each hop counts with its own tokenizer: `result.model` says whose)."""
        plan, delay = self._plan("count", model, fallback, options)
        return await self._arun(plan, lambda p, m, o: p.count_tokens(m, messages, **o), delay)

    def count_tokens_sync(self, model: str | None, messages: Messages, *, fallback: Fallback = None,
                          **options: Any) -> TokenCount:
        """`count_tokens`, blocking."""
        if self._hedged(options):
            from .sync_bridge import run_sync

            return run_sync(self.count_tokens(model, messages, fallback=fallback, **options))
        plan, _ = self._plan("count", model, fallback, options)
        return self._run(plan, lambda p, m, o: p.count_tokens_sync(m, messages, **o))

    # ------------------------------------------------------------------ embeddings

    def _embed_plan(self, model: str | None, texts: str | Sequence[str], dimensions: int | None,
                    fallback: Fallback, extra: dict[str, Any]) -> tuple[CallPlan, float | None]:
        items = [texts] if isinstance(texts, str) else texts
        estimated = sum(estimate_text_tokens(t) for t in items if isinstance(t, str))
        return self._plan("embed", model, fallback, extra, estimated=estimated, dimensions=dimensions,
                          first=self._embed_route)

    async def embed(self, model: str | None, texts: str | Sequence[str], *, dimensions: int | None = None,
                    input_type: str | None = None, fallback: Fallback = None, **route: Any) -> EmbeddingResponse:
        """`embed` along the route (no model: the first provider with an embedding model). A fallback hop is
        tried only when its vectors have the route's size (see docs/routing-and-resilience.md)."""
        plan, delay = self._embed_plan(model, texts, dimensions, fallback, _route_only(route))
        return await self._arun(
            plan, lambda p, m, o: p.embed(m, texts, dimensions=dimensions, input_type=input_type), delay)

    def embed_sync(self, model: str | None, texts: str | Sequence[str], *, dimensions: int | None = None,
                   input_type: str | None = None, fallback: Fallback = None, **route: Any) -> EmbeddingResponse:
        """`embed`, blocking."""
        if self._hedged(route):
            from .sync_bridge import run_sync

            return run_sync(self.embed(model, texts, dimensions=dimensions, input_type=input_type, fallback=fallback,
                                       **route))
        plan, _ = self._embed_plan(model, texts, dimensions, fallback, _route_only(route))
        return self._run(plan, lambda p, m, o: p.embed_sync(m, texts, dimensions=dimensions,
                                                            input_type=input_type))

    # ------------------------------------------------------------------ reranking

    def _rerank_plan(self, model: str | None, query: str, documents: Sequence[str], fallback: Fallback,
                     extra: dict[str, Any]) -> tuple[CallPlan, float | None]:
        q = estimate_text_tokens(query) if isinstance(query, str) else 0
        docs = [documents] if isinstance(documents, str) else documents
        estimated = sum(q + estimate_text_tokens(d) for d in docs if isinstance(d, str))
        return self._plan("rerank", model, fallback, extra, estimated=estimated, first=self._rerank_route)

    async def rerank(self, model: str | None, query: str, documents: Sequence[str], *, top_n: int | None = None,
                     fallback: Fallback = None, **route: Any) -> RerankResponse:
        """`rerank` along the route (no model: the first provider with a rerank model)."""
        plan, delay = self._rerank_plan(model, query, documents, fallback, _route_only(route))
        return await self._arun(plan, lambda p, m, o: p.rerank(m, query, documents, top_n=top_n), delay)

    def rerank_sync(self, model: str | None, query: str, documents: Sequence[str], *, top_n: int | None = None,
                    fallback: Fallback = None, **route: Any) -> RerankResponse:
        """`rerank`, blocking."""
        if self._hedged(route):
            from .sync_bridge import run_sync

            return run_sync(self.rerank(model, query, documents, top_n=top_n, fallback=fallback, **route))
        plan, _ = self._rerank_plan(model, query, documents, fallback, _route_only(route))
        return self._run(plan, lambda p, m, o: p.rerank_sync(m, query, documents, top_n=top_n))


def _route_only(extra: dict[str, Any]) -> dict[str, Any]:
    """The per-call routing keywords of embed and rerank (which take no provider options)."""
    unknown = sorted(set(extra) - {"on_fallback", "hedge", "hedge_after"})
    if unknown:
        raise InvalidRequestError(f"unknown option(s) {', '.join(unknown)}; besides their own arguments, embed and "
                                  "rerank take fallback, on_fallback, hedge and hedge_after")
    return extra
