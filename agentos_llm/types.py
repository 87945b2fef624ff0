"""The provider-neutral data model: messages, tools, usage, responses and stream events.

Every provider converts its vendor wire format to and from these types, so agent code written
against them runs unchanged on any provider.

The types live in one module per concern, and every name is importable from here (old pickles of
`agentos_llm.types.CompletionResponse` still load):

- `types_messages`: messages, content parts (text, image, document, audio), tool calls, vendor blocks, builders
- `types_tools`: `ToolDefinition`
- `types_usage`: `Usage` and `CostSource`
- `types_responses`: `CompletionResponse` (and its packing hooks), finish reasons, citations, server tool calls,
  response metadata, manager hops, `StructuredResponse`
- `types_events`: stream events
- `types_results`: token counts, embeddings, reranking, model info, health
"""

from __future__ import annotations

from .types_events import (
    DoneEvent,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    ToolCallDeltaEvent,
    ToolCallEvent,
    UsageEvent,
)
from .types_messages import (
    AudioPart,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    MessageInput,
    Role,
    TextPart,
    ToolCall,
    VendorBlock,
    assistant,
    coerce_messages,
    parse_tool_arguments,
    system,
    tool_result,
    user,
)
from .types_responses import (
    Citation,
    CompletionResponse,
    FinishReason,
    Hop,
    ResponseMetadata,
    ServerToolCall,
    StructuredResponse,
)
from .types_results import EmbeddingResponse, HealthStatus, ModelInfo, RerankResponse, RerankResult, TokenCount
from .types_tools import ToolDefinition
from .types_usage import CostSource, Usage

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
    "coerce_messages",
    "parse_tool_arguments",
    "system",
    "tool_result",
    "user",
]
