"""The host HTTP bridge through a real forward proxy (proxy.py, run as a subprocess on 127.0.0.1) and a real TLS
server with a throwaway CA (trustme): every provider's sync and async clients, the environment's proxies and
NO_PROXY, CA bundles, the application's own HTTP clients, and the discovery and quota side requests.

"Through the proxy" is checked at both ends: the proxy's plugin logs the request (tests/proxy_plugin.py), and the
emulator receives the header that plugin adds on the way (plain http) or the tunnel ends at the TLS server (https).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import trustme
from bridge_servers import ForwardProxy, TLSFront
from local_servers import Imitation, send_json
from proxy_plugin import PROXY_HEADER

from agentos_llm import create_provider
from agentos_llm.discovery import discover_local_providers
from agentos_llm.errors import APIConnectionError, ConfigurationError
from agentos_llm.provider import IProvider
from agentos_llm.testing.emulator import WireEmulator

KEY = "test-key-not-real"
TLS_REFUSED = "TLS certificate verification failed"


@dataclass(frozen=True)
class Case:
    """One provider, called the way its API is: a chat, or (Voyage) an embedding."""

    pid: str
    model: str
    path: str
    suffix: str = ""
    kwargs: dict[str, Any] = field(default_factory=lambda: {"api_key": KEY})

    def make(self, root: str, **kw: Any) -> IProvider:
        return create_provider(self.pid, base_url=root + self.suffix, max_retries=0, **self.kwargs, **kw)

    def call(self, p: IProvider) -> str:
        if self.pid == "voyage":
            return str(len(p.embed_sync(self.model, ["hi"]).vectors))
        return p.generate_sync(self.model, "hi").text

    async def acall(self, p: IProvider) -> str:
        if self.pid == "voyage":
            return str(len((await p.embed(self.model, ["hi"])).vectors))
        return (await p.generate(self.model, "hi")).text


AWS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "not-a-real-secret-0000", "region": "us-east-1"}
CASES = [
    Case("openai", "gpt-4o-mini", "/v1/chat/completions", "/v1"),
    Case("anthropic", "claude-sonnet-4-5", "/v1/messages"),
    Case("gemini", "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:generateContent"),
    Case("cohere", "command-a-03-2025", "/v2/chat"),
    Case("voyage", "voyage-3.5", "/voyage/v1/embeddings", "/voyage/v1"),
    Case("bedrock", "amazon.nova-lite-v1:0", "/model/amazon.nova-lite-v1%3A0/converse", kwargs=AWS),
]
IDS = [c.pid for c in CASES]


# ---------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def forward_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForwardProxy]:
    server = ForwardProxy(tmp_path_factory.mktemp("proxy"))
    yield server
    server.stop()


@pytest.fixture
def proxy(forward_proxy: ForwardProxy) -> ForwardProxy:
    forward_proxy.clear()
    return forward_proxy


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A server context with a certificate for 127.0.0.1 from a throwaway CA, and that CA's PEM file."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    pem = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    return context, str(pem)


@pytest.fixture
def emu() -> Iterator[WireEmulator]:
    with WireEmulator() as server:
        yield server


@pytest.fixture
def tls(emu: WireEmulator, ca: tuple[ssl.SSLContext, str]) -> Iterator[TLSFront]:
    front = TLSFront(int(emu.url.rsplit(":", 1)[1]), ca[0])
    yield front
    front.close()


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No proxy, AWS or config setting of the machine leaks in; returns the config file's path (absent)."""
    import os

    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = tmp_path / "config.toml"
    monkeypatch.setenv("AGENTOS_LLM_CONFIG", str(config))
    return config


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def via_proxy(emu: WireEmulator) -> list[str | None]:
    """For each request the emulator received: the proxy's mark, or None when it came directly."""
    return [r.headers.get(PROXY_HEADER) for r in emu.requests]


# ---------------------------------------------------------------------- proxy=, every provider, both twins


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_proxy_argument_sends_sync_calls_through_the_proxy(case: Case, proxy: ForwardProxy, emu: WireEmulator
                                                           ) -> None:
    p = case.make(emu.url, proxy=proxy.url)
    try:
        assert case.call(p)
    finally:
        p.close()
    assert proxy.lines() == [f"POST 127.0.0.1:{port_of(emu.url)} {case.path}"]
    assert via_proxy(emu) == ["seen"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_proxy_argument_sends_async_calls_through_the_proxy(case: Case, proxy: ForwardProxy,
                                                                  emu: WireEmulator) -> None:
    p = case.make(emu.url, proxy=proxy.url)
    try:
        assert await case.acall(p)
    finally:
        await p.aclose()
    assert proxy.lines() == [f"POST 127.0.0.1:{port_of(emu.url)} {case.path}"]
    assert via_proxy(emu) == ["seen"]


def test_proxy_from_the_config_table(proxy: ForwardProxy, emu: WireEmulator, clean: Path) -> None:
    clean.write_text(f'[providers.openai]\nproxy = "{proxy.url}"\n', encoding="utf-8")
    p = CASES[0].make(emu.url)
    assert p.transport.proxy_source == f"config:{clean}"
    assert CASES[0].call(p)
    p.close()
    assert via_proxy(emu) == ["seen"] and len(proxy.lines()) == 1


# ---------------------------------------------------------------------- the environment: HTTP(S)_PROXY, NO_PROXY


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_http_proxy_env_is_used_for_loopback_until_no_proxy_names_it(
        case: Case, asynchronous: bool, proxy: ForwardProxy, emu: WireEmulator,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def one_call() -> None:
        p = case.make(emu.url)
        try:
            assert (await case.acall(p)) if asynchronous else case.call(p)
        finally:
            if asynchronous:
                await p.aclose()
            else:
                p.close()

    monkeypatch.setenv("HTTP_PROXY", proxy.url)  # NO_PROXY unset: loopback goes through the proxy too, as in curl
    await one_call()
    assert proxy.lines() == [f"POST 127.0.0.1:{port_of(emu.url)} {case.path}"]
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    await one_call()
    assert len(proxy.lines()) == 1  # the second call went directly
    assert via_proxy(emu) == ["seen", None]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_https_proxy_env_tunnels_tls_and_the_bundle_verifies_the_server(
        case: Case, proxy: ForwardProxy, tls: TLSFront, emu: WireEmulator, ca: tuple[ssl.SSLContext, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    p = case.make(tls.url, ca_bundle=ca[1])
    try:
        assert case.call(p)
    finally:
        p.close()
    assert [line.split() for line in proxy.lines()] == [["CONNECT", f"127.0.0.1:{tls.port}"]]
    assert [r.path for r in emu.requests] == [case.path]  # through the tunnel: the proxy saw no request inside


# ---------------------------------------------------------------------- CA bundles


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_server_of_another_ca_fails_on_tls_verification_until_the_bundle_is_given(
        case: Case, tls: TLSFront, emu: WireEmulator, ca: tuple[ssl.SSLContext, str]) -> None:
    plain = case.make(tls.url)
    with pytest.raises(APIConnectionError, match=TLS_REFUSED) as sync_error:
        case.call(plain)
    with pytest.raises(APIConnectionError, match=TLS_REFUSED):
        await case.acall(plain)
    plain.close()
    await plain.aclose()
    assert "ca_bundle" in str(sync_error.value) and f"[providers.{case.pid}]" in str(sync_error.value)
    assert emu.requests == []
    trusted = case.make(tls.url, ca_bundle=ca[1])
    try:
        assert case.call(trusted) and await case.acall(trusted)
    finally:
        trusted.close()
        await trusted.aclose()
    assert [r.path for r in emu.requests] == [case.path, case.path]


def test_ca_bundle_from_the_config_table(tls: TLSFront, ca: tuple[ssl.SSLContext, str], clean: Path) -> None:
    clean.write_text(f'[providers.anthropic]\nca_bundle = "{ca[1]}"\n', encoding="utf-8")
    p = CASES[1].make(tls.url)
    assert p.transport.ca_bundle == ca[1]
    assert CASES[1].call(p)
    p.close()


# ---------------------------------------------------------------------- the application's own HTTP clients


class Hooks:
    """Event hooks that count the requests a client sends, for httpx and httpx2, sync and async."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def sync(self, request: Any) -> None:
        self.urls.append(str(request.url))

    async def asynchronous(self, request: Any) -> None:
        self.urls.append(str(request.url))


@pytest.mark.parametrize(("case", "library"), [(CASES[0], httpx2), (CASES[0], httpx), (CASES[1], httpx2),
                                                (CASES[2], httpx2), (CASES[3], httpx), (CASES[4], httpx)],
                         ids=["openai-httpx2", "openai-httpx", "anthropic", "gemini", "cohere", "voyage"])
async def test_the_applications_clients_carry_the_calls(case: Case, library: Any, emu: WireEmulator) -> None:
    hooks = Hooks()
    client = library.Client(event_hooks={"request": [hooks.sync]})
    async_client = library.AsyncClient(event_hooks={"request": [hooks.asynchronous]})
    p = case.make(emu.url, http_client=client, async_http_client=async_client)
    try:
        assert case.call(p)
        assert await case.acall(p)
    finally:
        p.close()
        await p.aclose()
    assert [u.split("?")[0] for u in hooks.urls] == [emu.url + case.path] * 2
    assert [r.path for r in emu.requests] == [case.path] * 2


def test_the_applications_client_keeps_its_own_proxy(proxy: ForwardProxy, emu: WireEmulator) -> None:
    hooks = Hooks()
    client = httpx2.Client(proxy=proxy.url, event_hooks={"request": [hooks.sync]})
    p = CASES[0].make(emu.url, http_client=client)
    assert CASES[0].call(p)
    p.close()
    assert len(hooks.urls) == 1 and len(proxy.lines()) == 1 and via_proxy(emu) == ["seen"]


def test_clients_that_do_not_fit_are_refused_with_what_fits(emu: WireEmulator) -> None:
    with pytest.raises(ConfigurationError, match=r"takes httpx2\.Client as http_client, not Client"):
        CASES[1].call(CASES[1].make(emu.url, http_client=httpx.Client()))  # Anthropic's SDK takes httpx2 only
    with pytest.raises(ConfigurationError, match="must be a sync HTTP client"):
        CASES[0].make(emu.url, http_client=httpx2.AsyncClient())
    with pytest.raises(ConfigurationError, match="set proxy on the client you pass"):
        CASES[0].make(emu.url, http_client=httpx2.Client(), proxy="http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match=r"unknown configuration .*http_client"):
        CASES[5].make(emu.url, http_client=httpx.Client())  # botocore has no pluggable HTTP client
    assert emu.requests == []


def test_max_connections_reaches_each_pool(emu: WireEmulator) -> None:
    openai_p = CASES[0].make(emu.url, max_connections=3)
    pool = openai_p.client._client._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == 3
    bedrock_p = CASES[5].make(emu.url, max_connections=3)
    assert bedrock_p.client.meta.config.max_pool_connections == 3  # type: ignore[attr-defined]
    openai_p.close()
    bedrock_p.close()


# ---------------------------------------------------------------------- discovery and quota requests


async def test_discovery_goes_through_the_rows_proxy(proxy: ForwardProxy, emu: WireEmulator, clean: Path) -> None:
    clean.write_text(f'[providers.vllm]\nproxy = "{proxy.url}"\n', encoding="utf-8")
    result = await discover_local_providers(providers=["vllm"], base_urls={"vllm": emu.openai_base_url})
    assert [f.provider_id for f in result.found] == ["vllm"], result.describe()
    assert proxy.lines() == [f"GET 127.0.0.1:{port_of(emu.url)} /v1/models"]
    assert via_proxy(emu) == ["seen"]


async def test_discovery_probes_loopback_directly_despite_an_env_proxy(
        proxy: ForwardProxy, emu: WireEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    result = await discover_local_providers(providers=["vllm"], base_urls={"vllm": emu.openai_base_url})
    assert [f.provider_id for f in result.found] == ["vllm"], result.describe()
    assert proxy.lines() == [] and via_proxy(emu) == [None]


async def test_discovery_tunnels_https_with_the_rows_ca_bundle(
        proxy: ForwardProxy, tls: TLSFront, ca: tuple[ssl.SSLContext, str], clean: Path) -> None:
    clean.write_text(f'[providers.vllm]\nproxy = "{proxy.url}"\nca_bundle = "{ca[1]}"\n', encoding="utf-8")
    result = await discover_local_providers(providers=["vllm"], base_urls={"vllm": tls.url + "/v1"})
    assert [f.provider_id for f in result.found] == ["vllm"], result.describe()
    assert [line.split() for line in proxy.lines()] == [["CONNECT", f"127.0.0.1:{tls.port}"]]


QUOTA = {"tokens": {"used": 10, "limit": 100}}


@pytest.fixture
def quota_server() -> Iterator[Imitation]:
    server = Imitation({("GET", "/v1/quota"): lambda h, _b: send_json(h, QUOTA)})
    yield server
    server.close()


def quota_provider(base_url: str, clean: Path, extra: str = "", **kw: Any) -> IProvider:
    clean.write_text(f'[providers.openai-compatible]\n{extra}\n[providers.openai-compatible.quota]\n'
                     'path = "/quota"\n', encoding="utf-8")
    return create_provider("openai-compatible", api_key=KEY, base_url=base_url, **kw)


async def test_quota_request_goes_through_the_providers_proxy(proxy: ForwardProxy, quota_server: Imitation,
                                                               clean: Path) -> None:
    p = quota_provider(quota_server.url + "/v1", clean, proxy=proxy.url)
    snap = await p.get_quota()
    assert snap.status == "ok", snap.message
    assert proxy.lines() == [f"GET 127.0.0.1:{port_of(quota_server.url)} /v1/quota"]
    assert quota_server.requests == [("GET", "/v1/quota", f"Bearer {KEY}")]


async def test_quota_over_https_tunnels_through_the_env_proxy_with_the_bundle(
        proxy: ForwardProxy, quota_server: Imitation, ca: tuple[ssl.SSLContext, str], clean: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    front = TLSFront(port_of(quota_server.url), ca[0])
    try:
        refused = await quota_provider(front.url + "/v1", clean).get_quota()
        assert refused.status == "error" and TLS_REFUSED in str(refused.message)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        snap = await quota_provider(front.url + "/v1", clean, f'ca_bundle = "{ca[1]}"').get_quota()
    finally:
        front.close()
    assert snap.status == "ok", snap.message
    assert [line.split() for line in proxy.lines()] == [["CONNECT", f"127.0.0.1:{front.port}"]]
    assert quota_server.requests == [("GET", "/v1/quota", f"Bearer {KEY}")]


async def test_quota_says_when_the_proxy_refuses_the_tunnel(proxy: ForwardProxy, clean: Path) -> None:
    # Nothing listens on port 9: proxy.py answers the CONNECT with an error, and the snapshot says so.
    snap = await quota_provider("https://127.0.0.1:9/v1", clean, proxy=proxy.url).get_quota()
    assert snap.status == "error"
    assert "the proxy refused the tunnel to 127.0.0.1:9" in str(snap.message) and KEY not in str(snap.message)
