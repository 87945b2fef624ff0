"""What a model family accepts, as one table of rules; request code asks here, never checks names.

Every rule cites the vendor page it comes from. A misspelt field fails when this module loads
(dataclass fields), and so does a value outside the vocabulary (`ModelTraits.__post_init__`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

__all__ = ["CACHE_FIELDS", "EFFORT_ORDER", "REASONING_CONTROLS", "REQUEST_DIALECTS", "ModelTraits", "traits_for"]

EFFORT_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
"""Reasoning efforts (and Gemini thinking levels), least first: "nearest supported" is measured on it."""
REASONING_CONTROLS = frozenset({"effort", "budget", "level", "adaptive"})
REQUEST_DIALECTS = frozenset({None, "anthropic", "nova", "openai"})
CACHE_FIELDS = frozenset({"system", "messages", "tools"})


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
    Anthropic extended thinking, Gemini 2.5 `thinking_budget`), "level" (Gemini 3 `thinking_level`) or
    "adaptive" (Anthropic `thinking: {type: "adaptive"}` with `output_config.effort`)."""
    apis: tuple[str, ...] | None = None
    """The wire APIs that serve the model (None: any its host offers). A model served only by the
    Responses API (o3-pro, the codex models ...) is sent there even through a chat-API provider."""
    documents: bool = True
    """Takes document content parts (PDF, text)."""
    audio: bool = False
    """Takes audio content parts."""
    efforts: tuple[str, ...] | None = None
    """The efforts the model takes ("effort" and "adaptive" control), least first; None: whatever is asked,
    empty: none at all (the effort is left out). Others go to the nearest one, with a warning."""
    thinking_off: bool = True
    """Reasoning can be turned off (effort "none", budget 0); otherwise the least setting is used instead."""
    budget_range: tuple[int, int | None] | None = None
    """The thinking budgets the model takes besides 0, (least, most); most None: only `max_tokens` bounds it.
    None: the model takes no token budget ("adaptive": an effort is sent instead), or nothing is documented."""
    levels: tuple[str, ...] | None = None
    """The thinking levels a "level" model takes, least first (None: whatever is asked)."""
    max_stop: int | None = None
    """The most stop sequences a request may carry (0: the model takes none; None: no documented limit)."""
    exclusive_sampling: bool = False
    """temperature and top_p may not be sent together: temperature is kept, top_p left out."""
    thinking_sampling: tuple[float, float] | None = None
    """While thinking: temperature (unless 1) and top_k are refused, top_p must lie in this range
    (None: thinking does not restrict sampling)."""
    system_prompt: bool = True
    """Takes system instructions; otherwise they are folded into the first user turn."""
    tool_name: str | None = None
    """The pattern a function tool's name must match on the model's API (None: not checked)."""
    request_dialect: str | None = None
    """The vendor fields a host's common API forwards to the model (Bedrock `additionalModelRequestFields`):
    "anthropic" (`thinking`, `top_k`; signed reasoning goes back in the history), "nova" (`reasoningConfig`,
    `inferenceConfig.topK`) or "openai" (`reasoning_effort`); None: none are known."""
    cache_fields: frozenset[str] = frozenset()
    """Where the model takes prompt-cache checkpoints (Bedrock `cachePoint` blocks): any of "system",
    "messages" and "tools"; empty: it caches nothing on request."""
    tool_choice: bool = True
    """Takes a tool choice that forces a call ("required" or a named tool); otherwise only "auto"."""
    unbounded_efforts: tuple[str, ...] = ()
    """Reasoning efforts at which the model refuses an output limit (Nova 2 at "high": no `maxTokens`)."""
    system_tools: tuple[str, ...] = ()
    """Tools the host runs for the model, by their wire name (Bedrock `systemTool`: Nova 2's "nova_grounding" and
    "nova_code_interpreter"); empty: none."""

    def __post_init__(self) -> None:
        if self.reasoning_control not in REASONING_CONTROLS:
            raise ValueError(f"unknown reasoning_control {self.reasoning_control!r}")
        for name in ("efforts", "levels"):
            values = getattr(self, name)
            if values is not None and (any(v not in EFFORT_ORDER for v in values)
                                       or list(values) != sorted(values, key=EFFORT_ORDER.index)):
                raise ValueError(f"{name} {values!r} must be known values, least first")
        if self.budget_range is not None:
            low, high = self.budget_range
            if low < 1 or (high is not None and high < low):
                raise ValueError(f"budget_range {self.budget_range!r} is not a range of positive budgets")
        if self.tool_name is not None:
            re.compile(self.tool_name)
        if self.request_dialect not in REQUEST_DIALECTS:
            raise ValueError(f"unknown request_dialect {self.request_dialect!r}")
        if not self.cache_fields <= CACHE_FIELDS:
            raise ValueError(f"cache_fields {sorted(self.cache_fields)!r} must be among {sorted(CACHE_FIELDS)}")
        if any(e not in EFFORT_ORDER for e in self.unbounded_efforts):
            raise ValueError(f"unbounded_efforts {self.unbounded_efforts!r} must be known efforts")


# ---------------------------------------------------------------------- OpenAI

# Function names: https://platform.openai.com/docs/api-reference/chat/create#chat-create-tools
#   ("a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64").
# Stop: "Up to 4 sequences" (same page, `stop`).
_OPENAI = ModelTraits(tool_name=r"^[a-zA-Z0-9_-]{1,64}$", max_stop=4)
# Reasoning models: https://platform.openai.com/docs/guides/reasoning. Sampling parameters are refused;
# `stop` is "Not supported with latest reasoning models o3 and o4-mini" (chat API reference) and gpt-5
# answers 400 "Unsupported parameter: 'stop'" as well. o-series efforts: low, medium, high.
_O_SERIES = replace(_OPENAI, reasoning=True, accepts_sampling=False, system_role="developer",
                    efforts=("low", "medium", "high"), thinking_off=False, max_stop=0)
# `reasoning_effort` (chat API reference): "gpt-5.1 ... supported values none, low, medium, and high";
# "models before gpt-5.1 ... do not support none"; "gpt-5-pro ... only supports high";
# "xhigh is supported for all models after gpt-5.1-codex-max".
_GPT5 = replace(_O_SERIES, efforts=("minimal", "low", "medium", "high"))
_GPT51 = replace(_O_SERIES, efforts=("none", "low", "medium", "high"), thinking_off=True, max_stop=4)
_GPT5_LATER = replace(_GPT51, efforts=("none", "low", "medium", "high", "xhigh"))
_CODEX = replace(_O_SERIES, efforts=("low", "medium", "high"))
_CODEX_LATER = replace(_O_SERIES, efforts=("low", "medium", "high", "xhigh"))
_RESPONSES_ONLY = ("openai-responses",)
_PRO_LATER = replace(_GPT5_LATER, efforts=("medium", "high", "xhigh"), thinking_off=False)

_OPENAI_RULES: tuple[tuple[str, ModelTraits], ...] = (
    # Served by the Responses API only: o1-pro, o3-pro, gpt-5-pro, the codex models, deep research, computer use.
    (r"^o\d-pro", replace(_O_SERIES, apis=_RESPONSES_ONLY)),
    (r"^gpt-5-pro", replace(_O_SERIES, efforts=("high",), apis=_RESPONSES_ONLY)),
    (r"^gpt-5\.\d+-pro", replace(_PRO_LATER, apis=_RESPONSES_ONLY)),
    (r"^gpt-5\.1-codex-max", replace(_CODEX_LATER, apis=_RESPONSES_ONLY)),
    (r"^(gpt-5(\.1)?-codex|codex-)", replace(_CODEX, apis=_RESPONSES_ONLY)),
    (r"^gpt-5\.\d+-codex", replace(_CODEX_LATER, apis=_RESPONSES_ONLY)),
    (r"^(o\d(-mini)?-deep-research|computer-use)", replace(_O_SERIES, efforts=None, apis=_RESPONSES_ONLY)),
    (r"^(gpt-4o(-mini)?-audio|gpt-audio)", replace(_OPENAI, audio=True, documents=False)),
    # o1-mini and o1-preview take no system/developer message, no reasoning_effort, no tools.
    (r"^(o1-mini|o1-preview)", replace(_O_SERIES, tools=False, json_schema=False, vision=False, system_role="user",
                                      system_prompt=False, efforts=())),
    (r"^o\d", _O_SERIES),
    (r"^gpt-5(\.\d+)?-chat", _OPENAI),
    (r"^gpt-5(-mini|-nano)?(-\d{4}-\d{2}-\d{2})?$", _GPT5),
    (r"^gpt-5\.1(-\d{4}-\d{2}-\d{2})?$", _GPT51),
    (r"^gpt-5", _GPT5_LATER),
    (r"^gpt-3\.5", replace(_OPENAI, vision=False, json_schema=False)),
    (r"^gpt-4(-turbo|-\d{4}|$)", replace(_OPENAI, json_schema=False)),
    (r"", _OPENAI),
)

# ---------------------------------------------------------------------- Anthropic

# Tool names: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use
#   ("Must match the regex ^[a-zA-Z0-9_-]{1,64}$"). No documented stop-sequence limit.
# Thinking: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking: budget_tokens >= 1024
#   and < max_tokens; "Thinking isn't compatible with temperature or top_k modifications ... you can set
#   top_p to values between 1 and 0.95".
_CLAUDE = ModelTraits(tool_name=r"^[a-zA-Z0-9_-]{1,64}$", reasoning_control="budget", thinking_sampling=(0.95, 1.0))
_CLAUDE_THINKING = replace(_CLAUDE, reasoning=True, budget_range=(1024, None))
# "Passing both [temperature and top_p] will error on every Claude 4+ model" (migration guide,
# https://docs.anthropic.com/en/docs/about-claude/models/migrating-to-claude-4: "Use only temperature OR top_p").
_CLAUDE_4 = replace(_CLAUDE_THINKING, exclusive_sampling=True)
# Adaptive thinking, https://docs.anthropic.com/en/docs/build-with-claude/adaptive-thinking and
# https://docs.anthropic.com/en/docs/build-with-claude/effort: Opus 4.6 / Sonnet 4.6 take
# `thinking: {type: "adaptive"}` with effort low/medium/high/max (manual budgets still accepted, deprecated).
_CLAUDE_46 = replace(_CLAUDE_4, reasoning_control="adaptive", efforts=("low", "medium", "high", "max"))
# Opus 4.7 and later, Sonnet 5 (migration guide "Migrating to Opus 4.7"): manual budgets, temperature,
# top_p and top_k answer 400; effort adds xhigh.
_CLAUDE_47 = replace(_CLAUDE_46, efforts=("low", "medium", "high", "xhigh", "max"), budget_range=None,
                     accepts_sampling=False)
# Fable 5 / Mythos: thinking is always on; `{type: "disabled"}` answers 400.
_CLAUDE_ALWAYS_THINKING = replace(_CLAUDE_47, thinking_off=False)

_ANTHROPIC_RULES: tuple[tuple[str, ModelTraits], ...] = (
    (r"^claude-(3-[0-5]|3-haiku|3-opus|3-sonnet|instant|2)", replace(_CLAUDE, json_schema=False)),
    (r"^claude-3-7", replace(_CLAUDE_THINKING, json_schema=False)),
    (r"^claude-(sonnet|opus)-4(-0)?(-\d{8})?$", replace(_CLAUDE_4, json_schema=False)),
    (r"^claude-(opus-4-1|(sonnet|haiku|opus)-4-5)", _CLAUDE_4),
    (r"^claude-(opus|sonnet)-4-6", _CLAUDE_46),
    (r"^claude-(fable|mythos)", _CLAUDE_ALWAYS_THINKING),
    # Opus 4.7, 4.8, the Claude 5 line and anything newer.
    (r"", _CLAUDE_47),
)

# ---------------------------------------------------------------------- Gemini

# Function names, google-genai `FunctionDeclaration.name`: "Must start with a letter or an underscore. Must be
# a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 128"
# (https://ai.google.dev/api/caching#FunctionDeclaration). Stop: "up to 5"
# (https://ai.google.dev/api/generate-content#generationconfig).
_GEMINI = ModelTraits(tool_name=r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$", max_stop=5, reasoning_control="budget",
                      audio=True)
# Thinking, https://ai.google.dev/gemini-api/docs/thinking: 2.5 Pro 128..32768 and cannot turn thinking off;
# 2.5 Flash 0..24576; 2.5 Flash-Lite 512..24576 or 0. Gemini 3 takes thinking_level and cannot turn it off:
# 3 Pro low/high, 3.1 Pro low/medium/high, 3 Flash minimal/low/medium/high.
_GEMINI_25 = replace(_GEMINI, reasoning=True)
_GEMINI_3 = replace(_GEMINI, reasoning=True, reasoning_control="level", thinking_off=False,
                    levels=("minimal", "low", "medium", "high"))

_GEMINI_RULES: tuple[tuple[str, ModelTraits], ...] = (
    (r"^gemini-(1\.|2\.0)", _GEMINI),
    (r"^gemini-2\.5-pro", replace(_GEMINI_25, budget_range=(128, 32768), thinking_off=False)),
    (r"^gemini-2\.5-flash-lite", replace(_GEMINI_25, budget_range=(512, 24576))),
    (r"^gemini-2\.5", replace(_GEMINI_25, budget_range=(1, 24576))),
    (r"^gemini-3-pro", replace(_GEMINI_3, levels=("low", "high"))),
    (r"^gemini-3\.\d+-pro", replace(_GEMINI_3, levels=("low", "medium", "high"))),
    (r"^gemini-3(\.\d+)?-flash", replace(_GEMINI_3, levels=("minimal", "low", "medium", "high"))),
    (r"^gemini-", _GEMINI_3),
    # Gemma on the Gemini API takes no system instruction ("Developer instruction is not enabled"):
    # https://ai.google.dev/gemma/docs/core/gemma_on_gemini_api puts instructions in the user turn.
    (r"^gemma-", replace(_GEMINI, tools=False, json_schema=False, system_prompt=False)),
    (r"", _GEMINI),
)

# ---------------------------------------------------------------------- Cohere

# v2 chat, https://docs.cohere.com/reference/chat: `stop_sequences` "A list of up to 5 strings"; images only on
# the vision models (https://docs.cohere.com/docs/image-inputs); `thinking: {type, token_budget}` on the
# reasoning models (https://docs.cohere.com/docs/reasoning), which reason unless it is turned off.
# Documents travel as the request's `documents` (text), not as content parts of a PDF.
_COHERE = ModelTraits(vision=False, max_stop=5, reasoning_control="budget", documents=True)
_COHERE_RULES: tuple[tuple[str, ModelTraits], ...] = (
    # Aya Vision (https://docs.cohere.com/docs/aya-vision) takes images and, like Command A Vision, no tools.
    (r"^(command-a-vision|(c4ai-)?aya-vision)", replace(_COHERE, vision=True, tools=False)),
    (r"^command-a-reasoning", replace(_COHERE, reasoning=True, budget_range=(1, None))),
    # `tool_choice` "is only compatible with models Command-r7b and newer" (v2 chat reference): not the
    # Command R / R+ models before it.
    (r"^command-r(-plus)?(-0[48]-2024)?$", replace(_COHERE, tool_choice=False)),
    (r"", _COHERE),
)

# ---------------------------------------------------------------------- AWS Bedrock (Converse API)

# Model ids may carry a cross-region inference profile's geo prefix ("us.anthropic...", "global.amazon..."),
# https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html; an application inference
# profile's ARN ends in an opaque id and gets the defaults.
_GEO = r"^(?:(?:us|eu|apac|au|ca|jp|us-gov|global)\.)?"
# Tool names: botocore's bedrock-runtime service model, `ToolName` (pattern [a-zA-Z0-9_-]+, 1 to 64 characters).
# Capabilities per family: "Supported models and model features",
# https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-supported-models-features.html
# (system prompts, document chat, vision, tool use). `toolChoice` any/tool: "only supported by Anthropic Claude 3
# models, Mistral AI Mistral Large and Amazon Nova" (API_runtime_ToolChoice.html). Structured outputs
# (`outputConfig.textFormat`, https://docs.aws.amazon.com/bedrock/latest/userguide/structured-output.html): Claude
# Haiku/Sonnet/Opus 4.5 and later, and select Qwen, DeepSeek, Mistral, Gemma, Nemotron, MiniMax, Kimi, gpt-oss
# and GLM models; the defaults take none (a structured call then forces a tool or asks in the prompt).
_BEDROCK = ModelTraits(tool_name=r"^[a-zA-Z0-9_-]{1,64}$", json_schema=False)
_NO_FORCED = replace(_BEDROCK, tool_choice=False)
_OPEN_WEIGHTS = replace(_NO_FORCED, vision=False, json_schema=True)
_ALWAYS_REASONS = replace(_OPEN_WEIGHTS, reasoning=True, efforts=(), thinking_off=False)
# Prompt caching, https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html: Claude 3.5 Haiku,
# 3.7 Sonnet and the Claude 4 models cache system, messages and tools; Nova caches system and messages.
_CACHE_ALL = frozenset({"system", "messages", "tools"})
_CACHE_NOVA = frozenset({"system", "messages"})
# Nova, https://docs.aws.amazon.com/nova/latest/userguide/using-converse-api.html; Nova 2 extended thinking,
# https://docs.aws.amazon.com/nova/latest/nova2-userguide/extended-thinking.html: `reasoningConfig: {type:
# "enabled", maxReasoningEffort: low|medium|high}`, off by default; at "high" `maxTokens` must be left unset.
# System tools (web grounding, code interpreter) are Nova 2's: "Amazon Nova 2.0 models support built-in system
# tools", https://docs.aws.amazon.com/nova/latest/nova2-userguide/web-grounding.html.
_NOVA = replace(_BEDROCK, request_dialect="nova", cache_fields=_CACHE_NOVA)
_NOVA_2 = replace(_NOVA, reasoning=True, efforts=("low", "medium", "high"), unbounded_efforts=("high",),
                  system_tools=("nova_grounding", "nova_code_interpreter"))
# gpt-oss, https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-openai.html: text only,
# `reasoning_effort` low/medium/high (it always reasons).
_GPT_OSS = replace(_OPEN_WEIGHTS, tool_choice=True, reasoning=True, request_dialect="openai",
                   efforts=("low", "medium", "high"), thinking_off=False)


def _claude_on_bedrock(traits: ModelTraits, cache_fields: frozenset[str]) -> ModelTraits:
    """A Claude model's traits, as Bedrock serves it (Anthropic fields in `additionalModelRequestFields`)."""
    return replace(traits, request_dialect="anthropic", tool_choice=True, cache_fields=cache_fields)


def _bedrock_claude(pattern: str) -> str:
    """An Anthropic rule's pattern for Bedrock's ids: `anthropic.` prefix, optional `-v1:0` version suffix."""
    body = pattern[1:] if pattern.startswith("^") else pattern
    if body.endswith("$"):
        body = body[:-1] + r"(-v\d+(:\d+)?)?$"
    return _GEO + r"anthropic\." + body


_BEDROCK_RULES: tuple[tuple[str, ModelTraits], ...] = (
    # Claude on Bedrock is the same model as on Anthropic's API: its rules, Bedrock's tool names and caching.
    (_GEO + r"anthropic\.claude-(v\d|instant)",
     _claude_on_bedrock(replace(_CLAUDE, tools=False, vision=False, json_schema=False), frozenset())),
    (_GEO + r"anthropic\.claude-3-5-haiku",
     _claude_on_bedrock(replace(_CLAUDE, vision=False, json_schema=False), _CACHE_ALL)),
    (_GEO + r"anthropic\.claude-opus-4-1", _claude_on_bedrock(replace(_CLAUDE_4, json_schema=False), _CACHE_ALL)),
    # Claude 3.7 and later (the thinking models) cache; Claude 3 and 3.5 Sonnet do not (3.5 Haiku: above).
    *((_bedrock_claude(p), _claude_on_bedrock(t, _CACHE_ALL if t.reasoning else frozenset()))
      for p, t in _ANTHROPIC_RULES),
    (_GEO + r"amazon\.nova-2-", _NOVA_2),
    (_GEO + r"amazon\.nova-micro", replace(_NOVA, vision=False, documents=False)),
    (_GEO + r"amazon\.nova-", _NOVA),
    (_GEO + r"amazon\.titan-text-premier", replace(_NO_FORCED, system_prompt=False, tools=False, vision=False,
                                                   documents=False)),
    (_GEO + r"amazon\.titan-", replace(_NO_FORCED, system_prompt=False, tools=False, vision=False)),
    (_GEO + r"meta\.llama3-2-(1|3)b", replace(_NO_FORCED, tools=False, vision=False)),
    (_GEO + r"meta\.llama(3-2-|4)", _NO_FORCED),
    (_GEO + r"meta\.llama3-[13]-", replace(_NO_FORCED, vision=False)),
    (_GEO + r"meta\.llama", replace(_NO_FORCED, tools=False, vision=False)),
    (_GEO + r"mistral\.(mistral-7b|mixtral)", replace(_NO_FORCED, system_prompt=False, tools=False, vision=False)),
    (_GEO + r"mistral\.mistral-small-2402", replace(_NO_FORCED, vision=False, documents=False)),
    (_GEO + r"mistral\.mistral-large-24", replace(_BEDROCK, vision=False)),
    (_GEO + r"mistral\.pixtral", _NO_FORCED),
    (_GEO + r"mistral\.", replace(_NO_FORCED, json_schema=True)),
    (_GEO + r"deepseek\.r1", replace(_ALWAYS_REASONS, tools=False, json_schema=False)),
    (_GEO + r"deepseek\.", _OPEN_WEIGHTS),
    (_GEO + r"openai\.gpt-oss", _GPT_OSS),
    (_GEO + r"(moonshot(ai)?\.kimi-k2-thinking|minimax\.)", _ALWAYS_REASONS),
    (_GEO + r"qwen\.qwen3-vl", replace(_OPEN_WEIGHTS, vision=True)),
    (_GEO + r"(qwen|moonshot(ai)?|nvidia|zai)\.", _OPEN_WEIGHTS),
    (_GEO + r"google\.gemma", replace(_OPEN_WEIGHTS, vision=True)),
    (_GEO + r"cohere\.command-r", replace(_NO_FORCED, vision=False)),
    (_GEO + r"ai21\.jamba-instruct", replace(_NO_FORCED, tools=False, vision=False, documents=False)),
    (_GEO + r"(ai21|writer)\.", replace(_NO_FORCED, vision=False)),
    (r"", _BEDROCK),
)

# (provider family, model pattern, traits); the first match wins, family "*" matches any.
_RULES: tuple[tuple[str, re.Pattern[str], ModelTraits], ...] = (
    *(("openai", re.compile(p), t) for p, t in _OPENAI_RULES),
    *(("anthropic", re.compile(p), t) for p, t in _ANTHROPIC_RULES),
    *(("gemini", re.compile(p), t) for p, t in _GEMINI_RULES),
    *(("cohere", re.compile(p), t) for p, t in _COHERE_RULES),
    *(("bedrock", re.compile(p), t) for p, t in _BEDROCK_RULES),
    ("*", re.compile(r""), ModelTraits()),
)


@lru_cache(maxsize=1024)
def traits_for(family: str, model: str) -> ModelTraits:
    """The traits of `model` served by a provider of `family` (e.g. "openai")."""
    bare = model.rsplit("/", 1)[-1]
    for rule_family, pattern, traits in _RULES:
        if rule_family in (family, "*") and pattern.search(bare):
            return traits
    return ModelTraits()  # pragma: no cover - the last rule matches everything
