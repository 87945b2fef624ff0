"""How `IProvider` finishes an answer: what its headers said, its price, its metadata, packing."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from .calls import Call, Operation
from .errors import APITimeoutError
from .pricing import prefetch as prefetch_prices
from .pricing import price_usage
from .received import Heard, Received, hear
from .request_keys import sent_credential, with_key
from .response_metadata import complete as complete_metadata
from .response_metadata import completed_values, source_headers
from .response_pack import pack
from .streaming import noted, within
from .types import (
    CompletionResponse,
    ResponseMetadata,
    StreamEvent,
    Usage,
    UsageEvent,
)

if TYPE_CHECKING:
    from .provider import IProvider

_FINISHED = frozenset({"api", "metadata", "raw"})
_FINISHED_HEARD = _FINISHED | {"request_id", "rate_limits"}


class ResponseFinishing:
    """`IProvider`'s policy for what comes back: typed sends, heard headers, priced and packed answers."""

    def _finish(self, response: CompletionResponse, heard: Heard | None = None) -> CompletionResponse:
        """The parsed answer with what its headers said (`heard`), priced, its metadata completed, packed."""
        p = cast("IProvider", self)
        p._price(response.usage, response.model)
        fields_set = response.__pydantic_fields_set__
        if type(p).get_response_metadata is not _DEFAULT_METADATA or type(fields_set) is not set:
            return self._finish_by_hook(noted(response, heard))
        # The default hook's result, computed rather than built: the metadata goes straight into the packed
        # record (the long way above builds the same, field for field; the tests compare them).
        d = response.__dict__
        if heard is not None:
            d["request_id"] = heard.request_id or d["request_id"]
            d["rate_limits"] = None  # packed from the headers (built on read), or parsed by `pack`
        d["api"] = p.api or None
        metadata = completed_values(p, response, heard)
        if metadata is None:
            return self._finish_by_hook(noted(response, heard))
        fields_set.update(_FINISHED if heard is None else _FINISHED_HEARD)
        if not p.keep_raw:
            d["raw"] = None
        return pack(response, metadata, None if heard is None else heard.limits_at)

    def _finish_by_hook(self, response: CompletionResponse) -> CompletionResponse:
        p = cast("IProvider", self)
        response.api = p.api or None
        response.metadata = p.get_response_metadata(response, source_headers(response))
        response.metadata._source = None  # every header as received: read by the hook above, not kept
        if not p.keep_raw:
            response.raw = None
        return pack(response)  # kept compactly: agents retain long histories of responses

    def get_response_metadata(self, response: CompletionResponse,
                              headers: Mapping[str, str] | None) -> ResponseMetadata:
        """How `response` was served (its `metadata`): HTTP status, selected headers, request id, service tier,
        upstream, API, host and base URL. `headers` are all the response's headers (None when the I/O layer
        passed none on); an override may add what it reads to `extra`."""
        return complete_metadata(cast("IProvider", self), response)

    def _price(self, usage: Usage, model: str) -> None:
        """Fills `usage.cost_usd` and `usage.cost_source` (the order is `agentos_llm.pricing`'s)."""
        p = cast("IProvider", self)
        price_usage(p, usage, model)

    def _priced(self, events: Sequence[StreamEvent], model: str) -> Sequence[StreamEvent]:
        """Stream events with the cost on a `usage` event, as `done` will carry it."""
        p = cast("IProvider", self)
        for event in events:
            if type(event) is UsageEvent:
                p._price(event.usage, model)
        return events

    def _send_guarded(self, op: Operation, request: Any, timeout: float | None,
                      headers: Mapping[str, str] | None) -> Any:
        """`_send` with errors typed. A "chat" answer comes back as the hook gave it (`_whole` reads its
        headers onto the response); any other operation's headers are heard here and the payload returned."""
        p = cast("IProvider", self)
        prefetch_prices()  # the first call's price is ready when its answer is
        try:
            got = p._send(op, request, timeout, headers)
        except Exception as exc:
            p._reraise(exc)
        return p._payload(got, headers) if op != "chat" else got

    async def _asend_guarded(self, op: Operation, request: Any, timeout: float | None,
                             headers: Mapping[str, str] | None) -> Any:
        """`_asend` with errors typed; see `_send_guarded`."""
        p = cast("IProvider", self)
        prefetch_prices()
        try:
            # The attempt's timeout bounds the whole exchange, a body that trickles in too (the HTTP clients'
            # timeouts bound each read only).
            got = await within(p._asend(op, request, timeout, headers), timeout)
        except Exception as exc:
            if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) and timeout is not None:
                raise APITimeoutError(f"the attempt did not finish within its timeout of {timeout:g}s",
                                      provider=p.provider_id) from None
            p._reraise(exc)
        return p._payload(got, headers) if op != "chat" else got

    def _hear(self, headers: Mapping[str, str] | None, sent: Mapping[str, str] | None = None,
              status: int | None = None) -> Heard:
        """The request id, rate limits (kept for the credential the request was `sent` with: this provider's,
        or a request's own key), reported cost, status and selected headers of a response."""
        p = cast("IProvider", self)
        credential = p._listing_key if sent is None else (lambda: sent_credential(p, sent))
        return hear(p.provider_id, credential, headers, status)

    def _payload(self, got: Any, sent: Mapping[str, str] | None = None) -> Any:
        p = cast("IProvider", self)
        if type(got) is Received:
            p._hear(got.headers, sent, got.status)
            return got.payload
        return got

    def _whole(self, got: Any, call: Call) -> CompletionResponse:
        """A whole answer from what `_send` returned, with what its headers said, priced."""
        p = cast("IProvider", self)
        if type(got) is not Received:
            return p._finish(p._parse(lambda: p._parse_response(got, call)))
        response = p._parse(lambda: p._parse_response(got.payload, call))
        heard = p._hear(got.headers, with_key(p, None, call.options.api_key), got.status)
        if heard.cost_usd is not None:  # a gateway's own price for the call (LiteLLM) wins
            response.usage.cost_usd, response.usage.cost_source = heard.cost_usd, "provider"
        return p._finish(response, heard)


_DEFAULT_METADATA = ResponseFinishing.get_response_metadata
