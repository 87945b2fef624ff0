"""The call matrix: what every wire API's request builder is asked to build, vendor-neutral.

Calls are made the way providers make them (`IProvider._make_call`, `_structured_call`) on a provider
from `create_provider(..., api_key="test-key")`, so model traits come from the real profiles.
"""

from __future__ import annotations

import base64
import io
import struct
import warnings
import wave
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from agentos_llm import create_provider
from agentos_llm.provider import Call, IProvider
from agentos_llm.server_tools import CodeInterpreter, FileSearch, ImageGeneration, RemoteMCP, WebSearch
from agentos_llm.structured import StructuredMode
from agentos_llm.types import (
    AudioPart,
    DocumentPart,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolDefinition,
    VendorBlock,
    tool_result,
)

KEY = "test-key"

# ---------------------------------------------------------------------- payloads


def _png() -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0"))
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + raw + chunk(b"IEND", b"")).decode()


def _wav() -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 80)
    return base64.b64encode(buf.getvalue()).decode()


PNG = _png()
WAV = _wav()
PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n").decode()
MP3 = base64.b64encode(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 8).decode()
SIGNATURE = base64.b64encode(b"an opaque signature from the vendor").decode()

# ---------------------------------------------------------------------- tools and schemas


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str
    postcode: str | None = None


class Person(BaseModel):
    """A person to add to the address book."""

    name: str = Field(description="Full name")
    age: int | None = Field(default=None, ge=0, le=150)
    tags: list[str] = []
    address: Address | None = None
    kind: Literal["friend", "colleague"] = "friend"


class Tree(BaseModel):
    """A recursive structure (some schema dialects cannot express it)."""

    label: str
    children: list[Tree] = []


def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Current weather for a city."""
    return f"21{unit} in {city}"


LOOKUP = {"type": "function", "function": {
    "name": "lookup", "description": "Looks a term up in the glossary.", "strict": True,
    "parameters": {"type": "object", "properties": {"term": {"type": "string"}}, "required": ["term"],
                   "additionalProperties": False}}}
COUNTS = ToolDefinition(name="record_counts", description="Records counts by name.",
                        parameters={"type": "object", "properties": {
                            "counts": {"type": "object", "additionalProperties": {"type": "integer"}}}})
TOOLS: list[Any] = [get_weather, ToolDefinition.from_model(Person, name="add_person"), LOOKUP]
ODD_TOOLS: list[Any] = [COUNTS, ToolDefinition.from_model(Tree, name="draw_tree", description="Draws a tree."),
                        ToolDefinition(name="ping", description="No arguments.")]

# ---------------------------------------------------------------------- histories

SYSTEM = "You are a terse assistant. Answer in one sentence."
USER = "What is the weather in Lisbon?"


def _blocks() -> list[VendorBlock]:
    """Vendor blocks as each vendor's parser keeps them on an assistant turn."""
    return [
        VendorBlock(provider="anthropic", type="thinking",
                    data={"type": "thinking", "thinking": "The user wants weather.", "signature": SIGNATURE}),
        VendorBlock(provider="anthropic", type="redacted_thinking", data={"type": "redacted_thinking", "data": "ZW5j"}),
        VendorBlock(provider="gemini", type="thought_signature", data={"signature": SIGNATURE, "part": "thought"}),
        VendorBlock(provider="gemini", type="function_call",
                    data={"tool_call_id": "call_weather_1", "signature": SIGNATURE}),
        VendorBlock(provider="openai", type="reasoning",
                    data={"type": "reasoning", "id": "rs_0123456789", "summary": [
                        {"type": "summary_text", "text": "Looked up the weather."}],
                        "encrypted_content": "gAAAAB-opaque"}),
        VendorBlock(provider="openai", type="message",
                    data={"type": "message", "id": "msg_0123456789", "role": "assistant", "status": "completed",
                          "content": [{"type": "output_text", "text": "Let me check.", "annotations": [],
                                       "logprobs": []}]}),
        VendorBlock(provider="openai", type="function_call",
                    data={"type": "function_call", "id": "fc_0123456789", "call_id": "call_weather_1",
                          "name": "get_weather", "arguments": '{"city":"Lisbon"}', "status": "completed"}),
        VendorBlock(provider="openai", type="web_search_call",
                    data={"type": "web_search_call", "id": "ws_0123456789", "status": "completed",
                          "action": {"type": "search", "query": "weather Lisbon"}}),
    ]


def history(target: str, *, own: bool) -> list[Message]:
    """A tool loop made on other vendors (or on `target` itself when `own`), handed to `target`."""
    blocks = [b for b in _blocks() if (b.provider == target) == own]
    calls = [ToolCall(id="call_weather_1", name="get_weather", arguments={"city": "Lisbon"}),
             ToolCall(id="toolu_01/odd id", name="lookup", arguments={}, arguments_raw="not json")]
    return [
        Message(role="system", content=SYSTEM),
        Message(role="user", content=USER, name="alice"),
        Message(role="assistant", content="Let me check.", reasoning="The user wants weather.",
                tool_calls=calls, vendor_blocks=blocks),
        tool_result("call_weather_1", {"temperature": 21, "unit": "c"}),
        tool_result("toolu_01/odd id", "no entry"),
        Message(role="user", content="And tomorrow?"),
    ]


MULTI_TURN = [Message(role="system", content=SYSTEM), Message(role="user", content="Hi"),
              Message(role="assistant", content="Hello! How can I help?"), Message(role="user", content=USER)]


def with_parts(*parts: Any) -> list[Message]:
    return [Message(role="user", content=[TextPart(text="Describe this."), *parts])]


IMAGE_URL = ImagePart(url="https://example.com/cat.png")
IMAGE_DATA = ImagePart(data=PNG, media_type="image/png", detail="high")
IMAGE_DATA_URL = ImagePart(url=f"data:image/png;base64,{PNG}")
DOC_PDF = DocumentPart(data=PDF, media_type="application/pdf", filename="report.pdf", title="Report",
                       context="Quarterly figures", citations=True)
DOC_URL = DocumentPart(url="https://example.com/report.pdf", title="Report")
DOC_TEXT = DocumentPart(text="The launch is on Tuesday.", title="Notes")
DOC_FILE = DocumentPart(file_id="file-abc123", filename="report.pdf")
AUDIO_WAV = AudioPart(data=WAV, format="wav")
AUDIO_MP3 = AudioPart(data=MP3, format="mp3")

# ---------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Case:
    """One call: messages, options, which of the API's models serves it, and how it is made."""

    id: str
    messages: Any = USER
    options: dict[str, Any] = field(default_factory=dict)
    model: str = "chat"
    """A role the API's test setup maps to a model: chat, reasoning, level, audio, basic."""
    structured: Any = None
    mode: StructuredMode | None = None
    """A structured mode forced over the provider's own choice (None: the provider's)."""
    stream: bool = False
    finding: str | None = None
    """A known invalid body (xfail(strict=True)): the exact finding, for the converter's owner."""


def param(case: Case) -> Any:
    """The case as a pytest param, with its xfail mark if any."""
    marks = []
    if case.finding:
        marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=case.finding))
    return pytest.param(case, id=case.id, marks=marks)


def common_cases() -> list[Case]:
    """Cases every chat-like API takes."""
    return [
        Case("plain"),
        Case("system", [Message(role="system", content=SYSTEM), Message(role="user", content=USER)]),
        Case("multi_turn", MULTI_TURN),
        Case("sampling", MULTI_TURN, {"temperature": 0.3, "top_p": 0.9}),
        Case("max_tokens_stop", options={"max_tokens": 256, "stop": ["END", "STOP"]}),
        Case("stop_string", options={"stop": "END"}),
        Case("seed_user", options={"seed": 7, "user": "user-123"}),
        Case("tools", options={"tools": TOOLS}),
        Case("tools_odd_schemas", options={"tools": ODD_TOOLS}),
        Case("tool_without_description", options={"tools": [ToolDefinition(name="ping")], "tool_choice": "ping"}),
        Case("tool_choice_auto", options={"tools": TOOLS, "tool_choice": "auto"}),
        Case("tool_choice_none", options={"tools": TOOLS, "tool_choice": "none"}),
        Case("tool_choice_required", options={"tools": TOOLS, "tool_choice": "required"}),
        Case("tool_choice_named", options={"tools": TOOLS, "tool_choice": "get_weather"}),
        Case("parallel_off", options={"tools": TOOLS, "parallel_tool_calls": False}),
        Case("parallel_on", options={"tools": TOOLS, "parallel_tool_calls": True, "tool_choice": "auto"}),
        Case("cache_prompt", [Message(role="system", content=SYSTEM), Message(role="user", content=USER)],
             {"tools": TOOLS, "cache_prompt": True}),
        Case("image_url", with_parts(IMAGE_URL)),
        Case("image_base64", with_parts(IMAGE_DATA)),
        Case("image_data_url", with_parts(IMAGE_DATA_URL)),
        Case("stream", stream=True),
        Case("stream_tools", MULTI_TURN, {"tools": TOOLS, "max_tokens": 100}, stream=True),
        Case("history_foreign", None, {"tools": TOOLS}),  # messages filled per API (see `for_api`)
        Case("history_own", None, {"tools": TOOLS}),
        Case("empty_assistant_with_calls", [
            Message(role="user", content=USER),
            Message(role="assistant", content=None, tool_calls=[
                ToolCall(id="call_a", name="get_weather", arguments={"city": "Lisbon"}),
                ToolCall(id="call_b", name="get_weather", arguments={"city": "Porto"})]),
            tool_result("call_a", "sunny"), tool_result("call_b", [1, 2])], {"tools": TOOLS}),
        *structured_cases(),
    ]


def structured_cases() -> list[Case]:
    """Structured output: the provider's own mode, then every mode forced, for several target types."""
    out = [Case("structured_auto_person", structured=Person),
           Case("structured_auto_list", structured=list[int]),
           Case("structured_auto_dict", structured=dict[str, int]),
           Case("structured_auto_tree", structured=Tree)]
    for mode in ("json_schema", "json_object", "tool", "prompt"):
        out.append(Case(f"structured_{mode}_person", structured=Person, mode=mode))
        out.append(Case(f"structured_{mode}_tree", structured=Tree, mode=mode))
    out.append(Case("structured_with_tools", structured=Person, options={"tools": TOOLS}))
    return out


def reasoning_cases(efforts: tuple[str, ...] = ("low", "high"), budgets: tuple[int, ...] = (2048, 0)) -> list[Case]:
    """Reasoning options on the API's reasoning model."""
    out = [Case(f"reasoning_effort_{e}", options={"reasoning_effort": e}, model="reasoning") for e in efforts]
    out += [Case(f"reasoning_budget_{b}", options={"reasoning_budget": b, "max_tokens": 8192}, model="reasoning")
            for b in budgets]
    out.append(Case("reasoning_with_tools", MULTI_TURN, {"reasoning_effort": "medium", "tools": TOOLS,
                                                         "tool_choice": "auto"}, model="reasoning"))
    out.append(Case("reasoning_structured", structured=Person, options={"reasoning_effort": "low"}, model="reasoning"))
    out.append(Case("reasoning_sampling_dropped", options={"reasoning_effort": "low", "temperature": 0.2},
                    model="reasoning"))
    return out


def server_tool_cases() -> list[Case]:
    """Every server tool (OpenAI Responses)."""
    return [
        Case("server_web_search", options={"server_tools": [WebSearch(
            search_context_size="low", allowed_domains=["example.com"],
            user_location={"type": "approximate", "country": "PT", "city": "Lisbon"})]}),
        Case("server_file_search", options={"server_tools": [FileSearch(
            vector_store_ids=["vs_123"], max_num_results=5, filters={"type": "eq", "key": "lang", "value": "en"})]}),
        Case("server_code_interpreter", options={"server_tools": [CodeInterpreter()]}),
        Case("server_code_interpreter_container", options={"server_tools": [CodeInterpreter(container="cntr_123")]}),
        Case("server_image_generation", options={"server_tools": [ImageGeneration(
            size="1024x1024", quality="low", output_format="png", background="auto")]}),
        Case("server_mcp", options={"server_tools": [RemoteMCP(
            server_label="docs", server_url="https://mcp.example.com/sse", allowed_tools=["search"],
            headers={"X-Scope": "docs"}, server_description="Docs search")]}),
        Case("server_all_with_functions", options={"tools": TOOLS, "server_tools": [
            WebSearch(), CodeInterpreter(), RemoteMCP(server_label="docs", server_url="https://mcp.example.com/sse",
                                                      require_approval="always")]}),
    ]


def for_api(cases: list[Case], vendor: str) -> list[Case]:
    """Fills the per-vendor histories (cases named *history_foreign / *history_own)."""
    out = []
    for case in cases:
        if case.id.endswith("history_foreign"):
            case = replace(case, messages=history(vendor, own=False))
        elif case.id.endswith("history_own"):
            case = replace(case, messages=history(vendor, own=True))
        out.append(case)
    return out


def provider(provider_id: str, **config: Any) -> IProvider:
    """A provider as a user makes it (no request is ever sent)."""
    return create_provider(provider_id, api_key=KEY, **config)


def make_call(p: IProvider, model: str, case: Case) -> Call:
    """The `Call` the provider would build for the case."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case.structured is not None:
            call = p._structured_call(model, case.messages, case.structured, case.options)
            if case.mode is not None:
                call = replace(call, structured_mode=case.mode)
            return replace(call, stream=case.stream)
        return p._make_call(model, case.messages, case.options, stream=case.stream)


def quiet(build: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs a builder with its "option dropped" warnings silenced (dropping is fine; the body is checked)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build(*args, **kwargs)


def with_findings(cases: list[Case], findings: dict[str, str]) -> list[Case]:
    """The cases with their known findings attached (by case id); an unknown id is a mistake here."""
    unknown = set(findings) - {c.id for c in cases}
    assert not unknown, f"findings name no case: {sorted(unknown)}"
    return [replace(c, finding=findings[c.id]) if c.id in findings else c for c in cases]
