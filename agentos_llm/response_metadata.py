"""How a call was served: `CompletionResponse.metadata`, filled once per response.

Two kinds of facts meet here. The transport's come through the `Received` seam (`agentos_llm.received`):
the HTTP status and the selected headers. The body's are read from what the vendor sent: the service tier
that served the call (OpenAI's top-level `service_tier`, in chat completions, Responses and their stream
events; Anthropic's `usage.service_tier`, in whole messages and `message_start`) and, for aggregators, the
upstream the converters already read (`response.upstream`, OpenRouter's `provider`). The provider adds its
API, host row and base URL, then its `get_response_metadata` hook (overridable with `define_provider`) has
the last word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .types import CompletionResponse, ResponseMetadata, StreamEvent

if TYPE_CHECKING:
    from .provider import IProvider, StreamAssembler
    from .received import Heard

__all__ = ["ObservedAssembler", "complete", "completed_values", "heard_into", "observed", "service_tier_of",
           "with_service_tier"]


def service_tier_of(payload: Any) -> str | None:
    """The service tier a whole response body or one stream event names, or None."""
    if type(payload) is not dict:
        return None
    tier = payload.get("service_tier")
    if tier is None:
        inner = payload.get("response") or payload.get("message")  # Responses events; Anthropic message_start
        if type(inner) is dict:
            tier = inner.get("service_tier")
            if tier is None:
                usage = inner.get("usage")
                tier = usage.get("service_tier") if type(usage) is dict else None
        if tier is None:
            usage = payload.get("usage")
            tier = usage.get("service_tier") if type(usage) is dict else None
    return tier if isinstance(tier, str) and tier else None


class ObservedAssembler:
    """A stream assembler that also notes the service tier the stream's events name (the last one wins:
    Responses says "auto" when the stream opens and the tier that served it when it completes)."""

    __slots__ = ("inner", "service_tier")

    def __init__(self, inner: StreamAssembler) -> None:
        self.inner = inner
        self.service_tier: str | None = None

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        """The inner assembler's events for `chunk`."""
        if type(chunk) is dict:
            tier = chunk.get("service_tier")
            if type(tier) is str and tier:  # OpenAI chat: on every chunk
                self.service_tier = tier
            elif "response" in chunk or "message" in chunk or chunk.get("usage"):  # `"usage": null` is common
                self.service_tier = service_tier_of(chunk) or self.service_tier
        return self.inner.feed(chunk)

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """The inner assembler's tail and response, the response noting the tier seen."""
        tail, response = self.inner.finish()
        return tail, with_service_tier(response, self.service_tier)


def observed(assembler: StreamAssembler) -> StreamAssembler:
    """`assembler`, noting the service tier its stream names: itself when it notes the tier on its own (it has a
    `service_tier`: a call less per chunk), else wrapped in an `ObservedAssembler`."""
    return assembler if hasattr(assembler, "service_tier") else ObservedAssembler(assembler)


def with_service_tier(response: CompletionResponse, tier: str | None) -> CompletionResponse:
    """`response`, its metadata naming `tier` when a stream named one."""
    if tier is not None:
        response.metadata.service_tier = tier
    return response


_HEARD = frozenset({"status_code", "request_id"})
_HEARD_HEADERS = _HEARD | {"headers"}
_COMPLETED = frozenset({"request_id", "service_tier", "upstream", "api", "host", "base_url"})
"""The metadata fields hearing the headers sets (with the selected headers, when there were any), and those
`complete` sets."""


def heard_into(response: CompletionResponse, heard: Heard) -> None:
    """Puts what a response's headers (and status) said into its metadata."""
    meta = response.metadata
    values = {name: getattr(meta, name) for name in _HEARD_HEADERS}
    for name in _hear_values(values, heard):
        setattr(meta, name, values[name])
    meta._source = heard.source  # every header, for a `get_response_metadata` override; never dumped


def _hear_values(values: dict[str, Any], heard: Heard) -> frozenset[str]:
    """Puts what `heard` says into a metadata's field `values`; returns the fields it set."""
    values["status_code"] = heard.status
    values["request_id"] = heard.request_id or values["request_id"]
    if heard.headers:
        values["headers"] = dict(heard.headers)
        return _HEARD_HEADERS
    return _HEARD


def source_headers(response: CompletionResponse) -> Mapping[str, str] | None:
    """The response's headers as received (every one), when the I/O layer passed them on."""
    found: Mapping[str, str] | None = response.metadata._source
    return found


@lru_cache(maxsize=256)
def _safe_url(url: str | None) -> str | None:
    """A base URL without user info or query (either could carry a credential)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def complete(provider: IProvider, response: CompletionResponse) -> ResponseMetadata:
    """The response's metadata with the body's and the provider's facts added (the default of
    `IProvider.get_response_metadata`)."""
    meta = response.metadata
    values = {name: getattr(meta, name) for name in _COMPLETED}
    _complete_values(values, provider, response.__dict__)
    for name in _COMPLETED:
        setattr(meta, name, values[name])
    return meta


def _complete_values(values: dict[str, Any], provider: IProvider, response: dict[str, Any]) -> None:
    """Puts the body's and the provider's facts into a metadata's field `values` (`response`: the response's
    field values, its request id already the heard one)."""
    values["request_id"] = values["request_id"] or response["request_id"]
    if values["service_tier"] is None:
        values["service_tier"] = service_tier_of(response["raw"])
    values["upstream"] = values["upstream"] or response["upstream"]
    values["api"] = response["api"] or provider.api or None
    values["host"] = provider.catalog_key or None
    values["base_url"] = _safe_url(provider.base_url)


def completed_values(provider: IProvider, response: CompletionResponse, heard: Heard | None
                     ) -> tuple[dict[str, Any], frozenset[str]] | None:
    """What `heard_into` and then `complete` would make of the response's metadata, as its field values and the
    fields set, leaving the metadata untouched (the default hook's result without building it: a finished
    response packs these values, `agentos_llm.response_pack`). None when the metadata is not a plain
    `ResponseMetadata`; the caller then takes the long way. The response's own `request_id` must already be the
    one `heard` gives it."""
    meta = response.__dict__["metadata"]
    if type(meta) is not ResponseMetadata or meta.__pydantic_extra__:
        return None
    values = dict(meta.__dict__)
    fields = _COMPLETED | meta.__pydantic_fields_set__
    if heard is not None:
        fields |= _hear_values(values, heard)
    _complete_values(values, provider, response.__dict__)
    return values, fields
