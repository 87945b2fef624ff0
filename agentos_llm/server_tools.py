"""Tools the vendor runs on its own side, requested beside function tools (`server_tools=[...]`).

Each is plain typed data; the converter of each wire API maps the ones its vendor offers (OpenAI
Responses: all of them) and refuses the rest before anything is sent. Their calls come back on
`CompletionResponse.server_tool_calls`, not as tool calls the agent must answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CodeInterpreter", "FileSearch", "ImageGeneration", "RemoteMCP", "ServerTool", "WebSearch"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class WebSearch(BaseModel):
    """Searches the web; answers cite their sources."""

    model_config = _STRICT
    kind: Literal["web_search"] = "web_search"
    search_context_size: Literal["low", "medium", "high"] | None = None
    allowed_domains: list[str] | None = None
    user_location: dict[str, str] | None = None
    """Approximate location: `{"type": "approximate", "country": "PT", "city": "Lisbon", ...}`."""
    max_uses: int | None = Field(default=None, gt=0)
    """How many searches one answer may make (vendors that cap it)."""


class FileSearch(BaseModel):
    """Searches the vendor's vector stores."""

    model_config = _STRICT
    kind: Literal["file_search"] = "file_search"
    vector_store_ids: list[str] = Field(min_length=1)
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    filters: dict[str, Any] | None = None


class CodeInterpreter(BaseModel):
    """Runs code in a vendor sandbox."""

    model_config = _STRICT
    kind: Literal["code_interpreter"] = "code_interpreter"
    container: str | dict[str, Any] = Field(default_factory=lambda: {"type": "auto"})
    """A container id, or `{"type": "auto", "file_ids": [...]}`."""


class ImageGeneration(BaseModel):
    """Generates images."""

    model_config = _STRICT
    kind: Literal["image_generation"] = "image_generation"
    size: str | None = None
    quality: Literal["low", "medium", "high", "auto"] | None = None
    output_format: Literal["png", "webp", "jpeg"] | None = None
    background: Literal["transparent", "opaque", "auto"] | None = None


class RemoteMCP(BaseModel):
    """Calls the tools of a remote MCP server."""

    model_config = _STRICT
    kind: Literal["mcp"] = "mcp"
    server_label: str = Field(min_length=1)
    server_url: str | None = None
    connector_id: str | None = None
    allowed_tools: list[str] | None = None
    require_approval: Literal["always", "never"] | dict[str, Any] | None = "never"
    headers: dict[str, str] | None = Field(default=None, repr=False)
    """Sent to the MCP server (e.g. its own authorization); kept out of reprs."""
    server_description: str | None = None


ServerTool = Annotated[WebSearch | FileSearch | CodeInterpreter | ImageGeneration | RemoteMCP,
                       Field(discriminator="kind")]
