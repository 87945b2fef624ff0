"""The protocol exchanges, through authlib's client (imported here, on first use only).

- authorization code with PKCE (RFC 7636, S256) through the loopback listener;
- OpenRouter's PKCE variant, whose code is exchanged for an API key;
- the device authorization grant (RFC 8628);
- refresh (RFC 6749 section 6) and revocation (RFC 7009);
- the issuer's metadata (RFC 8414 `.well-known/oauth-authorization-server`, then OpenID's
  `.well-known/openid-configuration`).
"""

from __future__ import annotations

import contextlib
import sys
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import APIConnectionError, AuthenticationError, ConfigurationError
from ..redaction import redact, register_secret
from .listener import LoopbackListener
from .settings import OAuthSettings
from .store import TokenRecord

__all__ = ["SignInPrompt", "device_login", "discover", "openrouter_login", "pkce_login", "refresh", "revoke"]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

_sleep: Callable[[float], None] = time.sleep  # tests replace it to poll without waiting


@dataclass(frozen=True)
class SignInPrompt:
    """What the person must do: open `url` (a browser sign-in), or open it and enter `user_code` (device)."""

    kind: str  # "browser" | "device"
    provider_id: str
    url: str
    user_code: str | None = None
    expires_in: float | None = None

    @property
    def message(self) -> str:
        """The instruction, in words."""
        if self.kind == "device":
            return (f"To sign in to {self.provider_id}, open {self.url} in a browser on any device "
                    f"and enter the code {self.user_code}")
        return f"To sign in to {self.provider_id}, open this address in a browser:\n  {self.url}"


def print_prompt(prompt: SignInPrompt) -> None:
    """The default presenter: the instruction on stderr."""
    print(prompt.message, file=sys.stderr, flush=True)


def _client(settings: OAuthSettings, *, client_id: str | None = None, **kwargs: Any) -> Any:
    try:
        from authlib.integrations.httpx_client import OAuth2Client
    except ImportError as exc:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("oauth", "authlib") from exc
    return OAuth2Client(client_id=client_id or settings.client_id, timeout=settings.http_timeout,
                        follow_redirects=False, **kwargs)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's failures, plus OS errors. authlib uses httpx2 when installed, else httpx: whichever
    it loaded (a module not loaded cannot have raised)."""
    found: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        module = sys.modules.get(name)
        if module is not None:
            found.append(module.HTTPError)
    return tuple(found)


def _oauth_error() -> type[Exception]:
    from authlib.integrations.base_client import OAuthError

    return OAuthError  # type: ignore[no-any-return]


def _connection_error(settings: OAuthSettings, what: str, exc: BaseException) -> APIConnectionError:
    return APIConnectionError(f"{what} failed: {type(exc).__name__}: {redact(str(exc))}",
                              provider=settings.provider_id)


def _oauth_failure(settings: OAuthSettings, what: str, exc: Any) -> AuthenticationError:
    error = getattr(exc, "error", None) or "oauth_error"
    description = getattr(exc, "description", None)
    detail = f": {description}" if description else ""
    return AuthenticationError(f"{what} was refused: {error}{detail}", provider=settings.provider_id, code=error)


def _require(settings: OAuthSettings, *names: str) -> None:
    missing = [n for n in names if not getattr(settings, n)]
    if missing:
        raise ConfigurationError(
            f"the sign-in for {settings.provider_id} needs {', '.join(missing)}: set them (or `issuer`, whose "
            f"metadata names the endpoints) under [providers.{settings.provider_id}.oauth] in the config file")


def discover(settings: OAuthSettings, *, needs: tuple[str, ...] = ()) -> OAuthSettings:
    """Fills missing endpoints from the issuer's metadata; settings without an issuer come back unchanged.

    Without metadata, the settings still serve when they name every endpoint in `needs`.
    """
    endpoints = ("authorization_endpoint", "token_endpoint", "device_authorization_endpoint", "revocation_endpoint")
    if settings.issuer is None or all(getattr(settings, name) for name in endpoints):
        return settings
    from authlib.oauth2.rfc8414 import get_well_known_url

    urls = (get_well_known_url(settings.issuer, external=True),
            get_well_known_url(settings.issuer, external=True, suffix="openid-configuration"),
            settings.issuer + "/.well-known/openid-configuration")
    tried: list[str] = []
    with _client(settings) as client:
        errors = _transport_errors()  # after the client: its HTTP module is loaded now
        for url in dict.fromkeys(urls):
            try:
                resp = client.request("GET", url, withhold_token=True, headers={"Accept": "application/json"})
            except errors as exc:
                tried.append(f"{url}: {type(exc).__name__}")
                continue
            if resp.status_code != 200:
                tried.append(f"{url}: HTTP {resp.status_code}")
                continue
            try:
                metadata = resp.json()
            except ValueError:
                tried.append(f"{url}: not JSON")
                continue
            if not isinstance(metadata, dict):
                tried.append(f"{url}: not a JSON object")
                continue
            # RFC 8414 section 3.3: metadata naming another issuer must not be used.
            if str(metadata.get("issuer", "")).rstrip("/") != settings.issuer:
                raise ConfigurationError(f"the metadata at {url} names issuer {metadata.get('issuer')!r}, "
                                         f"not the configured {settings.issuer!r}")
            return settings.with_metadata(metadata)
    if needs and all(getattr(settings, name) for name in needs):
        return settings
    raise APIConnectionError(f"no authorization server metadata for {settings.issuer}: {'; '.join(tried)}",
                             provider=settings.provider_id)


def _present(prompt: SignInPrompt, on_prompt: Callable[[SignInPrompt], None] | None, open_browser: bool) -> None:
    (on_prompt or print_prompt)(prompt)
    if open_browser:
        with contextlib.suppress(webbrowser.Error):  # no browser here: the printed address still works
            webbrowser.open(prompt.url)


def pkce_login(settings: OAuthSettings, *, open_browser: bool = True,
               on_prompt: Callable[[SignInPrompt], None] | None = None) -> TokenRecord:
    """Authorization code with PKCE (S256) through the loopback listener; the token set it yields."""
    settings = discover(settings, needs=("authorization_endpoint", "token_endpoint"))
    _require(settings, "client_id", "authorization_endpoint", "token_endpoint")
    from authlib.common.security import generate_token

    with LoopbackListener(port=settings.redirect_port, path=settings.redirect_path,
                          timeout=settings.login_timeout) as listener:
        redirect_uri = listener.redirect_uri(settings.redirect_host)
        with _client(settings, scope=" ".join(settings.scopes) or None, redirect_uri=redirect_uri,
                     code_challenge_method="S256") as client:
            verifier = generate_token(64)  # RFC 7636 section 4.1: 43 to 128 unreserved characters
            url, state = client.create_authorization_url(settings.authorization_endpoint, code_verifier=verifier,
                                                         **dict(settings.extra_authorize_params))
            listener.expect_state(state)
            _present(SignInPrompt("browser", settings.provider_id, url), on_prompt, open_browser)
            answer = _wait(listener, settings)
            register_secret(answer["code"])
            try:
                token = client.fetch_token(settings.token_endpoint, grant_type="authorization_code",
                                           code=answer["code"], code_verifier=verifier, redirect_uri=redirect_uri)
            except _oauth_error() as exc:
                raise _oauth_failure(settings, "the code exchange", exc) from None
            except _transport_errors() as exc:
                raise _connection_error(settings, "the code exchange", exc) from None
    return _record(settings, token)


def _wait(listener: LoopbackListener, settings: OAuthSettings) -> dict[str, str]:
    try:
        return listener.wait()
    except AuthenticationError as exc:
        exc.provider = settings.provider_id
        raise


def _record(settings: OAuthSettings, token: Mapping[str, Any], previous: TokenRecord | None = None) -> TokenRecord:
    if not token.get("access_token"):
        raise AuthenticationError("the token endpoint answered without an access token",
                                  provider=settings.provider_id, code="invalid_token_response")
    # A refresh keeps the endpoints found by discovery at sign-in unless the config names them.
    before = previous or TokenRecord(kind="oauth", issuer=settings.issuer_id)
    return TokenRecord.from_oauth(
        token, issuer=settings.issuer_id, client_id=before.client_id or settings.client_id,
        token_endpoint=settings.token_endpoint or before.token_endpoint,
        revocation_endpoint=settings.revocation_endpoint or before.revocation_endpoint,
        previous=previous).register()


def openrouter_login(settings: OAuthSettings, *, open_browser: bool = True,
                     on_prompt: Callable[[SignInPrompt], None] | None = None) -> TokenRecord:
    """OpenRouter's PKCE flow: `/auth?callback_url=...`, then POST the code to `/api/v1/auth/keys` for a key.

    OpenRouter sends no `state` back; the code is bound to this process's verifier instead, so a forged
    redirect yields no key.
    """
    _require(settings, "authorization_endpoint", "token_endpoint")
    from authlib.common.security import generate_token
    from authlib.common.urls import add_params_to_uri
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    with LoopbackListener(port=settings.redirect_port, path=settings.redirect_path,
                          timeout=settings.login_timeout, check_state=False) as listener:
        callback = listener.redirect_uri(settings.redirect_host)
        verifier = generate_token(64)
        url = add_params_to_uri(settings.authorization_endpoint, [
            ("callback_url", callback), ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256")])
        _present(SignInPrompt("browser", settings.provider_id, url), on_prompt, open_browser)
        code = _wait(listener, settings)["code"]
    register_secret(code)
    with _client(settings) as client:
        try:
            resp = client.request("POST", settings.token_endpoint, withhold_token=True,
                               json={"code": code, "code_verifier": verifier, "code_challenge_method": "S256"})
        except _transport_errors() as exc:
            raise _connection_error(settings, "the key exchange", exc) from None
    try:
        payload = resp.json()
    except ValueError:
        payload = None
    key = payload.get("key") if isinstance(payload, dict) else None
    if resp.status_code != 200 or not isinstance(key, str) or not key:
        raise AuthenticationError(f"the key exchange failed (HTTP {resp.status_code})", provider=settings.provider_id,
                                  status_code=resp.status_code, body=payload, code="key_exchange_failed")
    register_secret(key)
    return TokenRecord(kind="api_key", issuer=settings.issuer_id, api_key=key, obtained_at=time.time())


def device_login(settings: OAuthSettings, *, on_prompt: Callable[[SignInPrompt], None] | None = None
                 ) -> TokenRecord:
    """The device authorization grant: show a code, poll the token endpoint until the person approves."""
    settings = discover(settings, needs=("device_authorization_endpoint", "token_endpoint"))
    _require(settings, "client_id", "device_authorization_endpoint", "token_endpoint")
    with _client(settings) as client:
        errors = _transport_errors()  # after the client: its HTTP module is loaded now
        oauth_error = _oauth_error()
        form = {"client_id": settings.client_id}
        if settings.scopes:
            form["scope"] = " ".join(settings.scopes)
        try:
            resp = client.request("POST", settings.device_authorization_endpoint, data=form, withhold_token=True,
                               headers={"Accept": "application/json"})
            grant = resp.json()
        except errors as exc:
            raise _connection_error(settings, "the device authorization request", exc) from None
        except ValueError:
            grant = None
        if resp.status_code != 200 or not isinstance(grant, dict) or not grant.get("device_code"):
            code = grant.get("error") if isinstance(grant, dict) else None
            raise AuthenticationError(f"the device authorization request failed (HTTP {resp.status_code})",
                                      provider=settings.provider_id, status_code=resp.status_code,
                                      code=code or "device_authorization_failed")
        device_code = str(grant["device_code"])
        register_secret(device_code)
        interval = float(grant.get("interval") or 5)  # RFC 8628 section 3.2: 5 s when absent
        lifetime = min(float(grant.get("expires_in") or settings.login_timeout), settings.login_timeout)
        url = str(grant.get("verification_uri_complete") or grant.get("verification_uri") or "")
        _present(SignInPrompt("device", settings.provider_id, url, user_code=str(grant.get("user_code", "")),
                              expires_in=lifetime), on_prompt, open_browser=False)
        deadline = time.monotonic() + lifetime
        while True:
            _sleep(interval)
            if time.monotonic() >= deadline:
                raise AuthenticationError("the device code expired before the sign-in was approved; run the "
                                          "login again", provider=settings.provider_id, code="expired_token")
            try:
                token = client.fetch_token(settings.token_endpoint, grant_type=DEVICE_CODE_GRANT,
                                           device_code=device_code)
            except oauth_error as exc:
                error = getattr(exc, "error", None)
                if error == "authorization_pending":
                    continue
                if error == "slow_down":
                    interval += 5  # RFC 8628 section 3.5: for this and every later request
                    continue
                if error == "expired_token":
                    raise AuthenticationError("the device code expired before the sign-in was approved; run "
                                              "the login again", provider=settings.provider_id,
                                              code="expired_token") from None
                if error == "access_denied":
                    raise AuthenticationError("the sign-in was denied", provider=settings.provider_id,
                                              code="access_denied") from None
                raise _oauth_failure(settings, "the device token request", exc) from None
            except errors as exc:
                raise _connection_error(settings, "the device token request", exc) from None
            return _record(settings, token)


def refresh(settings: OAuthSettings, record: TokenRecord) -> TokenRecord:
    """A fresh token set from the refresh token; `AuthenticationError(code="invalid_grant")` if revoked.

    Transport failures raise `APIConnectionError`; the caller decides whether the old token still serves.
    """
    endpoint = settings.token_endpoint or record.token_endpoint
    if not endpoint or not record.refresh_token:
        raise AuthenticationError("the stored sign-in cannot be refreshed", provider=settings.provider_id,
                                  code="no_refresh_token")
    token = {"access_token": record.access_token, "token_type": record.token_type or "Bearer",
             "refresh_token": record.refresh_token}
    with _client(settings, client_id=record.client_id, token=token) as client:
        try:
            token = client.refresh_token(endpoint, refresh_token=record.refresh_token)
        except _oauth_error() as exc:
            raise _oauth_failure(settings, "the token refresh", exc) from None
        except _transport_errors() as exc:
            raise _connection_error(settings, "the token refresh", exc) from None
    return _record(settings, token, previous=record)


def revoke(settings: OAuthSettings, record: TokenRecord) -> bool:
    """Asks the issuer to revoke the refresh (or access) token (RFC 7009); whether it said yes. Best effort."""
    endpoint = settings.revocation_endpoint or record.revocation_endpoint
    token = record.refresh_token or record.access_token
    if record.kind != "oauth" or not endpoint or not token:
        return False
    hint = "refresh_token" if record.refresh_token else "access_token"
    try:
        client = _client(settings, client_id=record.client_id)
    except ConfigurationError:  # authlib missing: the local copy is still removed
        return False
    with client:
        try:
            resp = client.revoke_token(endpoint, token=token, token_type_hint=hint)
        except (_oauth_error(), *_transport_errors()):
            return False
    return bool(resp.status_code == 200)
