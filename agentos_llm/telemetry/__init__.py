"""Observability: OpenTelemetry GenAI spans and metrics, one DEBUG record per call, manager-wide hooks.

    from agentos_llm import telemetry
    telemetry.instrument()            # spans and metrics on the global OpenTelemetry providers

    import logging
    logging.getLogger("agentos_llm.calls").setLevel(logging.DEBUG)   # one record per provider call

    manager.add_hook(on_response=lambda e: print(e.provider, e.model, e.latency_s, e.usage))

Each is off until asked for, and a call pays only a few attribute checks while all are off: OpenTelemetry is
imported by `instrument()` alone (the `otel` extra). See docs/observability.md.
"""

from __future__ import annotations

from typing import Any

from .hooks import CallEvent, HookHandle
from .watch import CALL_LOG, state

__all__ = ["CALL_LOG", "CallEvent", "HookHandle", "instrument", "is_instrumented", "uninstrument"]


def instrument(tracer_provider: Any = None, meter_provider: Any = None, *,
               capture_content: bool | None = None) -> None:
    """Emits a span per provider call (generate, stream, structured output, embed, count_tokens, rerank), a
    span per manager call with its fallback hops as children, and the `gen_ai.client.token.usage` and
    `gen_ai.client.operation.duration` metrics, after the GenAI semantic conventions.

    `tracer_provider` / `meter_provider` default to OpenTelemetry's global ones. Message content
    (`gen_ai.input.messages`, `gen_ai.output.messages`, system instructions, tool definitions) is recorded
    only when `capture_content` is True, or when it is None and `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`
    is true. Calling it again replaces the previous settings. Needs `pip install "agentos-llm[otel]"`.
    """
    from .. import __version__
    from .otel import OTelSink, capture_from_env

    capture = capture_from_env() if capture_content is None else capture_content
    state.sink = OTelSink(tracer_provider, meter_provider, capture_content=capture, version=__version__)


def uninstrument() -> None:
    """Stops emitting spans and metrics (calls then pay nothing for them again)."""
    state.sink = None


def is_instrumented() -> bool:
    """Whether `instrument()` is in force."""
    return state.sink is not None
