"""The `[providers.<id>.oauth]` table: presets as data, user overrides on top, endpoints found from metadata.

A preset names how a provider signs people in::

    [providers.gateway]
    auth = "oauth"
    [providers.gateway.oauth]
    issuer = "https://login.example.com"   # generic preset: endpoints from the issuer's metadata
    client_id = "agentos-cli"
    scopes = ["openid", "offline_access", "llm"]

Everything a preset sets can be overridden key by key in that table.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError

__all__ = ["OAUTH_KEYS", "PRESETS", "PROVIDER_PRESETS", "OAuthSettings", "is_loopback", "oauth_table",
           "resolve_settings"]

PRESETS: dict[str, dict[str, Any]] = {
    # RFC 6749 authorization code + PKCE, the device grant and refresh, endpoints from the issuer's
    # `.well-known` metadata unless given; for in-house gateways and identity providers.
    "generic": {"flow": "oauth2"},
    # https://openrouter.ai/docs/use-cases/oauth-pkce: the code is exchanged for a user-controlled API key
    # (no client id, no state, no refresh). Its docs suggest http://localhost:3000 for local apps.
    "openrouter": {
        "flow": "api-key",
        "issuer": "https://openrouter.ai",
        "authorization_endpoint": "https://openrouter.ai/auth",
        "token_endpoint": "https://openrouter.ai/api/v1/auth/keys",
        "redirect_host": "localhost",
        "redirect_port": 3000,
        "redirect_path": "/",
    },
    # Gemini and Vertex AI authenticate through google-auth's Application Default Credentials;
    # agentos-llm stores nothing for them.
    "google-adc": {"flow": "adc"},
}

PROVIDER_PRESETS: dict[str, str] = {"openrouter": "openrouter", "gemini": "google-adc", "vertex": "google-adc"}
"""The preset a provider uses when its config names none."""

OAUTH_KEYS: frozenset[str] = frozenset({
    "preset", "flow", "issuer", "client_id", "scopes", "authorization_endpoint", "token_endpoint",
    "device_authorization_endpoint", "revocation_endpoint", "redirect_host", "redirect_port", "redirect_path",
    "extra_authorize_params", "login_timeout", "http_timeout", "refresh_margin", "token_field",
})
"""Every key `[providers.<id>.oauth]` may hold (the config validator can check against it)."""

_FLOWS = ("oauth2", "api-key", "adc")


@dataclass(frozen=True)
class OAuthSettings:
    """One provider's sign-in settings, preset and overrides merged. Holds no secret."""

    provider_id: str
    preset: str = "generic"
    flow: str = "oauth2"
    issuer: str | None = None
    client_id: str | None = None
    scopes: tuple[str, ...] = ()
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    redirect_host: str = "127.0.0.1"
    redirect_port: int = 0  # 0: any free port (RFC 8252 lets loopback redirects use any port)
    redirect_path: str = "/callback"
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    login_timeout: float = 300.0
    http_timeout: float = 30.0
    refresh_margin: float = 120.0
    token_field: str = "access_token"  # some gateways take the OpenID id_token instead

    @property
    def issuer_id(self) -> str:
        """Who issues the tokens: the issuer, else the authorization or token endpoint's origin."""
        for url in (self.issuer, self.authorization_endpoint, self.token_endpoint, self.device_authorization_endpoint):
            if url:
                parts = urlsplit(url)
                return url.rstrip("/") if url == self.issuer else f"{parts.scheme}://{parts.netloc}"
        return ""

    @property
    def issuer_host(self) -> str:
        """The issuer's host name, for `credential_source`."""
        return urlsplit(self.issuer_id).hostname or self.provider_id

    def with_metadata(self, metadata: Mapping[str, Any]) -> OAuthSettings:
        """Fills the endpoints the config did not set from the issuer's metadata document."""
        where = f"the metadata of {self.issuer}"
        found: dict[str, Any] = {name: _endpoint(metadata[name], name, where)
                 for name in ("authorization_endpoint", "token_endpoint", "device_authorization_endpoint",
                              "revocation_endpoint")
                 if getattr(self, name) is None and isinstance(metadata.get(name), str)}
        return replace(self, **found)

    def describe(self, where: str) -> str:
        """`[providers.<id>.oauth]` in a config path, for error messages."""
        return f"[providers.{self.provider_id}.oauth] in {where}"


def oauth_table(settings: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The oauth table out of a provider's settings (its `oauth` sub-table, or the settings themselves)."""
    if not settings:
        return {}
    inner = settings.get("oauth")
    if isinstance(inner, Mapping):
        return inner
    return settings if ("preset" in settings or "issuer" in settings) else {}


def _text(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: `{key}` must be a non-empty string, not {value!r}")
    return value


def _number(table: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{where}: `{key}` must be a number of seconds (>= 0), not {value!r}")
    return float(value)


def is_loopback(host: str | None) -> bool:
    """Whether a host name is this machine (localhost or a loopback address)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _endpoint(value: str | None, key: str, where: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment:
        raise ConfigurationError(f"{where}: `{key}` must be an https URL, not {value!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # Tokens and codes would cross the network in the clear; only loopback may use plain http.
        raise ConfigurationError(f"{where}: `{key}` must use https (plain http is for 127.0.0.1 only): {value!r}")
    return value


def resolve_settings(provider_id: str, settings: Mapping[str, Any] | None, *, where: str = "the config"
                     ) -> OAuthSettings:
    """Merges the preset named in the oauth table (or the provider's default preset) with the table's keys.

    Raises `ConfigurationError` naming the key for a wrong type, an unknown preset, or an http endpoint.
    """
    table = oauth_table(settings)
    loc = f"[providers.{provider_id}.oauth] in {where}"
    unknown = sorted(set(table) - OAUTH_KEYS)
    if unknown:
        raise ConfigurationError(f"{loc}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(OAUTH_KEYS))}")
    preset = table.get("preset") or PROVIDER_PRESETS.get(provider_id, "generic")
    if preset not in PRESETS:
        raise ConfigurationError(f"{loc}: unknown preset {preset!r}; one of {', '.join(PRESETS)}")
    merged: dict[str, Any] = {**PRESETS[preset], **table}
    flow = merged.get("flow", "oauth2")
    if flow not in _FLOWS:
        raise ConfigurationError(f"{loc}: `flow` must be one of {', '.join(_FLOWS)}, not {flow!r}")
    scopes = merged.get("scopes", ())
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, (list, tuple)) or not all(isinstance(s, str) for s in scopes):
        raise ConfigurationError(f"{loc}: `scopes` must be a list of strings, not {scopes!r}")
    extra = merged.get("extra_authorize_params", {})
    if not isinstance(extra, Mapping) or not all(isinstance(v, str) for v in extra.values()):
        raise ConfigurationError(f"{loc}: `extra_authorize_params` must be a table of strings")
    port = merged.get("redirect_port", 0)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigurationError(f"{loc}: `redirect_port` must be a port number (0 for any free port), not {port!r}")
    path = _text(merged, "redirect_path", loc) or "/callback"
    if not path.startswith("/"):
        raise ConfigurationError(f"{loc}: `redirect_path` must start with '/', not {path!r}")
    host = _text(merged, "redirect_host", loc) or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "[::1]"):
        raise ConfigurationError(f"{loc}: `redirect_host` must be 127.0.0.1 or localhost (the listener is loopback "
                                 "only)")
    token_field = _text(merged, "token_field", loc) or "access_token"
    if token_field not in ("access_token", "id_token"):
        raise ConfigurationError(f"{loc}: `token_field` must be access_token or id_token, not {token_field!r}")
    issuer = _endpoint(_text(merged, "issuer", loc), "issuer", loc)
    return OAuthSettings(
        provider_id=provider_id, preset=str(preset), flow=str(flow),
        issuer=issuer.rstrip("/") if issuer else None,
        client_id=_text(merged, "client_id", loc),
        scopes=tuple(scopes),
        authorization_endpoint=_endpoint(_text(merged, "authorization_endpoint", loc), "authorization_endpoint", loc),
        token_endpoint=_endpoint(_text(merged, "token_endpoint", loc), "token_endpoint", loc),
        device_authorization_endpoint=_endpoint(_text(merged, "device_authorization_endpoint", loc),
                                                "device_authorization_endpoint", loc),
        revocation_endpoint=_endpoint(_text(merged, "revocation_endpoint", loc), "revocation_endpoint", loc),
        redirect_host=host, redirect_port=port, redirect_path=path,
        extra_authorize_params=dict(extra),
        login_timeout=_number(merged, "login_timeout", loc, 300.0),
        http_timeout=_number(merged, "http_timeout", loc, 30.0),
        refresh_margin=_number(merged, "refresh_margin", loc, 120.0),
        token_field=token_field,
    )
