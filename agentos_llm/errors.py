"""Typed errors: every failure of a provider call surfaces as one of these.

Classification goes by HTTP status first, then the vendor's error code or type, then the message.
No vendor SDK exception escapes the library; the one an error translates is kept on `vendor_exception`, never chained.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .redaction import redact

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "BudgetExceededError",
    "CircuitOpenError",
    "ConfigurationError",
    "ContentFilterError",
    "ContextLengthExceededError",
    "InvalidRequestError",
    "MalformedResponseError",
    "MissingDependencyError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "RouteExhaustedError",
    "ServerError",
    "StructuredOutputError",
    "UnsupportedCapabilityError",
    "error_from_response",
    "parse_retry_after",
    "request_id_of",
]


class AgentOSLLMError(Exception):
    """Root of every exception this library raises.

    Every one pickles with its fields (to another process, a task queue, a cache), whatever its constructor
    takes; the vendor exception an error translates (`vendor_exception`) is left behind.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds through `__init__(*args)`, which fails for constructors that take fields,
        # not the message; rebuild from the message and the instance's fields instead.
        state = {k: v for k, v in self.__dict__.items() if k != "vendor_exception"}
        return (_restore, (type(self), self.args, state))


def _restore(cls: type[AgentOSLLMError], args: tuple[Any, ...], state: dict[str, Any]) -> AgentOSLLMError:
    err = cls.__new__(cls, *args)
    # ImportError keeps its message in `msg` (MissingDependencyError); every other one in `args`.
    (ImportError if isinstance(err, ImportError) else Exception).__init__(err, *args)
    err.__dict__.update(state)
    return err


class ProviderError(AgentOSLLMError):
    """A provider call failed. Carries what the vendor said, never a key."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        body: Any = None,
        code: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after
        self.request_id = request_id
        self.body = _redact_body(body)
        self.code = code
        super().__init__(self.message)

    def __str__(self) -> str:
        bits = [self.message]
        where = ", ".join(
            f"{k}={v}" for k, v in (("provider", self.provider), ("status", self.status_code),
                                    ("code", self.code), ("request_id", self.request_id)) if v is not None
        )
        if where:
            bits.append(f"({where})")
        return " ".join(bits)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self!s})"

    vendor_exception: BaseException | None = None
    """The vendor SDK's exception this error translates (not chained, so tracebacks never print it)."""


def _rebuild(cls: type[ProviderError], message: str, state: dict[str, Any]) -> ProviderError:
    """Unpickles a `ProviderError` pickled by an earlier version."""
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


def _redact_body(body: Any) -> Any:
    if body is None or isinstance(body, (int, float, bool)):
        return body
    if isinstance(body, str):
        return redact(body)
    try:
        return json.loads(redact(json.dumps(body, default=str)))
    except (TypeError, ValueError):
        return redact(str(body))


class AuthenticationError(ProviderError):
    """The key was missing, wrong or revoked (401)."""


class PermissionDeniedError(ProviderError):
    """The key may not use this model or feature (403)."""


class NotFoundError(ProviderError):
    """Unknown model or endpoint (404)."""


class RateLimitError(ProviderError):
    """Too many requests; retried with backoff (429)."""


class QuotaExceededError(ProviderError):
    """Out of credits or quota (402, insufficient_quota): retrying will not help."""


class BudgetExceededError(QuotaExceededError):
    """A usage-ledger `Budget` would be exceeded: raised before anything is sent.

    `limit` and `spent` are in `unit` ("usd" or "tokens"); `spent` is what the ledger counted before
    this call (committed rows, plus this process's finished and in-flight calls); `resets_at` (epoch
    seconds) is when a per-day or per-month budget starts over (None for a budget without a period).
    """

    def __init__(self, message: str, *, provider: str | None = None, budget: str | None = None,
                 unit: str | None = None, limit: float | None = None, spent: float | None = None,
                 resets_at: float | None = None) -> None:
        super().__init__(message, provider=provider, code="budget_exceeded")
        self.budget = budget
        self.unit = unit
        self.limit = limit
        self.spent = spent
        self.resets_at = resets_at


class CircuitOpenError(ProviderError):
    """A circuit breaker is open: the call failed at once and nothing was sent.

    `breaker` names it (`host/credential label/model`; the label, never the key), `opened_by` the error
    class that opened it, `retry_after` the seconds until it lets a trial call through, `closes_at` that
    moment (epoch seconds).
    """

    def __init__(self, message: str, *, provider: str | None = None, breaker: str | None = None,
                 credential: str | None = None, model: str | None = None, retry_after: float | None = None,
                 closes_at: float | None = None, opened_by: str | None = None) -> None:
        super().__init__(message, provider=provider, retry_after=retry_after, code="circuit_open")
        self.breaker = breaker
        self.credential = credential
        self.model = model
        self.closes_at = closes_at
        self.opened_by = opened_by


class RouteExhaustedError(ProviderError):
    """Every hop of a route failed or was skipped: nothing served the call.

    `errors` holds each hop's error, in the order the hops were tried (an open breaker's `CircuitOpenError`,
    a client-side `RateLimitError`, the vendor's errors ...); `hops` what each hop did (`types.Hop`); `route`
    the route's name (None for a model id with `fallback=[...]`). `retry_after` is the soonest any error gave.
    """

    def __init__(self, message: str, *, errors: Sequence[BaseException] = (), hops: Sequence[Any] = (),
                 route: str | None = None) -> None:
        waits = [float(w) for e in errors if isinstance(w := getattr(e, "retry_after", None), (int, float))]
        super().__init__(message, retry_after=min(waits) if waits else None, code="route_exhausted")
        self.errors: list[BaseException] = list(errors)
        self.hops: list[Any] = list(hops)
        self.route = route

    @property
    def last(self) -> BaseException | None:
        """The last hop's error."""
        return self.errors[-1] if self.errors else None


class InvalidRequestError(ProviderError):
    """The request was rejected as invalid (400, 422), or failed local validation."""


class ContextLengthExceededError(InvalidRequestError):
    """The prompt plus the requested output exceed the model's context window."""


class ContentFilterError(InvalidRequestError):
    """The vendor's safety system refused the prompt or the answer."""


class ServerError(ProviderError):
    """The vendor failed or is overloaded (5xx, 529); retried with backoff."""


class APITimeoutError(ProviderError):
    """The request did not finish within its timeout or deadline."""


class APIConnectionError(ProviderError):
    """The vendor could not be reached, or the connection dropped."""


class MalformedResponseError(ProviderError):
    """A 2xx response that cannot be parsed."""


class ConfigurationError(AgentOSLLMError):
    """Bad or missing configuration, such as no API key; says which env vars to set."""


class MissingDependencyError(ConfigurationError, ImportError):
    """A provider's optional SDK is not installed; the message has the exact pip line.

    `context` opens the message with what wanted the provider ("OPENAI_API_KEY is set").
    """

    def __init__(self, extra: str, module: str, *, context: str = "") -> None:
        self.extra = extra
        self.module = module
        self.pip_command = f'pip install "agentos-llm[{extra}]"'
        what = f"the {module!r} package is needed for this provider: {self.pip_command}"
        super().__init__(f"{context}, but {what}" if context else what)


class UnsupportedCapabilityError(AgentOSLLMError):
    """The provider or model cannot do what was asked."""

    def __init__(self, provider: str, capability: str, detail: str = "") -> None:
        self.provider = provider
        self.capability = capability
        self.detail = detail
        msg = f"provider {provider!r} does not support {capability}"
        super().__init__(f"{msg}: {detail}" if detail else msg)


class StructuredOutputError(AgentOSLLMError):
    """The model's answer never validated against the requested schema."""

    def __init__(self, message: str, *, raw_text: str, validation_errors: list[Any], attempts: int,
                 usage: Any = None) -> None:
        self.raw_text = raw_text
        self.validation_errors = validation_errors
        self.attempts = attempts
        self.usage = usage
        super().__init__(redact(message))


# ---------------------------------------------------------------- classification

_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "quota_exceeded",
                          "insufficient_credits", "payment_required", "billing_not_active"})
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length", "context_window_exceeded"})
_FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "content_filtered",
                           "responsible_ai_policy_violation", "image_content_policy_violation"})
_NOT_FOUND_CODES = frozenset({"model_not_found", "not_found_error", "not_found"})
_AUTH_CODES = frozenset({"invalid_api_key", "authentication_error", "unauthenticated"})
_OVERLOADED_CODES = frozenset({"overloaded_error", "server_error", "api_error", "service_unavailable"})

_QUOTA_WORDS = ("insufficient_quota", "exceeded your current quota", "out of credits", "insufficient credits",
                "credit balance is too low", "billing", "quota exceeded", "requires more credits")
_CONTEXT_WORDS = ("maximum context length", "context length", "context window", "too many tokens",
                  "prompt is too long", "input is too long", "reduce the length")
_FILTER_WORDS = ("content management policy", "content filter", "safety system", "content_policy")


def _first_str(*values: Any) -> str | None:
    for v in values:
        if isinstance(v, str) and v:
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
    return None


def describe_error_body(body: Any) -> tuple[str | None, str | None, str | None]:
    """Finds (message, code, type) in a vendor error body of any common shape."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return (body.strip()[:500] or None), None, None
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if not isinstance(body, Mapping):
        return None, None, None
    err = body.get("error", body)
    if isinstance(err, str):
        return err, _first_str(body.get("code")), _first_str(body.get("type"))
    if not isinstance(err, Mapping):
        return None, None, None
    message = _first_str(err.get("message"), err.get("detail"), body.get("message"), body.get("detail"))
    if message is None:
        # Validation details as a list or object (FastAPI-style `detail`, Mistral's 422 `message`).
        nested = next((v for v in (err.get("detail"), err.get("message")) if isinstance(v, (list, Mapping))), None)
        if nested is not None:
            message = json.dumps(nested)[:500]
    code = _first_str(err.get("code"), body.get("code"))
    etype = _first_str(err.get("type"), err.get("status"), body.get("type"))
    return message, code, etype


def error_class_for(status: int | None, code: str | None, etype: str | None,
                    message: str | None) -> type[ProviderError]:
    """Picks the error class: by status, then the vendor's code or type, then the message."""
    keys = {k.lower() for k in (code, etype) if k}
    text = (message or "").lower()
    if keys & _QUOTA_CODES or (status in (400, 403, 429) and any(w in text for w in _QUOTA_WORDS)):
        return QuotaExceededError
    if status == 402:
        return QuotaExceededError
    if keys & _CONTEXT_CODES or (status in (400, 413, 422) and any(w in text for w in _CONTEXT_WORDS)):
        return ContextLengthExceededError
    if keys & _FILTER_CODES or (status == 400 and any(w in text for w in _FILTER_WORDS)):
        return ContentFilterError
    if status is not None:
        by_status = _BY_STATUS.get(status)
        if by_status is not None:
            return by_status
        if status >= 500:
            return ServerError
        if status == 413:
            return InvalidRequestError
    for key in (code, etype):  # the code is more specific than the type
        by_type = _BY_TYPE.get(key.lower()) if key else None
        if by_type is not None:
            return by_type
    if keys & _AUTH_CODES:
        return AuthenticationError
    if keys & _NOT_FOUND_CODES:
        return NotFoundError
    if keys & _OVERLOADED_CODES or "overloaded" in text:
        return ServerError
    if keys & {"rate_limit_exceeded", "rate_limit_error", "resource_exhausted"}:
        return RateLimitError
    if status is not None and 400 <= status < 500:
        return InvalidRequestError
    return ProviderError


# Error types vendors name in bodies that carry no HTTP status (errors inside a 200 stream).
_BY_TYPE: dict[str, type[ProviderError]] = {
    "invalid_request_error": InvalidRequestError,
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "permission_denied": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "overloaded_error": ServerError,
    "api_error": ServerError,
    "server_error": ServerError,
    "timeout_error": APITimeoutError,
    # The Responses API's `error.code`s (of failed responses and `error` stream events), which carry no status.
    "vector_store_timeout": APITimeoutError,
    **dict.fromkeys(("invalid_prompt", "invalid_image", "invalid_image_format", "invalid_base64_image",
                     "invalid_image_url", "image_too_large", "image_too_small", "image_parse_error",
                     "invalid_image_mode", "image_file_too_large", "unsupported_image_media_type",
                     "empty_image_file", "failed_to_download_image", "image_file_not_found"), InvalidRequestError),
}

_BY_STATUS: dict[int, type[ProviderError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: APITimeoutError,
    422: InvalidRequestError,
    429: RateLimitError,
    529: ServerError,
}


def _header_getter(headers: Mapping[str, str]) -> Callable[[str], str | None]:
    """A case-insensitive header lookup, for plain dicts as well as HTTP-client header objects."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    if not headers:
        return None
    get = _header_getter(headers)
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# Where vendors put the id to quote to their support: OpenAI and most hosts, Anthropic, Google, LiteLLM proxy.
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id", "x-litellm-call-id")


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The vendor's request id from response headers, whichever header it uses."""
    get = _header_getter(headers)
    return next((v for h in _REQUEST_ID_HEADERS if (v := get(h))), None)


def error_from_response(
    status: int | None,
    body: Any,
    *,
    provider: str | None,
    headers: Mapping[str, str] | None = None,
    fallback_message: str | None = None,
) -> ProviderError:
    """Builds the typed error for a failed HTTP exchange."""
    message, code, etype = describe_error_body(body)
    cls = error_class_for(status, code, etype, message or fallback_message)
    text = message or fallback_message or (f"HTTP {status}" if status else "provider error")
    request_id = request_id_of(headers) if headers else None
    return cls(text, provider=provider, status_code=status, retry_after=parse_retry_after(headers),
               request_id=request_id, body=body, code=code or etype)
