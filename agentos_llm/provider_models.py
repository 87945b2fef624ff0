"""What a provider says about models: live listings merged with the catalog and cached, model info,
capabilities and pages."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from .catalog import catalog_entry, catalog_models, listing_key
from .errors import (
    AgentOSLLMError,
    ConfigurationError,
    ProviderError,
    UnsupportedCapabilityError,
)
from .provider_surface import check_capability, filter_models, model_capabilities
from .request_keys import credential_key, with_key
from .types import ModelInfo

if TYPE_CHECKING:
    from .model_pages import ModelPage
    from .provider import IProvider

log = logging.getLogger("agentos_llm")
_REQUEST_CAPABILITIES = frozenset({"tools", "vision", "json_schema"})


class ModelListing:
    """`IProvider.list_models`, `get_model_info`, `get_model_capabilities`, `list_models_page` and friends."""

    def _merge_catalog(self, listed: list[ModelInfo]) -> list[ModelInfo]:
        p = cast("IProvider", self)
        merged = []
        for info in listed:
            known = catalog_entry(p.catalog_key, info.id)
            live = {k: v for k, v in info.model_dump(exclude_defaults=True).items() if k not in ("id", "provider")}
            # What the server says (its context window, its prices) wins over the static catalog. A listing that
            # names request capabilities (OpenRouter) is believed; one that names only other things (Gemini's
            # generation methods) adds to the catalog's.
            if known is not None:
                if "capabilities" in live and not info.capabilities & _REQUEST_CAPABILITIES:
                    live["capabilities"] = known.capabilities | info.capabilities
                info = known.model_copy(update=live)
            merged.append(info.model_copy(update={"source": "live", "provider": p.provider_id}))
        return merged

    def _listing_key(self) -> tuple[str, str, str]:
        """This credential's cache key: provider id, base URL, and a hash of the key and of what scopes it."""
        p = cast("IProvider", self)
        # Asked on every response with rate-limit headers: the hash is made again only when what it covers changed.
        memo = p.__dict__.get("_listing_memo")
        if (memo is not None and memo[0] is p._api_key and memo[1] == p.provider_id and memo[2] == p.base_url
                and memo[3] == p.default_headers and memo[4] == p.config):
            return memo[5]  # type: ignore[no-any-return]
        secret = p._api_key.get_secret_value() if p._api_key is not None else None
        key = listing_key(p.provider_id, p.base_url, secret, {"headers": p.default_headers, "config": p.config})
        p.__dict__["_listing_memo"] = (p._api_key, p.provider_id, p.base_url, dict(p.default_headers),
                                       dict(p.config), key)
        return key

    def _remember_models(self, listed: list[ModelInfo], key: tuple[str, str, str] | None = None) -> list[ModelInfo]:
        """Merges a live listing with the catalog and caches it for this credential (or the one `key` names)."""
        p = cast("IProvider", self)
        merged = p._merge_catalog(listed)
        p.models_cache.put(p._listing_key() if key is None else key, merged)
        return merged

    def _keep_credential_updates(self, payload: Any) -> None:
        """Writes what the listing said about this credential to its config table (`config_writer.update_credential`)
        when the credential came from the config file; a failure is logged and kept, never raised."""
        p = cast("IProvider", self)
        p.last_discovery_error = None
        try:
            updates = p._credential_updates(payload)
            if updates and p._settings.from_config:
                from .config_writer import update_credential

                update_credential(p._settings.section, p.credential_profile, path=p._settings.config_path,
                                  **updates)
        except (AgentOSLLMError, OSError, ValueError, TypeError, KeyError) as exc:
            err = exc if isinstance(exc, AgentOSLLMError) else ConfigurationError(
                f"cannot keep what the listing said about this credential: {type(exc).__name__}: {exc}")
            p.last_discovery_error = err
            log.warning("%s: %s", p.provider_id, err)

    def _static_models(self, exc: AgentOSLLMError, own: bool = True) -> list[ModelInfo]:
        p = cast("IProvider", self)
        if own:  # a request's own key fails for its caller alone: nothing of it is kept on the provider
            p.last_discovery_error = exc
        log.warning("listing the models of %s failed (%s: %s); answering from the static catalog",
                    p.provider_id, type(exc).__name__, exc)
        return [m.model_copy(update={"provider": p.provider_id}) for m in catalog_models(p.catalog_key)]

    async def list_models(self, *, capability: str | None = None,
                          api_key: str | SecretStr | None = None) -> list[ModelInfo]:
        """The models this credential can use, with what the catalog knows about each (`source="live"`).

        Listings are cached per credential for `models_cache.ttl` seconds. When the live call fails, the
        static catalog answers alone (`source="catalog"`, and a warning is logged). `capability` keeps the
        models that have it (tools, vision, json_schema, embeddings, reasoning, documents, audio, rerank; see
        `get_model_capabilities`); `api_key` lists with that key (cached under a hash of it).
        """
        p = cast("IProvider", self)
        check_capability(capability)
        key = credential_key(p, api_key)
        listed = p.models_cache.get(key)
        if listed is None:
            headers = with_key(p, None, api_key)
            try:
                payload = await p.retry_policy.acall(lambda t: p._asend_guarded("models", None, t, headers))
                parsed = p._parse(lambda: p._parse_model_list(payload))
            except (ProviderError, UnsupportedCapabilityError) as exc:
                return filter_models(p, p._static_models(exc, api_key is None), capability)
            if api_key is None:
                p._keep_credential_updates(payload)
            listed = p._remember_models(parsed, key)
        return filter_models(p, listed, capability)

    def list_models_sync(self, *, capability: str | None = None,
                         api_key: str | SecretStr | None = None) -> list[ModelInfo]:
        """`list_models`, blocking."""
        p = cast("IProvider", self)
        check_capability(capability)
        key = credential_key(p, api_key)
        listed = p.models_cache.get(key)
        if listed is None:
            headers = with_key(p, None, api_key)
            try:
                payload = p.retry_policy.call(lambda t: p._send_guarded("models", None, t, headers))
                parsed = p._parse(lambda: p._parse_model_list(payload))
            except (ProviderError, UnsupportedCapabilityError) as exc:
                return filter_models(p, p._static_models(exc, api_key is None), capability)
            if api_key is None:
                p._keep_credential_updates(payload)
            listed = p._remember_models(parsed, key)
        return filter_models(p, listed, capability)

    def _model_info(self, model: str, listed: list[ModelInfo]) -> ModelInfo:
        p = cast("IProvider", self)
        for info in listed:
            if info.id == model:
                return info
        known = catalog_entry(p.catalog_key, model)  # e.g. a dated snapshot of a listed family
        if known is not None:
            return known.model_copy(update={"provider": p.provider_id})
        return ModelInfo(id=model, provider=p.provider_id, known=False, source="unknown")

    async def get_model_info(self, model: str) -> ModelInfo:
        """What is known about a model: the live listing merged with the catalog (cached), else the catalog;
        for a model neither knows, `known=False` and `source="unknown"` (nothing is raised: it may still serve)."""
        p = cast("IProvider", self)
        return p._model_info(model, await p.list_models())

    def get_model_info_sync(self, model: str) -> ModelInfo:
        """`get_model_info`, blocking."""
        p = cast("IProvider", self)
        return p._model_info(model, p.list_models_sync())

    def catalog(self) -> list[ModelInfo]:
        """The static catalog's models for this provider (no network)."""
        p = cast("IProvider", self)
        return [m.model_copy(update={"provider": p.provider_id}) for m in catalog_models(p.catalog_key)]

    def supports_model(self, model: str) -> bool:
        """Whether the static catalog, or this credential's cached live listing, lists `model` (no network)."""
        p = cast("IProvider", self)
        return (catalog_entry(p.catalog_key, model) is not None
                or p.models_cache.lists(p._listing_key(), model))

    async def get_model_capabilities(self, model: str) -> frozenset[str]:
        """What a model can do (tools, vision, json_schema, embeddings, reasoning, documents, audio, rerank):
        its listing and the catalog, else what the request rules assume of it."""
        p = cast("IProvider", self)
        return model_capabilities(p, await p.get_model_info(model))

    def get_model_capabilities_sync(self, model: str) -> frozenset[str]:
        """`get_model_capabilities`, blocking."""
        p = cast("IProvider", self)
        return model_capabilities(p, p.get_model_info_sync(model))

    async def list_models_page(self, cursor: str | None = None, limit: int | None = None, *,
                               capability: str | None = None, api_key: str | SecretStr | None = None) -> ModelPage:
        """One page of models (`limit`, 100 by default) after `cursor`, and the cursor of the next page (None:
        the last). Anthropic, Gemini, OpenRouter and Cohere page natively; other listings are sliced."""
        p = cast("IProvider", self)
        from .model_pages import page_of

        return await page_of(p, cursor, limit, capability, api_key, is_async=True)

    def list_models_page_sync(self, cursor: str | None = None, limit: int | None = None, *,
                              capability: str | None = None, api_key: str | SecretStr | None = None) -> ModelPage:
        """`list_models_page`, blocking."""
        p = cast("IProvider", self)
        from .inspection import drive
        from .model_pages import page_of

        return drive(page_of(p, cursor, limit, capability, api_key, is_async=False))
