"""Call options validation, error classification, Retry-After parsing, pickling and key redaction."""

from __future__ import annotations

import email.utils
import pickle
from typing import Any

import pytest

from agentos_llm import errors
from agentos_llm.errors import (
    APITimeoutError,
    AuthenticationError,
    ContentFilterError,
    ContextLengthExceededError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    error_from_response,
    parse_retry_after,
)
from agentos_llm.options import GenerateOptions, parse_options
from agentos_llm.redaction import register_secret
from agentos_llm.types import ToolDefinition

# ---------------------------------------------------------------- options


def test_unknown_option_is_rejected_naming_it_and_the_valid_ones() -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_options({"temprature": 0.5, "max_tokens": 10}, provider="openai")
    message = str(info.value)
    assert "temprature" in message
    for valid in ("temperature", "max_tokens", "tools", "tool_choice", "extra"):
        assert valid in message
    assert info.value.provider == "openai"


def test_empty_options_are_the_defaults() -> None:
    assert parse_options({}) == GenerateOptions()


def test_stop_string_becomes_a_list() -> None:
    assert parse_options({"stop": "END"}).stop == ["END"]
    assert parse_options({"stop": ["a", "b"]}).stop == ["a", "b"]


def test_invalid_option_values_are_invalid_requests() -> None:
    with pytest.raises(InvalidRequestError, match="temperature"):
        parse_options({"temperature": 5})
    with pytest.raises(InvalidRequestError):
        parse_options({"max_tokens": 0})
    with pytest.raises(InvalidRequestError):
        parse_options({"reasoning_effort": "extreme"})


def test_tools_are_coerced() -> None:
    opts = parse_options({"tools": [{"type": "function", "function": {"name": "lookup"}}]})
    assert opts.tools is not None
    assert isinstance(opts.tools[0], ToolDefinition)
    assert opts.tools[0].name == "lookup"


def test_tool_choice_must_name_a_given_tool() -> None:
    tools = [{"type": "function", "function": {"name": "lookup"}}]
    assert parse_options({"tools": tools, "tool_choice": "lookup"}).tool_choice == "lookup"
    for keyword in ("auto", "none", "required"):
        assert parse_options({"tool_choice": keyword}).tool_choice == keyword
    with pytest.raises(InvalidRequestError, match="missing"):
        parse_options({"tools": tools, "tool_choice": "missing"})
    with pytest.raises(InvalidRequestError, match="missing"):
        parse_options({"tool_choice": "missing"})


# ---------------------------------------------------------------- classification


def _err(code: str | None = None, message: str = "something failed", etype: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": etype, "code": code}}


CLASSIFICATION: list[tuple[str, int | None, Any, type[ProviderError]]] = [
    ("400", 400, _err(etype="invalid_request_error"), InvalidRequestError),
    ("422", 422, {"detail": [{"loc": ["body", "x"], "msg": "field required"}]}, InvalidRequestError),
    ("400 context code", 400, _err("context_length_exceeded", "too long"), ContextLengthExceededError),
    (
        "400 context message",
        400,
        _err(message="This model's maximum context length is 8192 tokens"),
        ContextLengthExceededError,
    ),
    ("400 content policy", 400, _err("content_policy_violation"), ContentFilterError),
    ("401", 401, _err("invalid_api_key", "Incorrect API key provided"), AuthenticationError),
    ("403", 403, _err(message="not allowed"), PermissionDeniedError),
    ("404", 404, _err(message="no such thing"), NotFoundError),
    ("404 model_not_found", 404, _err("model_not_found", "The model `x` does not exist"), NotFoundError),
    ("no status model_not_found", None, _err("model_not_found"), NotFoundError),
    ("402", 402, _err(message="payment required"), QuotaExceededError),
    (
        "429 insufficient_quota",
        429,
        _err("insufficient_quota", "You exceeded your current quota", "insufficient_quota"),
        QuotaExceededError,
    ),
    ("429", 429, _err("rate_limit_exceeded", "Rate limit reached for requests"), RateLimitError),
    ("500", 500, _err(message="internal"), ServerError),
    ("502", 502, "<html><body>Bad Gateway</body></html>", ServerError),
    ("503", 503, _err(message="unavailable"), ServerError),
    ("529", 529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, ServerError),
    ("408", 408, None, APITimeoutError),
    (
        "mistral top-level",
        400,
        {"object": "error", "message": "Invalid model: foo", "type": "invalid_model", "param": None, "code": "1500"},
        InvalidRequestError,
    ),
    ("mistral top-level 401", 401, {"message": "Unauthorized", "request_id": "abc"}, AuthenticationError),
    ("text body", 400, "plain text problem", InvalidRequestError),
    ("json text body", 429, '{"error": {"message": "slow down"}}', RateLimitError),
    ("no status overloaded", None, _err("overloaded_error", "Overloaded"), ServerError),
]


@pytest.mark.parametrize(("status", "body", "cls"), [c[1:] for c in CLASSIFICATION], ids=[c[0] for c in CLASSIFICATION])
def test_error_classification(status: int | None, body: Any, cls: type[ProviderError]) -> None:
    err = error_from_response(status, body, provider="vendor")
    assert type(err) is cls
    assert err.status_code == status
    assert err.provider == "vendor"


def test_error_carries_message_code_and_body() -> None:
    body = _err("context_length_exceeded", "This model's maximum context length is 8192 tokens")
    err = error_from_response(400, body, provider="openai", headers={"x-request-id": "req_123"})
    assert err.message == "This model's maximum context length is 8192 tokens"
    assert err.code == "context_length_exceeded"
    assert err.request_id == "req_123"
    assert err.body == body
    assert "req_123" in str(err)
    assert "400" in str(err)
    assert isinstance(err, InvalidRequestError)  # a subclass, so catching the base still works


def test_top_level_message_bodies_give_their_message() -> None:
    body = {"object": "error", "message": "Invalid model: foo", "type": "invalid_model", "code": "1500"}
    err = error_from_response(400, body, provider="mistral")
    assert err.message == "Invalid model: foo"
    assert err.code == "1500"


def test_structured_validation_message_is_kept() -> None:
    # Mistral answers 422 with the validation details as an object under "message".
    body = {
        "object": "error",
        "message": {"detail": [{"type": "missing", "loc": ["body", "messages"], "msg": "Field required"}]},
        "type": "invalid_request_message_error",
        "param": None,
        "code": None,
    }
    err = error_from_response(422, body, provider="mistral")
    assert isinstance(err, InvalidRequestError)
    assert "Field required" in err.message


def test_non_json_body_is_the_message() -> None:
    err = error_from_response(503, "upstream connect error", provider="p")
    assert err.message == "upstream connect error"
    assert err.body == "upstream connect error"


def test_empty_body_falls_back() -> None:
    assert error_from_response(500, None, provider="p").message == "HTTP 500"
    assert error_from_response(500, "", provider="p", fallback_message="boom").message == "boom"


# ---------------------------------------------------------------- Retry-After


def test_retry_after_seconds() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after": "-3"}) == 0.0


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


def test_retry_after_ms_wins() -> None:
    assert parse_retry_after({"retry-after": "10", "retry-after-ms": "250"}) == pytest.approx(0.25)
    # an unparsable ms value falls back to the seconds header
    assert parse_retry_after({"retry-after": "10", "retry-after-ms": "soon"}) == 10.0


def test_retry_after_absent_or_garbage() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "whenever"}) is None


def test_retry_after_header_names_are_case_insensitive() -> None:
    assert parse_retry_after({"Retry-After": "4"}) == 4.0
    assert parse_retry_after({"Retry-After-Ms": "500"}) == pytest.approx(0.5)


def test_retry_after_reaches_the_error() -> None:
    err = error_from_response(429, _err(message="slow down"), provider="p", headers={"retry-after": "12"})
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 12.0


# ---------------------------------------------------------------- pickling


@pytest.mark.parametrize("cls", [ProviderError, RateLimitError, ContextLengthExceededError, ServerError])
def test_provider_error_pickles_with_all_attributes(cls: type[ProviderError]) -> None:
    err = cls(
        "went wrong",
        provider="openai",
        status_code=429,
        retry_after=2.5,
        request_id="req_9",
        body={"error": {"message": "went wrong"}},
        code="some_code",
    )
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    for attr in ("message", "provider", "status_code", "retry_after", "request_id", "body", "code"):
        assert getattr(again, attr) == getattr(err, attr), attr
    assert str(again) == str(err)
    assert again.args == err.args


def test_classified_error_pickles() -> None:
    err = error_from_response(
        404, _err("model_not_found", "nope"), provider="groq", headers={"x-request-id": "r1", "retry-after": "3"}
    )
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is NotFoundError
    assert (again.status_code, again.code, again.request_id, again.retry_after) == (404, "model_not_found", "r1", 3.0)


# ---------------------------------------------------------------- redaction

SECRET = "my-registered-secret-value-0042"
UNREGISTERED = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0KlMnOpQr"
BEARER = "xyzBearerToken0123456789"


@pytest.fixture(autouse=False)
def secret() -> str:
    register_secret(SECRET)
    return SECRET


def _assert_clean(text: str) -> None:
    assert SECRET not in text
    assert UNREGISTERED not in text
    assert BEARER not in text


def test_error_strings_never_contain_a_key(secret: str) -> None:
    leak = f"key {secret} rejected; also {UNREGISTERED}; header Authorization: Bearer {BEARER}"
    body = {"error": {"message": leak, "echo": [secret, {"k": UNREGISTERED}], "auth": f"Bearer {BEARER}"}}
    err = error_from_response(401, body, provider="openai")
    assert isinstance(err, AuthenticationError)
    for text in (str(err), repr(err), err.message, str(err.body), repr(err.args), repr(err.body)):
        _assert_clean(text)
    assert "[REDACTED]" in str(err)
    assert "rejected" in str(err)  # the rest of the message survives


def test_direct_errors_redact_message_and_text_body(secret: str) -> None:
    err = ProviderError(f"failed with {secret}", body=f"raw {UNREGISTERED} Bearer {BEARER}", provider="x")
    for text in (str(err), repr(err), str(err.body), repr(err.args)):
        _assert_clean(text)
    again = pickle.loads(pickle.dumps(err))
    for text in (str(again), repr(again), str(again.body)):
        _assert_clean(text)


def test_structured_output_error_redacts_message(secret: str) -> None:
    err = errors.StructuredOutputError(f"bad answer {secret}", raw_text="x", validation_errors=[], attempts=1)
    _assert_clean(str(err))


@pytest.mark.parametrize("header", ["x-request-id", "Request-Id", "x-goog-request-id", "x-litellm-call-id"])
def test_the_request_id_is_read_from_each_vendors_header(header: str) -> None:
    from agentos_llm.errors import error_from_response

    err = error_from_response(500, {"error": {"message": "boom"}}, provider="p", headers={header: "req-42"})
    assert err.request_id == "req-42"
