"""Token counting: the vendor's counting endpoint, shaped as `generate` sends, else a local estimate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from .calls import Call, Messages
from .telemetry.watch import watch
from .token_estimate import estimate_tokens
from .types import TokenCount

if TYPE_CHECKING:
    from .provider import IProvider


class TokenCounting:
    """`IProvider.count_tokens` and its sync twin."""

    def _count_plan(self, model: str | None, messages: Messages, options: Mapping[str, Any]
                    ) -> tuple[IProvider, Call, Any]:
        p = cast("IProvider", self)
        counter = p._serving(model)._count_provider()
        call = counter._make_call(model, messages, options)
        return counter, call, counter._build_count_request(call)

    def _token_count(self, call: Call, payload: Any) -> TokenCount:
        p = cast("IProvider", self)
        n = p._parse(lambda: p._parse_token_count(payload))
        return TokenCount(input_tokens=n, exact=True, model=call.model, provider=p.provider_id)

    async def count_tokens(self, model: str | None, messages: Messages, **options: Any) -> TokenCount:
        """How many input tokens the call would use: the vendor's counting endpoint, shaped exactly as
        `generate` would send (system, tools and options count); a documented local estimate
        (`exact=False`, see `agentos_llm.token_estimate`) where the host has no endpoint."""
        p = cast("IProvider", self)
        counter, call, request = p._count_plan(model, messages, options)
        if request is None:
            return estimate_tokens(call, provider=counter.provider_id)
        headers = counter._call_headers(call)

        async def send() -> TokenCount:
            payload = await counter._policy(call.options).acall(
                lambda t: counter._asend_guarded("count", request, t, headers))
            return counter._token_count(call, payload)

        w = watch(counter, "count_tokens", call.model, call)  # a local estimate sends nothing: not watched
        return await (send() if w is None else w.arun(send))

    def count_tokens_sync(self, model: str | None, messages: Messages, **options: Any) -> TokenCount:
        """`count_tokens`, blocking."""
        p = cast("IProvider", self)
        counter, call, request = p._count_plan(model, messages, options)
        if request is None:
            return estimate_tokens(call, provider=counter.provider_id)
        headers = counter._call_headers(call)

        def send() -> TokenCount:
            payload = counter._policy(call.options).call(lambda t: counter._send_guarded("count", request, t, headers))
            return counter._token_count(call, payload)

        w = watch(counter, "count_tokens", call.model, call)
        return send() if w is None else w.run(send)
