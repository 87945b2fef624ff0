"""What a model family accepts, as one table of rules; request code asks here, never checks names."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

__all__ = ["ModelTraits", "traits_for"]


@dataclass(frozen=True)
class ModelTraits:
    """Request-shaping traits of one model."""

    reasoning: bool = False
    """A reasoning model: takes `reasoning_effort`, not temperature/top_p."""
    accepts_sampling: bool = True
    """Accepts temperature and top_p."""
    system_role: str = "system"
    """The role name system instructions are sent with."""
    tools: bool = True
    vision: bool = True
    json_schema: bool = True
    """Accepts `response_format: json_schema` (structured outputs)."""
    parallel_tool_calls: bool = True
    reasoning_control: str = "effort"
    """How reasoning is asked for: "effort" (OpenAI `reasoning_effort`), "budget" (a token budget:
    Anthropic extended thinking, Gemini 2.5 `thinking_budget`) or "level" (Gemini 3 `thinking_level`)."""
    apis: tuple[str, ...] | None = None
    """The wire APIs that serve the model (None: any its host offers). A model served only by the
    Responses API (o3-pro, the codex models ...) is sent there even through a chat-API provider."""
    documents: bool = True
    """Takes document content parts (PDF, text)."""
    audio: bool = False
    """Takes audio content parts."""


_REASONING = ModelTraits(reasoning=True, accepts_sampling=False, system_role="developer")
_RESPONSES_ONLY = ("openai-responses",)

# (provider family, model pattern, traits); the first match wins, family "*" matches any.
_RULES: tuple[tuple[str, re.Pattern[str], ModelTraits], ...] = (
    # Served by the Responses API only: o1-pro, o3-pro, gpt-5-pro, the codex models, deep research, computer use.
    ("openai", re.compile(r"^(o\d-pro|gpt-5(\.\d+)?-pro|codex-|gpt-5(\.\d+)?-codex|o\d(-mini)?-deep-research"
                          r"|computer-use)"), replace(_REASONING, apis=_RESPONSES_ONLY)),
    ("openai", re.compile(r"^(gpt-4o(-mini)?-audio|gpt-audio)"), ModelTraits(audio=True, documents=False)),
    ("openai", re.compile(r"^(o1-mini|o1-preview)"), replace(_REASONING, tools=False, json_schema=False,
                                                            vision=False, system_role="user")),
    ("openai", re.compile(r"^(o\d|gpt-5)(?!.*-chat)"), _REASONING),
    ("openai", re.compile(r"^gpt-3\.5"), ModelTraits(vision=False, json_schema=False)),
    ("openai", re.compile(r"^gpt-4(-turbo|-\d{4}|$)"), ModelTraits(json_schema=False)),
    # Anthropic: extended thinking from Claude 3.7 on; native JSON-schema output from the 4.5 generation
    # (and Opus 4.1); sampling stays allowed (the converter drops it while thinking is on).
    ("anthropic", re.compile(r"^claude-(3-[0-5]|3-haiku|3-opus|3-sonnet|instant|2)"),
     ModelTraits(json_schema=False, reasoning_control="budget")),
    ("anthropic", re.compile(r"^claude-(3-7|(sonnet|opus)-4-0|(sonnet|opus)-4(-\d{8})?$|opus-4-20)"),
     ModelTraits(reasoning=True, json_schema=False, reasoning_control="budget")),
    ("anthropic", re.compile(r"^claude-"), ModelTraits(reasoning=True, reasoning_control="budget")),
    # Gemini: 2.5 thinks with a token budget, 3 with a level; 1.x and 2.0 do not think.
    ("gemini", re.compile(r"^(models/)?gemini-(1\.|2\.0)"), ModelTraits(reasoning_control="budget", audio=True)),
    ("gemini", re.compile(r"^(models/)?gemini-2\.5"),
     ModelTraits(reasoning=True, reasoning_control="budget", audio=True)),
    ("gemini", re.compile(r"^(models/)?gemini-"), ModelTraits(reasoning=True, reasoning_control="level", audio=True)),
    ("gemini", re.compile(r"^(models/)?gemma-"), ModelTraits(tools=False, json_schema=False)),
    ("*", re.compile(r".*"), ModelTraits()),
)


@lru_cache(maxsize=1024)
def traits_for(family: str, model: str) -> ModelTraits:
    """The traits of `model` served by a provider of `family` (e.g. "openai")."""
    bare = model.rsplit("/", 1)[-1]
    for rule_family, pattern, traits in _RULES:
        if rule_family in (family, "*") and pattern.search(bare):
            return traits
    return ModelTraits()  # pragma: no cover - the last rule matches everything
