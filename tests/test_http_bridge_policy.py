"""The transport policy without a network: where each setting comes from, NO_PROXY's rules, the checks and their
messages, the config file's keys, and what each SDK adapter is handed (tests/test_http_bridge.py sends through a
real proxy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest

from agentos_llm import create_provider
from agentos_llm.credentials import load_settings
from agentos_llm.errors import ConfigurationError
from agentos_llm.http_bridge import (
    TransportPolicy,
    botocore_options,
    genai_http_options,
    httpx_client,
    resolve_transport,
)
from agentos_llm.redaction import redact

PROXY = "http://proxy.internal:3128"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------------- where settings come from


def test_argument_then_profile_then_provider_table_then_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\nproxy = "http://table:1"\nmax_connections = 7\nprofile = "work"\n'
                           '[providers.openai.profiles.work]\nproxy = "http://work:2"\n')
    env = {"HTTPS_PROXY": PROXY}
    from_profile = resolve_transport(section="openai", config_path=path, env=env)
    assert (from_profile.proxy, from_profile.proxy_source) == ("http://work:2", f"config:{path}#profiles.work")
    assert from_profile.max_connections == 7  # the profile does not set it: the provider's table does
    from_table = resolve_transport(section="openai", profile="other", config_path=path, env=env)
    assert (from_table.proxy, from_table.proxy_source) == ("http://table:1", f"config:{path}")
    argument = resolve_transport(config={"proxy": "http://arg:3"}, section="openai", config_path=path, env=env)
    assert (argument.proxy, argument.proxy_source) == ("http://arg:3", "argument")
    env_only = resolve_transport(section="anthropic", config_path=path, env=env)
    assert env_only.proxy is None and env_only.proxy_for("https://api.anthropic.com") == PROXY


def test_a_provider_reads_its_table(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read until a client is made", encoding="utf-8")
    path = write(tmp_path, f'[providers.openai]\nca_bundle = "{bundle}"\nproxy = "{PROXY}"\n')
    p = create_provider("openai", api_key="sk-test", env={"AGENTOS_LLM_CONFIG": str(path)})
    assert (p.transport.proxy, p.transport.ca_bundle, p.transport.proxy_source) == (PROXY, str(bundle),
                                                                                     f"config:{path}")


def test_env_variables_read_as_curl_reads_them() -> None:
    policy = resolve_transport(env={"https_proxy": "proxy:3128", "HTTPS_PROXY": "http://upper:1",
                                    "ALL_PROXY": "http://all:2"})
    assert policy.proxy_for("https://api.openai.com/v1") == "http://proxy:3128"  # lower case first, http:// added
    assert policy.proxy_for("http://gateway.corp/v1") == "http://all:2"  # no HTTP_PROXY: ALL_PROXY
    # httpoxy: under CGI, HTTP_PROXY may come from a request's "Proxy:" header, so only http_proxy counts.
    cgi = resolve_transport(env={"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"})
    assert cgi.proxy_for("http://gateway.corp") is None


@pytest.mark.parametrize(("entry", "url", "bypassed"), [
    ("*", "https://anything.example", True),
    ("example.com", "https://example.com", True),
    ("example.com", "https://api.example.com", True),
    ("example.com", "https://badexample.com", False),
    (".example.com", "https://api.example.com", True),
    ("*.example.com", "https://api.example.com", True),
    ("10.0.0.0/8", "http://10.1.2.3:8000", True),
    ("10.0.0.0/8", "http://11.1.2.3:8000", False),
    ("127.0.0.1", "http://127.0.0.1:11434", True),
    ("::1", "http://[::1]:8000", True),
    ("gateway.corp:8443", "https://gateway.corp:8443", True),
    ("gateway.corp:8443", "https://gateway.corp", False),
    ("LOCALHOST", "http://localhost:8000", True),
])
def test_no_proxy_entries(entry: str, url: str, bypassed: bool) -> None:
    policy = resolve_transport(env={"HTTPS_PROXY": PROXY, "HTTP_PROXY": PROXY, "NO_PROXY": f"other.host, {entry}"})
    assert policy.bypasses(url) is bypassed
    assert policy.proxy_for(url) == (None if bypassed else PROXY)


def test_no_proxy_applies_to_an_explicit_proxy_and_loopback_is_proxied_unless_left_to_discovery() -> None:
    policy = resolve_transport(config={"proxy": PROXY}, env={"NO_PROXY": "internal.corp"})
    assert policy.proxy_for("https://api.internal.corp") is None
    assert policy.proxy_for("http://127.0.0.1:8000", env_for_loopback=False) == PROXY  # asked for: used
    from_env = resolve_transport(env={"HTTP_PROXY": PROXY})
    assert from_env.proxy_for("http://127.0.0.1:8000") == PROXY
    assert from_env.proxy_for("http://localhost:8000", env_for_loopback=False) is None


def test_nothing_to_say_leaves_the_sdks_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    plain = resolve_transport(env={})
    assert not plain.managed
    assert httpx_client(plain, "https://api.openai.com", is_async=False, library="httpx2") is None
    assert genai_http_options(plain, "https://generativelanguage.googleapis.com") == {}
    assert botocore_options(plain, "https://bedrock-runtime.us-east-1.amazonaws.com") == ({}, {})
    # The process names a proxy the SDKs would read themselves, but the provider was given another env=:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    ambient = resolve_transport(env={})
    assert ambient.managed and ambient.proxy_for("https://api.openai.com") is None
    assert botocore_options(ambient, "https://bedrock-runtime.us-east-1.amazonaws.com")[0] == {"proxies": {}}


# ---------------------------------------------------------------------- checks


@pytest.mark.parametrize(("config", "message"), [
    ({"proxy": "ftp://proxy:21"}, r"proxy for openai \(argument\) is not a proxy URL: the scheme"),
    ({"proxy": "http://proxy:3128/path"}, "without a path"),
    ({"proxy": "http://:3128"}, "names no host"),
    ({"proxy": "http://proxy:99999"}, "the port"),
    ({"ca_bundle": "/no/such/ca.pem"}, r"ca_bundle for openai \(argument\) is not a file that exists \(/no/such"),
    ({"max_connections": 0}, "max_connections for openai .* from 1 to 10000"),
    ({"max_connections": True}, "max_connections"),
])
def test_bad_arguments_name_the_setting_and_the_fix(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        create_provider("openai", api_key="sk-test", env={}, **config)


def test_a_bad_env_proxy_names_the_variable_and_never_its_value() -> None:
    with pytest.raises(ConfigurationError, match="HTTPS_PROXY is not a proxy URL") as caught:
        resolve_transport(env={"HTTPS_PROXY": "ftp://user:hunter2-password@proxy:21"})
    assert "hunter2" not in str(caught.value)


def test_a_proxy_password_is_kept_out_of_logs_and_repr() -> None:
    policy = resolve_transport(config={"proxy": "http://agent:correct-horse-battery@proxy.internal:3128"}, env={})
    assert "correct-horse-battery" not in repr(policy)
    assert "correct-horse-battery" not in redact("407 from http://agent:correct-horse-battery@proxy.internal:3128")


def test_the_config_file_checks_proxy_ca_bundle_and_max_connections(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\napi_key = "sk-test-000000"\nproxy = "socks4://a:pw-secret@h:1"\n'
                           'ca_bundle = "/no/such/file.pem"\nmax_connections = 0\n')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert "line 3: [providers.openai] proxy: not a proxy URL" in text
    assert "line 4: [providers.openai] ca_bundle: not a file that exists" in text
    assert "line 5: [providers.openai] max_connections" in text
    assert "pw-secret" not in text and "/no/such/file.pem" not in text  # values are never quoted back


def test_a_pem_file_without_certificates_is_said_when_a_client_is_made(tmp_path: Path) -> None:
    bundle = tmp_path / "empty.pem"
    bundle.write_text("no certificate here\n", encoding="utf-8")
    policy = resolve_transport(config={"ca_bundle": str(bundle)}, env={})
    with pytest.raises(ConfigurationError, match="holds no usable PEM certificate"):
        policy.ssl_context()


# ---------------------------------------------------------------------- what each adapter is handed


def test_httpx_adapters_put_the_policy_in_the_transport() -> None:
    policy = TransportPolicy(proxy=PROXY, max_connections=4)
    client = httpx_client(policy, "https://api.cohere.com", is_async=False, library="httpx")
    assert isinstance(client, httpx.Client)
    pool: Any = client._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == 4 and pool._proxy_url.host == b"proxy.internal"
    direct = httpx_client(TransportPolicy(proxy=PROXY, no_proxy=("cohere.com",)), "https://api.cohere.com",
                          is_async=True, library="httpx2")
    assert isinstance(direct, httpx2.AsyncClient)
    assert not hasattr(direct._transport._pool, "_proxy_url")  # type: ignore[attr-defined]


def test_genai_gets_client_arguments_for_httpx_and_aiohttp(tmp_path: Path) -> None:
    options = genai_http_options(TransportPolicy(proxy=PROXY), "https://generativelanguage.googleapis.com")
    assert options["client_args"] == {"proxy": PROXY, "trust_env": False}
    assert options["async_client_args"] == {"proxy": PROXY, "trust_env": False}
    mine = httpx2.Client()
    with_client = genai_http_options(TransportPolicy(http_client=mine), "https://generativelanguage.googleapis.com")
    assert with_client == {"httpx_client": mine}
    mine.close()


def test_botocore_gets_proxies_pool_and_verify(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.touch()
    policy = TransportPolicy(proxy=PROXY, ca_bundle=str(bundle), max_connections=12)
    assert botocore_options(policy, "https://bedrock-runtime.us-east-1.amazonaws.com") == (
        {"proxies": {"http": PROXY, "https": PROXY}, "max_pool_connections": 12}, {"verify": str(bundle)})
    with pytest.raises(ConfigurationError, match="botocore cannot use the proxy socks5://"):
        botocore_options(TransportPolicy(proxy="socks5://proxy:1080"), "https://bedrock.us-east-1.amazonaws.com")
