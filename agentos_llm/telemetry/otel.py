"""OpenTelemetry spans and metrics after the GenAI semantic conventions (imported by `instrument()` only).

Needs the `otel` extra (`pip install agentos-llm[otel]`: the opentelemetry-api package); the SDK, exporters
and their configuration are the application's. Names follow the published conventions
(opentelemetry-semantic-conventions 0.66b2, GenAI attributes and the `gen_ai.client.*` metrics).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import MissingDependencyError
from ..redaction import redact
from ..types import CompletionResponse, EmbeddingResponse, StructuredResponse, TokenCount

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("otel", "opentelemetry-api",
                                 context="OpenTelemetry instrumentation was asked for") from exc

if TYPE_CHECKING:
    from ..provider import Call, IProvider
    from .watch import Watch

__all__ = ["CAPTURE_ENV", "PROVIDER_NAMES", "OTelSink", "capture_from_env"]

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_ON = {"true", "1", "yes", "on", "span_only", "span_and_event"}

PROVIDER_NAMES = {
    "openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini", "bedrock": "aws.bedrock",
    "cohere": "cohere", "mistral": "mistral_ai", "groq": "groq", "xai": "x_ai", "deepseek": "deepseek",
    "perplexity": "perplexity", "azure": "azure.ai.openai", "vertex": "gcp.vertex_ai",
}
"""`gen_ai.provider.name` by host id where the conventions name the vendor; other hosts use their own id."""

_OPERATIONS = {"chat": "chat", "stream": "chat", "embed": "embeddings", "rerank": "rerank",
               "count_tokens": "count_tokens"}
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
_SECONDS_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_DEFAULT_PORTS = {"https": 443, "http": 80}


def capture_from_env(environ: Any = None) -> bool:
    """Whether `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` asks for message content."""
    value = (os.environ if environ is None else environ).get(CAPTURE_ENV, "")
    return value.strip().lower() in _ON


def _error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class OTelSink:
    """Spans and metrics of provider calls and manager routes, on the given (or global) providers."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None, *, capture_content: bool = False,
                 version: str = "") -> None:
        self.tracer = trace.get_tracer("agentos_llm", version or None, tracer_provider)
        meter = metrics.get_meter("agentos_llm", version, meter_provider)
        self.capture_content = capture_content
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS)
        self.ttfc = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk", unit="s",
            description="Time to receive the first chunk of a streamed answer.",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS)
        self._servers: dict[str | None, tuple[tuple[str, Any], ...]] = {}

    # ------------------------------------------------------------------ what every span of a provider says

    def _server(self, base_url: str | None) -> tuple[tuple[str, Any], ...]:
        found = self._servers.get(base_url)
        if found is None:
            found = ()
            if base_url:
                try:
                    parts = urlsplit(base_url)
                    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
                    if parts.hostname:
                        found = (("server.address", parts.hostname),) + ((("server.port", port),) if port else ())
                except ValueError:
                    found = ()
            if len(self._servers) > 1024:
                self._servers.clear()
            self._servers[base_url] = found
        return found

    def _base(self, p: IProvider, model: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "gen_ai.provider.name": PROVIDER_NAMES.get(p.spec.host_id, p.provider_id),
            "gen_ai.request.model": model,
        }
        attrs.update(self._server(p.base_url))
        return attrs

    # ------------------------------------------------------------------ provider calls

    def start(self, w: Watch) -> Any:
        """Opens the span of one provider call, with what the request says."""
        p = w.provider
        attrs = self._base(p, w.model)
        attrs["agentos_llm.provider"] = p.provider_id
        attrs["agentos_llm.operation"] = w.op
        if p.api:
            attrs["agentos_llm.api"] = p.api
        if w.op == "structured":
            attrs["gen_ai.output.type"] = "json"
            plan = getattr(w.source, "structured", None)
            if plan is not None:
                attrs["agentos_llm.structured.schema"] = str(getattr(plan.format, "name", ""))
            return self.tracer.start_span(f"structured {w.model}", kind=SpanKind.INTERNAL, attributes=attrs)
        op = _OPERATIONS.get(w.op, w.op)
        attrs["gen_ai.operation.name"] = op
        if w.op in ("chat", "stream"):
            self._request_attrs(attrs, w.source, w.op == "stream")
        elif w.op == "embed":
            texts = w.source
            attrs["agentos_llm.embed.inputs"] = 1 if isinstance(texts, str) else len(texts)
        elif w.op == "rerank":
            attrs["agentos_llm.rerank.documents"] = len(w.source[1])
        return self.tracer.start_span(f"{op} {w.model}", kind=SpanKind.CLIENT, attributes=attrs)

    def _request_attrs(self, attrs: dict[str, Any], call: Call, streamed: bool) -> None:
        o = call.options
        for key, value in (("gen_ai.request.temperature", o.temperature), ("gen_ai.request.max_tokens", o.max_tokens),
                           ("gen_ai.request.top_p", o.top_p), ("gen_ai.request.top_k", o.top_k),
                           ("gen_ai.request.seed", o.seed)):
            if value is not None:
                attrs[key] = value
        if o.stop:
            attrs["gen_ai.request.stop_sequences"] = list(o.stop)
        if streamed:
            attrs["gen_ai.request.stream"] = True
        attrs["gen_ai.output.type"] = "json" if call.structured is not None else "text"
        if self.capture_content:
            from .content import input_messages, system_instructions, tool_definitions

            system = system_instructions(call.messages)
            if system is not None:
                attrs["gen_ai.system_instructions"] = system
            attrs["gen_ai.input.messages"] = input_messages(call.messages)
            tools = tool_definitions(o.tools)
            if tools is not None:
                attrs["gen_ai.tool.definitions"] = tools

    def activate(self, span: Any) -> Any:
        """Makes `span` the current span; returns the token to detach."""
        return otel_context.attach(trace.set_span_in_context(span))

    def deactivate(self, token: Any) -> None:
        """Detaches what `activate` attached."""
        otel_context.detach(token)

    def end(self, w: Watch, result: Any, error: BaseException | None) -> None:
        """Ends a call's span with what the answer (or the error) says, and records the metrics."""
        span = w.span
        elapsed = w.elapsed()
        inner = result.response if isinstance(result, StructuredResponse) else result
        usage = getattr(inner, "usage", None) if inner is not None else w.usage
        metric = self._base(w.provider, w.model)
        metric["gen_ai.operation.name"] = _OPERATIONS.get(w.op, w.op)
        if span is not None and span.is_recording():
            self._end_attrs(span, w, result, inner, usage, error)
        response_model = getattr(inner, "model", None)
        if isinstance(response_model, str) and response_model:
            metric["gen_ai.response.model"] = response_model
        if error is not None:
            metric["error.type"] = _error_type(error)
        if span is not None:
            span.end()
        if w.op == "structured":
            return  # its attempts recorded their own calls
        self.duration.record(elapsed, metric)
        if w.op == "stream" and w.ttft is not None and error is None:
            self.ttfc.record(w.ttft, metric)
        if usage is not None and w.op != "count_tokens" and error is None:
            if usage.input_tokens or w.op != "rerank":
                self.token_usage.record(usage.input_tokens, {**metric, "gen_ai.token.type": "input"})
            if w.op in ("chat", "stream"):
                self.token_usage.record(usage.output_tokens, {**metric, "gen_ai.token.type": "output"})

    def _end_attrs(self, span: Any, w: Watch, result: Any, inner: Any, usage: Any,
                   error: BaseException | None) -> None:
        model = getattr(inner, "model", None)
        if isinstance(model, str) and model:
            span.set_attribute("gen_ai.response.model", model)
        if isinstance(inner, CompletionResponse):
            if inner.id:
                span.set_attribute("gen_ai.response.id", inner.id)
            if inner.finish_reason is not None:
                span.set_attribute("gen_ai.response.finish_reasons", [str(inner.finish_reason)])
            if inner.raw_finish_reason:
                span.set_attribute("agentos_llm.response.raw_finish_reason", inner.raw_finish_reason)
            if inner.tool_calls:
                span.set_attribute("agentos_llm.response.tool_calls", len(inner.tool_calls))
            if self.capture_content and w.op != "structured":
                from .content import output_messages

                span.set_attribute("gen_ai.output.messages", output_messages(inner))
        elif isinstance(inner, EmbeddingResponse) and inner.vectors:
            span.set_attribute("gen_ai.embeddings.dimension.count", len(inner.vectors[0]))
        elif isinstance(inner, TokenCount):
            span.set_attribute("agentos_llm.token_count.input_tokens", inner.input_tokens)
            span.set_attribute("agentos_llm.token_count.exact", inner.exact)
        if isinstance(result, StructuredResponse):
            span.set_attribute("agentos_llm.structured.attempts", result.attempts)
        request_id = getattr(inner if error is None else error, "request_id", None)
        if isinstance(request_id, str) and request_id:
            span.set_attribute("agentos_llm.response.request_id", request_id)
        if usage is not None and w.op != "structured":
            span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
            if w.op in ("chat", "stream"):
                span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
            if usage.cached_input_tokens:
                span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cached_input_tokens)
            if usage.cache_write_input_tokens:
                span.set_attribute("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_input_tokens)
            if usage.reasoning_tokens:
                span.set_attribute("gen_ai.usage.reasoning.output_tokens", usage.reasoning_tokens)
            if usage.cost_usd is not None:
                span.set_attribute("agentos_llm.usage.cost_usd", usage.cost_usd)
        if w.op == "stream" and w.ttft is not None:
            span.set_attribute("gen_ai.response.time_to_first_chunk", w.ttft)
        if error is not None:
            span.set_attribute("error.type", _error_type(error))
            status_code = getattr(error, "status_code", None)
            if isinstance(status_code, int):
                span.set_attribute("http.response.status_code", status_code)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, redact(str(error))[:500]))
        elif result is None:
            span.set_attribute("agentos_llm.stream.cancelled", True)

    # ------------------------------------------------------------------ manager routes

    def start_route(self, kind: str, label: str, route: str | None, targets: list[str]) -> Any:
        """Opens the span of a manager call; its hops' provider spans are its children."""
        attrs: dict[str, Any] = {"agentos_llm.operation": kind, "agentos_llm.request.model": label,
                                 "agentos_llm.route.targets": targets}
        if route:
            attrs["agentos_llm.route.name"] = route
        return self.tracer.start_span(f"route {label}", kind=SpanKind.INTERNAL, attributes=attrs)

    def end_route(self, span: Any, result: Any, error: BaseException | None) -> None:
        """Ends a manager call's span: one event per hop, the hop that served, the error."""
        if span.is_recording():
            inner = result.response if isinstance(result, StructuredResponse) else result
            hops = getattr(inner if error is None else error, "hops", None) or []
            for i, hop in enumerate(hops):
                event: dict[str, Any] = {"agentos_llm.hop.index": i, "agentos_llm.hop.provider": hop.provider,
                                         "agentos_llm.hop.model": hop.model, "agentos_llm.hop.outcome": hop.outcome,
                                         "agentos_llm.hop.elapsed_ms": float(hop.elapsed_ms)}
                if hop.error:
                    event["agentos_llm.hop.error"] = redact(hop.error)
                if hop.note:
                    event["agentos_llm.hop.note"] = redact(hop.note)
                span.add_event("agentos_llm.hop", event)
            span.set_attribute("agentos_llm.route.hops", len(hops))
            served = next((h for h in reversed(hops) if h.outcome == "served"), None)
            if served is not None:
                span.set_attribute("agentos_llm.route.served_by", f"{served.provider}/{served.model}")
            if error is not None:
                span.set_attribute("error.type", _error_type(error))
                span.set_status(Status(StatusCode.ERROR, redact(str(error))[:500]))
            elif result is None:
                span.set_attribute("agentos_llm.stream.cancelled", True)
        span.end()
