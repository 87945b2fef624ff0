"""Paged model discovery: `IProvider.list_models_page(cursor=None, limit=100)`, one page and the next cursor.

Hosts whose listing pages (Anthropic: `after_id`/`limit`; Gemini: `pageToken`/`pageSize`; OpenRouter:
`offset`/`limit`; Cohere: `page_token`/`page_size`) are asked for exactly one page, and their own cursor is
handed back. Others list whole: their (cached) listing is sliced, with the offset as the cursor. A page is
merged with the catalog like a whole listing, but not cached (it is not the whole listing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from .errors import InvalidRequestError
from .types import ModelInfo

if TYPE_CHECKING:
    from .provider import IProvider

__all__ = ["DEFAULT_PAGE", "ModelPage", "fetch_page", "native_paging"]

DEFAULT_PAGE = 100


class ModelPage(BaseModel):
    """One page of a provider's models; `next_cursor` asks for the next (None: this was the last)."""

    model_config = ConfigDict(extra="forbid")
    models: list[ModelInfo] = Field(default_factory=list)
    next_cursor: str | None = None
    native: bool = False
    """Whether the host paged (True) or its whole listing was sliced here (False)."""


def native_paging(provider: IProvider) -> str | None:
    """Which native paging `provider`'s listing has: "anthropic", "gemini", "openrouter", "cohere", or None."""
    api = provider.api
    if api == "anthropic-messages":
        return "anthropic"
    if api == "gemini-generate":
        return "gemini"
    if api == "cohere-chat":
        return "cohere"
    if api in ("openai-chat", "openai-responses") and provider.catalog_key == "openrouter":
        return "openrouter"
    return None


def check_page(cursor: str | None, limit: int | None) -> int:
    """The page size to ask for."""
    if limit is None:
        return DEFAULT_PAGE
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidRequestError(f"limit must be an integer from 1 to 1000, not {limit!r}")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise InvalidRequestError(f"cursor must be a cursor a previous page returned, not {cursor!r}")
    return limit


def _offset_of(link: Any) -> str | None:
    if not isinstance(link, str) or not link:
        return None
    found = parse_qs(urlsplit(link).query).get("offset")
    return found[0] if found else None


def _next(kind: str, page: Any) -> str | None:
    if not isinstance(page, Mapping):
        return None
    if kind == "anthropic":
        last = page.get("last_id")
        return last if page.get("has_more") and isinstance(last, str) and last else None
    if kind == "gemini":
        token = page.get("nextPageToken")
    elif kind == "cohere":
        token = page.get("next_page_token")
    else:
        links = page.get("links")
        token = _offset_of(links.get("next")) if isinstance(links, Mapping) else None
    return token if isinstance(token, str) and token else None


async def fetch_page(provider: IProvider, kind: str, cursor: str | None, limit: int, timeout: float | None,
                     headers: Mapping[str, str] | None, *, is_async: bool) -> tuple[Any, str | None]:
    """One page from a host that pages: the decoded payload and the host's next cursor."""
    p: Any = provider
    if kind == "gemini":
        base = "publishers/google/models" if p.vertexai else "models"
        path = f"{base}?pageSize={limit}" + (f"&pageToken={quote(cursor)}" if cursor else "")
        options = p._options(timeout, headers)
        got = await p._api.async_request("get", path, {}, options) if is_async else \
            p._api.request("get", path, {}, options)
        page = p._decode(got.body)
    elif kind == "cohere":
        from .providers.cohere import _PATHS

        params = {"page_size": limit, **({"page_token": cursor} if cursor else {})}
        options = p._options(timeout, headers)
        http = (p.async_client if is_async else p.client)._client_wrapper.httpx_client
        got = http.request(_PATHS["models"], method="GET", params=params, request_options=options)
        page = p._decode(await got if is_async else got)
    else:
        import httpx2

        from .providers.sdk_transport import request_options

        if kind == "anthropic":
            from .providers.anthropic import _MODELS as path

            params = {"limit": limit, **({"after_id": cursor} if cursor else {})}
        else:
            path, params = "/models", {"limit": limit, **({"offset": cursor} if cursor else {})}
        client = p.async_client if is_async else p.client
        got = client.get(path, cast_to=httpx2.Response, options=request_options(timeout, headers, params))
        page = p._decode(await got if is_async else got)
    return page, _next(kind, page)


def slice_page(models: list[ModelInfo], cursor: str | None, limit: int) -> ModelPage:
    """A page of a whole listing, the offset as the cursor."""
    if cursor is not None and not cursor.isdigit():
        raise InvalidRequestError(f"cursor {cursor!r} is not one this provider's pages return")
    start = int(cursor or 0)
    end = start + limit
    return ModelPage(models=models[start:end], next_cursor=str(end) if end < len(models) else None)


async def page_of(provider: IProvider, cursor: str | None, limit: int | None, capability: str | None,
                  api_key: Any, *, is_async: bool) -> ModelPage:
    """`provider.list_models_page(...)`: one page, natively where the host pages, else sliced."""
    from .inspection import drive
    from .provider_surface import check_capability, filter_models
    from .request_keys import with_key

    size = check_page(cursor, limit)
    check_capability(capability)
    kind = native_paging(provider)
    if kind is None:
        models = await provider.list_models(api_key=api_key) if is_async else provider.list_models_sync(
            api_key=api_key)
        page = slice_page(models, cursor, size)
    else:
        headers = with_key(provider, None, api_key)

        async def attempt(timeout: float | None) -> tuple[Any, str | None]:
            try:
                return await fetch_page(provider, kind, cursor, size, timeout, headers, is_async=True)
            except Exception as exc:
                provider._reraise(exc)

        def attempt_sync(timeout: float | None) -> tuple[Any, str | None]:
            try:
                return drive(fetch_page(provider, kind, cursor, size, timeout, headers, is_async=False))
            except Exception as exc:
                provider._reraise(exc)

        payload, next_cursor = (await provider.retry_policy.acall(attempt) if is_async
                                else provider.retry_policy.call(attempt_sync))
        listed = provider._parse(lambda: provider._parse_model_list(payload))
        page = ModelPage(models=provider._merge_catalog(listed), next_cursor=next_cursor, native=True)
    page.models = filter_models(provider, page.models, capability)
    return page
