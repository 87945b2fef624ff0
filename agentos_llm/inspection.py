"""Request inspection: exactly what a call would send (method, URL, headers, JSON body), without sending it.

`IProvider.inspect_request(model, messages, **options)` runs the real call's steps up to the wire: the same
validation and routing (`_serving`, `_make_call`), the same converter and headers (`_wire_request`, which
`generate` and `stream` use too), the attempt's timeout from the same retry policy, and then the vendor
SDK's own request-building step (`agentos_llm.providers.dry_run`). Only the sending is left out, so what it
shows cannot drift from what a call sends. Secrets in the headers (and a key in the URL) are redacted.

`stream=True` inspects the streaming request; `inspect_embed_request` the embedding requests, one per batch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from .redaction import redact

if TYPE_CHECKING:
    from .provider import IProvider, Messages, Operation

__all__ = ["REDACTED", "InspectedRequest", "drive", "inspect_call", "inspect_embed", "redact_headers"]

T = TypeVar("T")
REDACTED = "[REDACTED]"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key",
                             "cookie", "x-amz-security-token"})
_SECRET_PARAMS = frozenset({"key", "api_key", "apikey", "access_token", "token"})


class InspectedRequest(BaseModel):
    """One HTTP request as a call would send it; secrets in `headers` and `url` are redacted."""

    model_config = ConfigDict(extra="forbid")
    provider: str
    api: str | None = None
    model: str | None = None
    operation: str = "chat"
    """"chat" (generate / stream) or "embed"."""
    stream: bool = False
    method: str
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    """Every header the SDK sets (lower-cased), as it would send them; credentials shown as "[REDACTED]"."""
    body: Any = None
    """The JSON body, parsed back from the bytes that would be sent (None for a request without one)."""


def _redacted_value(name: str, value: str) -> str:
    if name in _SECRET_HEADERS:
        scheme, sep, _ = value.partition(" ")
        return f"{scheme} {REDACTED}" if sep and scheme.isalpha() else REDACTED
    return redact(value)


def redact_headers(headers: Sequence[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    """Headers, lower-cased, with credentials masked (known auth headers, and any known or key-shaped secret)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k.lower(): _redacted_value(k.lower(), str(v)) for k, v in items}


def redact_url(url: str) -> str:
    """A URL without user info, with key-like query parameters masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, REDACTED if k.lower() in _SECRET_PARAMS else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="[]")
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def _body(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


async def _inspected(provider: IProvider, op: Operation, model: str | None, request: Any, headers: Any,
                     timeout: float | None, *, stream: bool, is_async: bool) -> InspectedRequest:
    try:
        built = await provider._inspect_http(op, request, timeout, headers, stream=stream, is_async=is_async)
    except Exception as exc:
        provider._reraise(exc)
    if isinstance(built, InspectedRequest):
        return built
    return InspectedRequest(provider=provider.provider_id, api=provider.api or None, model=model, operation=op,
                            stream=stream, method=built.method.upper(), url=redact_url(built.url),
                            headers=redact_headers(built.headers), body=_body(built.body))


async def inspect_call(provider: IProvider, model: str | None, messages: Messages, options: Mapping[str, Any], *,
                       is_async: bool) -> InspectedRequest:
    """What `provider.generate` (or `stream`, with `stream=True` in `options`) would send."""
    opts = dict(options)
    stream = bool(opts.pop("stream", False))
    serving = provider._serving(model)
    call = serving._make_call(model, messages, opts, stream=stream)
    if not stream and serving._whole_via_stream(call):
        call, stream = replace(call, stream=True), True  # a whole answer this long travels as a stream
    request, headers = serving._wire_request(call)
    timeout = serving._policy(call.options).attempt_timeout(time.monotonic())
    return await _inspected(serving, "chat", call.model, request, headers, timeout, stream=stream, is_async=is_async)


async def inspect_embed(provider: IProvider, model: str | None, texts: str | Sequence[str], *,
                        dimensions: int | None, input_type: str | None, api_key: Any,
                        is_async: bool) -> list[InspectedRequest]:
    """What `provider.embed` would send: one request per batch, in order."""
    from .request_keys import with_key

    name, batches, options = provider._embed_plan(model, texts, dimensions, input_type)
    headers = with_key(provider, None, api_key)
    timeout = provider.retry_policy.attempt_timeout(time.monotonic())
    return [await _inspected(provider, "embed", name, provider._build_embed_request(name, batch, options), headers,
                             timeout, stream=False, is_async=is_async) for batch in batches]


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine whose awaits never suspend (the sync builders', behind an async signature) to its
    result, without an event loop; one that would wait for real I/O is an error."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a sync inspection step awaited I/O: override the sync method too")
