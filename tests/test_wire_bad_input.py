"""Bad input becomes a library error before anything is sent, never a builtin TypeError (issue 14)."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterator
from typing import Any

import pytest

import agentos_llm as llm
from agentos_llm.errors import InvalidRequestError
from agentos_llm.options import parse_options
from agentos_llm.provider import IProvider
from agentos_llm.types import Message, ToolCall

APIS: dict[str, tuple[str, dict[str, Any], str]] = {
    "openai-chat": ("openai", {"api_key": "test-key"}, "gpt-4o"),
    "openai-responses": ("openai", {"api_key": "test-key", "api": "responses"}, "gpt-4o"),
    "anthropic-messages": ("anthropic", {"api_key": "test-key"}, "claude-sonnet-4-5"),
    "gemini-generate": ("gemini", {"api_key": "test-key"}, "gemini-2.5-flash"),
    "bedrock-converse": ("bedrock", {"region": "us-east-1"}, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "cohere-chat": ("cohere", {"api_key": "test-key"}, "command-a-03-2025"),
}


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, IProvider]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
        yield {api: llm.create_provider(pid, base_url="http://127.0.0.1:9", **kw) for api, (pid, kw, _) in APIS.items()}


def _history(arguments: dict[str, Any]) -> list[Message]:
    return [Message(role="user", content="When?"),
            Message(role="assistant", tool_calls=[ToolCall(id="call_1", name="schedule", arguments=arguments)]),
            Message(role="tool", tool_call_id="call_1", content="done")]


@pytest.mark.parametrize("value", [datetime.datetime(2026, 1, 2, 3, 4), {1, 2}, decimal.Decimal("1.5"), object()],
                         ids=["datetime", "set", "decimal", "object"])
@pytest.mark.parametrize("api", list(APIS))
def test_tool_arguments_that_are_not_json_are_an_invalid_request(providers: dict[str, IProvider], api: str,
                                                                 value: Any) -> None:
    provider = providers[api]
    with pytest.raises(InvalidRequestError, match=r"tool call 'call_1' \(schedule\).*cannot be sent as JSON"):
        provider.inspect_request_sync(APIS[api][2], _history({"when": value}))
    nested = {"slots": [{"when": value}]}  # not on the fast path for flat arguments
    with pytest.raises(InvalidRequestError, match="cannot be sent as JSON"):
        provider.inspect_request_sync(APIS[api][2], _history(nested))


@pytest.mark.parametrize("api", list(APIS))
def test_json_tool_arguments_are_sent(providers: dict[str, IProvider], api: str) -> None:
    args = {"when": "2026-01-02", "people": [{"name": "Ada", "vip": True}], "n": 2, "x": None}
    body = providers[api].inspect_request_sync(APIS[api][2], _history(args)).body
    assert "2026-01-02" in str(body) and "Ada" in str(body)


@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("options", [
    {"tools": "get_weather"}, {"tools": b"get_weather"}, {"tools": 5}, {"tools": [5]}, {"tools": {"name": "f"}},
    {"tools": [{"function": {"name": 3}}]}, {"stop": 5}, {"stop": [None]}, {"temperature": "hot"},
    {"extra": "x"}, {"extra": {"when": datetime.date(2026, 1, 1)}}, {"extra_headers": {"x-a": 1}},
    {"extra_headers": "x"}, {"server_tools": "web_search"}, {"server_tools": ["web_search"]}, {"tool_choice": 5},
    {"max_tokens": 1.5}, {"seed": "x"}, {"timeout": "soon"}, {"reasoning_effort": 3}, {"user": 3},
    {"api_key": 3}, {"store": "maybe"}, {"top_k": [1]},
], ids=repr)
def test_wrong_typed_options_are_an_invalid_request(providers: dict[str, IProvider], api: str,
                                                    options: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        providers[api].inspect_request_sync(APIS[api][2], "hi", **options)


def test_tools_as_a_string_says_what_a_tool_list_is() -> None:
    with pytest.raises(InvalidRequestError, match="tools must be a list of tools, not str"):
        parse_options({"tools": "get_weather"})


def test_extra_that_is_not_json_names_the_option() -> None:
    with pytest.raises(InvalidRequestError, match="extra must be JSON data"):
        parse_options({"extra": {"metadata": {"at": datetime.date(2026, 1, 1)}}})
    assert parse_options({"extra": {"metadata": {"at": "2026-01-01"}}}).extra == {"metadata": {"at": "2026-01-01"}}
