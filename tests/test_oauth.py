"""Sign-in end to end against a real authorization server (authlib's server side) on 127.0.0.1.

The test plays the person's browser: it follows the authorization URL with an HTTP client to the server,
which redirects to the library's loopback listener. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

pytest.importorskip("authlib")
httpx = pytest.importorskip("httpx")

from oauth_server import CLIENT_ID, OAuthTestServer, OpenRouterKeyServer  # noqa: E402

from agentos_llm.auth import flows, oauth  # noqa: E402
from agentos_llm.auth.listener import LoopbackListener  # noqa: E402
from agentos_llm.auth.settings import resolve_settings  # noqa: E402
from agentos_llm.auth.store import TokenRecord, TokenStore  # noqa: E402
from agentos_llm.cli import main  # noqa: E402
from agentos_llm.errors import (  # noqa: E402
    APIConnectionError,
    AuthenticationError,
    ConfigurationError,
    MissingDependencyError,
)
from agentos_llm.redaction import redact  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(tmp_path / "config.toml"))
    return tmp_path


@pytest.fixture
def server() -> Iterator[OAuthTestServer]:
    with OAuthTestServer() as srv:
        yield srv


def gateway(srv: Any, **extra: Any) -> dict[str, Any]:
    """A provider table for the test server through the generic preset (endpoints from its metadata)."""
    return {"auth": "oauth", "oauth": {"issuer": srv.url, "client_id": CLIENT_ID, "scopes": ["openid", "llm"],
                                       "login_timeout": 30, **extra}}


class Browser:
    """Follows a sign-in address like a browser whose user is signed in and consents (on a thread, because
    the login blocks on its listener meanwhile)."""

    def __init__(self, rewrite: Callable[[str], str] | None = None) -> None:
        self.rewrite = rewrite
        self.prompts: list[Any] = []
        self.responses: list[Any] = []
        self._threads: list[threading.Thread] = []

    def __call__(self, prompt: Any) -> None:
        self.prompts.append(prompt)
        url = prompt.url if self.rewrite is None else self.rewrite(prompt.url)
        thread = threading.Thread(target=self._visit, args=(url,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _visit(self, url: str) -> None:
        try:
            self.responses.append(httpx.get(url, follow_redirects=True, timeout=20))
        except httpx.HTTPError as exc:
            self.responses.append(exc)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(20)


def sign_in(srv: OAuthTestServer, provider: str = "gw", **kwargs: Any) -> tuple[oauth.LoginResult, Browser]:
    browser = Browser()
    result = oauth.login(provider, settings=kwargs.pop("settings", None) or gateway(srv), open_browser=False,
                         on_prompt=browser, **kwargs)
    browser.join()
    return result, browser


def stored(provider: str = "gw", profile: str | None = None) -> TokenRecord:
    record = TokenStore(provider, profile).load()
    assert record is not None
    return record


def expire_soon(provider: str = "gw", seconds: float = 30) -> TokenRecord:
    store = TokenStore(provider)
    return store.update(stored(provider), expires_at=time.time() + seconds)


# -- authorization code with PKCE


def test_pkce_sign_in_end_to_end(server: OAuthTestServer, config_dir: Path) -> None:
    result, browser = sign_in(server)

    authorize = server.authorize_requests[0]
    assert authorize["code_challenge_method"] == "S256" and len(authorize["code_challenge"]) == 43
    assert authorize["client_id"] == CLIENT_ID and authorize["state"]
    redirect = urlsplit(authorize["redirect_uri"])
    assert (redirect.scheme, redirect.hostname, redirect.path) == ("http", "127.0.0.1", "/callback")
    page = browser.responses[0]
    assert page.status_code == 200 and "You can close this tab" in page.text
    assert server.token_calls == {"authorization_code": 1}

    assert result.credential_source == "oauth:127.0.0.1#default" and result.refreshable
    secret, source = oauth.current_token("gw", None, gateway(server))
    assert source == "oauth:127.0.0.1#default"
    assert secret in server.live_access_tokens()
    assert server.token_calls == {"authorization_code": 1}  # a fresh token is not refreshed

    path = config_dir / "tokens" / "gw.json"
    assert result.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    record = stored()
    assert secret not in repr(record) and record.refresh_token not in str(record)
    assert "holds=['access_token', 'refresh_token']" in repr(record)
    assert secret not in repr(result)
    assert redact(f"token {secret}") == "token [REDACTED]"


def test_a_profile_has_its_own_token_file(server: OAuthTestServer, config_dir: Path) -> None:
    result, _ = sign_in(server, profile="work")
    assert result.path == config_dir / "tokens" / "gw.work.json"
    assert oauth.current_token("gw", None, gateway(server)) is None
    secret, source = oauth.current_token("gw", "work", gateway(server))
    assert source == "oauth:127.0.0.1#work" and secret in server.live_access_tokens()


def test_wrong_state_is_rejected_and_nothing_is_exchanged(server: OAuthTestServer) -> None:
    def forge(url: str) -> str:
        # An answer that did not come from this login: the right listener, a code, another state.
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        return f"{redirect}?code=stolen-code&state=not-the-state-this-login-sent"

    browser = Browser(rewrite=forge)
    with pytest.raises(AuthenticationError) as caught:
        oauth.login("gw", settings=gateway(server), open_browser=False, on_prompt=browser)
    browser.join()
    assert caught.value.code == "state_mismatch" and caught.value.provider == "gw"
    assert browser.responses[0].status_code == 400
    assert server.token_calls == {}
    assert TokenStore("gw").load() is None


def test_a_refused_consent_is_reported(server: OAuthTestServer) -> None:
    # The server refuses a scope it does not know: it redirects back with error=invalid_scope and the state.
    with pytest.raises(AuthenticationError) as caught:
        sign_in(server, settings=gateway(server, scopes=["admin"]))
    assert caught.value.code == "invalid_scope"
    assert server.token_calls == {}


def test_listener_times_out() -> None:
    listener = LoopbackListener(timeout=0.2)
    with pytest.raises(AuthenticationError) as caught:
        listener.wait()
    assert caught.value.code == "login_timeout"
    with pytest.raises(OSError):  # closed: nobody can answer it any more
        socket.create_connection(("127.0.0.1", listener.port), timeout=2).close()


def test_login_times_out_without_a_browser(server: OAuthTestServer) -> None:
    prompts: list[Any] = []
    with pytest.raises(AuthenticationError) as caught:
        oauth.login("gw", settings=gateway(server, login_timeout=0.3), open_browser=False, on_prompt=prompts.append)
    assert caught.value.code == "login_timeout"
    assert prompts[0].kind == "browser" and prompts[0].url.startswith(f"{server.url}/authorize?")
    assert TokenStore("gw").load() is None


def test_listener_binds_loopback_answers_one_request_and_ignores_other_paths() -> None:
    listener = LoopbackListener(port=0, path="/callback", timeout=20)
    assert listener._server.server_address[0] == "127.0.0.1"
    listener.expect_state("s1")
    answers: list[Any] = []

    def visit() -> None:
        base = listener.redirect_uri()
        answers.append(httpx.get(base.replace("/callback", "/favicon.ico"), timeout=10))
        answers.append(httpx.get(f"{base}?code=c1&state=s1", timeout=10))

    thread = threading.Thread(target=visit)
    thread.start()
    assert listener.wait() == {"code": "c1", "state": "s1"}
    thread.join(20)
    assert [a.status_code for a in answers] == [404, 200]
    assert answers[1].headers["referrer-policy"] == "no-referrer"


# -- device authorization grant


@pytest.fixture
def polls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    intervals: list[float] = []
    monkeypatch.setattr(flows, "_sleep", intervals.append)
    return intervals


def only_user_code(srv: OAuthTestServer) -> str:
    (credential,) = srv.device_credentials.values()
    return str(credential["user_code"])


def test_device_flow_polls_slows_down_and_signs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    polls: list[float] = []
    with OAuthTestServer(device_interval=1, slow_down_polls={2}) as srv:
        def on_poll(interval: float) -> None:
            polls.append(interval)
            if len(polls) == 3:  # the person approves after the second poll
                srv.approve(only_user_code(srv))

        monkeypatch.setattr(flows, "_sleep", on_poll)
        prompts: list[Any] = []
        result = oauth.login("gw", profile="headless", device=True, settings=gateway(srv), on_prompt=prompts.append)
        assert prompts[0].kind == "device" and prompts[0].user_code == only_user_code(srv)
        assert prompts[0].url == f"{srv.url}/device?user_code={prompts[0].user_code}"
        assert polls == [1.0, 1.0, 6.0]  # pending, slow_down (+5 s from then on), approved
        assert srv.token_calls == {"urn:ietf:params:oauth:grant-type:device_code": 3}
        secret, source = oauth.current_token("gw", "headless", gateway(srv))
        assert source == "oauth:127.0.0.1#headless" and secret in srv.live_access_tokens()
        assert result.refreshable


def test_device_flow_denied(server: OAuthTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows, "_sleep", lambda s: server.deny(only_user_code(server)))
    with pytest.raises(AuthenticationError) as caught:
        oauth.login("gw", device=True, settings=gateway(server), on_prompt=lambda p: None)
    assert caught.value.code == "access_denied"
    assert TokenStore("gw").load() is None


def test_device_flow_expired_code(server: OAuthTestServer, polls: list[float]) -> None:
    server.expire_device_codes = True
    with pytest.raises(AuthenticationError) as caught:
        oauth.login("gw", device=True, settings=gateway(server), on_prompt=lambda p: None)
    assert caught.value.code == "expired_token" and "login again" in str(caught.value)


# -- refresh


def test_refresh_before_expiry(server: OAuthTestServer) -> None:
    sign_in(server)
    first = stored()
    expire_soon(seconds=30)  # inside the 120 s margin, not yet expired

    secret, _ = oauth.current_token("gw", None, gateway(server))
    assert server.token_calls["refresh_token"] == 1
    assert secret != first.access_token and secret in server.live_access_tokens()
    after = stored()
    assert after.access_token == secret and after.refresh_token != first.refresh_token  # rotated
    assert after.expires_at is not None and after.expires_at > time.time() + 3000
    assert after.token_endpoint == f"{server.url}/token"  # kept from discovery at sign-in

    assert oauth.current_token("gw", None, gateway(server)) == (secret, "oauth:127.0.0.1#default")
    assert server.token_calls["refresh_token"] == 1


def test_an_expired_token_is_refreshed(server: OAuthTestServer) -> None:
    sign_in(server)
    expire_soon(seconds=-60)
    secret, _ = oauth.current_token("gw", None, gateway(server))
    assert server.token_calls["refresh_token"] == 1 and secret in server.live_access_tokens()


def test_revoked_refresh_token_clears_the_token(server: OAuthTestServer) -> None:
    sign_in(server)
    server.revoke_all()
    expire_soon()
    with pytest.raises(AuthenticationError) as caught:
        oauth.current_token("gw", None, gateway(server))
    assert caught.value.code == "invalid_grant"
    assert "agentos-llm login gw" in str(caught.value)
    assert TokenStore("gw").load() is None
    assert oauth.current_token("gw", None, gateway(server)) is None  # the resolver now says to log in


def test_revoked_profile_names_the_profile_in_the_fix(server: OAuthTestServer) -> None:
    sign_in(server, profile="work")
    server.revoke_all()
    TokenStore("gw", "work").update(stored("gw", "work"), expires_at=time.time())
    with pytest.raises(AuthenticationError, match="agentos-llm login gw --profile work"):
        oauth.current_token("gw", "work", gateway(server))


def test_unreachable_issuer_keeps_a_token_that_has_not_expired(server: OAuthTestServer) -> None:
    sign_in(server)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{closed.getsockname()[1]}/token"
    closed.close()
    record = TokenStore("gw").update(stored(), token_endpoint=dead, expires_at=time.time() + 30)
    settings = gateway(server, http_timeout=5)
    assert oauth.current_token("gw", None, settings) == (record.access_token, "oauth:127.0.0.1#default")
    TokenStore("gw").update(record, expires_at=time.time() - 1)
    with pytest.raises(APIConnectionError):
        oauth.current_token("gw", None, settings)


def test_expired_without_refresh_token_says_to_log_in(server: OAuthTestServer) -> None:
    sign_in(server)
    TokenStore("gw").update(stored(), refresh_token=None, expires_at=time.time() - 1)
    with pytest.raises(AuthenticationError, match="agentos-llm login gw") as caught:
        oauth.current_token("gw", None, gateway(server))
    assert caught.value.code == "token_expired"


_RACER = """
import hashlib, json, sys, time
from pathlib import Path
from agentos_llm.auth.oauth import current_token
ready, go, settings = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
ready.touch()
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
secret, source = current_token("gw", None, settings)
print(hashlib.sha256(secret.encode()).hexdigest(), source)
"""


def test_two_processes_refresh_once(config_dir: Path) -> None:
    # The server takes a moment on each refresh, so without the lock both processes would be inside it at once.
    with OAuthTestServer(refresh_delay=0.3) as srv:
        sign_in(srv)
        expire_soon()
        settings = gateway(srv)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        go = config_dir / "go"
        ready = [config_dir / f"ready{i}" for i in range(2)]
        racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(r), str(go), json.dumps(settings)], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
        try:
            deadline = time.monotonic() + 60
            while not all(r.exists() for r in ready) and time.monotonic() < deadline:
                time.sleep(0.01)
            go.touch()
            outputs = [p.communicate(timeout=120) for p in racers]
        finally:
            for p in racers:
                p.kill()
        assert [p.returncode for p in racers] == [0, 0], [err for _, err in outputs]
        lines = {out.strip() for out, _ in outputs}
        assert srv.token_calls["refresh_token"] == 1
        assert len(lines) == 1  # the second process read what the first one refreshed
        digest = lines.pop().split()[0]
        assert digest == hashlib.sha256(str(stored().access_token).encode()).hexdigest()
        assert stored().access_token in srv.live_access_tokens()


# -- OpenRouter's PKCE flow: the code becomes an API key


def openrouter(srv: OpenRouterKeyServer) -> dict[str, Any]:
    return {"auth": "oauth", "oauth": {"authorization_endpoint": f"{srv.url}/auth",
                                       "token_endpoint": f"{srv.url}/api/v1/auth/keys", "redirect_port": 0,
                                       "login_timeout": 30}}


def test_openrouter_preset_exchanges_the_code_for_a_key() -> None:
    with OpenRouterKeyServer() as srv:
        browser = Browser()
        result = oauth.login("openrouter", settings=openrouter(srv), open_browser=False, on_prompt=browser)
        browser.join()
        query = parse_qs(urlsplit(browser.prompts[0].url).query)
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        callback = urlsplit(query["callback_url"][0])
        assert (callback.hostname, callback.path) == ("localhost", "/")
        assert browser.responses[0].status_code == 200
        assert srv.exchanges[0]["code_challenge_method"] == "S256"
        (key,) = srv.keys
        assert result.kind == "api_key" and not result.refreshable and result.expires_at is None
        assert oauth.current_token("openrouter", None, openrouter(srv)) == (key, "oauth:openrouter.ai#default")
        assert key not in repr(stored("openrouter"))


def test_openrouter_forged_redirect_yields_no_key() -> None:
    with OpenRouterKeyServer() as srv:
        def forge(url: str) -> str:
            return parse_qs(urlsplit(url).query)["callback_url"][0] + "?code=a-code-this-login-never-asked-for"

        browser = Browser(rewrite=forge)
        with pytest.raises(AuthenticationError) as caught:
            oauth.login("openrouter", settings=openrouter(srv), open_browser=False, on_prompt=browser)
        browser.join()
        assert caught.value.code == "key_exchange_failed" and caught.value.status_code == 403
        assert srv.keys == [] and TokenStore("openrouter").load() is None


def test_openrouter_has_no_device_flow() -> None:
    with pytest.raises(ConfigurationError, match="no device flow"):
        oauth.login("openrouter", device=True, settings={"auth": "oauth"})


# -- settings, metadata and the store


def test_without_authlib_login_names_the_extra(server: OAuthTestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "authlib.integrations.httpx_client", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "agentos-llm\[oauth\]"'):
        oauth.login("gw", settings=gateway(server), open_browser=False, on_prompt=lambda p: None)


def test_settings_presets_and_validation(server: OAuthTestServer) -> None:
    assert resolve_settings("openrouter", None).token_endpoint == "https://openrouter.ai/api/v1/auth/keys"
    assert resolve_settings("gw", {"oauth": {"preset": "openrouter", "redirect_port": 4000}}).redirect_port == 4000
    with pytest.raises(ConfigurationError, match="must use https"):
        resolve_settings("gw", {"oauth": {"issuer": "http://login.example.com", "client_id": "x"}})
    with pytest.raises(ConfigurationError, match=r"unknown key\(s\) tokne_endpoint"):
        resolve_settings("gw", {"oauth": {"tokne_endpoint": "https://a.example/token"}})
    with pytest.raises(ConfigurationError, match="redirect_host"):
        resolve_settings("gw", {"oauth": {"redirect_host": "0.0.0.0"}})
    with pytest.raises(ConfigurationError, match="gcloud auth application-default login"):
        oauth.login("gemini", settings={})


def test_metadata_naming_another_issuer_is_refused(server: OAuthTestServer) -> None:
    found = flows.discover(resolve_settings("gw", gateway(server)))
    assert found.device_authorization_endpoint == f"{server.url}/device_authorization"
    other = server.url.replace("127.0.0.1", "localhost")  # same server, but its metadata names 127.0.0.1
    with pytest.raises(ConfigurationError, match="names issuer"):
        flows.discover(resolve_settings("gw", gateway(server, issuer=other)))


def test_a_token_from_another_issuer_is_not_used(server: OAuthTestServer) -> None:
    sign_in(server)
    moved = gateway(server, issuer="https://login.example.com")
    assert oauth.current_token("gw", None, moved) is None


def test_store_warns_about_open_permissions_and_survives_a_broken_file(
        config_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = TokenStore("gw")
    store.save(TokenRecord(kind="api_key", issuer="https://x.example", api_key="key-value-for-the-store-test"))
    store.path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="agentos_llm.auth"):
        assert store.load() is not None
    assert f"chmod 600 {store.path}" in caplog.text
    store.path.write_text('{"kind": "oauth", "access_token": "half-written-secret-value"', encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="agentos_llm.auth"):
        assert store.load() is None
    assert "not valid" in caplog.text and "half-written" not in caplog.text
    with pytest.raises(ConfigurationError):
        TokenStore("../escape")


def test_a_fresh_token_loads_neither_authlib_nor_an_http_client(server: OAuthTestServer, config_dir: Path) -> None:
    sign_in(server)
    code = ("import json, sys\nfrom agentos_llm.auth import current_token\n"
            f"secret, source = current_token('gw', None, {json.dumps(gateway(server))})\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('authlib', 'httpx', 'httpx2'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


# -- the CLI


def test_cli_login_and_logout(server: OAuthTestServer, config_dir: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    (config_dir / "config.toml").write_text(
        f'[providers.gw]\nauth = "oauth"\n\n[providers.gw.oauth]\nissuer = "{server.url}"\n'
        f'client_id = "{CLIENT_ID}"\nscopes = ["openid", "llm"]\n', encoding="utf-8")
    browser = Browser()
    monkeypatch.setattr(flows.webbrowser, "open", lambda url: browser(flows.SignInPrompt("browser", "gw", url)))
    assert main(["login", "gw"]) == 0
    browser.join()
    out, err = capsys.readouterr()
    token = stored().access_token
    assert "Signed in to gw (oauth:127.0.0.1#default)" in out and "refreshed automatically" in out
    assert f"{server.url}/authorize?" in err  # the address is printed too, for a browser elsewhere
    assert token is not None and token not in out + err and str(stored().refresh_token) not in out + err

    assert main(["logout", "gw"]) == 0
    assert token in server.revoked  # revoked at the issuer (RFC 7009), then removed here
    assert TokenStore("gw").load() is None
    assert main(["logout", "gw"]) == 1
    assert "No stored sign-in for gw" in capsys.readouterr().err


def test_cli_device_login_with_a_profile(server: OAuthTestServer, config_dir: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (config_dir / "config.toml").write_text(
        f'[providers.gw]\nauth = "oauth"\n\n[providers.gw.oauth]\nissuer = "{server.url}"\n'
        f'client_id = "{CLIENT_ID}"\n', encoding="utf-8")
    monkeypatch.setattr(flows, "_sleep", lambda s: server.approve(only_user_code(server)))
    monkeypatch.setattr(flows.webbrowser, "open", lambda url: pytest.fail("the device flow opens no browser"))
    assert main(["login", "gw", "--device", "--profile", "ci"]) == 0
    out, err = capsys.readouterr()
    assert f"enter the code {only_user_code(server)}" in err
    # The resolver needs the profile to exist: login writes it, keeping what the file had.
    assert 'Set auth = "oauth" under [providers.gw.profiles.ci]' in err
    written = (config_dir / "config.toml").read_text(encoding="utf-8")
    assert "[providers.gw.profiles.ci]" in written and f'issuer = "{server.url}"' in written
    assert "Signed in to gw (oauth:127.0.0.1#ci)" in out and "gw.ci.json" in out
    assert str(stored("gw", "ci").access_token) not in out + err


def test_the_credential_resolver_uses_the_sign_in(server: OAuthTestServer, config_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # An in-house gateway in front of an OpenAI-compatible API, signed in through the generic preset.
    from agentos_llm.registry import create_provider

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (config_dir / "config.toml").write_text(
        f'[providers.openai]\nauth = "oauth"\nbase_url = "{server.url}/v1"\n\n[providers.openai.oauth]\n'
        f'issuer = "{server.url}"\nclient_id = "{CLIENT_ID}"\n', encoding="utf-8")
    (config_dir / "config.toml").chmod(0o600)
    with pytest.raises(ConfigurationError, match="agentos-llm login openai"):
        create_provider("openai")
    browser = Browser()
    oauth.login("openai", open_browser=False, on_prompt=browser)  # settings read from the config file
    browser.join()
    with create_provider("openai") as provider:
        assert provider.credential_source == "oauth:127.0.0.1#default"
        assert str(stored("openai").access_token) not in repr(provider)


def test_cli_login_errors_are_short(server: OAuthTestServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["login", "gemini"]) == 2
    assert "application-default" in capsys.readouterr().err
    assert main(["login", "nothing-configured"]) == 2
    assert "client_id" in capsys.readouterr().err
