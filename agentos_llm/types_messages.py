"""Messages and their content parts (text, image, document, audio), tool calls and vendor blocks.

Plain dicts in OpenAI chat shape are accepted wherever a `Message` is; `system`, `user`, `assistant` and
`tool_result` build messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

__all__ = [
    "AudioPart",
    "ContentPart",
    "DocumentPart",
    "ImagePart",
    "Message",
    "MessageInput",
    "Role",
    "TextPart",
    "ToolCall",
    "VendorBlock",
    "assistant",
    "coerce_messages",
    "parse_tool_arguments",
    "system",
    "tool_result",
    "user",
]

Role = Literal["system", "user", "assistant", "tool"]
_FROZEN = ConfigDict(frozen=False, extra="forbid")


class TextPart(BaseModel):
    """A text part of a message's content."""

    model_config = _FROZEN
    type: Literal["text"] = "text"
    text: str
    cache_control: dict[str, Any] | None = None


class ImagePart(BaseModel):
    """An image, by URL or as base64 data with its media type."""

    model_config = _FROZEN
    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None
    cache_control: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ImagePart:
        if (self.url is None) == (self.data is None):
            raise ValueError("an image needs exactly one of url or data")
        if self.data is not None and not self.media_type:
            raise ValueError("base64 image data needs its media_type (e.g. 'image/png')")
        return self

    @property
    def data_url(self) -> str:
        """The image as a URL: its own URL, or a `data:` URL built from the base64 data."""
        if self.url is not None:
            return self.url
        return f"data:{self.media_type};base64,{self.data}"


class DocumentPart(BaseModel):
    """A document (PDF or plain text): base64 `data`, a `url`, a vendor `file_id`, or inline `text`.

    `media_type` is required with `data` ("application/pdf", "text/plain"); `citations=True` asks vendors
    that cite documents (Anthropic) to return citations into it.
    """

    model_config = _FROZEN
    type: Literal["document"] = "document"
    data: str | None = None
    url: str | None = None
    file_id: str | None = None
    text: str | None = None
    media_type: str | None = None
    filename: str | None = None
    title: str | None = None
    context: str | None = None
    citations: bool | None = None
    cache_control: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DocumentPart:
        sources = [s for s in (self.data, self.url, self.file_id, self.text) if s is not None]
        if len(sources) != 1:
            raise ValueError("a document needs exactly one of data, url, file_id or text")
        if self.data is not None and not self.media_type:
            raise ValueError("base64 document data needs its media_type (e.g. 'application/pdf')")
        return self

    @property
    def mime(self) -> str:
        """The document's media type ("text/plain" for inline text, "application/pdf" when unsaid)."""
        if self.media_type:
            return self.media_type
        return "text/plain" if self.text is not None else "application/pdf"

    @property
    def data_url(self) -> str:
        """Base64 data as a `data:` URL (only for `data` documents)."""
        return f"data:{self.mime};base64,{self.data}"


class AudioPart(BaseModel):
    """Audio input as base64 data in `format` wav or mp3."""

    model_config = _FROZEN
    type: Literal["audio"] = "audio"
    data: str
    format: Literal["wav", "mp3"] = "wav"

    @property
    def media_type(self) -> str:
        """The MIME type of the audio."""
        return "audio/wav" if self.format == "wav" else "audio/mpeg"


ContentPart = Annotated[TextPart | ImagePart | DocumentPart | AudioPart, Field(discriminator="type")]


class ToolCall(BaseModel):
    """A call of a tool that the model asked for."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    arguments_raw: str | None = Field(default=None, repr=False)
    """The vendor's argument text when it was not a JSON object (kept so nothing is lost)."""


class VendorBlock(BaseModel):
    """An opaque vendor block that must be sent back verbatim on the next turn.

    Examples: Anthropic thinking blocks with their signatures, Gemini thought signatures.
    Providers other than `provider` drop it when the history moves to them.
    """

    model_config = ConfigDict(extra="forbid")
    provider: str
    type: str
    data: dict[str, Any] = Field(default_factory=dict)


def _text_of(content: str | list[Any] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.text for p in content if isinstance(p, TextPart))


def _part_from_openai(part: Any) -> Any:
    """Accepts an OpenAI chat content part (`text`, `image_url`) or one of ours."""
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind == "image_url":
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, dict) else spec
        detail = spec.get("detail") if isinstance(spec, dict) else None
        if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
            head, data = url[5:].split(";base64,", 1)
            return {"type": "image", "data": data, "media_type": head, "detail": detail}
        return {"type": "image", "url": url, "detail": detail}
    return part


def _tool_call_from_openai(call: Any) -> Any:
    if isinstance(call, dict) and "function" in call:
        fn = call["function"] or {}
        if not isinstance(fn, dict):  # left for validation to refuse, as a typed error
            return call
        args = fn.get("arguments")
        parsed, raw = parse_tool_arguments(args)
        return {"id": call.get("id") or "", "name": fn.get("name") or "", "arguments": parsed,
                "arguments_raw": raw}
    return call


def parse_tool_arguments(args: Any) -> tuple[dict[str, Any], str | None]:
    """Parses a vendor's tool-call arguments into a dict; the raw text is kept when it is not an object."""
    if args is None or args == "":
        return {}, None
    if isinstance(args, dict):
        return args, None
    if isinstance(args, str):
        try:
            value = json.loads(args)
        except ValueError:
            return {}, args
        if isinstance(value, dict):
            return value, None
    return {}, args if isinstance(args, str) else json.dumps(args)


class Message(BaseModel):
    """One turn of a conversation.

    Plain dicts in OpenAI chat shape are accepted wherever a `Message` is.
    """

    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    reasoning: str | None = None
    vendor_blocks: list[VendorBlock] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_openai_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        content = data.get("content")
        calls = data.get("tool_calls")
        if not isinstance(content, list) and not calls and "function_call" not in data:
            return data
        data = dict(data)
        if isinstance(content, list):
            data["content"] = [_part_from_openai(p) for p in content]
        if calls:
            data["tool_calls"] = [_tool_call_from_openai(c) for c in calls]
        data.pop("function_call", None)
        data.pop("refusal", None)
        return data

    @model_validator(mode="after")
    def _check_roles(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id it answers")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        return self

    @property
    def text(self) -> str:
        """The message's text parts joined ("" when none)."""
        return _text_of(self.content)


MessageInput = Message | dict[str, Any]
_MESSAGES = TypeAdapter(list[Message])


def system(text: str) -> Message:
    """A system message."""
    return Message(role="system", content=text)


def user(content: str | Sequence[TextPart | ImagePart | DocumentPart | AudioPart | str]) -> Message:
    """A user message: text, or a list of parts (strings become text parts)."""
    if isinstance(content, str):
        return Message(role="user", content=content)
    parts: list[TextPart | ImagePart | DocumentPart | AudioPart] = [
        TextPart(text=p) if isinstance(p, str) else p for p in content]
    return Message(role="user", content=parts)


def assistant(text: str | None = None, *, tool_calls: Sequence[ToolCall] = ()) -> Message:
    """An assistant message, optionally with the tool calls it made."""
    return Message(role="assistant", content=text, tool_calls=list(tool_calls))


def tool_result(tool_call_id: str, content: Any, *, name: str | None = None) -> Message:
    """The result of a tool call; non-string content is sent as JSON."""
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    return Message(role="tool", tool_call_id=tool_call_id, content=text, name=name)


def coerce_messages(messages: str | Message | dict[str, Any] | Sequence[MessageInput]) -> list[Message]:
    """Normalizes what callers pass as messages: a string is one user message."""
    if isinstance(messages, str):
        return [Message(role="user", content=messages)]
    if isinstance(messages, (Message, dict)):
        messages = [messages]
    if all(type(m) is Message for m in messages):
        return list(messages)  # type: ignore[arg-type]
    return _MESSAGES.validate_python(list(messages))
