"""The OpenAI dialect's errors: error bodies, scripted faults, and the rate-limit headers every answer carries."""

from __future__ import annotations

import json
from typing import Any

from agentos_llm.testing.emulator import (
    Fault,
    WireRequest,
    WireResponse,
    sse_event,
)

RATE_LIMIT_REQUESTS = 10_000
"""The requests-per-minute limit the emulated OpenAI states on every answer."""
RATE_LIMIT_TOKENS = 30_000_000
"""The tokens-per-minute limit it states."""


def rate_limit_headers(request: WireRequest, tokens: int) -> dict[str, str]:
    """OpenAI's `x-ratelimit-*` headers as every answer carries them: each request to this emulator spends
    one request of the bucket, and the token bucket is down by this request's `tokens`."""
    return {
        "x-ratelimit-limit-requests": str(RATE_LIMIT_REQUESTS),
        "x-ratelimit-limit-tokens": str(RATE_LIMIT_TOKENS),
        "x-ratelimit-remaining-requests": str(max(0, RATE_LIMIT_REQUESTS - request.number)),
        "x-ratelimit-remaining-tokens": str(max(0, RATE_LIMIT_TOKENS - tokens)),
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-reset-tokens": "1m0s",
    }


def error_body(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    """An OpenAI-style ``{"error": {...}}`` body for ``status``."""
    default_code: str | None = None
    if status == 401:
        kind, default_code = "authentication_error", "invalid_api_key"
    elif status == 403:
        kind = "permission_denied"
    elif status == 404:
        kind, default_code = "not_found_error", "model_not_found"
    elif status == 429:
        kind = "insufficient_quota" if code == "insufficient_quota" else "rate_limit_exceeded"
        default_code = "rate_limit_exceeded"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = "invalid_request_error"
    code = code if code is not None else default_code
    if message is None:
        message = f"Emulated {status} error"
        if code == "context_length_exceeded":
            message = (
                "This model's maximum context length is 128000 tokens. However, your messages "
                f"resulted in 200000 tokens. ({message})"
            )
        elif code is not None:
            message = f"{message} ({code})"
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def _custom_body(body: str | dict[str, Any], status: int) -> WireResponse:
    if isinstance(body, dict):
        return WireResponse.json(body, status)
    stripped = body.lstrip()
    if stripped.startswith("<"):
        content_type = "text/html; charset=utf-8"
    else:
        try:
            json.loads(body)
            content_type = "application/json"
        except ValueError:
            content_type = "text/plain; charset=utf-8"
    return WireResponse(status=status, headers={"content-type": content_type}, body=body.encode())


def fault_response(fault: Fault, *, stream: bool, first_chunk: dict[str, Any] | None = None) -> WireResponse:
    """Render ``fault`` (``malformed``, ``stream_error`` or a status error) for OpenAI clients.

    ``first_chunk`` is the valid chunk sent before the broken / error event of a stream.
    ``drop_after_events`` is handled by the emulator core.
    """
    if fault.malformed:
        if stream:
            events = [sse_event(first_chunk)] if first_chunk is not None else []
            return WireResponse.stream([*events, b"data: {not json\n\n"])
        return WireResponse(status=200, headers={"content-type": "application/json"}, body=b'{"id": "broken')
    if fault.stream_error is not None:
        if stream:
            events = [sse_event(first_chunk)] if first_chunk is not None else []
            return WireResponse.stream([*events, sse_event({"error": fault.stream_error})])
        return WireResponse.json({"error": fault.stream_error}, fault.status)
    if fault.body is not None:
        return _custom_body(fault.body, fault.status)
    return WireResponse.json(error_body(fault.status, fault.code), fault.status)
