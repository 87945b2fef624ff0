"""Sign-in for providers configured with `auth = "oauth"`: `login`, `logout`, and `current_token`.

The credential resolver calls `current_token(provider_id, profile, settings)` for such a provider: it
returns the secret to send and where it came from (`oauth:<issuer host>#<profile>`), refreshing the
token first when it is about to expire (one process refreshes; the others wait on the lock and read
its result), or None when nobody has signed in. A fresh token costs one small file read: authlib and
the HTTP client load only to sign in or to refresh.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import APIConnectionError, AuthenticationError, ConfigurationError
from .settings import OAuthSettings, resolve_settings
from .store import TokenRecord, TokenStore

__all__ = ["ADC_HINT", "LoginResult", "current_token", "default_profile", "login", "logout", "provider_settings",
           "signed_in"]

log = logging.getLogger("agentos_llm.auth")

ADC_HINT = ("Gemini and Vertex AI use Google Application Default Credentials through google-auth: run "
            "`gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS to a service "
            "account file); agentos-llm stores no token for them")


@dataclass(frozen=True)
class LoginResult:
    """A finished sign-in: where the credential is stored and how it will be named. Holds no secret."""

    provider_id: str
    profile: str | None
    credential_source: str
    path: Path
    kind: str  # "oauth" (a refreshable token set) or "api_key" (a key the sign-in produced)
    expires_at: float | None
    refreshable: bool


def _login_command(provider_id: str, profile: str | None) -> str:
    return f"agentos-llm login {provider_id}" + (f" --profile {profile}" if profile not in (None, "default") else "")


def _source(settings: OAuthSettings, profile: str | None) -> str:
    return f"oauth:{settings.issuer_host}#{profile or 'default'}"


def _config_where() -> str:
    from ..credentials import config_path

    return str(config_path())


def _provider_table(provider_id: str) -> dict[str, Any]:
    from ..credentials import load_config

    providers = load_config().get("providers")
    table = providers.get(provider_id) if isinstance(providers, dict) else None
    return dict(table) if isinstance(table, dict) else {}


def default_profile(provider_id: str, profile: str | None = None) -> str | None:
    """The profile a sign-in is for: the one named, else the provider table's `profile` (as the resolver does)."""
    if profile is not None:
        return profile
    chosen = _provider_table(provider_id).get("profile")
    return chosen if isinstance(chosen, str) else None


def provider_settings(provider_id: str, profile: str | None = None) -> dict[str, Any]:
    """The provider's config table, with `[providers.<id>.profiles.<profile>]` laid over it (its `oauth`
    table merged key by key)."""
    merged = _provider_table(provider_id)
    profiles = merged.get("profiles")
    chosen = profiles.get(profile) if profile and isinstance(profiles, dict) else None
    if isinstance(chosen, dict):
        base_oauth = merged.get("oauth")
        merged.update(chosen)
        if isinstance(chosen.get("oauth"), dict) and isinstance(base_oauth, dict):
            merged["oauth"] = {**base_oauth, **chosen["oauth"]}
    return merged


def _secret(record: TokenRecord, settings: OAuthSettings, profile: str | None) -> tuple[str, str] | None:
    value = record.secret(settings.token_field)
    return (value, _source(settings, profile)) if value else None


def current_token(provider_id: str, profile: str | None, settings: Mapping[str, Any]) -> tuple[str, str] | None:
    """(secret, credential_source) for a signed-in provider, refreshed if about to expire; None if not signed in.

    `settings` is the provider's config table (its `oauth` sub-table describes the sign-in). A token issued
    by another issuer than the configured one counts as not signed in. A revoked refresh token clears the
    stored token and raises `AuthenticationError` (code "invalid_grant") saying to run `agentos-llm login`.
    """
    cfg = resolve_settings(provider_id, settings, where=_config_where())
    if cfg.flow == "adc":
        raise ConfigurationError(f"{provider_id} does not sign in with `auth = \"oauth\"`: {ADC_HINT}")
    store = TokenStore(provider_id, profile)
    record = store.load()
    if record is None or record.issuer != cfg.issuer_id:
        return None
    if record.kind == "api_key" or not record.expires_within(cfg.refresh_margin):
        return _secret(record, cfg, profile)
    with store.lock(timeout=2 * cfg.http_timeout + 10):
        record = store.load()  # another process may have refreshed while this one waited
        if record is None or record.issuer != cfg.issuer_id:
            return None
        if not record.expires_within(cfg.refresh_margin):
            return _secret(record, cfg, profile)
        return _refresh_locked(store, record, cfg, profile)


def _refresh_locked(store: TokenStore, record: TokenRecord, cfg: OAuthSettings, profile: str | None
                    ) -> tuple[str, str] | None:
    command = _login_command(cfg.provider_id, profile)
    if not record.refresh_token:
        if not record.expires_within(0):
            return _secret(record, cfg, profile)
        raise AuthenticationError(f"the sign-in for {cfg.provider_id} has expired and cannot be refreshed: "
                                  f"run `{command}`", provider=cfg.provider_id, code="token_expired")
    from . import flows

    try:
        new = flows.refresh(cfg, record)
    except AuthenticationError as exc:
        if exc.code == "invalid_grant":
            store.delete()
            raise AuthenticationError(f"the sign-in for {cfg.provider_id} was revoked or has expired (the issuer "
                                      f"refused the refresh token); the stored token was removed: run `{command}`",
                                      provider=cfg.provider_id, code="invalid_grant") from None
        raise
    except APIConnectionError:
        if not record.expires_within(0):
            # Could not reach the issuer, but the token has not expired yet: use it, refresh next time.
            log.warning("could not refresh the token of %s; using it until it expires", cfg.provider_id)
            return _secret(record, cfg, profile)
        raise
    store.save(new)
    return _secret(new, cfg, profile)


def login(provider_id: str, *, profile: str | None = None, device: bool = False, open_browser: bool = True,
          settings: Mapping[str, Any] | None = None,
          on_prompt: Callable[[Any], None] | None = None) -> LoginResult:
    """Signs in to a provider and stores the result under the config directory's `tokens/`.

    The browser flow (authorization code with PKCE through a loopback listener) is the default;
    `device=True` uses the device authorization grant for machines without a browser. `settings` is the
    provider's config table (read from the config file when None). `on_prompt` receives a
    `flows.SignInPrompt` (the address to open, the device code); by default it is printed to stderr.
    """
    if settings is None:
        profile = default_profile(provider_id, profile)
        settings = provider_settings(provider_id, profile)
    cfg = resolve_settings(provider_id, settings, where=_config_where())
    if cfg.flow == "adc":
        raise ConfigurationError(f"`agentos-llm login` does not sign in to {provider_id}: {ADC_HINT}")
    store = TokenStore(provider_id, profile)  # checks the names before anyone opens a browser
    from . import flows

    if cfg.flow == "api-key":
        if device:
            raise ConfigurationError(f"{provider_id}'s sign-in has no device flow: sign in with a browser, or "
                                     "create a key on the provider's site and set it as an API key")
        record = flows.openrouter_login(cfg, open_browser=open_browser, on_prompt=on_prompt)
    elif device:
        record = flows.device_login(cfg, on_prompt=on_prompt)
    else:
        record = flows.pkce_login(cfg, open_browser=open_browser, on_prompt=on_prompt)
    with store.lock(timeout=2 * cfg.http_timeout + 10):
        store.save(record)
    return LoginResult(provider_id=provider_id, profile=store.profile, credential_source=_source(cfg, profile),
                       path=store.path, kind=record.kind, expires_at=record.expires_at,
                       refreshable=bool(record.refresh_token))


def logout(provider_id: str, *, profile: str | None = None, settings: Mapping[str, Any] | None = None,
           revoke: bool = True) -> bool:
    """Removes the stored sign-in (asking the issuer to revoke it first, best effort); whether there was one."""
    if settings is None:
        with contextlib.suppress(ConfigurationError):  # a broken config file must not keep a token around
            profile = default_profile(provider_id, profile)
    store = TokenStore(provider_id, profile)
    record = store.load()
    if record is None:
        return store.delete()
    if revoke and record.kind == "oauth":
        try:
            table = provider_settings(provider_id, profile) if settings is None else settings
            cfg = resolve_settings(provider_id, table, where=_config_where())
        except ConfigurationError:
            cfg = OAuthSettings(provider_id=provider_id, http_timeout=10.0)
        from . import flows

        if not flows.revoke(cfg, record):
            log.info("the issuer did not confirm revoking the token of %s; it was removed here", provider_id)
    with store.lock(timeout=30):
        return store.delete()


def signed_in(provider_id: str, profile: str | None = None) -> bool:
    """Whether a sign-in is stored for the provider and profile (valid or not)."""
    return TokenStore(provider_id, profile).path.exists()
