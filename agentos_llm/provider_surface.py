"""What a provider says about itself beyond calls: its icon, the tools it contributes, what a model can do.

The defaults behind `IProvider.get_icon`, `get_tools` and `get_model_capabilities` (each overridable with
`define_provider`), and the capability filter of `list_models(capability=...)`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from .catalog import CAPABILITY_NAMES, model_traits
from .errors import ConfigurationError, InvalidRequestError
from .server_tools import CodeInterpreter, FileSearch, ImageGeneration, RemoteMCP, WebSearch
from .types import ModelInfo

if TYPE_CHECKING:
    from .provider import IProvider

__all__ = ["ProviderTool", "check_capability", "check_icon", "default_icon", "default_tools", "filter_models",
           "model_capabilities", "monogram_icon", "register_icon"]

# ---------------------------------------------------------------------- icons

_MONOGRAMS: dict[str, tuple[str, str]] = {
    "openai": ("AI", "#10a37f"), "anthropic": ("A", "#d97757"), "gemini": ("G", "#4285f4"),
    "openrouter": ("OR", "#6467f2"), "groq": ("Gq", "#f55036"), "together": ("T", "#0f6fff"),
    "mistral": ("M", "#fa520f"), "xai": ("x", "#111111"), "deepseek": ("DS", "#4d6bfe"),
    "ollama": ("Ol", "#1f1f1f"), "fireworks": ("F", "#6720ff"), "cerebras": ("C", "#f05a28"),
    "vllm": ("vL", "#30a2ff"), "sglang": ("SG", "#5b5bd6"), "lmstudio": ("LM", "#4338ca"),
    "llamacpp": ("ll", "#8b5cf6"), "litellm": ("LL", "#0ea5e9"), "cohere": ("Co", "#39594d"),
    "voyage": ("V", "#012a38"), "bedrock": ("B", "#ff9900"), "openai-compatible": ("API", "#64748b"),
}
"""Host id -> the letters and colour of its default icon (a monogram: no vendor artwork is shipped)."""

_ICONS: dict[str, str] = {}
"""Icons set with `define_provider(icon=...)`, by provider id."""
_BASES: dict[str, str] = {}
"""The host a defined provider is built on, by provider id: its icon is that host's unless it sets one."""


def monogram_icon(letters: str, colour: str) -> str:
    """A small square SVG icon with `letters` on `colour`, as a `data:` URI."""
    size = 15 if len(letters) <= 2 else 11
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" width="32" height="32">'
           f'<rect width="32" height="32" rx="7" fill="{colour}"/>'
           f'<text x="16" y="21" font-family="system-ui,-apple-system,Segoe UI,sans-serif" font-size="{size}" '
           f'font-weight="600" text-anchor="middle" fill="#ffffff">{letters}</text></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def check_icon(icon: str, where: str) -> str:
    """An icon given by a user: an http(s) URL or a `data:` URI."""
    if not isinstance(icon, str) or not icon.startswith(("https://", "http://", "data:")):
        raise ConfigurationError(f"{where}: an icon is an http(s) URL or a data: URI, not {icon!r}")
    return icon


def register_icon(provider_id: str, icon: str | None, base_host: str | None = None) -> None:
    """Sets (None: forgets) the icon of a defined provider, and the host it is built on (a generic
    OpenAI-compatible base lends no icon: the provider's label makes one)."""
    if icon is None:
        _ICONS.pop(provider_id, None)
    else:
        _ICONS[provider_id] = check_icon(icon, f"icon of provider {provider_id!r}")
    if base_host and base_host != "openai-compatible":
        _BASES[provider_id] = base_host
    else:
        _BASES.pop(provider_id, None)


def default_icon(provider: IProvider) -> str:
    """The provider's icon: set with `define_provider(icon=...)`, else its host's (or its base's) monogram,
    else one made from its label."""
    for key in (provider.provider_id, provider.catalog_key):
        if key in _ICONS:
            return _ICONS[key]
    for host in (provider.provider_id, provider.catalog_key, _BASES.get(provider.provider_id)):
        if host is not None and host in _MONOGRAMS:
            return monogram_icon(*_MONOGRAMS[host])
    words = [w for w in provider.label.replace("-", " ").split() if w[:1].isalnum()] or [provider.provider_id]
    letters = "".join(w[0] for w in words[:2]).upper() if len(words) > 1 else words[0][:2].capitalize()
    colour = "#" + hashlib.sha256(provider.provider_id.encode()).hexdigest()[:6]
    return monogram_icon(letters, colour)


# ---------------------------------------------------------------------- tools


class ProviderTool(BaseModel):
    """A tool a provider contributes: one its vendor runs (a server tool), and the API that carries it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str
    """The server tool's `kind` (`web_search`, `file_search`, `code_interpreter`, `image_generation`, `mcp`)."""
    name: str
    description: str
    api: str
    """The wire API that carries it (`create_provider(..., api=...)` when it is not the provider's own)."""
    models: str | None = None
    """Which models run it, where only some do."""

    def build(self, **params: Any) -> Any:
        """The server tool to pass in `server_tools=[...]`, with its parameters (e.g. `vector_store_ids`)."""
        return _TOOL_CLASSES[self.kind](**params)


_TOOL_CLASSES: dict[str, type[BaseModel]] = {
    "web_search": WebSearch, "file_search": FileSearch, "code_interpreter": CodeInterpreter,
    "image_generation": ImageGeneration, "mcp": RemoteMCP,
}
_RESPONSES_TOOLS = ("web_search", "file_search", "code_interpreter", "image_generation", "mcp")
_BEDROCK_TOOLS = ("web_search", "code_interpreter")


def _tool(kind: str, api: str, models: str | None = None) -> ProviderTool:
    cls = _TOOL_CLASSES[kind]
    return ProviderTool(kind=kind, name=cls.__name__, description=(cls.__doc__ or "").strip(), api=api,
                        models=models)


def default_tools(provider: IProvider) -> list[ProviderTool]:
    """The server tools `provider`'s API carries; a host that offers the Responses API beside its own lists
    those too, marked with the API to ask for them."""
    tools: list[ProviderTool] = []
    apis = [provider.api, *(a for a in provider.spec.apis if a != provider.api)]
    if "openai-responses" in apis and provider.api in ("openai-chat", "openai-responses"):
        tools += [_tool(kind, "openai-responses") for kind in _RESPONSES_TOOLS]
    if provider.api == "bedrock-converse":
        tools += [_tool(kind, "bedrock-converse", "Amazon Nova models") for kind in _BEDROCK_TOOLS]
    return tools


# ---------------------------------------------------------------------- capabilities


def check_capability(capability: str | None) -> None:
    """Refuses a capability name `list_models(capability=...)` does not know."""
    if capability is not None and capability not in CAPABILITY_NAMES:
        raise InvalidRequestError(f"unknown capability {capability!r}; known: {', '.join(sorted(CAPABILITY_NAMES))}")


def model_capabilities(provider: IProvider, info: ModelInfo) -> frozenset[str]:
    """What a model can do: what its listing or the catalog says; for a model neither describes, what the
    request rules assume of it (tools, vision, JSON schema, reasoning, documents, audio). The host's default
    embedding and rerank models count as such."""
    caps = set(info.capabilities)
    if not caps:
        traits = model_traits(provider.catalog_key, provider.traits_family, info.id)
        caps = {name for name, on in (("tools", traits.tools), ("vision", traits.vision),
                                      ("json_schema", traits.json_schema), ("reasoning", traits.reasoning),
                                      ("documents", traits.documents), ("audio", traits.audio)) if on}
        if info.id in (provider.spec.embedding_model, provider.spec.rerank_model):
            caps = {"embeddings" if info.id == provider.spec.embedding_model else "rerank"}
    return frozenset(caps & CAPABILITY_NAMES)


def filter_models(provider: IProvider, models: Iterable[ModelInfo], capability: str | None) -> list[ModelInfo]:
    """The models that have `capability` (all of them for None)."""
    if capability is None:
        return list(models)
    return [m for m in models if capability in model_capabilities(provider, m)]
