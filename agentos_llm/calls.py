"""What every provider hook sees: one normalized `Call`, and the names of capabilities and operations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .model_traits import ModelTraits
from .options import GenerateOptions
from .structured import StructuredMode, StructuredPlan
from .types import Message, MessageInput

__all__ = ["Call", "Capability", "Messages", "Operation"]

Operation = Literal["chat", "embed", "models", "count", "rerank"]
"""What a request to `_send` / `_asend` is for."""
Messages = str | Message | dict[str, Any] | Sequence[MessageInput]
"""What callers may pass as messages (a string is one user message)."""


class Capability:
    """Names of capabilities a provider may have (values of `IProvider.capabilities`)."""

    GENERATE = "generate"
    STREAM = "stream"
    TOOLS = "tools"
    VISION = "vision"
    STRUCTURED_OUTPUT = "structured_output"
    EMBEDDINGS = "embeddings"
    LIST_MODELS = "list_models"
    REASONING = "reasoning"
    RERANK = "rerank"


@dataclass(frozen=True)
class Call:
    """One normalized request, as every provider hook sees it."""

    model: str
    messages: list[Message]
    options: GenerateOptions
    traits: ModelTraits
    stream: bool = False
    structured: StructuredPlan[Any] | None = None
    structured_mode: StructuredMode | None = None

