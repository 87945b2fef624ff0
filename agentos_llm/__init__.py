"""agentos-llm: one interface over every LLM provider for agent code.

Public names load lazily (PEP 562), so `import agentos_llm` imports no vendor SDK and no HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # providers and the manager
    "IProvider": "agentos_llm.provider",
    "Call": "agentos_llm.provider",
    "Capability": "agentos_llm.provider",
    "AIModelProviderManager": "agentos_llm.manager",
    "Route": "agentos_llm.manager",
    "create_provider": "agentos_llm.registry",
    "define_provider": "agentos_llm.registry",
    "provider_env": "agentos_llm.registry",
    "provider_value": "agentos_llm.registry",
    "provider_const": "agentos_llm.registry",
    "define_model": "agentos_llm.model_definitions",
    "ModelDefinition": "agentos_llm.model_definitions",
    "InspectedRequest": "agentos_llm.inspection",
    "ModelPage": "agentos_llm.model_pages",
    "ProviderTool": "agentos_llm.provider_surface",
    "discover_local_providers": "agentos_llm.discovery",
    "discover_local_providers_sync": "agentos_llm.discovery",
    "DiscoveredProvider": "agentos_llm.discovery",
    # types
    "Message": "agentos_llm.types",
    "TextPart": "agentos_llm.types",
    "ImagePart": "agentos_llm.types",
    "DocumentPart": "agentos_llm.types",
    "AudioPart": "agentos_llm.types",
    "Citation": "agentos_llm.types",
    "ServerToolCall": "agentos_llm.types",
    "TokenCount": "agentos_llm.types",
    "WebSearch": "agentos_llm.server_tools",
    "FileSearch": "agentos_llm.server_tools",
    "CodeInterpreter": "agentos_llm.server_tools",
    "ImageGeneration": "agentos_llm.server_tools",
    "RemoteMCP": "agentos_llm.server_tools",
    "ToolCall": "agentos_llm.types",
    "ToolDefinition": "agentos_llm.types",
    "Usage": "agentos_llm.types",
    "FinishReason": "agentos_llm.types",
    "CompletionResponse": "agentos_llm.types",
    "StreamEvent": "agentos_llm.types",
    "TextDeltaEvent": "agentos_llm.types",
    "ReasoningDeltaEvent": "agentos_llm.types",
    "ToolCallDeltaEvent": "agentos_llm.types",
    "ToolCallEvent": "agentos_llm.types",
    "UsageEvent": "agentos_llm.types",
    "DoneEvent": "agentos_llm.types",
    "EmbeddingResponse": "agentos_llm.types",
    "RerankResponse": "agentos_llm.types",
    "RerankResult": "agentos_llm.types",
    "ModelInfo": "agentos_llm.types",
    "StructuredResponse": "agentos_llm.types",
    "HealthStatus": "agentos_llm.types",
    "ResponseMetadata": "agentos_llm.types",
    "system": "agentos_llm.types",
    "user": "agentos_llm.types",
    "assistant": "agentos_llm.types",
    "tool_result": "agentos_llm.types",
    "GenerateOptions": "agentos_llm.options",
    # quota, rate limits and the usage ledger
    "QuotaSnapshot": "agentos_llm.quota",
    "QuotaWindow": "agentos_llm.quota",
    "Balance": "agentos_llm.quota",
    "RateLimits": "agentos_llm.rate_limits",
    "UsageLedger": "agentos_llm.ledger",
    "Budget": "agentos_llm.ledger",
    # errors
    "AgentOSLLMError": "agentos_llm.errors",
    "ProviderError": "agentos_llm.errors",
    "ConfigurationError": "agentos_llm.errors",
    "MissingDependencyError": "agentos_llm.errors",
    "UnsupportedCapabilityError": "agentos_llm.errors",
    "StructuredOutputError": "agentos_llm.errors",
    "BudgetExceededError": "agentos_llm.errors",
}
_SUBMODULES = frozenset({"errors", "types", "defaults", "apis", "testing", "options", "provider", "manager",
                         "registry", "catalog", "discovery", "server_tools"})

__all__ = [
    "AIModelProviderManager",
    "AgentOSLLMError",
    "AudioPart",
    "Balance",
    "Budget",
    "BudgetExceededError",
    "Call",
    "Capability",
    "Citation",
    "CodeInterpreter",
    "CompletionResponse",
    "ConfigurationError",
    "DiscoveredProvider",
    "DocumentPart",
    "DoneEvent",
    "EmbeddingResponse",
    "FileSearch",
    "FinishReason",
    "GenerateOptions",
    "HealthStatus",
    "IProvider",
    "ImageGeneration",
    "ImagePart",
    "InspectedRequest",
    "Message",
    "MissingDependencyError",
    "ModelDefinition",
    "ModelInfo",
    "ModelPage",
    "ProviderError",
    "ProviderTool",
    "QuotaSnapshot",
    "QuotaWindow",
    "RateLimits",
    "ReasoningDeltaEvent",
    "RemoteMCP",
    "RerankResponse",
    "RerankResult",
    "ResponseMetadata",
    "Route",
    "ServerToolCall",
    "StreamEvent",
    "StructuredOutputError",
    "StructuredResponse",
    "TextDeltaEvent",
    "TextPart",
    "TokenCount",
    "ToolCall",
    "ToolCallDeltaEvent",
    "ToolCallEvent",
    "ToolDefinition",
    "UnsupportedCapabilityError",
    "Usage",
    "UsageEvent",
    "UsageLedger",
    "WebSearch",
    "__version__",
    "assistant",
    "create_provider",
    "define_model",
    "define_provider",
    "discover_local_providers",
    "discover_local_providers_sync",
    "provider_const",
    "provider_env",
    "provider_value",
    "system",
    "tool_result",
    "user",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"agentos_llm.{name}")
    raise AttributeError(f"module 'agentos_llm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBMODULES])


if TYPE_CHECKING:
    from .discovery import DiscoveredProvider, discover_local_providers, discover_local_providers_sync
    from .errors import (
        AgentOSLLMError,
        BudgetExceededError,
        ConfigurationError,
        MissingDependencyError,
        ProviderError,
        StructuredOutputError,
        UnsupportedCapabilityError,
    )
    from .inspection import InspectedRequest
    from .ledger import Budget, UsageLedger
    from .manager import AIModelProviderManager, Route
    from .model_definitions import ModelDefinition, define_model
    from .model_pages import ModelPage
    from .options import GenerateOptions
    from .provider import Call, Capability, IProvider
    from .provider_surface import ProviderTool
    from .quota import Balance, QuotaSnapshot, QuotaWindow
    from .rate_limits import RateLimits
    from .registry import create_provider, define_provider, provider_const, provider_env, provider_value
    from .server_tools import CodeInterpreter, FileSearch, ImageGeneration, RemoteMCP, WebSearch
    from .types import (
        AudioPart,
        Citation,
        CompletionResponse,
        DocumentPart,
        DoneEvent,
        EmbeddingResponse,
        FinishReason,
        HealthStatus,
        ImagePart,
        Message,
        ModelInfo,
        ReasoningDeltaEvent,
        RerankResponse,
        RerankResult,
        ResponseMetadata,
        ServerToolCall,
        StreamEvent,
        StructuredResponse,
        TextDeltaEvent,
        TextPart,
        TokenCount,
        ToolCall,
        ToolCallDeltaEvent,
        ToolCallEvent,
        ToolDefinition,
        Usage,
        UsageEvent,
        assistant,
        system,
        tool_result,
        user,
    )
