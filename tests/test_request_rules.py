"""Requests every vendor accepts: the per-model rules of `ModelTraits`, enforced by the request converters.

Each rule is checked through a converter (pure, no HTTP), and per vendor end to end through the provider
against the wire emulator: a request the vendor would refuse fails before anything is sent, an adapted
one carries the adapted value and says so with a `UserWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel

from agentos_llm import create_provider
from agentos_llm.errors import InvalidRequestError
from agentos_llm.model_traits import ModelTraits, traits_for
from agentos_llm.options import parse_options
from agentos_llm.provider import Call
from agentos_llm.request_rules import (
    allowed_effort,
    check_tool_names,
    fold_system,
    limit_stop,
    plan_reasoning,
    reconcile_sampling,
    tool_choice_for,
)
from agentos_llm.structured import StructuredPlan
from agentos_llm.testing import Reply, WireEmulator
from agentos_llm.types import ImagePart, Message, TextPart, ToolDefinition, coerce_messages, system, user
from agentos_llm.wire.anthropic_messages import build_messages_request
from agentos_llm.wire.gemini_generate import build_generate_request
from agentos_llm.wire.openai_chat import build_chat_request

WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def call(family: str, model: str, messages: Any = "hi", **options: Any) -> Call:
    return Call(model=model, messages=coerce_messages(messages), options=parse_options(options),
                traits=traits_for(family, model))


def openai_body(model: str, messages: Any = "hi", **options: Any) -> dict[str, Any]:
    return build_chat_request(call("openai", model, messages, **options), {}, stream=False)


def anthropic_body(model: str, messages: Any = "hi", **options: Any) -> dict[str, Any]:
    return build_messages_request(call("anthropic", model, messages, **options), max_tokens=64000)


def gemini_body(model: str, messages: Any = "hi", **options: Any) -> dict[str, Any]:
    return build_generate_request(call("gemini", model, messages, **options)).body


def thinking_of(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = body["generationConfig"]["thinkingConfig"]
    return config


@contextmanager
def silent() -> Iterator[None]:
    """Fails on any warning inside the block: the request needed no adapting."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------- the profile itself


def test_a_misspelt_or_unknown_rule_fails_when_the_profile_is_made() -> None:
    with pytest.raises(TypeError):
        ModelTraits(max_stops=4)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="reasoning_control"):
        ModelTraits(reasoning_control="adaptiv")
    with pytest.raises(ValueError, match="efforts"):
        ModelTraits(efforts=("low", "hihg"))
    with pytest.raises(ValueError, match="least first"):
        ModelTraits(levels=("high", "low"))
    with pytest.raises(ValueError, match="budget_range"):
        ModelTraits(budget_range=(512, 128))


@pytest.mark.parametrize(("family", "model", "field", "value"), [
    ("openai", "o3", "efforts", ("low", "medium", "high")),
    ("openai", "o4-mini-2025-04-16", "max_stop", 0),
    ("openai", "gpt-5-mini-2025-08-07", "efforts", ("minimal", "low", "medium", "high")),
    ("openai", "gpt-5.1", "efforts", ("none", "low", "medium", "high")),
    ("openai", "gpt-5.2", "efforts", ("none", "low", "medium", "high", "xhigh")),
    ("openai", "gpt-5-pro", "efforts", ("high",)),
    ("openai", "gpt-5.1-codex-max", "efforts", ("low", "medium", "high", "xhigh")),
    ("openai", "o1-mini", "system_prompt", False),
    ("openai", "gpt-4o", "max_stop", 4),
    ("anthropic", "claude-opus-4-6", "reasoning_control", "adaptive"),
    ("anthropic", "claude-sonnet-4-6", "efforts", ("low", "medium", "high", "max")),
    ("anthropic", "claude-opus-4-7", "budget_range", None),
    ("anthropic", "claude-opus-4-7", "accepts_sampling", False),
    ("anthropic", "claude-fable-5", "thinking_off", False),
    ("anthropic", "claude-haiku-4-5", "exclusive_sampling", True),
    ("anthropic", "claude-3-7-sonnet-20250219", "exclusive_sampling", False),
    ("gemini", "gemini-2.5-pro", "budget_range", (128, 32768)),
    ("gemini", "models/gemini-2.5-flash-lite", "budget_range", (512, 24576)),
    ("gemini", "gemini-3-pro-preview", "levels", ("low", "high")),
    ("gemini", "gemma-3-27b-it", "system_prompt", False),
    ("groq", "llama-3.3-70b-versatile", "max_stop", None),
])
def test_rules_per_model(family: str, model: str, field: str, value: Any) -> None:
    assert getattr(traits_for(family, model), field) == value


# ---------------------------------------------------------------------- 1. reasoning: OpenAI efforts


@pytest.mark.parametrize(("model", "asked", "sent"), [
    ("o3", "minimal", "low"),
    ("o3", "xhigh", "high"),
    ("gpt-5", "none", "minimal"),          # gpt-5 cannot turn reasoning off: its least effort
    ("gpt-5", "xhigh", "high"),
    ("gpt-5.1", "minimal", "none"),        # equally near none and low: the lesser
    ("gpt-5.1", "xhigh", "high"),
    ("gpt-5.2", "minimal", "none"),
    ("gpt-5-pro", "low", "high"),          # high only
    ("gpt-5-codex", "minimal", "low"),
])
def test_an_effort_the_model_does_not_take_goes_to_the_nearest(model: str, asked: str, sent: str) -> None:
    with pytest.warns(UserWarning, match=f"reasoning_effort '{asked}' sent as '{sent}'|cannot turn reasoning off"):
        body = openai_body(model, reasoning_effort=asked)
    assert body["reasoning_effort"] == sent


@pytest.mark.parametrize(("model", "effort"), [("gpt-5-mini", "minimal"), ("gpt-5.1", "none"),
                                                ("gpt-5.2", "xhigh"), ("gpt-5.1-codex-max", "xhigh"), ("o3", "high")])
def test_an_effort_the_model_takes_is_sent_as_is(model: str, effort: str) -> None:
    with silent():
        assert openai_body(model, reasoning_effort=effort)["reasoning_effort"] == effort


def test_a_budget_of_zero_turns_reasoning_off_only_where_it_can_be() -> None:
    with silent():
        assert openai_body("gpt-5.1", reasoning_budget=0)["reasoning_effort"] == "none"
    with pytest.warns(UserWarning, match="cannot turn reasoning off"):
        assert openai_body("gpt-5", reasoning_budget=0)["reasoning_effort"] == "minimal"


def test_o1_mini_takes_no_effort_at_all() -> None:
    with pytest.warns(UserWarning, match="takes no reasoning effort"):
        body = openai_body("o1-mini", reasoning_effort="high")
    assert "reasoning_effort" not in body


# ---------------------------------------------------------------------- 1. reasoning: Anthropic


def test_adaptive_thinking_takes_an_effort() -> None:
    with silent():
        body = anthropic_body("claude-opus-4-6", reasoning_effort="medium")
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "medium"}


@pytest.mark.parametrize(("model", "asked", "sent"), [
    ("claude-opus-4-6", "xhigh", "high"),      # 4.6 has no xhigh; high and max are as near: the lesser
    ("claude-sonnet-4-6", "minimal", "low"),
    ("claude-opus-4-7", "xhigh", "xhigh"),
])
def test_adaptive_efforts_go_to_the_nearest_the_model_takes(model: str, asked: str, sent: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        body = anthropic_body(model, reasoning_effort=asked)
    assert body["output_config"]["effort"] == sent
    assert bool(caught) is (asked != sent)


def test_adaptive_thinking_turned_off_and_budgets() -> None:
    with silent():
        assert anthropic_body("claude-opus-4-6", reasoning_effort="none")["thinking"] == {"type": "disabled"}
        # Opus 4.6 still takes a manual budget (deprecated, documented as functional): the caller's budget goes.
        body = anthropic_body("claude-opus-4-6", reasoning_budget=5000)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 5000} and "output_config" not in body
    # Opus 4.7 refuses budgets: the budget becomes the nearest effort.
    with pytest.warns(UserWarning, match="sent as effort 'medium'"):
        body = anthropic_body("claude-opus-4-7", reasoning_budget=5000)
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "medium"}


def test_a_model_that_always_thinks_gets_its_least_effort_instead_of_off() -> None:
    with pytest.warns(UserWarning, match="cannot turn reasoning off"):
        body = anthropic_body("claude-fable-5", reasoning_budget=0)
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "low"}


def test_adaptive_effort_joins_structured_output_config() -> None:
    class Answer(BaseModel):
        value: int

    c = replace(call("anthropic", "claude-opus-4-6", "x", reasoning_effort="low"),
                structured=StructuredPlan.for_type(Answer), structured_mode="json_schema")
    config = build_messages_request(c, max_tokens=64000)["output_config"]
    assert config["effort"] == "low" and config["format"]["type"] == "json_schema"


def test_manual_budgets_are_raised_to_the_minimum_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="reasoning_budget 100 sent as 1024"):
        body = anthropic_body("claude-sonnet-4-5", reasoning_budget=100)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}


# ---------------------------------------------------------------------- 1. reasoning: Gemini


@pytest.mark.parametrize(("model", "options", "sent"), [
    ("gemini-2.5-pro", {"reasoning_budget": 0}, 128),           # 2.5 Pro cannot turn thinking off
    ("gemini-2.5-pro", {"reasoning_effort": "none"}, 128),
    ("gemini-2.5-pro", {"reasoning_budget": 64}, 128),
    ("gemini-2.5-pro", {"reasoning_budget": 50000}, 32768),
    ("gemini-2.5-flash", {"reasoning_budget": 30000}, 24576),
    ("gemini-2.5-flash-lite", {"reasoning_budget": 100}, 512),
])
def test_gemini_budgets_are_brought_into_the_model_range(model: str, options: dict[str, Any], sent: int) -> None:
    with pytest.warns(UserWarning, match="cannot turn reasoning off|sent as"):
        config = thinking_of(gemini_body(model, **options))
    assert config == {"thinkingBudget": sent, "includeThoughts": True}


def test_gemini_flash_models_turn_thinking_off_and_effort_budgets_fit_silently() -> None:
    with silent():
        assert thinking_of(gemini_body("gemini-2.5-flash-lite", reasoning_budget=0)) == {"thinkingBudget": 0}
        assert thinking_of(gemini_body("gemini-2.5-flash", reasoning_effort="xhigh"))["thinkingBudget"] == 24576
        assert thinking_of(gemini_body("gemini-2.5-pro", reasoning_effort="minimal"))["thinkingBudget"] == 512


@pytest.mark.parametrize(("model", "options", "level"), [
    ("gemini-3-pro-preview", {"reasoning_effort": "medium"}, "LOW"),   # low/high only: the lesser of the two
    ("gemini-3-pro-preview", {"reasoning_effort": "minimal"}, "LOW"),
    ("gemini-3-pro-preview", {"reasoning_effort": "none"}, "LOW"),     # Gemini 3 cannot turn thinking off
    ("gemini-3-pro-preview", {"reasoning_budget": 0}, "LOW"),
    ("gemini-3.1-pro-preview", {"reasoning_effort": "minimal"}, "LOW"),
    ("gemini-3-flash-preview", {"reasoning_effort": "none"}, "MINIMAL"),
])
def test_gemini_3_levels_go_to_the_nearest_the_model_takes(model: str, options: dict[str, Any], level: str) -> None:
    with pytest.warns(UserWarning, match="sent as|cannot turn reasoning off"):
        config = thinking_of(gemini_body(model, **options))
    assert config == {"thinkingLevel": level, "includeThoughts": True}
    with silent():
        config = thinking_of(gemini_body("gemini-3.1-pro-preview", reasoning_effort="medium"))
    assert config["thinkingLevel"] == "MEDIUM"


# ---------------------------------------------------------------------- 2. sampling


def test_reasoning_models_get_no_sampling() -> None:
    with pytest.warns(UserWarning, match="temperature/top_p left out"):
        body = openai_body("o3", temperature=0.2, top_p=0.5)
    assert "temperature" not in body and "top_p" not in body
    with pytest.warns(UserWarning, match="temperature/top_k left out"):
        body = anthropic_body("claude-opus-4-7", temperature=0.2, top_k=5)
    assert "temperature" not in body and "top_k" not in body


def test_claude_4_takes_temperature_or_top_p_not_both() -> None:
    with pytest.warns(UserWarning, match="top_p left out"):
        body = anthropic_body("claude-sonnet-4-5", temperature=0.3, top_p=0.8)
    assert body["temperature"] == 0.3 and "top_p" not in body
    with silent():
        assert anthropic_body("claude-sonnet-4-5", top_p=0.8)["top_p"] == 0.8
        body = anthropic_body("claude-3-7-sonnet", temperature=0.3, top_p=0.8)
    assert (body["temperature"], body["top_p"]) == (0.3, 0.8)


def test_sampling_while_thinking() -> None:
    with pytest.warns(UserWarning) as caught:
        body = anthropic_body("claude-sonnet-4-5", reasoning_budget=2000, temperature=0.5, top_p=0.5, top_k=3)
    assert "temperature" not in body and "top_k" not in body and body["top_p"] == 0.95
    assert any("top_p 0.5 sent as 0.95" in str(w.message) for w in caught)
    with silent():  # temperature 1 is the only one allowed while thinking, and the default: nothing to say
        body = anthropic_body("claude-sonnet-4-5", reasoning_budget=2000, temperature=1.0, top_p=0.97)
    assert "temperature" not in body and body["top_p"] == 0.97


def test_reconcile_sampling_passes_what_the_model_takes() -> None:
    with silent():
        assert reconcile_sampling(traits_for("gemini", "gemini-2.5-flash"), model="m", temperature=0.1, top_p=0.2,
                                  top_k=3) == (0.1, 0.2, 3)
        assert reconcile_sampling(ModelTraits(), model="m") == (None, None, None)


# ---------------------------------------------------------------------- 3. stop sequences


def test_stop_sequence_limits() -> None:
    with silent():
        assert openai_body("gpt-4.1", stop=["a", "b", "c", "d"])["stop"] == ["a", "b", "c", "d"]
        assert gemini_body("gemini-2.5-flash", stop=list("abcde"))["generationConfig"]["stopSequences"] == list("abcde")
        assert anthropic_body("claude-sonnet-4-5", stop=list("abcdefgh"))["stop_sequences"] == list("abcdefgh")
    with pytest.raises(InvalidRequestError, match="at most 4 stop sequences"):
        openai_body("gpt-4.1", stop=list("abcde"))
    with pytest.raises(InvalidRequestError, match="at most 5 stop sequences"):
        gemini_body("gemini-2.5-flash", stop=list("abcdef"))
    with pytest.raises(InvalidRequestError, match="takes no stop sequences"):
        openai_body("o3", stop=["END"])
    for build in (openai_body, gemini_body):
        with pytest.raises(InvalidRequestError, match="empty"):
            build("gemini-2.5-flash" if build is gemini_body else "gpt-4.1", stop=["END", ""])
    with pytest.raises(InvalidRequestError, match="empty"):
        anthropic_body("claude-sonnet-4-5", stop=[""])


def test_repeated_stop_sequences_count_once_and_hosts_without_rules_are_not_limited() -> None:
    assert limit_stop(["a", "a", "b", "c", "d"], 4, model="m", api="x") == ["a", "b", "c", "d"]
    assert limit_stop(list("abcdefgh"), None, model="m", api="x") == list("abcdefgh")
    groq = create_provider("groq", api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    try:
        body = groq._build_request(groq._make_call("llama-3.3-70b-versatile", "hi", {"stop": list("abcdef")}))
    finally:
        groq.close()
    assert body["stop"] == list("abcdef")


# ---------------------------------------------------------------------- 4. tool names


def test_tool_names_the_vendor_refuses_fail_before_sending() -> None:
    dotted = {**WEATHER, "name": "weather.get"}
    for build, model in ((openai_body, "gpt-4.1"), (anthropic_body, "claude-sonnet-4-5")):
        with pytest.raises(InvalidRequestError, match=r"'weather\.get'.*\^\[a-zA-Z0-9_-\]\{1,64\}\$"):
            build(model, tools=[dotted])
    with silent():  # Gemini takes dots (and colons) in function names
        body = gemini_body("gemini-2.5-flash", tools=[dotted])
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "weather.get"
    with pytest.raises(InvalidRequestError, match="'2fa_code'"):  # Gemini: a letter or underscore first
        gemini_body("gemini-2.5-flash", tools=[{**WEATHER, "name": "2fa_code"}])


def test_duplicate_tool_names_fail() -> None:
    for build, model in ((openai_body, "gpt-4.1"), (anthropic_body, "claude-sonnet-4-5"),
                         (gemini_body, "gemini-2.5-flash")):
        with pytest.raises(InvalidRequestError, match="'get_weather' is given twice"):
            build(model, tools=[WEATHER, {**WEATHER, "description": "again"}])


def test_check_tool_names_without_a_pattern_checks_duplicates_only() -> None:
    tool = ToolDefinition(name="a.b")
    check_tool_names([tool], None, "x")
    with pytest.raises(InvalidRequestError):
        check_tool_names([tool, tool], None, "x")


# ---------------------------------------------------------------------- 5. tool_choice without tools


@pytest.mark.parametrize("choice", ["auto", "required"])
def test_tool_choice_without_tools_is_dropped_with_a_warning(choice: str) -> None:
    for body_of, model in ((openai_body, "gpt-4.1"), (anthropic_body, "claude-sonnet-4-5"),
                           (gemini_body, "gemini-2.5-flash")):
        with pytest.warns(UserWarning, match=f"tool_choice '{choice}' left out"):
            body = body_of(model, tool_choice=choice)
        assert "tool_choice" not in body and "toolConfig" not in body


def test_tool_choice_none_without_tools_is_simply_left_out() -> None:
    with silent():
        assert "tool_choice" not in openai_body("gpt-4.1", tool_choice="none")
        assert "tool_choice" not in anthropic_body("claude-sonnet-4-5", tool_choice="none")
        assert "toolConfig" not in gemini_body("gemini-2.5-flash", tool_choice="none")
    assert tool_choice_for("none", True, "x") == "none"


# ---------------------------------------------------------------------- 6. system prompt


def test_models_without_system_instructions_get_them_in_the_first_user_turn() -> None:
    with pytest.warns(UserWarning, match="folded into the first user turn"):
        body = gemini_body("gemma-3-27b-it", [system("Be brief."), user("Hi")])
    assert "systemInstruction" not in body
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Be brief.\n\nHi"}]}]
    with pytest.warns(UserWarning, match="folded into the first user turn"):
        body = openai_body("o1-mini", [system("Be brief."), user("Hi")])
    assert body["messages"] == [{"role": "user", "content": "Be brief.\n\nHi"}]
    with silent():
        assert gemini_body("gemini-2.5-flash", [system("Be brief."), user("Hi")])["systemInstruction"] == {
            "parts": [{"text": "Be brief."}]}


def test_fold_system_keeps_parts_and_makes_a_user_turn_when_there_is_none() -> None:
    gemma = traits_for("gemini", "gemma-3-27b-it")
    image = ImagePart(url="https://example.com/a.png")
    with pytest.warns(UserWarning):
        folded = fold_system([system("A"), user(["look", image]), system("B")], gemma, model="gemma")
    assert folded[0].content == [TextPart(text="A\n\nB"), TextPart(text="look"), image]
    with pytest.warns(UserWarning):
        only = fold_system([system("A"), Message(role="assistant", content="ok")], gemma, model="gemma")
    assert [(m.role, m.content) for m in only] == [("user", "A"), ("assistant", "ok")]
    history = [system("A"), user("x")]
    assert fold_system(history, traits_for("gemini", "gemini-2.5-flash"), model="g") is history


# ---------------------------------------------------------------------- helpers the Responses converter shares


def test_plan_reasoning_and_allowed_effort_are_api_neutral() -> None:
    gpt5 = traits_for("openai", "gpt-5")
    with silent():
        assert plan_reasoning(parse_options({}), gpt5, model="gpt-5") is None
        plan = plan_reasoning(parse_options({"reasoning_budget": 20000}), gpt5, model="gpt-5")
    assert plan is not None and plan.effort == "high"
    assert allowed_effort("xhigh", None, model="m") == "xhigh"
    with pytest.warns(UserWarning, match="has no extended thinking or reasoning"):
        assert plan_reasoning(parse_options({"reasoning_effort": "low"}), ModelTraits(), model="m") is None


# ---------------------------------------------------------------------- end to end, per vendor


@pytest.fixture(scope="module")
def server() -> Iterator[WireEmulator]:
    with WireEmulator(models=["gpt-4.1", "claude-sonnet-4-5", "gemini-2.5-pro"]) as emu:
        yield emu


@pytest.fixture
def emu(server: WireEmulator) -> Iterator[WireEmulator]:
    server.reset()
    yield server
    server.reset()


def _provider(emu: WireEmulator, vendor: str) -> Any:
    base = {"openai": emu.openai_base_url, "anthropic": emu.anthropic_base_url, "gemini": emu.gemini_base_url}
    return create_provider(vendor, api_key="sk-emulator-0123456789", base_url=base[vendor], max_retries=0)


@pytest.mark.parametrize(("vendor", "model", "options"), [
    ("openai", "gpt-4.1", {"stop": list("abcde")}),
    ("openai", "o3", {"stop": ["END"]}),
    ("anthropic", "claude-sonnet-4-5", {"tools": [{**WEATHER, "name": "weather.get"}]}),
    ("anthropic", "claude-sonnet-4-5", {"tools": [WEATHER, WEATHER]}),
    ("gemini", "gemini-2.5-pro", {"stop": list("abcdef")}),
    ("gemini", "gemini-2.5-pro", {"tools": [{**WEATHER, "name": "-weather"}]}),
])
async def test_refused_requests_are_never_sent(emu: WireEmulator, vendor: str, model: str,
                                               options: dict[str, Any]) -> None:
    provider = _provider(emu, vendor)
    try:
        with pytest.raises(InvalidRequestError) as raised:
            provider.generate_sync(model, "hi", **options)
        assert raised.value.status_code is None  # refused here, not by the vendor
        with pytest.raises(InvalidRequestError):
            await provider.generate(model, "hi", **options)
        with pytest.raises(InvalidRequestError), provider.stream_sync(model, "hi", **options) as stream:
            list(stream)
    finally:
        await provider.aclose()
    assert emu.requests == []


async def test_openai_adapted_effort_end_to_end(emu: WireEmulator) -> None:
    emu.script(Reply("ok"))
    provider = _provider(emu, "openai")
    try:
        with pytest.warns(UserWarning) as caught:
            response = await provider.generate("o3", [system("rules"), user("q")], reasoning_effort="minimal",
                                               tool_choice="auto")
    finally:
        await provider.aclose()
    assert response.text == "ok"
    assert sorted(str(w.message).split(":")[0] for w in caught
                  if str(w.message).startswith(("reasoning_effort", "tool_choice"))) == [
        "reasoning_effort 'minimal' sent as 'low'", "tool_choice 'auto' left out of the request"]
    body = emu.requests[-1].body
    assert body["reasoning_effort"] == "low" and "tool_choice" not in body
    assert body["messages"][0] == {"role": "developer", "content": "rules"}


async def test_anthropic_adapted_sampling_and_thinking_end_to_end(emu: WireEmulator) -> None:
    emu.script(Reply("ok"), Reply("ok"))
    provider = _provider(emu, "anthropic")
    try:
        with pytest.warns(UserWarning, match="Anthropic API version 2026-10-21"):
            provider.generate_sync("claude-sonnet-4-5", "hi", temperature=0.4, top_p=0.9)
        first = emu.requests[-1].body
        with pytest.warns(UserWarning) as caught, \
                provider.stream_sync("claude-opus-4-7", "hi", reasoning_budget=5000, temperature=0.3) as stream:
            list(stream)
        second = emu.requests[-1].body
        assert [str(w.message).split(":")[0] for w in caught] == [
            "reasoning_budget 5000 sent as effort 'medium'", "temperature left out of the request"]
    finally:
        await provider.aclose()
    assert "temperature" not in first and "top_p" not in first
    assert second["thinking"] == {"type": "adaptive"} and second["output_config"] == {"effort": "medium"}
    assert "temperature" not in second


async def test_gemini_adapted_budget_and_system_end_to_end(emu: WireEmulator) -> None:
    emu.script(Reply("ok"), Reply("ok"))
    provider = _provider(emu, "gemini")
    try:
        with pytest.warns(UserWarning, match="cannot turn reasoning off"):
            await provider.generate("gemini-2.5-pro", "hi", reasoning_budget=0)
        thinking = emu.requests[-1].body["generationConfig"]["thinkingConfig"]
        with pytest.warns(UserWarning, match="folded into the first user turn"):
            await provider.generate("gemma-3-27b-it", [system("Be brief."), user("Hi")])
        gemma = emu.requests[-1].body
    finally:
        await provider.aclose()
    assert thinking == {"thinkingBudget": 128, "includeThoughts": True}
    assert "systemInstruction" not in gemma and gemma["contents"][0]["parts"][0] == {"text": "Be brief.\n\nHi"}
