"""A whole model answer (`CompletionResponse`, with its packing hooks) and what comes with it: finish reasons,
citations, server tool calls, response metadata, manager hops and structured answers.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_serializer,
)

from .rate_limits import RateLimits
from .response_pack import BUILDERS, STORED, is_stored
from .types_messages import Message, ToolCall
from .types_metadata import ResponseMetadata, blank_metadata
from .types_usage import Usage

__all__ = [
    "Citation",
    "CompletionResponse",
    "FinishReason",
    "Hop",
    "ResponseMetadata",
    "ServerToolCall",
    "StructuredResponse",
]

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


def _stated_message(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A converter's `assistant_turn` stand-in is kept as it is: the message is built from the response on read.
    return value if type(value) in STORED else handler(value)


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
    message: Annotated[Message, WrapValidator(_stated_message)]
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
    metadata: ResponseMetadata = Field(default_factory=blank_metadata)
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
