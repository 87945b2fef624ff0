"""A broken tool-call history is refused before anything is sent, on every wire API, with the message index and
the fix in the error; a valid one (parallel calls answered in any order) goes through unchanged.

The README's old tool loop appended the assistant message once per tool call, sending
`[user, assistant, tool, assistant, tool]`: OpenAI and Anthropic answer 400. The rules are in
`agentos_llm.history_rules`; here they are checked alone (pure) and through every provider against the
loopback emulator, which must receive nothing for a refused history.
"""

from __future__ import annotations

import asyncio
import os
import timeit
from collections.abc import Iterator
from typing import Any

import pytest

from agentos_llm import create_provider
from agentos_llm.errors import InvalidRequestError
from agentos_llm.history_rules import check_history
from agentos_llm.provider import IProvider
from agentos_llm.testing import Reply, WireEmulator
from agentos_llm.types import (
    DoneEvent,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolDefinition,
    assistant,
    system,
    tool_result,
    user,
)

A = ToolCall(id="call_a", name="get_weather", arguments={"city": "Paris"})
B = ToolCall(id="call_b", name="get_weather", arguments={"city": "Rome"})
TURN = assistant(tool_calls=[A, B])


def refused(history: list[Message], **kw: bool) -> str:
    with pytest.raises(InvalidRequestError) as info:
        check_history(history, provider="test", **kw)
    assert info.value.provider == "test"
    return str(info.value)


# ---------------------------------------------------------------------- valid histories


@pytest.mark.parametrize("history", [
    [user("hi")],
    [system("be brief"), user("hi"), assistant("hello"), user("again")],
    [user("weather?"), TURN, tool_result("call_a", "20C"), tool_result("call_b", "22C"), assistant("done")],
    [user("weather?"), TURN, tool_result("call_b", "22C"), tool_result("call_a", "20C")],  # any order
    [user("w"), assistant(tool_calls=[A]), tool_result("call_a", "1"), assistant(tool_calls=[A]),
     tool_result("call_a", "2"), user("ok")],  # a vendor may reuse an id in a later turn
    [user([TextPart(text="look"), ImagePart(url="https://example.com/a.png")])],
    [user([ImagePart(url="https://example.com/a.png")])],  # parts without text are content
    [user("w"), assistant("thinking...", tool_calls=[A]), tool_result("call_a", "")],
], ids=["one-user", "chat", "parallel", "any-order", "reused-id", "parts", "image-only", "empty-result"])
def test_valid_histories_pass(history: list[Message]) -> None:
    check_history(history)


def test_a_continued_response_may_open_with_tool_results() -> None:
    # With previous_response_id the calls live on the server: results may come first.
    check_history([tool_result("call_a", "20C"), tool_result("call_b", "22C")], continued=True)
    check_history([tool_result("call_a", "20C"), user("and now?")], continued=True)
    # ... but only at the opening: later results still need their calls.
    msg = refused([tool_result("call_a", "1"), user("x"), tool_result("call_z", "2")], continued=True)
    assert "messages[2]" in msg


# ---------------------------------------------------------------------- what is refused, and what it says


def test_the_readme_loop_bug_is_refused_with_the_fix() -> None:
    history = [user("weather?"), TURN, tool_result("call_a", "20C"), TURN, tool_result("call_b", "22C")]
    msg = refused(history)
    assert msg.startswith("messages[3] (assistant) repeats the assistant turn of messages[1]")
    assert "'call_b' (get_weather)" in msg
    assert "append the assistant message once, then one tool result per call" in msg


def test_a_result_matching_no_call() -> None:
    msg = refused([user("w"), TURN, tool_result("call_a", "1"), tool_result("call_x", "2")])
    assert msg.startswith("messages[3] (tool) answers tool call 'call_x', which matches no call of messages[1]")
    assert "'call_a', 'call_b'" in msg and "ToolCall.id" in msg


def test_a_result_with_no_call_before_it() -> None:
    msg = refused([user("w"), tool_result("call_a", "1")])
    assert msg.startswith("messages[1] (tool) answers tool call 'call_a', but no assistant message before it")


def test_a_duplicate_answer() -> None:
    msg = refused([user("w"), TURN, tool_result("call_a", "1"), tool_result("call_a", "again"),
                   tool_result("call_b", "2")])
    assert msg.startswith("messages[3] (tool) answers tool call 'call_a' a second time (messages[2] answered it")


def test_a_missing_answer_before_the_next_message() -> None:
    msg = refused([user("w"), TURN, tool_result("call_b", "2"), user("and?")])
    assert msg.startswith("messages[3] (user) comes before every tool call of messages[1] (assistant) was answered")
    assert "'call_a' (get_weather)" in msg and "'call_b'" not in msg


def test_a_history_ending_before_the_results() -> None:
    msg = refused([user("w"), TURN])
    assert msg.startswith("messages[1] (assistant) made tool call(s) 'call_a' (get_weather), 'call_b' (get_weather)")
    assert "ends before their results" in msg


def test_a_result_after_another_message_is_not_right_after_its_call() -> None:
    msg = refused([user("w"), assistant(tool_calls=[A]), assistant("hm"), tool_result("call_a", "1")])
    assert msg.startswith("messages[2] (assistant) comes before every tool call of messages[1]")


def test_two_calls_with_one_id() -> None:
    msg = refused([user("w"), assistant(tool_calls=[A, A.model_copy()])])
    assert msg.startswith("messages[1] (assistant) has two tool calls with the id 'call_a'")


@pytest.mark.parametrize("content", [None, "", [], [TextPart(text="")]], ids=["none", "empty", "no-parts", "blank"])
def test_a_user_message_without_content(content: object) -> None:
    msg = refused([system("s"), Message(role="user", content=content)])  # type: ignore[arg-type]
    assert msg.startswith("messages[1] (user) has no content")


class _Counted(list[Message]):
    """A history that counts how often the check walks it or looks a message up by index."""

    walks = 0
    lookups = 0

    def __iter__(self) -> Iterator[Message]:
        type(self).walks += 1
        return super().__iter__()

    def __getitem__(self, i: Any) -> Any:
        type(self).lookups += 1
        return super().__getitem__(i)


def test_the_check_is_one_pass() -> None:
    # It runs on every call: a valid history is walked once, with no lookups back (O(n)). The time is printed
    # for the record, never asserted.
    history = [user("q"), TURN, tool_result("call_a", "1"), tool_result("call_b", "2"), assistant("a")] * 40
    counted = _Counted(history)
    check_history(counted)
    assert (_Counted.walks, _Counted.lookups) == (1, 0)
    per = min(timeit.repeat(lambda: check_history(history), number=200, repeat=3)) / 200
    print(f"check_history: {per * 1e6:.1f} µs for {len(history)} messages")


# ---------------------------------------------------------------------- every API refuses before sending

KEY = "test-key-history-rules"
MODELS = {"openai": "gpt-4.1-mini", "responses": "gpt-5-mini", "anthropic": "claude-sonnet-4-5",
          "gemini": "gemini-2.5-flash", "bedrock": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
          "cohere": "command-a-03-2025"}
WEATHER = ToolDefinition(name="get_weather", parameters={"type": "object", "properties": {"city": {"type": "string"}}})
BROKEN = [user("weather?"), TURN, tool_result("call_a", "20C"), TURN, tool_result("call_b", "22C")]
VALID = [user("weather?"), TURN, tool_result("call_b", "22C"), tool_result("call_a", "20C")]


@pytest.fixture(scope="module")
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def made(emu: WireEmulator) -> Iterator[dict[str, IProvider]]:
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            mp.delenv(name)
        mp.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEHISTORY")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-history-rules")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        base = {"openai": emu.openai_base_url, "anthropic": emu.anthropic_base_url, "gemini": emu.gemini_base_url,
                "cohere": emu.cohere_base_url}
        out = {pid: create_provider(pid, api_key=KEY, base_url=url, max_retries=0) for pid, url in base.items()}
        out["responses"] = create_provider("openai", api="responses", api_key=KEY, base_url=emu.openai_base_url,
                                           max_retries=0)
        out["bedrock"] = create_provider("bedrock", base_url=emu.bedrock_base_url, region="us-east-1", max_retries=0)
        yield out
        for provider in out.values():
            provider.close()


@pytest.fixture
def providers(made: dict[str, IProvider], emu: WireEmulator) -> dict[str, IProvider]:
    emu.reset()
    return made


@pytest.mark.parametrize("pid", list(MODELS))
def test_every_api_refuses_a_broken_history_before_sending(providers: dict[str, IProvider], emu: WireEmulator,
                                                           pid: str) -> None:
    provider, model = providers[pid], MODELS[pid]
    emu.script(Reply(text="never sent"), Reply(text="never sent"), Reply(text="never sent"))
    with pytest.raises(InvalidRequestError, match=r"messages\[3\] \(assistant\) repeats"):
        provider.generate_sync(model, BROKEN, tools=[WEATHER])
    with pytest.raises(InvalidRequestError, match=r"messages\[3\]"):
        provider.stream_sync(model, BROKEN, tools=[WEATHER])
    with pytest.raises(InvalidRequestError, match=r"messages\[1\] \(user\) has no content"):
        asyncio.run(provider.generate(model, [system("s"), user("")]))
    with pytest.raises(InvalidRequestError, match=r"messages\[1\] \(tool\) answers tool call 'call_zz'"):
        provider.count_tokens_sync(model, [user("w"), tool_result("call_zz", "1")])
    assert emu.requests == []


@pytest.mark.parametrize("pid", list(MODELS))
def test_every_api_sends_a_valid_parallel_history(providers: dict[str, IProvider], emu: WireEmulator,
                                                  pid: str) -> None:
    # The control for the test above: the same provider and emulator do receive a valid history.
    emu.script(Reply(text="Paris 20C, Rome 22C."))
    events = list(providers[pid].stream_sync(MODELS[pid], VALID, tools=[WEATHER]))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.response.text == "Paris 20C, Rome 22C."
    assert len(emu.requests) == 1
