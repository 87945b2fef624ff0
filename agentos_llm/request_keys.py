"""Per-request API keys (`api_key=` as a call option): one provider instance serving many users' keys.

The key never reaches a client: it travels as the request's own auth header, which every SDK used here
lets a request set over the client's (OpenAI and Anthropic: per-request headers; Gemini: `x-goog-api-key`
in the request's `HttpOptions`; Bedrock: a bearer `Authorization`, the request then left unsigned by
SigV4; Cohere and Voyage: `Authorization` on the request). So no client is made per key, and nothing of one
call's key is kept where another call could meet it. What is kept per key (the model listing, the rate
limits its responses stated) is keyed by a hash of it (`credential_key`), never by the key.

Per-request keys are not registered for redaction (`agentos_llm.redaction`): that registry grows with
every value and lives as long as the process. They are kept out of messages instead: a `SecretStr` in the
options, never in an error, and masked in the vendor SDKs' debug logs, which print the headers they send
(`guard_sdk_logs`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import SecretStr

from .catalog import ListingKey, listing_key
from .errors import UnsupportedCapabilityError
from .redaction import redact

if TYPE_CHECKING:
    from .provider import IProvider

__all__ = ["KEY_HEADERS", "credential_key", "guard_sdk_logs", "key_headers", "sent_credential", "with_key"]

KEY_HEADERS: Mapping[str, tuple[str, str]] = {
    "openai-chat": ("Authorization", "Bearer {}"),
    "openai-responses": ("Authorization", "Bearer {}"),
    # anthropic 2.x sends an API key as a bearer token (its `_api_key_auth`), not as x-api-key.
    "anthropic-messages": ("Authorization", "Bearer {}"),
    "gemini-generate": ("x-goog-api-key", "{}"),
    "bedrock-converse": ("Authorization", "Bearer {}"),
    "cohere-chat": ("Authorization", "Bearer {}"),
    "voyage-embed": ("Authorization", "Bearer {}"),
}
"""Wire API -> the header a request's own key goes in, and its value's shape."""


def _secret(api_key: SecretStr | str) -> str:
    return api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key


def key_headers(provider: IProvider, api_key: SecretStr | str) -> dict[str, str]:
    """The header that carries `api_key` on one request of `provider`'s API."""
    found = KEY_HEADERS.get(provider.api)
    if found is None or (getattr(provider, "vertexai", False) and provider.config.get("project")):
        raise UnsupportedCapabilityError(
            provider.provider_id, "per-request API keys",
            f"{provider.label} over {provider.api or type(provider).__name__} takes no per-request key"
            + (" (Vertex AI with a project authenticates with Google credentials)"
               if getattr(provider, "vertexai", False) else ""))
    name, shape = found
    return {name: shape.format(_secret(api_key))}


def with_key(provider: IProvider, headers: Mapping[str, str] | None, api_key: SecretStr | str | None
             ) -> Mapping[str, str] | None:
    """`headers` with the request's own key added (its header replaces any of the same name, in any case)."""
    if api_key is None:
        return headers
    guard_sdk_logs()
    extra = key_headers(provider, api_key)
    names = {n.lower() for n in extra}
    merged = {k: v for k, v in (headers or {}).items() if k.lower() not in names}
    merged.update(extra)
    return merged


def credential_key(provider: IProvider, api_key: SecretStr | str | None) -> ListingKey:
    """What identifies a credential in the listing cache and the rate-limit store: the provider's own
    (`_listing_key`), or for a request's own key a hash of it with what scopes it (never the key)."""
    if api_key is None:
        return provider._listing_key()
    return listing_key(provider.provider_id, provider.base_url, _secret(api_key),
                       {"headers": provider.default_headers, "config": provider.config, "per_request": True})


def sent_credential(provider: IProvider, sent: Mapping[str, str] | None) -> ListingKey:
    """The credential a request was sent with, from its per-request headers: the key in the API's auth header
    when the request carried one of its own, else the provider's."""
    found = KEY_HEADERS.get(provider.api)
    if found is not None and sent:
        name, shape = found[0].lower(), found[1]
        value = next((v for k, v in sent.items() if k.lower() == name), None)
        prefix = shape.partition("{}")[0]
        if value and value.startswith(prefix):
            return credential_key(provider, value[len(prefix):])
    return provider._listing_key()


# Vendor SDKs log what they send at DEBUG level, headers included (the Anthropic client its request options,
# botocore its prepared request): a request's own key would be in those records. They are masked before they
# are emitted, once any request carries its own key.
_SDK_LOGGERS = ("openai._base_client", "anthropic._base_client", "botocore.endpoint", "botocore.auth",
                "botocore.awsrequest", "botocore.hooks", "google_genai._api_client", "httpx", "httpcore",
                "cohere")
_AUTH_VALUE = re.compile(r"""(?i)(['"]?(?:authorization|x-api-key|x-goog-api-key|api-key)['"]?\s*[:=]\s*b?['"]?)"""
                         r"""(?:Bearer\s+)?[^'",}\s]+""")
_guarded = False


class _MaskKeys(logging.Filter):
    """Masks auth header values (and any key `agentos_llm.redaction` recognizes) in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is left to the handler to report
            return True
        masked = redact(_AUTH_VALUE.sub(r"\1[REDACTED]", message))
        if masked != message:
            record.msg, record.args = masked, None
        return True


def guard_sdk_logs() -> None:
    """Puts the masking filter on the vendor SDKs' loggers (once)."""
    global _guarded
    if _guarded:
        return
    _guarded = True
    mask = _MaskKeys()
    for name in _SDK_LOGGERS:
        logging.getLogger(name).addFilter(mask)
