"""Call options shared by every provider; an unknown option is an error, never silently dropped."""

from __future__ import annotations

import contextlib
import copy
import json
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import InvalidRequestError
from .server_tools import ServerTool
from .structured import object_root
from .types import ToolDefinition

__all__ = ["EmbedInputType", "EmbedOptions", "GenerateOptions", "ReasoningEffort", "ToolChoice", "coerce_tool",
           "parse_options"]

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
EmbedInputType = Literal["query", "document", "classification", "clustering", "similarity"]
ToolChoice = Literal["auto", "none", "required"] | str


_CACHE_SIZE = 256
# Tools made from functions and model classes (a schema built through pydantic, ~1 ms), by the object itself.
_MADE_TOOLS: weakref.WeakKeyDictionary[Any, ToolDefinition] = weakref.WeakKeyDictionary()
# Tools given as dicts, by identity, with a deep copy to notice a dict changed in place since.
_DICT_TOOLS: dict[int, tuple[Mapping[str, Any], Any, ToolDefinition]] = {}


def coerce_tool(value: Any) -> ToolDefinition:
    """`ToolDefinition.coerce`, remembered: an agent passes the same tools on every call of its loop.

    A function or model class maps to its tool for as long as it lives; a dict to its tool while it still
    equals (deeply) what it was when the tool was made.
    """
    if type(value) is dict:
        hit = _DICT_TOOLS.get(id(value))
        if hit is not None and hit[0] is value and hit[1] == value:
            return hit[2]
        tool = ToolDefinition.coerce(value)
        if len(_DICT_TOOLS) >= _CACHE_SIZE:
            _DICT_TOOLS.clear()
        _DICT_TOOLS[id(value)] = (value, copy.deepcopy(value), tool)
        return tool
    if isinstance(value, ToolDefinition):
        return value
    if isinstance(value, type) or callable(value):
        try:
            made = _MADE_TOOLS.get(value)
        except TypeError:  # not weakly referenceable or not hashable: made afresh each time
            return ToolDefinition.coerce(value)
        if made is None:
            made = ToolDefinition.coerce(value)
            if "$ref" in made.parameters:  # a recursive model: vendors want an object at the root
                made = made.model_copy(update={"parameters": object_root(made.parameters)})
            with contextlib.suppress(TypeError):  # hashable but not weakly referenceable
                _MADE_TOOLS[value] = made
        return made
    return ToolDefinition.coerce(value)


class GenerateOptions(BaseModel):
    """Options of `generate`, `stream` and `generate_structured`.

    `extra` is passed to the vendor request body as is, for vendor features we do not model.
    `max_retries` and `deadline` (seconds for the whole call, retries included) override the provider's.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, gt=0)
    """Sample from the k likeliest tokens (Anthropic, Gemini and hosts that take it)."""
    max_tokens: int | None = Field(default=None, gt=0)
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    server_tools: list[ServerTool] | None = None
    """Tools the vendor runs itself (web search, file search, code interpreter, image generation, MCP),
    beside function tools; an API that offers none of them refuses the call before sending."""
    reasoning_effort: ReasoningEffort | None = None
    reasoning_budget: int | None = Field(default=None, ge=0)
    """Thinking tokens allowed (Anthropic `budget_tokens`, Gemini `thinking_budget`); 0 turns thinking off."""
    reasoning_summary: Literal["auto", "concise", "detailed"] | None = None
    """Ask for a summary of the reasoning (OpenAI Responses `reasoning.summary`)."""
    store: bool | None = None
    """Let the vendor keep the response (OpenAI Responses; default False: the library sends history itself)."""
    previous_response_id: str | None = None
    """Continue a stored response (OpenAI Responses); the history then needs only the new turns."""
    cache_prompt: bool | None = None
    """Mark the system prompt and tool list for prompt caching where the vendor needs markers (Anthropic)."""
    user: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    deadline: float | None = Field(default=None, gt=0)
    extra_headers: dict[str, str] | None = None
    extra: dict[str, Any] | None = None
    api_key: SecretStr | None = None
    """This call's key instead of the provider's (multi-tenant servers): sent as the request's own auth header,
    never stored on a client or shared with another call; a `SecretStr`, so reprs and logs never show it."""

    @field_validator("api_key", mode="before")
    @classmethod
    def _api_key(cls, v: Any) -> Any:
        if v is not None and not (isinstance(v, (str, SecretStr)) and (v if isinstance(v, str) else
                                                                        v.get_secret_value()).strip()):
            raise ValueError("api_key must be a non-empty string")  # the value itself is never echoed
        return v

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("tools", mode="before")
    @classmethod
    def _tools(cls, v: Any) -> Any:
        if v is None:
            return None
        # A ValueError, so that a bad value is an InvalidRequestError like any other option (pydantic lets a
        # TypeError through as is).
        if isinstance(v, (str, bytes, Mapping)) or not isinstance(v, Iterable):
            raise ValueError(f"tools must be a list of tools, not {type(v).__name__}")
        tools = []
        for i, t in enumerate(v):
            try:
                tools.append(coerce_tool(t))
            except (TypeError, KeyError, AttributeError) as exc:
                raise ValueError(f"tools[{i}]: {exc} (a tool is a ToolDefinition, an OpenAI tool dict, a pydantic "
                                 "model class or a function)") from None
        return tools

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, v: str | None) -> str | None:
        if v is not None and not v:
            raise ValueError("tool_choice must be auto, none, required or a tool name")
        return v


_FIELDS = frozenset(GenerateOptions.model_fields)
_EMPTY = GenerateOptions()


def parse_options(options: Mapping[str, Any], *, provider: str | None = None) -> GenerateOptions:
    """Validates keyword options; unknown names raise `InvalidRequestError` listing the valid ones."""
    if not options:
        return _EMPTY
    key, tools = _cache_key(options)
    if key is not None:
        hit = _PARSED.get(key)
        if hit is not None and len(hit[0]) == len(tools) and all(a is b for a, b in zip(hit[0], tools, strict=True)):
            return hit[1]
    unknown = [k for k in options if k not in _FIELDS]
    if unknown:
        raise InvalidRequestError(
            f"unknown option(s) {', '.join(sorted(unknown))}; valid options: {', '.join(sorted(_FIELDS))}"
            " (vendor-specific fields go in extra={...})",
            provider=provider,
        )
    try:
        opts = GenerateOptions(**options)
    except ValidationError as exc:
        raise InvalidRequestError(f"invalid options: {exc}", provider=provider) from None
    if opts.extra:
        _check_json("extra", opts.extra, provider)
    if opts.tool_choice not in (None, "auto", "none", "required"):
        names = {t.name for t in opts.tools or ()}
        if opts.tool_choice not in names:
            raise InvalidRequestError(
                f"tool_choice {opts.tool_choice!r} names no tool given in tools", provider=provider)
    if key is not None:
        if len(_PARSED) >= _CACHE_SIZE:
            _PARSED.clear()
        _PARSED[key] = (tools, opts)
    return opts


# Options already validated, by value: the same few option sets recur call after call. Only plain values take
# part (and never a per-call api_key, which must not outlive its call); a parsed `GenerateOptions` is shared, so
# nothing may modify one in place (none of the library does: it copies with `model_copy`).
_PARSED: dict[tuple[Any, ...], tuple[tuple[ToolDefinition, ...], GenerateOptions]] = {}
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _cache_key(options: Mapping[str, Any]) -> tuple[tuple[Any, ...] | None, tuple[ToolDefinition, ...]]:
    """A hashable key for options made of plain values and tools (whose identities are checked on a hit)."""
    parts: list[Any] = []
    tools: tuple[ToolDefinition, ...] = ()
    for name, value in options.items():
        kind = type(value)
        if kind in _PLAIN:
            if name == "api_key" or name not in _FIELDS:
                return None, ()
            parts.append((name, kind, value))
        elif kind is list and name == "stop" and all(type(v) is str for v in value):
            parts.append((name, list, tuple(value)))
        elif kind is list and name == "tools":
            try:
                tools = tuple([coerce_tool(t) for t in value])
            except Exception:
                return None, ()
            parts.append((name, list, tuple(map(id, tools))))
        else:
            return None, ()
    return tuple(parts), tools


def _check_json(name: str, value: Any, provider: str | None) -> None:
    """`InvalidRequestError` now, rather than a TypeError when the request body is encoded."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"{name} must be JSON data: {exc}", provider=provider) from None


class EmbedOptions(BaseModel):
    """Options of `embed`: output size and what the texts are for (vendors that take a task type)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dimensions: int | None = Field(default=None, gt=0)
    input_type: EmbedInputType | None = None
