"""Second opinion on the Gemini body: the same calls made through google-genai, captured on 127.0.0.1.

Google's own SDK serializes its typed request (`client.models.generate_content`) and posts it to a
loopback server that records the body; our converter's body for the same inputs must say the same
thing. Differences that are only spelling are normalized first (see `_normal`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
from google import genai
from google.genai import types as gt
from local_servers import Imitation, send_json

from agentos_llm.types import ImagePart, Message, TextPart, ToolCall, tool_result
from request_validity.cases import PNG, SYSTEM, USER, Case, Person, get_weather, make_call, provider, quiet
from request_validity.specs import GEMINI_PACKAGE, assert_valid, gemini

ANSWER = {"candidates": [{"content": {"role": "model", "parts": [{"text": "{}"}]}, "finishReason": "STOP"}],
          "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}}
FLASH, PRO3 = "gemini-2.5-flash", "gemini-3-pro-preview"


class Capture:
    """A loopback generateContent endpoint that keeps every body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        routes = {("POST", f"/v1beta/models/{m}:generateContent"): self._answer for m in (FLASH, PRO3)}
        self.server = Imitation(routes)
        self.client = genai.Client(api_key="test-key", http_options=gt.HttpOptions(
            base_url=self.server.url, api_version="v1beta", retry_options=gt.HttpRetryOptions(attempts=1)))

    def _answer(self, handler: Any, body: Any) -> None:
        self.bodies.append(body)
        send_json(handler, ANSWER)

    def send(self, model: str, contents: Any, config: gt.GenerateContentConfig | None = None) -> Any:
        self.client.models.generate_content(model=model, contents=contents, config=config)
        return self.bodies[-1]


@pytest.fixture(scope="module")
def sdk() -> Iterator[Capture]:
    capture = Capture()
    yield capture
    capture.client.close()
    capture.server.close()


def _camel(key: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)


def _normal(node: Any, key: str = "") -> Any:
    """What a body means to the API, whoever spelled it:

    - snake_case and lowerCamelCase names are the same field in proto3 JSON (the SDK mixes both);
    - numbers compare as numbers (the SDK sends topK 40.0, we send 40);
    - bytes compare decoded (the SDK writes URL-safe base64, we write standard base64);
    - `title` and `default` inside a Schema are annotations the SDK forwards from pydantic and we leave out;
    - the SDK names the system instruction's role ("user"), which the API ignores there;
    - the SDK sends an empty `generationConfig` when a config sets none of its fields.
    """
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        is_schema = isinstance(node.get("type"), str) and node["type"].isupper()
        for k, v in node.items():
            name = _camel(k)
            if (is_schema and name in ("title", "default")) or (key == "systemInstruction" and name == "role"):
                continue
            if name == "generationConfig" and not v:
                continue
            out[name] = _normal(v, name)
        return out
    if isinstance(node, list):
        return [_normal(v, key) for v in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return float(node)
    if key == "data" and isinstance(node, str):
        return base64.b64decode(node.replace("-", "+").replace("_", "/") + "=" * (-len(node) % 4))
    return node


def ours(model: str, case: Case) -> Any:
    p = provider("gemini")
    request = quiet(p._build_request, make_call(p, model, case))
    assert_valid(gemini().check(request.body, f"{GEMINI_PACKAGE}.GenerateContentRequest",
                                path_fields=frozenset({"model"})), request.body)
    return request.body


def sdk_function(sdk: Capture) -> gt.FunctionDeclaration:
    return gt.FunctionDeclaration.from_callable(client=sdk.client._api_client, callable=get_weather)


def test_text(sdk: Capture) -> None:
    assert _normal(ours(FLASH, Case("t", USER))) == _normal(sdk.send(FLASH, USER))


def test_system_instruction_and_turns(sdk: Capture) -> None:
    history = [Message(role="system", content=SYSTEM), Message(role="user", content="Hi"),
               Message(role="assistant", content="Hello!"), Message(role="user", content=USER)]
    theirs = sdk.send(FLASH, [gt.Content(role="user", parts=[gt.Part(text="Hi")]),
                              gt.Content(role="model", parts=[gt.Part(text="Hello!")]),
                              gt.Content(role="user", parts=[gt.Part(text=USER)])],
                      gt.GenerateContentConfig(system_instruction=SYSTEM))
    assert _normal(ours(FLASH, Case("t", history))) == _normal(theirs)


def test_generation_config(sdk: Capture) -> None:
    options = {"temperature": 0.5, "top_p": 0.9, "top_k": 40, "max_tokens": 100, "stop": ["END"], "seed": 3}
    theirs = sdk.send(FLASH, USER, gt.GenerateContentConfig(
        temperature=0.5, top_p=0.9, top_k=40, max_output_tokens=100, stop_sequences=["END"], seed=3))
    assert _normal(ours(FLASH, Case("t", options=options))) == _normal(theirs)


@pytest.mark.parametrize(("model", "options", "thinking"), [
    (FLASH, {"reasoning_budget": 2048}, gt.ThinkingConfig(thinking_budget=2048, include_thoughts=True)),
    (FLASH, {"reasoning_budget": 0}, gt.ThinkingConfig(thinking_budget=0)),
    (PRO3, {"reasoning_effort": "high"}, gt.ThinkingConfig(thinking_level=gt.ThinkingLevel.HIGH,
                                                            include_thoughts=True)),
    (PRO3, {"reasoning_effort": "low"}, gt.ThinkingConfig(thinking_level=gt.ThinkingLevel.LOW,
                                                           include_thoughts=True)),
], ids=["budget", "budget_off", "level_high", "level_low"])
def test_thinking(model: str, options: dict[str, Any], thinking: gt.ThinkingConfig, sdk: Capture) -> None:
    theirs = sdk.send(model, USER, gt.GenerateContentConfig(thinking_config=thinking))
    assert _normal(ours(model, Case("t", options=options))) == _normal(theirs)


def test_json_schema_output(sdk: Capture) -> None:
    theirs = sdk.send(FLASH, USER, gt.GenerateContentConfig(response_mime_type="application/json",
                                                             response_schema=Person))
    assert _normal(ours(FLASH, Case("t", structured=Person, mode="json_schema"))) == _normal(theirs)


@pytest.mark.parametrize(("choice", "config"), [
    ("auto", gt.FunctionCallingConfig(mode=gt.FunctionCallingConfigMode.AUTO)),
    ("none", gt.FunctionCallingConfig(mode=gt.FunctionCallingConfigMode.NONE)),
    ("required", gt.FunctionCallingConfig(mode=gt.FunctionCallingConfigMode.ANY)),
    ("get_weather", gt.FunctionCallingConfig(mode=gt.FunctionCallingConfigMode.ANY,
                                             allowed_function_names=["get_weather"])),
])
def test_tools_and_tool_config(choice: str, config: gt.FunctionCallingConfig, sdk: Capture) -> None:
    theirs = sdk.send(FLASH, USER, gt.GenerateContentConfig(
        tools=[gt.Tool(function_declarations=[sdk_function(sdk)])],
        tool_config=gt.ToolConfig(function_calling_config=config),
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True)))
    body = ours(FLASH, Case("t", options={"tools": [get_weather], "tool_choice": choice}))
    # We add the optional `propertyOrdering` hint to parameters; the SDK adds it to response schemas only.
    del body["tools"][0]["functionDeclarations"][0]["parameters"]["propertyOrdering"]
    assert _normal(body) == _normal(theirs)


def test_images(sdk: Capture) -> None:
    parts = [TextPart(text="Describe."), ImagePart(data=PNG, media_type="image/png"),
             ImagePart(url="https://example.com/cat.png")]
    theirs = sdk.send(FLASH, [gt.Content(role="user", parts=[
        gt.Part(text="Describe."), gt.Part.from_bytes(data=base64.b64decode(PNG), mime_type="image/png"),
        gt.Part.from_uri(file_uri="https://example.com/cat.png", mime_type="image/png")])])
    assert _normal(ours(FLASH, Case("t", [Message(role="user", content=parts)]))) == _normal(theirs)


def test_function_call_and_response(sdk: Capture) -> None:
    history = [Message(role="user", content=USER),
               Message(role="assistant", tool_calls=[
                   ToolCall(id="c1", name="get_weather", arguments={"city": "Lisbon"})]),
               tool_result("c1", {"temperature": 21})]
    theirs = sdk.send(FLASH, [
        gt.Content(role="user", parts=[gt.Part(text=USER)]),
        gt.Content(role="model", parts=[gt.Part.from_function_call(name="get_weather", args={"city": "Lisbon"})]),
        gt.Content(role="user", parts=[gt.Part.from_function_response(name="get_weather",
                                                                      response={"temperature": 21})])])
    assert _normal(ours(FLASH, Case("t", history))) == _normal(theirs)
