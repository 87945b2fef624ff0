"""The DEBUG record of one provider call on `agentos_llm.calls`: route, status, latency, tokens, cost, request id.

Written only when DEBUG is enabled for that logger (checked once per call, before anything is built). The
message is one line for humans; `record.agentos_llm` holds the same fields as a dict for structured handlers
(JSON formatters, log shippers). Keys never appear: an error's text goes through `agentos_llm.redaction`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..redaction import redact
from ..types import StructuredResponse

if TYPE_CHECKING:
    from .watch import Watch

__all__ = ["call_fields", "log_call"]


def _result_usage(result: Any) -> Any:
    inner = result.response if isinstance(result, StructuredResponse) else result
    return inner, getattr(inner, "usage", None)


def call_fields(w: Watch, result: Any, error: BaseException | None, status: str, latency: float
                ) -> dict[str, Any]:
    """The fields of a call's record, as put on `record.agentos_llm`."""
    p = w.provider
    inner, usage = _result_usage(result) if result is not None else (None, w.usage)
    request_id = getattr(inner if error is None else error, "request_id", None)
    fields: dict[str, Any] = {
        "call_id": w.call_id, "operation": w.op, "provider": p.provider_id, "model": w.model, "api": p.api,
        "route": f"{p.provider_id}/{w.model}", "status": status, "latency_ms": round(latency * 1000.0, 3),
        "ttft_ms": None if w.ttft is None else round(w.ttft * 1000.0, 3),
        "response_model": getattr(inner, "model", None),
        "input_tokens": getattr(usage, "input_tokens", None), "output_tokens": getattr(usage, "output_tokens", None),
        "cost_usd": getattr(usage, "cost_usd", None),
        "request_id": request_id if isinstance(request_id, str) else None,
        "finish_reason": _finish(inner),
        "error_type": type(error).__name__ if error is not None else None,
        "error": redact(str(error))[:500] if error is not None else None,
        "status_code": getattr(error, "status_code", None) if error is not None else None,
    }
    return fields


def _finish(inner: Any) -> str | None:
    reason = getattr(inner, "finish_reason", None)
    return None if reason is None else str(reason)


def log_call(w: Watch, result: Any, error: BaseException | None, status: str, latency: float) -> None:
    """Writes the call's DEBUG record (never raises)."""
    from .watch import CALL_LOG

    try:
        f = call_fields(w, result, error, status, latency)
        parts = [f"{f['operation']} {f['route']}", status, f"{f['latency_ms']:.1f}ms"]
        if f["ttft_ms"] is not None and w.op == "stream":
            parts.append(f"ttft={f['ttft_ms']:.1f}ms")
        if f["input_tokens"] is not None:
            parts.append(f"tokens={f['input_tokens']}+{f['output_tokens']}")
        if f["cost_usd"] is not None:
            parts.append(f"cost=${f['cost_usd']:.6f}")
        if f["finish_reason"]:
            parts.append(f"finish={f['finish_reason']}")
        if f["request_id"]:
            parts.append(f"request_id={f['request_id']}")
        if error is not None:
            parts.append(f"error={f['error_type']}: {f['error']}")
        CALL_LOG.debug("%s", redact(" ".join(parts)), extra={"agentos_llm": f})
    except Exception:  # a log record never fails a call
        logging.getLogger("agentos_llm.telemetry").exception("could not write the call's log record")
