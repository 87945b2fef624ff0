"""Structured output on a provider: the call with its plan, and the attempts that send invalid answers back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .calls import Call, Messages
from .errors import StructuredOutputError
from .structured import StructuredPlan
from .telemetry.watch import watch_span
from .types import (
    CompletionResponse,
    StructuredResponse,
    Usage,
)

if TYPE_CHECKING:
    from .provider import IProvider

T = TypeVar("T")


class StructuredOutput:
    """`IProvider.generate_structured` and its sync twin (the plan itself is `agentos_llm.structured`)."""

    def _structured_call(self, model: str | None, messages: Messages, schema: Any,
                         options: Mapping[str, Any]) -> Call:
        p = cast("IProvider", self)
        call = p._make_call(model, messages, options)
        plan = StructuredPlan.for_type(schema)
        return replace(call, structured=plan, structured_mode=p._structured_mode(call, plan))

    def _structured_step(self, call: Call, response: CompletionResponse, total: Usage | None, attempt: int,
                         max_attempts: int) -> tuple[StructuredResponse[Any] | None, Call, Usage]:
        """Checks one answer: the result when valid, else the call to send next (or an error at the end)."""
        plan = call.structured
        assert plan is not None
        total = response.usage if total is None else total + response.usage
        ok, value = plan.parse(response.text)
        if ok:
            response.usage = total
            return StructuredResponse[Any](value=value, response=response, attempts=attempt), call, total
        if attempt >= max_attempts:
            raise StructuredOutputError(
                f"the answer did not validate against {plan.format.name} after {attempt} attempt(s): {value}",
                raw_text=response.text, validation_errors=value if isinstance(value, list) else [value],
                attempts=attempt, usage=total)
        retry = replace(call, messages=[*call.messages, *plan.retry_messages(response.message, value)])
        return None, retry, total

    async def generate_structured(self, model: str | None, messages: Messages, schema: type[T] | Any, *,
                                  max_attempts: int | None = None, **options: Any) -> StructuredResponse[T]:
        """An answer validated as `schema` (a pydantic model or any type pydantic validates).

        Invalid answers are sent back with the validation errors, up to `max_attempts` calls.
        """
        p = cast("IProvider", self)
        serving = p._serving(model)
        if serving is not p:
            return await serving.generate_structured(model, messages, schema, max_attempts=max_attempts, **options)
        call = p._structured_call(model, messages, schema, options)
        w = watch_span(p, "structured", call.model, call)  # one span over the attempts' chat spans
        if w is not None:
            return await w.arun(lambda: p._astructured_attempts(call, max_attempts))
        return await p._astructured_attempts(call, max_attempts)

    async def _astructured_attempts(self, call: Call, max_attempts: int | None) -> StructuredResponse[Any]:
        p = cast("IProvider", self)
        limit = max_attempts or p.structured_max_attempts
        total: Usage | None = None
        for attempt in range(1, limit + 1):
            response = await p._agenerate_call(call)
            result, call, total = p._structured_step(call, response, total, attempt, limit)
            if result is not None:
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def generate_structured_sync(self, model: str | None, messages: Messages, schema: type[T] | Any, *,
                                 max_attempts: int | None = None, **options: Any) -> StructuredResponse[T]:
        """`generate_structured`, blocking."""
        p = cast("IProvider", self)
        serving = p._serving(model)
        if serving is not p:
            return serving.generate_structured_sync(model, messages, schema, max_attempts=max_attempts, **options)
        call = p._structured_call(model, messages, schema, options)
        w = watch_span(p, "structured", call.model, call)
        if w is not None:
            return w.run(lambda: p._structured_attempts(call, max_attempts))
        return p._structured_attempts(call, max_attempts)

    def _structured_attempts(self, call: Call, max_attempts: int | None) -> StructuredResponse[Any]:
        p = cast("IProvider", self)
        limit = max_attempts or p.structured_max_attempts
        total: Usage | None = None
        for attempt in range(1, limit + 1):
            response = p._generate_call(call)
            result, call, total = p._structured_step(call, response, total, attempt, limit)
            if result is not None:
                return result
        raise AssertionError("unreachable")  # pragma: no cover
