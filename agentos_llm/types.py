"""The provider-neutral data model: messages, tools, usage, responses and stream events.

Every provider converts its vendor wire format to and from these types, so agent code written
against them runs unchanged on any provider.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    create_model,
    model_serializer,
    model_validator,
)

from .rate_limits import RateLimits
from .response_pack import BUILDERS, STORED, is_stored

__all__ = [
    "AudioPart",
    "Citation",
    "CompletionResponse",
    "ContentPart",
    "CostSource",
    "DocumentPart",
    "DoneEvent",
    "EmbeddingResponse",
    "FinishReason",
    "HealthStatus",
    "Hop",
    "ImagePart",
    "Message",
    "MessageInput",
    "ModelInfo",
    "ReasoningDeltaEvent",
    "RerankResponse",
    "RerankResult",
    "ResponseMetadata",
    "Role",
    "ServerToolCall",
    "StreamEvent",
    "StructuredResponse",
    "TextDeltaEvent",
    "TextPart",
    "TokenCount",
    "ToolCall",
    "ToolCallDeltaEvent",
    "ToolCallEvent",
    "ToolDefinition",
    "Usage",
    "UsageEvent",
    "VendorBlock",
    "assistant",
    "system",
    "tool_result",
    "user",
]

Role = Literal["system", "user", "assistant", "tool"]
_FROZEN = ConfigDict(frozen=False, extra="forbid")
# Models off a first call's path are built on first use, not at import (the working API imports faster).
_DEFERRED = ConfigDict(defer_build=True)
_DEFERRED_FORBID = ConfigDict(extra="forbid", defer_build=True)


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


class ToolDefinition(BaseModel):
    """A tool the model may call: a name, a description and a JSON schema for its arguments."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache_control: dict[str, Any] | None = None

    @classmethod
    def from_model(cls, model: type[BaseModel], *, name: str | None = None,
                   description: str | None = None) -> ToolDefinition:
        """A tool whose arguments are the fields of a pydantic model."""
        schema = model.model_json_schema()
        schema.pop("title", None)
        doc = description if description is not None else (schema.pop("description", None) or "")
        return cls(name=name or model.__name__, description=doc, parameters=schema)

    @classmethod
    def from_function(cls, fn: Callable[..., Any], *, name: str | None = None,
                      description: str | None = None) -> ToolDefinition:
        """A tool from a typed Python function: its parameters become the schema, its docstring the description."""
        sig = inspect.signature(fn)
        hints = getattr(fn, "__annotations__", {})
        try:
            from typing import get_type_hints

            hints = get_type_hints(fn)
        except Exception:
            pass
        fields: dict[str, Any] = {}
        for pname, param in sig.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(pname, Any)
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (annotation, default)
        model = create_model(f"{fn.__name__}_args", **fields)
        schema = model.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        doc = description if description is not None else inspect.getdoc(fn) or ""
        return cls(name=name or fn.__name__, description=doc, parameters=schema)

    @classmethod
    def coerce(cls, value: Any) -> ToolDefinition:
        """Accepts a ToolDefinition, an OpenAI tool dict, a pydantic model class or a function."""
        if isinstance(value, ToolDefinition):
            return value
        if isinstance(value, dict):
            if value.get("type") == "function" and isinstance(value.get("function"), dict):
                fn = value["function"]
                return cls(name=fn["name"], description=fn.get("description") or "",
                           parameters=fn.get("parameters") or {"type": "object", "properties": {}},
                           strict=fn.get("strict"))
            return cls.model_validate(value)
        if isinstance(value, type) and issubclass(value, BaseModel):
            return cls.from_model(value)
        if callable(value):
            return cls.from_function(value)
        raise TypeError(f"cannot make a tool from {type(value).__name__}")


class FinishReason(str, Enum):
    """Why the model stopped, normalized across vendors."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


CostSource = Literal["provider", "definition", "genai-prices", "listing", "catalog", "config", "none", "mixed"]
"""Where a cost came from (see `agentos_llm.pricing`); "definition" is a `define_model` price; "mixed" is a sum of
usages priced from different sources."""


class Usage(BaseModel):
    """Token usage with one inclusive convention for every vendor.

    `input_tokens` counts cached reads and cache writes; `output_tokens` counts reasoning tokens.
    """

    model_config = ConfigDict(extra="forbid")
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    cost_source: CostSource | None = None
    """Where `cost_usd` came from: "provider", "genai-prices", "listing", "catalog", "config" or "none"
    (unknown); None until the usage is priced (by the provider class, after each call)."""

    @model_validator(mode="after")
    def _total(self) -> Usage:
        if not self.total_tokens:
            self.total_tokens = self.input_tokens + self.output_tokens
        return self

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost_usd is None and other.cost_usd is None else (
            (self.cost_usd or 0.0) + (other.cost_usd or 0.0))
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_input_tokens=self.cache_write_input_tokens + other.cache_write_input_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=cost,
            cost_source=_sum_source(self.cost_source, other.cost_source),
        )


def _sum_source(a: CostSource | None, b: CostSource | None) -> CostSource | None:
    """The source of a sum: the common one; an unpriced side (None) takes the other's; "mixed" otherwise."""
    if a is None or a == b:
        return b
    return a if b is None else "mixed"


class Hop(BaseModel):
    """One target a manager call tried, in order: which provider and model, how it ended, how long it took.

    `outcome` is "served" (it answered), "failed" (`error` names the error class), "skipped" (not tried: an
    open breaker, a client-side limit, a rule of the route; `error` names why when an error said so) or
    "cancelled" (a hedged call's slower hop, stopped when the other answered). `usage` is what the hop
    reported (None when it reported nothing); `note` says what the manager did (options clipped or dropped,
    a credential rotated, a hedge started).
    """

    model_config = ConfigDict(extra="forbid")
    provider: str
    model: str
    error: str | None = None
    elapsed_ms: float = 0.0
    note: str | None = None
    outcome: Literal["served", "failed", "skipped", "cancelled"] = "served"
    usage: Usage | None = None


class Citation(BaseModel):
    """A passage the answer cites: a web page, a file, or a document given in the request."""

    model_config = ConfigDict(extra="forbid")
    type: str
    """The vendor's citation kind (e.g. "url_citation", "file_citation", "char_location", "page_location")."""
    cited_text: str | None = None
    url: str | None = None
    title: str | None = None
    file_id: str | None = None
    document_index: int | None = None
    start: int | None = None
    """Where the citation starts: a character index in the answer (OpenAI) or in the document (Anthropic)."""
    end: int | None = None


class ServerToolCall(BaseModel):
    """A tool the vendor ran itself (web search, file search, code interpreter, MCP ...): nothing to answer."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    type: str
    """The vendor's item type, e.g. "web_search_call", "code_interpreter_call", "mcp_call", "server_tool_use"."""
    name: str | None = None
    status: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    """What the tool returned, where the vendor sends it (search sources, code output, MCP output)."""


class TokenCount(BaseModel):
    """How many input tokens a request would use; `exact` is False for a local estimate."""

    model_config = _DEFERRED_FORBID
    input_tokens: int
    exact: bool = True
    model: str | None = None
    provider: str | None = None
    hops: list[Hop] = Field(default_factory=list)
    """How a manager served the count (see `Hop`); empty from a provider called directly."""


class ResponseMetadata(BaseModel):
    """What the transport and the body said about how a call was served (see docs/models.md).

    `headers` are the selected response headers (request ids, rate limits, processing times, gateway costs),
    lower-cased; `service_tier` is the tier that served the call where the vendor says so (OpenAI's
    `service_tier`, Anthropic's `usage.service_tier`); `upstream` the provider an aggregator routed to
    (OpenRouter's `provider`); `host` the host row and `base_url` where the request went. `extra` holds
    what a `get_response_metadata` override adds.
    """

    model_config = ConfigDict(extra="forbid")
    status_code: int | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    request_id: str | None = None
    service_tier: str | None = None
    upstream: str | None = None
    api: str | None = None
    host: str | None = None
    base_url: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    _source: Any = PrivateAttr(default=None)  # the headers as received, for a `get_response_metadata` override


class CompletionResponse(BaseModel):
    """A whole model answer; `message` is the assistant turn to append to the history."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    id: str | None = None
    provider: str
    model: str
    text: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    message: Message
    upstream: str | None = None
    """The upstream that served the call, where a router (e.g. OpenRouter) says so."""
    server_tool_calls: list[ServerToolCall] = Field(default_factory=list)
    """Tools the vendor ran on its side (not for the agent to answer)."""
    citations: list[Citation] = Field(default_factory=list)
    api: str | None = None
    """The wire API that served the call (e.g. "openai-chat", "openai-responses")."""
    rate_limits: RateLimits | None = None
    """The rate limits the response's headers stated (see `agentos_llm.rate_limits`), where it stated any."""
    request_id: str | None = None
    """The vendor's id of the request (from its response headers), to quote to its support."""
    metadata: ResponseMetadata = Field(default_factory=ResponseMetadata)
    """How the call was served: HTTP status, selected headers, service tier, upstream, API and host."""
    hops: list[Hop] = Field(default_factory=list)
    """How a manager served the call: every hop of its route tried, in order (see `Hop`); empty from a
    provider called directly."""
    raw: Any = Field(default=None, repr=False, exclude=True)

    # A response a provider returns keeps its rarely read parts packed (`agentos_llm.response_pack`); each is
    # built on first read. What sees the whole model (dumps, equality, repr, pickling, copies) sees them built.

    def _full_dict(self) -> dict[str, Any]:
        """The field values, packed ones built (without keeping them)."""
        d = self.__dict__
        if not any(is_stored(d[name]) for name in BUILDERS):
            return d
        return {name: BUILDERS[name](self, v) if name in BUILDERS and is_stored(v) else v for name, v in d.items()}

    def _full_copy(self) -> CompletionResponse:
        full = _object_new(CompletionResponse)
        object.__setattr__(full, "__dict__", self._full_dict())
        object.__setattr__(full, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        object.__setattr__(full, "__pydantic_extra__", self.__pydantic_extra__)
        object.__setattr__(full, "__pydantic_private__", self.__pydantic_private__)
        return full

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> Any:
        d = self.__dict__
        return handler(self._full_copy() if any(is_stored(d[n]) for n in BUILDERS) else self)

    def __setattr__(self, name: str, value: Any) -> None:
        if type(self.__pydantic_fields_set__) is not set:  # a shared frozen set: this response gets its own
            object.__setattr__(self, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        super().__setattr__(name, value)

    @property
    def model_fields_set(self) -> set[str]:
        """The names of the fields set explicitly when the response was made."""
        if type(self.__pydantic_fields_set__) is not set:
            object.__setattr__(self, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        return self.__pydantic_fields_set__

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented if not isinstance(other, BaseModel) else False
        return (self._full_dict() == other._full_dict() and self.__pydantic_private__ == other.__pydantic_private__
                and self.__pydantic_extra__ == other.__pydantic_extra__)

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Any:
        yield from self._full_dict().items()

    def __repr_args__(self) -> Any:
        return self._full_copy().__repr_args__() if self._full_dict() is not self.__dict__ else super().__repr_args__()

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["__dict__"] = dict(self._full_dict())
        state["__pydantic_fields_set__"] = set(self.__pydantic_fields_set__)
        return state

    def __copy__(self) -> CompletionResponse:
        copied = super().__copy__()
        object.__setattr__(copied, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> CompletionResponse:
        copied = super().__deepcopy__(memo)
        object.__setattr__(copied, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        return copied


class _Packed:
    """A field of `CompletionResponse` that may be stored packed: built on first read, then kept."""

    __slots__ = ("build", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.build = BUILDERS[name]

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        d = obj.__dict__
        try:
            value = d[self.name]
        except KeyError:
            raise AttributeError(self.name) from None
        if type(value) in STORED:
            value = d[self.name] = self.build(obj, value)
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


def _object_new(cls: type[T]) -> T:
    return cls.__new__(cls)


for _name in BUILDERS:
    setattr(CompletionResponse, _name, _Packed(_name))


class TextDeltaEvent(BaseModel):
    """A piece of the answer's text."""

    type: Literal["text_delta"] = "text_delta"
    delta: str


class ReasoningDeltaEvent(BaseModel):
    """A piece of the model's reasoning text."""

    type: Literal["reasoning_delta"] = "reasoning_delta"
    delta: str


class ToolCallDeltaEvent(BaseModel):
    """A fragment of a tool call as it streams: id and name come first, then argument text."""

    type: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    id: str | None = None
    name: str | None = None
    arguments_delta: str = ""


class ToolCallEvent(BaseModel):
    """A tool call, complete with parsed arguments."""

    type: Literal["tool_call"] = "tool_call"
    index: int
    tool_call: ToolCall


class UsageEvent(BaseModel):
    """Token usage as the vendor reported it during the stream."""

    type: Literal["usage"] = "usage"
    usage: Usage


class DoneEvent(BaseModel):
    """The last event of every stream: the whole response, as `generate` would have returned it."""

    model_config = _DEFERRED

    type: Literal["done"] = "done"
    response: CompletionResponse


StreamEvent = Annotated[
    TextDeltaEvent | ReasoningDeltaEvent | ToolCallDeltaEvent | ToolCallEvent | UsageEvent | DoneEvent,
    Field(discriminator="type"),
]


class EmbeddingResponse(BaseModel):
    """Embedding vectors, in the order of the input texts."""

    model_config = _DEFERRED_FORBID
    vectors: list[list[float]]
    model: str
    provider: str = ""
    usage: Usage = Field(default_factory=Usage)
    hops: list[Hop] = Field(default_factory=list)
    """How a manager served the call (see `Hop`); empty from a provider called directly."""


class RerankResult(BaseModel):
    """One document of a reranking, with its place in the input and how relevant it is to the query."""

    model_config = _DEFERRED_FORBID
    index: int
    """The document's position in the list given to `rerank`."""
    relevance_score: float
    document: str
    """The document's text, as given."""


class RerankResponse(BaseModel):
    """Documents ranked by relevance to a query, most relevant first (at most `top_n`)."""

    model_config = _DEFERRED_FORBID
    results: list[RerankResult]
    model: str
    provider: str = ""
    usage: Usage = Field(default_factory=Usage)
    """Tokens where the vendor counts them (Voyage); Cohere bills search units, counted in `search_units`."""
    search_units: int | None = None
    hops: list[Hop] = Field(default_factory=list)
    """How a manager served the call (see `Hop`); empty from a provider called directly."""


class ModelInfo(BaseModel):
    """What is known about one model: limits, capabilities and prices (USD per 1M tokens)."""

    model_config = _DEFERRED_FORBID
    id: str
    provider: str
    display_name: str | None = None
    created: int | None = None
    """When the vendor says the model was created or released (Unix seconds), where it lists one."""
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: frozenset[str] = frozenset()
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None
    cache_write_price: float | None = None
    source: Literal["live", "catalog", "definition", "unknown"] | None = None
    """Where the entry comes from: "live" (the provider's listing, completed from the static catalog),
    "catalog" (the static catalog alone, e.g. because the live listing failed) or "definition" (a
    `define_model` name, listed by the manager); "unknown" when nothing knows the model (`known` is False);
    None when not said."""
    known: bool = True
    """False when neither the live listing, the catalog nor a definition knows the model: its other fields are
    then unknown (None), not facts; the provider may still serve it."""


class HealthStatus(BaseModel):
    """Whether a provider answered, and how fast.

    `state` names the outcome: "ok", "unauthorized" (the key was refused), "rate_limited", "timeout" (no answer
    in time), "unreachable" (no connection), "unsupported" (nothing to ask) or "error" (anything else).
    """

    model_config = _DEFERRED

    provider: str
    ok: bool
    latency_ms: float | None = None
    error: str | None = None
    state: Literal["ok", "unauthorized", "rate_limited", "timeout", "unreachable", "unsupported", "error"] = "ok"


T = TypeVar("T")


class StructuredResponse(BaseModel, Generic[T]):
    """A validated structured answer; `response.usage` and `usage` cover every attempt."""

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)
    value: T
    response: CompletionResponse
    attempts: int = 1

    @property
    def usage(self) -> Usage:
        """Usage summed over all attempts."""
        return self.response.usage
