"""The host HTTP bridge: how a provider's requests leave the application.

One `TransportPolicy` per provider says which proxy to use, which CA bundle to trust, how many connections
to keep, and which HTTP client of the application's own to send through. Each setting comes, first found,
from the provider's argument (`create_provider("openai", proxy="http://proxy:3128")`), its config table
(`[providers.<id>]` or its profile: `proxy`, `ca_bundle`, `max_connections`), or the environment
(`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, either case). The user's clients (`http_client`,
`async_http_client`) are code-only.

Each vendor SDK takes transport settings its own way; the adapters below turn one policy into what each
expects (httpx / httpx2 clients for OpenAI, Anthropic, Cohere and Voyage, google-genai's `HttpOptions`, botocore's
`Config` and `verify`), and `agentos_llm.small_http` reads the same policy for discovery and quota requests.
When a policy has nothing to say (no proxy anywhere, no bundle, no limit, no client), the SDKs keep their
own defaults. Documented in docs/http-bridge.md. Only the standard library is imported here.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .errors import APIConnectionError, ConfigurationError
from .redaction import register_secret

if TYPE_CHECKING:
    import ssl

    from .provider import IProvider

__all__ = [
    "CLIENT_KEYS",
    "PROXY_SCHEMES",
    "TRANSPORT_KEYS",
    "TransportPolicy",
    "botocore_options",
    "ca_bundle_problem",
    "genai_http_options",
    "httpx_client",
    "proxy_url_problem",
    "resolve_transport",
    "tls_failure",
]

TRANSPORT_KEYS = frozenset({"proxy", "ca_bundle", "max_connections"})
"""Transport settings a provider takes as arguments and from its config table."""
CLIENT_KEYS = frozenset({"http_client", "async_http_client"})
"""The application's own HTTP clients (code only), for the providers whose SDK accepts one."""
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
_ENV_SCHEMES = ("https", "http", "all")
_MAX_CONNECTIONS = 10_000


# ---------------------------------------------------------------------- checks (shared with config_schema)


def proxy_url_problem(value: object) -> str | None:
    """What is wrong with a proxy URL ("http://[user:pass@]host:port"); None when nothing is."""
    if not isinstance(value, str) or not value.strip():
        return "not a proxy URL"
    parts = urlsplit(value)
    if parts.scheme not in PROXY_SCHEMES:
        return f"not a proxy URL: the scheme must be one of {', '.join(PROXY_SCHEMES)} (http://host:port)"
    try:
        port = parts.port
    except ValueError:
        return "not a proxy URL: the port is not a number from 0 to 65535"
    del port
    if not parts.hostname:
        return "not a proxy URL: it names no host (http://host:port)"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "not a proxy URL: a proxy is a host and port, without a path"
    return None


def ca_bundle_problem(value: object) -> str | None:
    """What is wrong with a CA bundle path (a PEM file that must exist); None when nothing is."""
    if not isinstance(value, str) or not value.strip():
        return "not a file path"
    if not Path(value).expanduser().is_file():
        return "not a file that exists"
    return None


def _max_connections_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_CONNECTIONS:
        return f"not a whole number from 1 to {_MAX_CONNECTIONS}"
    return None


def _env_proxy_url(value: str) -> str:
    # curl and httpx read "proxy:3128" in these variables as an http proxy.
    return value if "://" in value else f"http://{value}"


# ---------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class TransportPolicy:
    """How one provider's requests leave the application; the same answer for every HTTP stack it uses."""

    proxy: str | None = field(default=None, repr=False)  # may hold a password
    """The proxy given by argument or config table: used for every host not in `no_proxy`, loopback included."""
    proxy_source: str | None = None
    """Where `proxy` came from: "argument" or "config:<path>[#profiles.<name>]"."""
    env_proxies: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """(scheme, URL) from HTTPS_PROXY, HTTP_PROXY and ALL_PROXY (scheme "all"), used when `proxy` is None."""
    no_proxy: tuple[str, ...] = ()
    """NO_PROXY's entries: hosts, domain suffixes (".corp" or "corp"), IPs, CIDR ranges, "host:port", "*"."""
    ca_bundle: str | None = None
    """A PEM file of the CA certificates to trust instead of the default ones."""
    max_connections: int | None = None
    """The most connections one client keeps open (None: the SDK's default)."""
    http_client: Any = field(default=None, repr=False, compare=False)
    """The application's sync HTTP client (code only); the SDK sends through it as it is."""
    async_http_client: Any = field(default=None, repr=False, compare=False)
    """The application's async HTTP client (code only; it belongs to one event loop)."""
    ambient_proxies: bool = False
    """The process environment names proxies the SDKs would read on their own, though this policy was resolved
    from another `env=` mapping: the bridge then configures their clients itself so the mapping decides."""

    @property
    def managed(self) -> bool:
        """Whether the bridge configures the SDK's transport (False: the SDK's defaults are this policy)."""
        return bool(self.proxy or self.env_proxies or self.ca_bundle or self.max_connections
                    or self.ambient_proxies)

    def bypasses(self, url: str) -> bool:
        """Whether NO_PROXY sends requests to `url` directly."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = None
        return any(_no_proxy_matches(entry, host, port) for entry in self.no_proxy)

    def proxy_for(self, url: str, *, env_for_loopback: bool = True) -> str | None:
        """The proxy a request to `url` goes through (None: directly).

        `env_for_loopback=False`: an environment proxy is not used for this machine's own addresses
        (local-server discovery: a proxy elsewhere cannot reach them); an explicit `proxy` still is.
        """
        parts = urlsplit(url)
        if not parts.hostname or self.bypasses(url):
            return None
        if self.proxy is not None:
            return self.proxy
        if not env_for_loopback and _is_loopback(parts.hostname):
            return None
        env = dict(self.env_proxies)
        return env.get(parts.scheme) or env.get("all")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A context trusting `ca_bundle` alone (None: the library's default trust)."""
        if self.ca_bundle is None:
            return None
        path = Path(self.ca_bundle)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            raise ConfigurationError(f"ca_bundle {self.ca_bundle} is gone: no such file") from None
        return _context(str(path), stamp)


@lru_cache(maxsize=16)
def _context(path: str, _stamp: int) -> ssl.SSLContext:
    import ssl  # only when a bundle is configured

    try:
        return ssl.create_default_context(cafile=path)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigurationError(f"ca_bundle {path} holds no usable PEM certificate: {exc}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _no_proxy_matches(entry: str, host: str, port: int | None) -> bool:
    entry = entry.strip().lower()
    if not entry or not host:
        return False
    if entry == "*":
        return True
    try:
        network = ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        network = None
    if network is not None:
        try:
            return ipaddress.ip_address(host.strip("[]")) in network
        except ValueError:
            return False
    name, sep, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    if sep:
        if not entry_port.isdigit() or int(entry_port) != port:
            return False
        entry = name
    domain = entry.removeprefix("*").lstrip(".")
    return host == domain or host.endswith("." + domain)


# ---------------------------------------------------------------------- resolution


def _env_settings(env: Mapping[str, str]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(scheme, proxy URL) pairs and NO_PROXY's entries, read the way curl and Python's urllib read them."""
    proxies: list[tuple[str, str]] = []
    for scheme in _ENV_SCHEMES:
        lower, upper = f"{scheme}_proxy", f"{scheme.upper()}_PROXY"
        # A CGI request can set HTTP_PROXY through its "Proxy:" header (httpoxy): urllib's rule, kept.
        names = (lower,) if scheme == "http" and "REQUEST_METHOD" in env else (lower, upper)
        value = next((env[n].strip() for n in names if env.get(n, "").strip()), None)
        if value is None:
            continue
        url = _env_proxy_url(value)
        problem = proxy_url_problem(url)
        if problem is not None:
            raise ConfigurationError(f"{upper} is {problem}; fix or unset it")
        proxies.append((scheme, url))
    raw = env.get("no_proxy") or env.get("NO_PROXY") or ""
    return tuple(proxies), tuple(e.strip() for e in raw.split(",") if e.strip())


def _config_tables(section: str | None, profile: str | None, path: Path | None) -> list[tuple[Any, str]]:
    """The config tables that apply (the profile's, then the provider's), each with where it is."""
    if section is None or path is None:
        return []
    from .credentials import load_settings

    try:
        table = load_settings(path).providers.get(section)
    except ConfigurationError:  # a broken file a provider goes on without (it was given its key): so do we
        return []
    if table is None:
        return []
    tables: list[tuple[Any, str]] = []
    profile = profile if profile is not None else table.profile
    chosen = table.profiles.get(profile) if profile else None
    if chosen is not None:
        tables.append((chosen, f"config:{path}#profiles.{profile}"))
    tables.append((table, f"config:{path}"))
    return tables


def resolve_transport(*, config: Mapping[str, Any] | None = None, section: str | None = None,
                      profile: str | None = None, config_path: Path | None = None,
                      env: Mapping[str, str] | None = None, where: str = "the provider") -> TransportPolicy:
    """The policy from arguments (`config`: proxy, ca_bundle, max_connections, http_client,
    async_http_client), then the `[providers.<section>]` table (its `profile` first), then `env`
    (default: the process environment). A bad value is a `ConfigurationError` naming it and its source."""
    given = dict(config or {})
    process = os.environ
    environ = process if env is None else env
    tables = _config_tables(section, profile, config_path)

    def first(name: str) -> tuple[Any, str | None]:
        if given.get(name) is not None:
            return given[name], "argument"
        for table, source in tables:
            value = getattr(table, name, None)
            if value is not None:
                return value, source
        return None, None

    proxy, proxy_source = first("proxy")
    ca_bundle, ca_source = first("ca_bundle")
    limit, limit_source = first("max_connections")
    for name, value, source, check in (("proxy", proxy, proxy_source, proxy_url_problem),
                                       ("ca_bundle", ca_bundle, ca_source, ca_bundle_problem),
                                       ("max_connections", limit, limit_source, _max_connections_problem)):
        problem = None if value is None else check(value)
        if problem is not None:
            shown = f" ({value})" if name == "ca_bundle" else ""  # a proxy URL may hold a password: never shown
            raise ConfigurationError(f"{name} for {where} ({source}) is {problem}{shown}")
    http_client, async_client = given.get("http_client"), given.get("async_http_client")
    if http_client is not None and not callable(getattr(http_client, "close", None)):
        raise ConfigurationError(f"http_client for {where} must be a sync HTTP client (httpx.Client, "
                                 f"httpx2.Client), not {type(http_client).__name__}; an async one goes in "
                                 "async_http_client")
    if async_client is not None and not callable(getattr(async_client, "aclose", None)):
        raise ConfigurationError(f"async_http_client for {where} must be an async HTTP client (httpx.AsyncClient, "
                                 f"httpx2.AsyncClient), not {type(async_client).__name__}")
    clashes = sorted(k for k in TRANSPORT_KEYS if given.get(k) is not None)
    if clashes and (http_client is not None or async_client is not None):
        raise ConfigurationError(f"{where}: {', '.join(clashes)} and your own HTTP client both given: set "
                                 f"{', '.join(clashes)} on the client you pass instead (it is used as it is)")
    env_proxies, no_proxy = _env_settings(environ)
    for url in (proxy, *(u for _, u in env_proxies)):
        password = urlsplit(url).password if url else None
        if password:
            register_secret(unquote(password))  # kept out of logs and error messages
    ambient = environ is not process and any(
        process.get(n) for s in _ENV_SCHEMES for n in (f"{s}_proxy", f"{s.upper()}_PROXY"))
    return TransportPolicy(
        proxy=proxy, proxy_source=proxy_source, env_proxies=env_proxies, no_proxy=no_proxy,
        ca_bundle=str(Path(ca_bundle).expanduser()) if ca_bundle is not None else None, max_connections=limit,
        http_client=http_client, async_http_client=async_client, ambient_proxies=ambient)


def transport_of(provider: IProvider) -> TransportPolicy:
    """The provider's policy (`IProvider.transport`), or the environment's for a provider built without one."""
    policy = getattr(provider, "transport", None)
    return policy if isinstance(policy, TransportPolicy) else resolve_transport(env=provider._env)


# ---------------------------------------------------------------------- adapters, one per HTTP stack


def _check_client(client: Any, libraries: tuple[str, ...], is_async: bool, where: str) -> Any:
    names = [f"{lib}.{'AsyncClient' if is_async else 'Client'}" for lib in libraries]
    for lib in libraries:
        try:
            module = importlib.import_module(lib)
        except ImportError:
            continue
        if isinstance(client, module.AsyncClient if is_async else module.Client):
            return client
    key = "async_http_client" if is_async else "http_client"
    raise ConfigurationError(f"{where} takes {' or '.join(names)} as {key}, not {type(client).__name__}")


def _transport(policy: TransportPolicy, url: str, library: str, is_async: bool, limits: Any) -> Any:
    module = importlib.import_module(library)
    if limits is None and library == "httpx2":
        # The OpenAI and Anthropic SDKs' own pool (their DEFAULT_CONNECTION_LIMITS), kept behind a proxy too.
        limits = module.Limits(max_connections=1000, max_keepalive_connections=100)
    if policy.max_connections is not None:
        keepalive = getattr(limits, "max_keepalive_connections", None) if limits is not None else None
        limits = module.Limits(max_connections=policy.max_connections,
                               max_keepalive_connections=min(policy.max_connections, keepalive or 20))
    cls = module.AsyncHTTPTransport if is_async else module.HTTPTransport
    kwargs: dict[str, Any] = {"verify": policy.ssl_context() or True, "proxy": policy.proxy_for(url)}
    if limits is not None:
        kwargs["limits"] = limits
    return cls(**kwargs)


def httpx_client(policy: TransportPolicy, url: str, *, is_async: bool, library: str = "httpx",
                 accepts: tuple[str, ...] | None = None, factory: Callable[..., Any] | None = None,
                 limits: Any = None, always: bool = False, where: str = "this provider", **kwargs: Any) -> Any:
    """The HTTP client an SDK should send `url`'s requests through: the application's own (type-checked against
    `accepts`), else a new `library` client (`factory(**kwargs)`, by default `library.Client`/`AsyncClient`)
    whose transport carries the policy; None when the policy has nothing to say and `always` is False (the
    SDK's default client is then the same policy). `limits`: the connection limits to keep unless the policy
    sets `max_connections`."""
    user = policy.async_http_client if is_async else policy.http_client
    if user is not None:
        return _check_client(user, accepts or (library,), is_async, where)
    if not policy.managed and not always:
        return None
    module = importlib.import_module(library)
    make = factory or (module.AsyncClient if is_async else module.Client)
    if policy.managed:
        kwargs["transport"] = _transport(policy, url, library, is_async, limits)
    elif limits is not None:
        kwargs["limits"] = limits
    return make(**kwargs)


def genai_http_options(policy: TransportPolicy, url: str, where: str = "gemini") -> dict[str, Any]:
    """`google.genai.types.HttpOptions` fields for the policy: the application's clients, or client arguments.

    The sync client is httpx or httpx2; the async side is aiohttp when installed (it takes `proxy` and `ssl`
    per request, and reads the process environment for proxies on its own), else httpx/httpx2.
    """
    options: dict[str, Any] = {}
    if policy.http_client is not None:
        options["httpx_client"] = _check_client(policy.http_client, ("httpx2", "httpx"), False, where)
    if policy.async_http_client is not None:
        options["httpx_async_client"] = _check_client(policy.async_http_client, ("httpx2", "httpx"), True, where)
    if not policy.managed:
        return options
    args: dict[str, Any] = {"proxy": policy.proxy_for(url), "trust_env": False}
    context = policy.ssl_context()
    if context is not None:
        args["verify"] = context
    if policy.max_connections is not None:
        library = "httpx2" if _importable("httpx2") else "httpx"
        args["limits"] = importlib.import_module(library).Limits(max_connections=policy.max_connections)
    if "httpx_client" not in options:
        options["client_args"] = dict(args)
    if "httpx_async_client" not in options:
        # The SDK keeps the arguments each async stack takes: aiohttp's `ssl`, httpx's `verify`, both `proxy`.
        options["async_client_args"] = {**args, **({"ssl": context} if context is not None else {})}
    return options


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def botocore_options(policy: TransportPolicy, url: str, where: str = "bedrock"
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(`botocore.config.Config` arguments, `session.client` arguments) for the policy and endpoint `url`.

    botocore reads proxies from the process environment unless `proxies` is given, so a managed policy always
    gives it ({} for directly); a CA bundle is the client's `verify`; the limit is `max_pool_connections`.
    """
    config: dict[str, Any] = {}
    if policy.managed:
        proxy = policy.proxy_for(url)
        if proxy is not None and not proxy.startswith(("http://", "https://")):
            raise ConfigurationError(f"{where}: botocore cannot use the proxy {proxy.split('://')[0]}://...; "
                                     "give an http:// or https:// proxy")
        config["proxies"] = {"http": proxy, "https": proxy} if proxy else {}
    if policy.max_connections is not None:
        config["max_pool_connections"] = policy.max_connections
    client = {"verify": policy.ca_bundle} if policy.ca_bundle is not None else {}
    return config, client


# ---------------------------------------------------------------------- errors


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: causes, contexts, and exceptions held in args or attributes (urllib3, aiohttp)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 32:
        item = todo.pop()
        if any(item is s for s in seen):
            continue
        seen.append(item)
        nested = [item.__cause__, item.__context__, getattr(item, "reason", None),
                  getattr(item, "certificate_error", None), *(getattr(item, "kwargs", None) or {}).values(),
                  *item.args]
        todo.extend(n for n in nested if isinstance(n, BaseException))
    return seen


def tls_failure(exc: BaseException, provider: IProvider) -> APIConnectionError | None:
    """An `APIConnectionError` naming TLS verification when `exc` comes from a certificate the client refused."""
    import ssl  # loaded already by whatever made a TLS connection

    refusals = [item for item in _chain(exc) if isinstance(item, ssl.SSLCertVerificationError)
                or (isinstance(item, ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(item))]
    if not refusals:
        return None
    # OpenSSL's own reason where a wrapper kept it (aiohttp's error subclasses the ssl one without it).
    detail = next((str(m) for r in refusals if (m := getattr(r, "verify_message", None))), str(refusals[0]))
    where = provider.base_url or provider.spec.label
    section = provider._settings.section if hasattr(provider, "_settings") else provider.provider_id
    return APIConnectionError(
        f"TLS certificate verification failed for {where}: {detail}; if a proxy or gateway presents a "
        f"certificate of its own CA, pass ca_bundle=\"/path/ca.pem\" or set ca_bundle under "
        f"[providers.{section}]", provider=provider.provider_id)


def is_loopback_url(url: str) -> bool:
    """Whether a URL's host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname
    return bool(host) and _is_loopback(str(host))
