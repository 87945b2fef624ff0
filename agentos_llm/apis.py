"""Wire APIs: the second axis beside hosts.

A wire API is one pure converter module (`agentos_llm.wire.*`), one thin I/O module
(`agentos_llm.providers.*`, which also names the SDK extra) and one emulator dialect
(`agentos_llm.testing.*_wire`). A host row (`agentos_llm.defaults`) lists the APIs it offers;
a provider is a host bound to one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ConfigurationError

__all__ = ["APIS", "WireAPI", "get_api", "resolve_api"]


@dataclass(frozen=True)
class WireAPI:
    """One wire API: its id, its short name for `api=`, and the modules that speak it."""

    id: str
    short: str
    label: str
    implementation: str
    """`module:Class` of the I/O module's provider class."""
    extra: str
    """The pip extra whose SDK the I/O module needs."""
    converters: str
    dialect: str


APIS: dict[str, WireAPI] = {
    api.id: api
    for api in (
        WireAPI("openai-chat", "chat", "OpenAI Chat Completions", "agentos_llm.providers.openai:OpenAIProvider",
                "openai", "agentos_llm.wire.openai_chat", "agentos_llm.testing.openai_wire"),
        WireAPI("openai-responses", "responses", "OpenAI Responses",
                "agentos_llm.providers.openai_responses:OpenAIResponsesProvider", "openai",
                "agentos_llm.wire.openai_responses", "agentos_llm.testing.responses_wire"),
        WireAPI("anthropic-messages", "messages", "Anthropic Messages",
                "agentos_llm.providers.anthropic:AnthropicProvider", "anthropic",
                "agentos_llm.wire.anthropic_messages", "agentos_llm.testing.anthropic_wire"),
        WireAPI("gemini-generate", "generate", "Gemini generateContent",
                "agentos_llm.providers.gemini:GeminiProvider", "gemini",
                "agentos_llm.wire.gemini_generate", "agentos_llm.testing.gemini_wire"),
        WireAPI("bedrock-converse", "converse", "AWS Bedrock Converse",
                "agentos_llm.providers.bedrock:BedrockProvider", "bedrock",
                "agentos_llm.wire.bedrock_converse", "agentos_llm.testing.bedrock_wire"),
        WireAPI("cohere-chat", "cohere", "Cohere v2 Chat", "agentos_llm.providers.cohere:CohereProvider", "cohere",
                "agentos_llm.wire.cohere_chat", "agentos_llm.testing.cohere_wire"),
        WireAPI("voyage-embed", "voyage", "Voyage AI embeddings and reranking",
                "agentos_llm.providers.voyage:VoyageProvider", "voyage", "agentos_llm.wire.voyage",
                "agentos_llm.testing.voyage_wire"),
    )
}
_BY_NAME = {**{a.short: a for a in APIS.values()}, **APIS}


def get_api(name: str) -> WireAPI:
    """The API for an id ("openai-responses") or short name ("responses")."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown API {name!r}; known APIs: {', '.join(sorted(APIS))} "
            f"(or their short names {', '.join(sorted(a.short for a in APIS.values()))})") from None


def resolve_api(host_id: str, host_label: str, offered: Iterable[str], default: str, api: str | None) -> str:
    """The API id a host binds to: `api` when the host offers it, else its default."""
    offered = tuple(offered)
    if api is None:
        return default
    wanted = get_api(api).id
    if wanted not in offered:
        names = ", ".join(f"{a} ({APIS[a].short})" for a in offered)
        raise ConfigurationError(f"{host_label} ({host_id}) does not offer the {wanted} API; it offers: {names}")
    return wanted
