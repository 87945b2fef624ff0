"""The provider table: one row per provider, and the auto-detect order.

Everything that differs between providers *as data* lives here: ids, env vars, base URLs, default
models, the extra to install, and the implementation that speaks its wire. OpenAI-compatible hosts
are rows pointing at the OpenAI implementation, not code of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import ConfigurationError

__all__ = [
    "AUTO_DETECT_ORDER", "ORDER_ENV_VAR", "PROVIDERS", "ProviderSpec", "auto_detect_order", "get_spec", "key_env_hint",
]

_OPENAI_IMPL = "agentos_llm.providers.openai:OpenAIProvider"


@dataclass(frozen=True)
class ProviderSpec:
    """One provider row: where it lives, how it is configured, which models it defaults to."""

    id: str
    label: str
    implementation: str | None
    """`module:Class` of the provider; None while no implementation ships for the row."""
    extra: str
    """The pip extra whose SDK the implementation needs."""
    key_env: tuple[str, ...] = ()
    """Env vars holding the key, first found wins."""
    base_url_env: str | None = None
    base_url: str | None = None
    default_model: str = ""
    cheap_model: str | None = None
    embedding_model: str | None = None
    docs_url: str = ""
    key_required: bool = True
    detect_env: tuple[str, ...] = ()
    """Env vars whose presence makes auto-detect pick the row (default: the key env vars)."""
    wire: Mapping[str, object] = field(default_factory=dict)
    """Wire quirks of the host, read by the converters (e.g. which max-tokens field it takes)."""

    @property
    def detect_vars(self) -> tuple[str, ...]:
        """The env vars auto-detect looks at for this row."""
        return self.detect_env or self.key_env


# The keys of `ProviderSpec.wire` (host quirks, read by `agentos_llm.wire.openai_chat` and the OpenAI provider):
#   max_tokens_field     the body field max_tokens goes to ("max_tokens" or "max_completion_tokens")
#   stream_options       accepts `stream_options: {include_usage: true}` (default True)
#   json_schema          accepts `response_format: json_schema`; otherwise json_object plus the schema in the prompt
#   json_object          accepts `response_format: json_object`; with neither, the schema goes in the prompt only
#   parallel_tool_calls  accepts `parallel_tool_calls` (dropped with a warning otherwise)
#   renames              body fields the host spells differently, e.g. {"seed": "random_seed"}
#   unsupported          body fields the host refuses: dropped with a warning
#   chat_body            fields added to every chat body (a per-call `extra` still wins)
#   config               row-specific constructor keys: {name: {"header": H, "env": E} | {"body": FIELD}}
#   think_tags           split `<think>...</think>` spans out of the content into `reasoning`
#   embeddings           offers an embeddings API (default: whether the row names an embedding model)
#   embeddings_base64    accepts `encoding_format: base64` for embeddings (default True)
#   models_api           how models are listed: "openai" (`GET /models`, the default) or "ollama" (`/api/tags`
#                        and `/api/show` at the server root)
#   traits_family        whose model-traits rules apply (default: the row's id)

_COMPATIBLE_WIRE: Mapping[str, object] = {
    "max_tokens_field": "max_tokens", "think_tags": True, "embeddings_base64": False,
}
_LOCAL_WIRE: Mapping[str, object] = {"embeddings": True}
"""Local servers and gateways: embeddings for whatever model the user serves, no default model."""


def _compatible(id: str, label: str, key_env: tuple[str, ...], base_url: str, default_model: str, *,
                base_url_env: str | None = None, cheap_model: str | None = None,
                embedding_model: str | None = None, docs_url: str = "", key_required: bool = True,
                detect_env: tuple[str, ...] = (), wire: Mapping[str, object] | None = None) -> ProviderSpec:
    return ProviderSpec(
        id=id, label=label, implementation=_OPENAI_IMPL, extra="openai", key_env=key_env,
        base_url_env=base_url_env or f"{id.upper().replace('-', '_')}_BASE_URL", base_url=base_url,
        default_model=default_model, cheap_model=cheap_model, embedding_model=embedding_model,
        docs_url=docs_url, key_required=key_required, detect_env=detect_env,
        wire={**_COMPATIBLE_WIRE, **(wire or {})},
    )


def _local(id: str, label: str, base_url: str, docs_url: str, wire: Mapping[str, object] | None = None
           ) -> ProviderSpec:
    """A self-hosted server: no key needed, found by its `*_BASE_URL` env var, models from its listing."""
    prefix = id.upper().replace("-", "_")
    return _compatible(id, label, (f"{prefix}_API_KEY",), base_url, "", key_required=False,
                       detect_env=(f"{prefix}_BASE_URL",), docs_url=docs_url, wire={**_LOCAL_WIRE, **(wire or {})})


PROVIDERS: dict[str, ProviderSpec] = {
    spec.id: spec
    for spec in (
        ProviderSpec(
            id="openai", label="OpenAI", implementation=_OPENAI_IMPL, extra="openai",
            key_env=("OPENAI_API_KEY",), base_url_env="OPENAI_BASE_URL", base_url="https://api.openai.com/v1",
            default_model="gpt-4.1-mini", cheap_model="gpt-4.1-nano", embedding_model="text-embedding-3-small",
            docs_url="https://platform.openai.com/docs/api-reference/chat",
            wire={"max_tokens_field": "max_completion_tokens"},
        ),
        ProviderSpec(
            id="anthropic", label="Anthropic", extra="anthropic",
            implementation="agentos_llm.providers.anthropic:AnthropicProvider",
            key_env=("ANTHROPIC_API_KEY",), base_url_env="ANTHROPIC_BASE_URL", base_url="https://api.anthropic.com",
            default_model="claude-sonnet-4-6", cheap_model="claude-haiku-4-5",
            docs_url="https://docs.anthropic.com/en/api/messages",
        ),
        ProviderSpec(
            id="gemini", label="Google Gemini", extra="gemini",
            implementation="agentos_llm.providers.gemini:GeminiProvider",
            key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"), base_url_env="GEMINI_BASE_URL",
            default_model="gemini-2.5-flash", cheap_model="gemini-2.5-flash-lite",
            embedding_model="gemini-embedding-001", docs_url="https://ai.google.dev/api",
        ),
        _compatible("openrouter", "OpenRouter", ("OPENROUTER_API_KEY",), "https://openrouter.ai/api/v1",
                    "openai/gpt-4.1-mini", cheap_model="openai/gpt-4.1-nano",
                    docs_url="https://openrouter.ai/docs/api-reference/overview",
                    wire={
                        # Usage accounting: the response's usage then carries `cost`, what the call cost in USD.
                        "chat_body": {"usage": {"include": True}},
                        "config": {
                            "app_url": {"header": "HTTP-Referer", "env": "OPENROUTER_APP_URL"},
                            "app_name": {"header": "X-Title", "env": "OPENROUTER_APP_NAME"},
                            "provider_routing": {"body": "provider"},
                        },
                    }),
        _compatible("groq", "Groq", ("GROQ_API_KEY",), "https://api.groq.com/openai/v1",
                    "llama-3.3-70b-versatile", cheap_model="llama-3.1-8b-instant",
                    docs_url="https://console.groq.com/docs/api-reference",
                    # json_schema only on a few models (gpt-oss, kimi-k2, llama-4); json_object on all.
                    wire={"json_schema": False}),
        _compatible("together", "Together AI", ("TOGETHER_API_KEY",), "https://api.together.xyz/v1",
                    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                    cheap_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                    embedding_model="togethercomputer/m2-bert-80M-32k-retrieval",
                    docs_url="https://docs.together.ai/reference/chat-completions-1",
                    wire={"parallel_tool_calls": False}),
        _compatible("mistral", "Mistral AI", ("MISTRAL_API_KEY",), "https://api.mistral.ai/v1",
                    "mistral-medium-latest", cheap_model="mistral-small-latest", embedding_model="mistral-embed",
                    docs_url="https://docs.mistral.ai/api/",
                    # Mistral refuses fields it does not know (422) and names two of them its own way;
                    # its streams end with usage unasked.
                    wire={"stream_options": False, "unsupported": ("user",),
                          "renames": {"seed": "random_seed", "dimensions": "output_dimension"}}),
        _compatible("xai", "xAI", ("XAI_API_KEY",), "https://api.x.ai/v1", "grok-4",
                    cheap_model="grok-3-mini", docs_url="https://docs.x.ai/docs/api-reference"),
        _compatible("deepseek", "DeepSeek", ("DEEPSEEK_API_KEY",), "https://api.deepseek.com/v1",
                    "deepseek-chat", cheap_model="deepseek-chat",
                    docs_url="https://api-docs.deepseek.com/",
                    # JSON output is json_object only; reasoning arrives as `reasoning_content`.
                    wire={"json_schema": False, "parallel_tool_calls": False}),
        _compatible("ollama", "Ollama", ("OLLAMA_API_KEY",), "http://localhost:11434/v1", "llama3.2",
                    embedding_model="nomic-embed-text", key_required=False, detect_env=("OLLAMA_BASE_URL",),
                    docs_url="https://github.com/ollama/ollama/blob/main/docs/openai.md",
                    wire={"models_api": "ollama", "parallel_tool_calls": False}),
        _compatible("fireworks", "Fireworks AI", ("FIREWORKS_API_KEY",), "https://api.fireworks.ai/inference/v1",
                    "accounts/fireworks/models/llama-v3p3-70b-instruct",
                    cheap_model="accounts/fireworks/models/llama-v3p1-8b-instruct",
                    embedding_model="nomic-ai/nomic-embed-text-v1.5",
                    docs_url="https://docs.fireworks.ai/api-reference/post-chatcompletions"),
        _compatible("cerebras", "Cerebras", ("CEREBRAS_API_KEY",), "https://api.cerebras.ai/v1", "llama-3.3-70b",
                    cheap_model="llama3.1-8b", docs_url="https://inference-docs.cerebras.ai/api-reference/chat-completions",
                    # Cerebras answers 400 to the OpenAI fields it does not implement.
                    wire={"parallel_tool_calls": False}),
        _local("vllm", "vLLM", "http://localhost:8000/v1",
               "https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",
               wire={"embeddings_base64": True}),
        _local("sglang", "SGLang", "http://localhost:30000/v1", "https://docs.sglang.ai/basic_usage/openai_api.html"),
        _local("lmstudio", "LM Studio", "http://localhost:1234/v1", "https://lmstudio.ai/docs/app/api/endpoints/openai",
               # LM Studio takes json_schema response formats only.
               wire={"json_object": False}),
        _local("llamacpp", "llama.cpp server", "http://localhost:8080/v1",
               "https://github.com/ggml-org/llama.cpp/tree/master/tools/server"),
        _local("litellm", "LiteLLM proxy", "http://localhost:4000/v1", "https://docs.litellm.ai/docs/proxy/user_keys"),
        _compatible("openai-compatible", "OpenAI-compatible endpoint", ("OPENAI_COMPATIBLE_API_KEY",), "",
                    "", key_required=False, detect_env=("OPENAI_COMPATIBLE_BASE_URL",),
                    docs_url="https://platform.openai.com/docs/api-reference/chat", wire=_LOCAL_WIRE),
    )
}

AUTO_DETECT_ORDER: tuple[str, ...] = (
    "openrouter", "openai", "anthropic", "gemini", "groq", "together", "mistral", "xai", "deepseek", "ollama",
    "fireworks", "cerebras", "vllm", "sglang", "lmstudio", "llamacpp", "litellm",
)
"""Providers `from_env()` builds, in this order; the first found is the default."""

ORDER_ENV_VAR = "AGENTOS_LLM_PROVIDER_ORDER"
"""A comma-separated list of provider ids that replaces `AUTO_DETECT_ORDER`."""


def get_spec(provider_id: str) -> ProviderSpec:
    """The row for `provider_id`; `ConfigurationError` listing the known ids otherwise."""
    try:
        return PROVIDERS[provider_id]
    except KeyError:
        raise ConfigurationError(
            f"unknown provider {provider_id!r}; known providers: {', '.join(sorted(PROVIDERS))}"
        ) from None


def auto_detect_order(order: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                      known: Sequence[str] = ()) -> tuple[str, ...]:
    """The order to use: the argument, else `AGENTOS_LLM_PROVIDER_ORDER`, else the default.

    Every id must be a known provider (a row, or one of `known`, such as defined providers).
    """
    env = os.environ if env is None else env
    if order is None:
        raw = env.get(ORDER_ENV_VAR, "").strip()
        order = [p.strip() for p in raw.split(",") if p.strip()] if raw else AUTO_DETECT_ORDER
    unknown = [p for p in order if p not in PROVIDERS and p not in known]
    if unknown:
        raise ConfigurationError(
            f"unknown provider id(s) in the auto-detect order: {', '.join(unknown)}; "
            f"known providers: {', '.join(sorted({*PROVIDERS, *known}))}"
        )
    return tuple(order)


def key_env_hint(order: Sequence[str] = AUTO_DETECT_ORDER) -> str:
    """The env vars to set, in auto-detect order, for error messages."""
    names: list[str] = []
    for pid in order:
        spec = PROVIDERS.get(pid)
        if spec:
            names.extend(v for v in spec.detect_vars if v not in names)
    return ", ".join(names)
