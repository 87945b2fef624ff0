"""Call options shared by every provider; an unknown option is an error, never silently dropped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import InvalidRequestError
from .server_tools import ServerTool
from .types import ToolDefinition

__all__ = ["EmbedInputType", "EmbedOptions", "GenerateOptions", "ReasoningEffort", "ToolChoice", "parse_options"]

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
EmbedInputType = Literal["query", "document", "classification", "clustering", "similarity"]
ToolChoice = Literal["auto", "none", "required"] | str


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
                tools.append(ToolDefinition.coerce(t))
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
    if opts.tool_choice not in (None, "auto", "none", "required"):
        names = {t.name for t in opts.tools or ()}
        if opts.tool_choice not in names:
            raise InvalidRequestError(
                f"tool_choice {opts.tool_choice!r} names no tool given in tools", provider=provider)
    return opts


class EmbedOptions(BaseModel):
    """Options of `embed`: output size and what the texts are for (vendors that take a task type)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dimensions: int | None = Field(default=None, gt=0)
    input_type: EmbedInputType | None = None
