"""The host table: one row per host, and the auto-detect order.

Everything that differs between hosts *as data* lives here: ids, env vars, base URLs, default
models, the wire APIs a host offers (`agentos_llm.apis`) and its default one, its catalog key and its
quirks. A host that speaks an existing API is a row, not code: OpenAI-compatible hosts are rows
bound to the `openai-chat` (and often `openai-responses`) API.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .apis import APIS, get_api
from .errors import ConfigurationError
from .host_quirks import HostQuirks

__all__ = [
    "AUTO_DETECT_ORDER", "ORDER_ENV_VAR", "PROVIDERS", "ProviderSpec", "auto_detect_order", "get_spec", "key_env_hint",
]

_CHAT = ("openai-chat",)
_CHAT_AND_RESPONSES = ("openai-chat", "openai-responses")


@dataclass(frozen=True)
class ProviderSpec:
    """One host row: where it lives, how it authenticates, which APIs it offers, which models it defaults to."""

    id: str
    label: str
    implementation: str | None = None
    """`module:Class` that overrides the API's own implementation (None: the default API's)."""
    extra: str = ""
    """The pip extra whose SDK the default API needs (derived from the API when empty)."""
    key_env: tuple[str, ...] = ()
    """Env vars holding the key, first found wins."""
    base_url_env: str | None = None
    base_url: str | None = None
    default_model: str = ""
    cheap_model: str | None = None
    embedding_model: str | None = None
    rerank_model: str | None = None
    docs_url: str = ""
    key_required: bool = True
    detect_env: tuple[str, ...] = ()
    """Env vars whose presence makes auto-detect pick the row (default: the key env vars)."""
    detect_also: tuple[str, ...] = ()
    """Env vars of which one must be set too for auto-detect to pick the row (Bedrock: a region)."""
    wire: Mapping[str, object] = field(default_factory=dict)
    """Wire quirks of the host, read by the converters (e.g. which max-tokens field it takes); a
    `HostQuirks`, validated when the row is made."""
    apis: tuple[str, ...] = _CHAT
    """The wire APIs the host offers (ids of `agentos_llm.apis.APIS`)."""
    default_api: str = ""
    """The API a provider of this row uses unless `api=` picks another (default: the first of `apis`)."""
    host: str | None = None
    """For an alias row (e.g. `openai-responses`): the host whose catalog, config and traits it shares."""
    quota: str | None = None
    """The quota preset of the host (`agentos_llm.quota_presets`): where `get_quota()` asks what the key
    may still spend. None: no endpoint, unless the config file names one."""

    def __post_init__(self) -> None:
        where = f"host row {self.id!r}"
        object.__setattr__(self, "wire", HostQuirks(self.wire, where=where))
        for api in self.apis:
            if api not in APIS:
                raise ConfigurationError(f"{where}: unknown API {api!r}; known: {', '.join(sorted(APIS))}")
        if not self.default_api:
            object.__setattr__(self, "default_api", self.apis[0])
        elif self.default_api not in self.apis:
            raise ConfigurationError(f"{where}: default API {self.default_api!r} is not among {self.apis}")
        if not self.extra:
            object.__setattr__(self, "extra", get_api(self.default_api).extra)

    @property
    def detect_vars(self) -> tuple[str, ...]:
        """The env vars auto-detect looks at for this row."""
        return self.detect_env or self.key_env

    @property
    def host_id(self) -> str:
        """The host this row belongs to: its catalog key, config section and traits family."""
        return self.host or self.id

    def implementation_for(self, api: str) -> str:
        """`module:Class` serving this host over `api`."""
        if self.implementation is not None and api == self.default_api:
            return self.implementation
        return get_api(api).implementation


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
#   count_tokens         how chat-API token counts are made: "estimate" (local, exact=False; the default),
#                        "responses" (the host's `/responses/input_tokens`, exact) or "none" (refused)
#   documents, audio     whether the host's chat API takes document / audio content parts at all
# Keys and value types are checked by `agentos_llm.host_quirks.HostQuirks`: a typo fails when the row loads.

_COMPATIBLE_WIRE: Mapping[str, object] = {
    "max_tokens_field": "max_tokens", "think_tags": True, "embeddings_base64": False,
}
_LOCAL_WIRE: Mapping[str, object] = {"embeddings": True}
"""Local servers and gateways: embeddings for whatever model the user serves, no default model."""


def _compatible(id: str, label: str, key_env: tuple[str, ...], base_url: str, default_model: str, *,
                base_url_env: str | None = None, cheap_model: str | None = None,
                embedding_model: str | None = None, docs_url: str = "", key_required: bool = True,
                detect_env: tuple[str, ...] = (), wire: Mapping[str, object] | None = None,
                apis: tuple[str, ...] = _CHAT, quota: str | None = None) -> ProviderSpec:
    return ProviderSpec(
        id=id, label=label, key_env=key_env, apis=apis,
        base_url_env=base_url_env or f"{id.upper().replace('-', '_')}_BASE_URL", base_url=base_url,
        default_model=default_model, cheap_model=cheap_model, embedding_model=embedding_model,
        docs_url=docs_url, key_required=key_required, detect_env=detect_env,
        wire={**_COMPATIBLE_WIRE, **(wire or {})}, quota=quota,
    )


def _local(id: str, label: str, base_url: str, docs_url: str, wire: Mapping[str, object] | None = None,
           apis: tuple[str, ...] = _CHAT, quota: str | None = None) -> ProviderSpec:
    """A self-hosted server: no key needed, found by its `*_BASE_URL` env var, models from its listing."""
    prefix = id.upper().replace("-", "_")
    return _compatible(id, label, (f"{prefix}_API_KEY",), base_url, "", key_required=False,
                       detect_env=(f"{prefix}_BASE_URL",), docs_url=docs_url, wire={**_LOCAL_WIRE, **(wire or {})},
                       apis=apis, quota=quota)


_OPENAI = ProviderSpec(
    id="openai", label="OpenAI", apis=_CHAT_AND_RESPONSES,
    key_env=("OPENAI_API_KEY",), base_url_env="OPENAI_BASE_URL", base_url="https://api.openai.com/v1",
    default_model="gpt-4.1-mini", cheap_model="gpt-4.1-nano", embedding_model="text-embedding-3-small",
    docs_url="https://platform.openai.com/docs/api-reference/chat",
    wire={"max_tokens_field": "max_completion_tokens", "count_tokens": "responses", "documents": True,
          "audio": True},
)

PROVIDERS: dict[str, ProviderSpec] = {
    spec.id: spec
    for spec in (
        _OPENAI,
        replace(_OPENAI, id="openai-responses", label="OpenAI (Responses API)", default_api="openai-responses",
                host="openai", docs_url="https://platform.openai.com/docs/api-reference/responses"),
        ProviderSpec(
            id="anthropic", label="Anthropic", apis=("anthropic-messages",),
            key_env=("ANTHROPIC_API_KEY",), base_url_env="ANTHROPIC_BASE_URL", base_url="https://api.anthropic.com",
            default_model="claude-sonnet-4-6", cheap_model="claude-haiku-4-5",
            docs_url="https://docs.anthropic.com/en/api/messages",
        ),
        ProviderSpec(
            id="gemini", label="Google Gemini", apis=("gemini-generate",),
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
                        "documents": True,  # PDFs as `file` parts, parsed by OpenRouter for any model
                        "config": {
                            "app_url": {"header": "HTTP-Referer", "env": "OPENROUTER_APP_URL"},
                            "app_name": {"header": "X-Title", "env": "OPENROUTER_APP_NAME"},
                            "provider_routing": {"body": "provider"},
                        },
                    },
                    apis=_CHAT_AND_RESPONSES, quota="openrouter"),
        _compatible("groq", "Groq", ("GROQ_API_KEY",), "https://api.groq.com/openai/v1",
                    "llama-3.3-70b-versatile", cheap_model="llama-3.1-8b-instant",
                    docs_url="https://console.groq.com/docs/api-reference",
                    # json_schema only on a few models (gpt-oss, kimi-k2, llama-4); json_object on all.
                    wire={"json_schema": False},
                    apis=_CHAT_AND_RESPONSES),
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
                    cheap_model="grok-3-mini", docs_url="https://docs.x.ai/docs/api-reference",
                    apis=_CHAT_AND_RESPONSES),
        _compatible("deepseek", "DeepSeek", ("DEEPSEEK_API_KEY",), "https://api.deepseek.com/v1",
                    "deepseek-chat", cheap_model="deepseek-chat",
                    docs_url="https://api-docs.deepseek.com/",
                    # JSON output is json_object only; reasoning arrives as `reasoning_content`.
                    wire={"json_schema": False, "parallel_tool_calls": False},
                    apis=_CHAT_AND_RESPONSES, quota="deepseek"),
        _compatible("ollama", "Ollama", ("OLLAMA_API_KEY",), "http://localhost:11434/v1", "llama3.2",
                    embedding_model="nomic-embed-text", key_required=False, detect_env=("OLLAMA_BASE_URL",),
                    docs_url="https://github.com/ollama/ollama/blob/main/docs/openai.md",
                    wire={"models_api": "ollama", "parallel_tool_calls": False},
                    apis=_CHAT_AND_RESPONSES),
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
               wire={"embeddings_base64": True}, apis=_CHAT_AND_RESPONSES),
        _local("sglang", "SGLang", "http://localhost:30000/v1", "https://docs.sglang.ai/basic_usage/openai_api.html"),
        _local("lmstudio", "LM Studio", "http://localhost:1234/v1", "https://lmstudio.ai/docs/app/api/endpoints/openai",
               # LM Studio takes json_schema response formats only.
               wire={"json_object": False}, apis=_CHAT_AND_RESPONSES),
        _local("llamacpp", "llama.cpp server", "http://localhost:8080/v1",
               "https://github.com/ggml-org/llama.cpp/tree/master/tools/server"),
        _local("litellm", "LiteLLM proxy", "http://localhost:4000/v1", "https://docs.litellm.ai/docs/proxy/user_keys",
               apis=_CHAT_AND_RESPONSES, quota="litellm"),
        ProviderSpec(
            id="cohere", label="Cohere", apis=("cohere-chat",),
            key_env=("COHERE_API_KEY", "CO_API_KEY"), base_url_env="COHERE_BASE_URL", base_url="https://api.cohere.com",
            default_model="command-a-03-2025", cheap_model="command-r7b-12-2024", embedding_model="embed-v4.0",
            rerank_model="rerank-v3.5", docs_url="https://docs.cohere.com/reference/chat",
        ),
        ProviderSpec(
            id="voyage", label="Voyage AI", apis=("voyage-embed",),
            key_env=("VOYAGE_API_KEY",), base_url_env="VOYAGE_BASE_URL", base_url="https://api.voyageai.com/v1",
            embedding_model="voyage-3.5", rerank_model="rerank-2.5",
            docs_url="https://docs.voyageai.com/reference/embeddings-api",
        ),
        ProviderSpec(
            # Credentials come from the AWS chain (boto3), not from a key: a key here is a Bedrock API key
            # (a bearer token), the only AWS secret that fits `api_key`.
            id="bedrock", label="AWS Bedrock", apis=("bedrock-converse",),
            key_env=("AWS_BEARER_TOKEN_BEDROCK",), key_required=False, base_url_env="BEDROCK_BASE_URL",
            default_model="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            cheap_model="global.anthropic.claude-haiku-4-5-20251001-v1:0",
            embedding_model="amazon.titan-embed-text-v2:0", rerank_model="cohere.rerank-v3-5:0",
            detect_env=("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            detect_also=("AWS_REGION", "AWS_DEFAULT_REGION"),
            docs_url="https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
        ),
        _compatible("openai-compatible", "OpenAI-compatible endpoint", ("OPENAI_COMPATIBLE_API_KEY",), "",
                    "", key_required=False, detect_env=("OPENAI_COMPATIBLE_BASE_URL",),
                    docs_url="https://platform.openai.com/docs/api-reference/chat", wire=_LOCAL_WIRE,
                    apis=_CHAT_AND_RESPONSES),
    )
}

AUTO_DETECT_ORDER: tuple[str, ...] = (
    "openrouter", "openai", "anthropic", "gemini", "groq", "together", "mistral", "xai", "deepseek", "ollama",
    "fireworks", "cerebras", "vllm", "sglang", "lmstudio", "llamacpp", "litellm", "cohere", "voyage", "bedrock",
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
