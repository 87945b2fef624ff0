"""`ResponseMetadata`: how a call was served, as the transport and the body said (`CompletionResponse.metadata`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .model_construction import construct

__all__ = ["ResponseMetadata", "blank_metadata"]


class ResponseMetadata(BaseModel):
    """What the transport and the body said about how a call was served (see docs/models.md).

    `headers` are the selected response headers (request ids, rate limits, processing times, gateway costs),
    lower-cased; `service_tier` is the tier that served the call where the vendor says so (OpenAI's
    `service_tier`, Anthropic's `usage.service_tier`); `upstream` the provider an aggregator routed to
    (OpenRouter's `provider`); `host` the host row and `base_url` where the request went. `extra` holds
    what a `get_response_metadata` override adds.
    """

    model_config = ConfigDict(extra="forbid")
    status_code: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    request_id: str | None = None
    service_tier: str | None = None
    upstream: str | None = None
    api: str | None = None
    host: str | None = None
    base_url: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    _source: Any = PrivateAttr(default=None)  # the headers as received, for a `get_response_metadata` override


def blank_metadata() -> ResponseMetadata:
    """`ResponseMetadata()`, made without validating its defaults: every response gets one."""
    return construct(ResponseMetadata, set(), {})
