"""What a provider would send, built by the same steps and not sent (`inspect_request`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from .calls import Messages

if TYPE_CHECKING:
    from .inspection import InspectedRequest
    from .provider import IProvider


class RequestInspection:
    """`IProvider.inspect_request`, `inspect_embed_request` and their sync twins."""

    async def inspect_request(self, model: str | None, messages: Messages, **options: Any) -> InspectedRequest:
        """Exactly what `generate` would send (with `stream=True`: `stream`), built by the same steps and the
        vendor SDK's own request builder, and not sent: method, URL, headers (credentials redacted), JSON body."""
        p = cast("IProvider", self)
        from .inspection import inspect_call

        return await inspect_call(p, model, messages, options, is_async=True)

    def inspect_request_sync(self, model: str | None, messages: Messages, **options: Any) -> InspectedRequest:
        """`inspect_request`, for the sync client (what `generate_sync` / `stream_sync` send)."""
        p = cast("IProvider", self)
        from .inspection import drive, inspect_call

        return drive(inspect_call(p, model, messages, options, is_async=False))

    async def inspect_embed_request(self, model: str | None, texts: str | Sequence[str], *,
                                    dimensions: int | None = None, input_type: str | None = None,
                                    api_key: str | SecretStr | None = None) -> list[InspectedRequest]:
        """What `embed` would send: one request per batch, not sent."""
        p = cast("IProvider", self)
        from .inspection import inspect_embed

        return await inspect_embed(p, model, texts, dimensions=dimensions, input_type=input_type,
                                   api_key=api_key, is_async=True)

    def inspect_embed_request_sync(self, model: str | None, texts: str | Sequence[str], *,
                                   dimensions: int | None = None, input_type: str | None = None,
                                   api_key: str | SecretStr | None = None) -> list[InspectedRequest]:
        """`inspect_embed_request`, for the sync client."""
        p = cast("IProvider", self)
        from .inspection import drive, inspect_embed

        return drive(inspect_embed(p, model, texts, dimensions=dimensions, input_type=input_type,
                                   api_key=api_key, is_async=False))
