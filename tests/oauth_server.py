"""A real OAuth 2.0 authorization server on 127.0.0.1, built from authlib's server side, for the sign-in tests.

`OAuthTestServer` runs authlib's `AuthorizationServer` with the authorization code grant (PKCE required),
the refresh token grant (rotating refresh tokens), the device authorization grant (RFC 8628) and token
revocation (RFC 7009), over in-memory models, behind a small WSGI adapter served on a thread. It
publishes `.well-known/oauth-authorization-server` metadata. Its `/authorize` endpoint consents at once
as the user "alice" (the test plays her browser); device codes are approved or denied by the test.

`OpenRouterKeyServer` implements the two endpoints of OpenRouter's documented PKCE flow.

It counts token-endpoint calls per grant type, so tests can check that a refresh happened exactly once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict

CLIENT_ID = "agentos-test-cli"
SCOPES = ("openid", "offline_access", "llm")
USER = "alice"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


class _ThreadingWSGIServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        # One thread per connection: two processes refreshing at once must reach the server together.
        threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # pragma: no cover - a client that hung up
            pass
        finally:
            self.shutdown_request(request)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class _Client(ClientMixin):
    """A public client (no secret) whose redirect URIs are loopback ones on any port (RFC 8252 section 7.3)."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and parts.path == "/callback"

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token", DeviceCodeGrant.GRANT_TYPE)


class _Code(dict[str, Any]):
    def get_redirect_uri(self) -> str:
        return str(self["redirect_uri"])

    def get_scope(self) -> str:
        return str(self["scope"])

    @property
    def code_challenge(self) -> str | None:
        return self.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.get("code_challenge_method")


class _Token(dict[str, Any]):
    def check_client(self, client: _Client) -> bool:
        return bool(self["client_id"] == client.get_client_id())

    def get_scope(self) -> str:
        return str(self.get("scope", ""))

    def get_expires_in(self) -> int:
        return int(self.get("expires_in", 0))

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return bool(self.get("revoked"))

    def get_user(self) -> str:
        return str(self["user"])


class _Payload(OAuth2Payload):
    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._values.items()}

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, self._values)


class _Request(OAuth2Request):
    """authlib's request, from a WSGI environ (query string and urlencoded form)."""

    def __init__(self, environ: Environ) -> None:
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        query = environ.get("QUERY_STRING", "")
        uri = f"http://{host}{environ.get('PATH_INFO', '')}" + (f"?{query}" if query else "")
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        super().__init__(environ["REQUEST_METHOD"], uri, headers=headers)
        self._query = parse_qs(query, keep_blank_values=True)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length).decode("utf-8") if length else ""
        self._form = parse_qs(raw, keep_blank_values=True) if "urlencoded" in headers.get("Content-Type", "") else {}
        merged: dict[str, list[str]] = defaultdict(list)
        for source in (self._query, self._form):
            for k, v in source.items():
                merged[k].extend(v)
        self.payload = _Payload(dict(merged))

    @property
    def args(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._query.items()}

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._form.items()}


class OAuthTestServer:
    """The authorization server; use as a context manager. `url` is its issuer."""

    def __init__(self, *, access_token_lifetime: int = 3600, device_interval: int = 1,
                 slow_down_polls: Iterable[int] = (), refresh_delay: float = 0.0) -> None:
        self.access_token_lifetime = access_token_lifetime
        self.device_interval = device_interval
        self.slow_down_polls = set(slow_down_polls)  # poll numbers (1-based) answered with slow_down
        self.refresh_delay = refresh_delay  # widens the window of a refresh race; asserts nothing about time
        self.lock = threading.RLock()
        self.codes: dict[str, _Code] = {}
        self.tokens: list[_Token] = []
        self.device_credentials: dict[str, DeviceCredentialDict] = {}
        self.user_grants: dict[str, tuple[str, bool]] = {}
        self.device_polls: Counter[str] = Counter()
        self.token_calls: Counter[str] = Counter()  # grant_type -> token-endpoint requests
        self.authorize_requests: list[dict[str, str]] = []
        self.revoked: list[str] = []
        self.expire_device_codes = False
        self.server = self._build()
        self._httpd = make_server("127.0.0.1", 0, self._app, server_class=_ThreadingWSGIServer,
                                  handler_class=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # -- lifecycle
    def __enter__(self) -> OAuthTestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "device_authorization_endpoint": f"{self.url}/device_authorization",
            "revocation_endpoint": f"{self.url}/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", DeviceCodeGrant.GRANT_TYPE],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": list(SCOPES),
        }

    # -- what the test does as the user or the operator
    def approve(self, user_code: str) -> None:
        with self.lock:
            self.user_grants[user_code] = (USER, True)

    def deny(self, user_code: str) -> None:
        with self.lock:
            self.user_grants[user_code] = (USER, False)

    def revoke_all(self) -> None:
        """The operator revokes every token (as when the person signs out everywhere)."""
        with self.lock:
            for token in self.tokens:
                token["revoked"] = True

    def live_access_tokens(self) -> set[str]:
        with self.lock:
            return {t["access_token"] for t in self.tokens if not t.get("revoked")}

    # -- authlib wiring
    def _build(self) -> AuthorizationServer:
        outer = self

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> _Client | None:
                return _Client(client_id) if client_id == CLIENT_ID else None

            def save_token(self, token: dict[str, Any], request: Any) -> None:
                with outer.lock:
                    outer.tokens.append(_Token(token, client_id=request.client.get_client_id(), user=request.user))

            def create_oauth2_request(self, request: Any) -> Any:
                return request if isinstance(request, OAuth2Request) else _Request(request)

            def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, bytes, list[Any]]:
                data = json.dumps(body).encode() if isinstance(body, dict) else (body or "").encode()
                return status, data, list(headers)

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                return

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

            def save_authorization_code(self, code: str, request: Any) -> None:
                data = request.payload.data
                with outer.lock:
                    outer.codes[code] = _Code(
                        code=code, client_id=request.client.get_client_id(), redirect_uri=data.get("redirect_uri"),
                        scope=request.scope, user=request.user, code_challenge=data.get("code_challenge"),
                        code_challenge_method=data.get("code_challenge_method"))

            def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
                with outer.lock:
                    found = outer.codes.get(code)
                return found if found and found["client_id"] == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                with outer.lock:
                    outer.codes.pop(authorization_code["code"], None)

            def authenticate_user(self, authorization_code: _Code) -> str:
                return str(authorization_code["user"])

        class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: the old refresh token dies with each refresh

            def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
                if outer.refresh_delay:
                    time.sleep(outer.refresh_delay)
                with outer.lock:
                    for token in outer.tokens:
                        if token.get("refresh_token") == refresh_token and not token.get("revoked"):
                            return token
                return None

            def authenticate_user(self, refresh_token: _Token) -> str:
                return refresh_token.get_user()

            def revoke_old_credential(self, refresh_token: _Token) -> None:
                with outer.lock:
                    refresh_token["revoked"] = True

        class DeviceGrant(DeviceCodeGrant):  # type: ignore[misc]
            def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
                with outer.lock:
                    found = outer.device_credentials.get(device_code)
                    if found is not None and outer.expire_device_codes:
                        found["expires_at"] = time.time() - 1
                    return found

            def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
                with outer.lock:
                    return outer.user_grants.get(user_code)

            def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
                with outer.lock:
                    outer.device_polls[credential["device_code"]] += 1
                    return outer.device_polls[credential["device_code"]] in outer.slow_down_polls

        class DeviceEndpoint(DeviceAuthorizationEndpoint):  # type: ignore[misc]
            CLIENT_AUTH_METHODS = ["none"]
            INTERVAL = self.device_interval

            def get_verification_uri(self) -> str:
                return f"{outer.url}/device"

            def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
                with outer.lock:
                    outer.device_credentials[data["device_code"]] = DeviceCredentialDict(
                        client_id=client_id, scope=scope, expires_at=time.time() + data["expires_in"], **data)

        class Revocation(RevocationEndpoint):  # type: ignore[misc]
            CLIENT_AUTH_METHODS = ["none"]

            def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
                with outer.lock:
                    for token in outer.tokens:
                        if token_string in (token.get("access_token"), token.get("refresh_token")):
                            return token
                return None

            def revoke_token(self, token: _Token, request: Any) -> None:
                with outer.lock:
                    token["revoked"] = True
                    outer.revoked.append(token["access_token"])

        server = Server(scopes_supported=list(SCOPES))
        server.register_token_generator("default", BearerTokenGenerator(
            lambda **_: generate_token(42), lambda **_: generate_token(48),
            lambda client, grant_type: outer.access_token_lifetime))
        server.register_grant(CodeGrant, [CodeChallenge(required=True)])
        server.register_grant(RefreshGrant)
        server.register_grant(DeviceGrant)
        server.register_endpoint(DeviceEndpoint)
        server.register_endpoint(Revocation)
        return server

    def _app(self, environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if path == "/.well-known/oauth-authorization-server" and method == "GET":
            status, body, headers = 200, json.dumps(self.metadata).encode(), [("Content-Type", "application/json")]
        elif path == "/authorize" and method == "GET":
            status, body, headers = self._authorize(environ)
        elif path == "/token" and method == "POST":
            request = _Request(environ)
            with self.lock:
                self.token_calls[request.form.get("grant_type", "")] += 1
            status, body, headers = self.server.create_token_response(request)
        elif path == "/device_authorization" and method == "POST":
            status, body, headers = self.server.create_endpoint_response("device_authorization", _Request(environ))
        elif path == "/revoke" and method == "POST":
            status, body, headers = self.server.create_endpoint_response("revocation", _Request(environ))
        else:
            status, body, headers = 404, b'{"error": "not_found"}', [("Content-Type", "application/json")]
        start_response(f"{status} {'OK' if status < 300 else 'Redirect' if status < 400 else 'Error'}", headers)
        return iter([body])

    def _authorize(self, environ: Environ) -> tuple[int, bytes, list[Any]]:
        request = _Request(environ)
        with self.lock:
            self.authorize_requests.append(request.args)
        try:
            grant = self.server.get_consent_grant(request, end_user=USER)
        except Exception as error:  # an OAuth2Error: shown as the server would show it
            return self.server.handle_error_response(request, error)  # type: ignore[no-any-return]
        return self.server.create_authorization_response(request, grant_user=USER,  # type: ignore[no-any-return]
                                                         grant=grant)


class OpenRouterKeyServer:
    """OpenRouter's two documented PKCE endpoints: `GET /auth?callback_url=...` and `POST /api/v1/auth/keys`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (challenge, method)
        self.keys: list[str] = []
        self.exchanges: list[dict[str, Any]] = []
        self._httpd = make_server("127.0.0.1", 0, self._app, server_class=_ThreadingWSGIServer,
                                  handler_class=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> OpenRouterKeyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _app(self, environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if path == "/auth" and method == "GET":
            args = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            code = generate_token(24)
            with self.lock:
                self.codes[code] = (args.get("code_challenge", ""), args.get("code_challenge_method", "plain"))
            target = args["callback_url"]
            location = f"{target}{'&' if '?' in target else '?'}{urlencode({'code': code})}"
            start_response("302 Found", [("Location", location), ("Content-Length", "0")])
            return iter([b""])
        if path == "/api/v1/auth/keys" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            with self.lock:
                self.exchanges.append({k: v for k, v in body.items() if k != "code_verifier"})
                challenge, challenge_method = self.codes.pop(body.get("code", ""), ("", ""))
            verifier = body.get("code_verifier", "")
            expected = create_s256_code_challenge(verifier) if challenge_method == "S256" else verifier
            if not challenge or body.get("code_challenge_method") != challenge_method or expected != challenge:
                start_response("403 Forbidden", [("Content-Type", "application/json")])
                return iter([json.dumps({"error": {"code": 403, "message": "Invalid code"}}).encode()])
            key = "or-test-" + generate_token(32)
            with self.lock:
                self.keys.append(key)
            start_response("200 OK", [("Content-Type", "application/json")])
            return iter([json.dumps({"key": key, "user_id": "user_test"}).encode()])
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return iter([b'{"error": "not_found"}'])
