"""Finding local and self-hosted model servers, and what they serve.

`discover_local_providers()` probes the self-hosted rows of the provider table (Ollama, vLLM, SGLang,
LM Studio, llama.cpp, LiteLLM, and `openai-compatible` when configured) at their configured base URL
(argument, `*_BASE_URL` env var, config file) or, failing that, their default loopback address.

Probing is deliberately small and strict, because it runs against whatever listens on those ports:

- only loopback hosts, or a host the user named (argument, env var or config file);
- every probe concurrent, each request bounded (connect and read together), the whole run bounded;
- every answer capped in size, read incrementally and dropped past the cap.

It speaks HTTP/1.1 over `asyncio` streams (`agentos_llm.small_http`) rather than through a vendor SDK
or an HTTP client library: nothing heavy is imported to find out whether a port answers, a hung server
is cancelled cleanly (a thread blocked in `urllib` cannot be), and the size cap applies while reading.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .credentials import config_path, provider_config, resolve_credential
from .defaults import PROVIDERS, ProviderSpec, get_spec
from .errors import ConfigurationError
from .http_bridge import TransportPolicy, resolve_transport
from .small_http import HttpFailure as _ProbeError
from .small_http import request
from .types import ModelInfo

if TYPE_CHECKING:
    from .provider import IProvider

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "DiscoveredProvider",
    "Discovery",
    "SkippedServer",
    "discover_local_providers",
    "discover_local_providers_sync",
    "is_loopback",
    "local_provider_ids",
]

DEFAULT_TIMEOUT = 1.0
"""Seconds one probe request may take, connecting and reading together."""
DEFAULT_DEADLINE = 3.0
"""Seconds the whole discovery may take; probes still running then are cancelled."""
MAX_RESPONSE_BYTES = 1 << 20
"""The largest answer read from a probed server (1 MiB); a larger one skips the server."""
_MAX_DETAILED = 32
"""Ollama models whose `/api/show` is read for their context length (the rest are listed by name)."""


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class DiscoveredProvider:
    """A server that answered: which row it is, where, what it serves, and how to build its provider."""

    provider_id: str
    base_url: str
    models: tuple[ModelInfo, ...]
    source: str
    """Where the base URL came from: "argument", "env:NAME", "config:<path>" or "default"."""
    default_model: str | None = None
    """The row's default model when the server lists it, else the first chat model listed."""

    def create(self, **kwargs: Any) -> IProvider:
        """A ready provider for this server (imports the provider's SDK); `kwargs` go to `create_provider`."""
        from .registry import create_provider

        if self.default_model:
            kwargs.setdefault("default_model", self.default_model)
        kwargs.setdefault("base_url", self.base_url)
        return create_provider(self.provider_id, **kwargs)


@dataclass(frozen=True)
class SkippedServer:
    """A server that was not probed, did not answer, or answered something unusable, and why."""

    provider_id: str
    base_url: str
    source: str
    reason: str
    answered: bool = False
    """Something listens there (it accepted, hung or answered): worth telling the user about."""
    probed: bool = True
    """False when the address was refused before any connection (not loopback, not http)."""


@dataclass(frozen=True)
class Discovery:
    """What `discover_local_providers` found, and what it skipped with the reason."""

    found: tuple[DiscoveredProvider, ...]
    skipped: tuple[SkippedServer, ...]

    def describe(self) -> str:
        """One line per server (and one per model found), for people."""
        lines: list[str] = []
        for f in self.found:
            where = "" if f.source == "default" else f" ({f.source})"
            lines.append(f"{f.provider_id}: found at {f.base_url}{where}, {len(f.models)} model(s)"
                         + (f", default {f.default_model}" if f.default_model else ""))
            lines.extend(f"    {m.id}" + (f"  context {m.context_window}" if m.context_window else "")
                         for m in f.models)
        lines.extend(f"{s.provider_id}: {'not found' if s.probed else 'not probed'} at {s.base_url}: {s.reason}"
                     for s in self.skipped)
        return "\n".join(lines) if lines else "no local server rows to probe"


# ---------------------------------------------------------------------- what to probe (pure)


def local_provider_ids() -> tuple[str, ...]:
    """The self-hosted rows of the provider table (no key required), in table order."""
    return tuple(pid for pid, spec in PROVIDERS.items() if not spec.key_required)


def is_loopback(host: str | None) -> bool:
    """Whether `host` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class _Target:
    spec: ProviderSpec
    base_url: str
    source: str
    api_key: str | None = field(default=None, repr=False)
    transport: TransportPolicy = field(default_factory=TransportPolicy)
    """The row's proxy and CA bundle (`[providers.<id>]` and the environment; agentos_llm.http_bridge)."""


def _base_url(spec: ProviderSpec, explicit: str | None, env: Mapping[str, str]) -> tuple[str | None, str]:
    """The URL to probe and where it came from (the precedence of `resolve_base_url`)."""
    if explicit:
        return explicit, "argument"
    if spec.base_url_env and env.get(spec.base_url_env):
        return env[spec.base_url_env], f"env:{spec.base_url_env}"
    path = config_path(env)
    configured = provider_config(spec.id, path).get("base_url")
    if isinstance(configured, str) and configured:
        return configured, f"config:{path}"
    return spec.base_url or None, "default"


def _plan(ids: Sequence[str], base_urls: Mapping[str, str], env: Mapping[str, str]
          ) -> tuple[list[_Target], list[SkippedServer]]:
    """The servers to probe (one per URL, configured ones first) and the ones refused outright."""
    candidates: list[tuple[ProviderSpec, str, str]] = []
    skipped: list[SkippedServer] = []
    for pid in ids:
        spec = get_spec(pid)
        url, source = _base_url(spec, base_urls.get(pid), env)
        if url is None:
            continue  # e.g. openai-compatible: no default address, nothing configured
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            skipped.append(SkippedServer(pid, url, source, "not an http(s) URL", probed=False))
        elif source == "default" and not is_loopback(parts.hostname):
            # Only hosts the user named are contacted beyond this machine.
            skipped.append(SkippedServer(pid, url, source, "not loopback, and not configured", probed=False))
        else:
            candidates.append((spec, url, source))
    candidates.sort(key=lambda c: c[2] == "default")  # stable: configured URLs claim their address first
    targets: list[_Target] = []
    seen: set[str] = set()
    for spec, url, source in candidates:
        if url.rstrip("/") in seen:
            continue
        seen.add(url.rstrip("/"))
        try:
            key = resolve_credential(spec, env=env).api_key
        except ConfigurationError:  # a row that wants a key it lacks: probe anyway, and say so on a 401
            key = None
        try:
            transport = resolve_transport(section=spec.id, config_path=config_path(env), env=env, where=spec.id)
        except ConfigurationError as exc:
            skipped.append(SkippedServer(spec.id, url, source, str(exc), probed=False))
            continue
        targets.append(_Target(spec, url, source, key.get_secret_value() if key is not None else None, transport))
    order = {pid: i for i, pid in enumerate(ids)}
    targets.sort(key=lambda t: order[t.spec.id])
    return targets, skipped


def _server_root(base_url: str) -> str:
    """The server root: the base URL without its trailing `/v1` (native APIs live there)."""
    root = base_url.rstrip("/")
    return root[:-3] if root.endswith("/v1") else root


# ---------------------------------------------------------------------- HTTP (agentos_llm.small_http)


def _auth_headers(api_key: str | None) -> dict[str, str]:
    headers = {"User-Agent": "agentos-llm-discover"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


@dataclass(frozen=True)
class _Fetch:
    """JSON over `_http` for one target, with its key, timeout and size cap."""

    target: _Target
    timeout: float
    max_bytes: int

    async def json(self, url: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        transport = self.target.transport
        # This machine's servers are probed directly unless the row names a proxy: one elsewhere cannot reach them.
        answer = await request("GET" if body is None else "POST", url, body=data,
                               headers=_auth_headers(self.target.api_key), timeout=self.timeout,
                               max_bytes=self.max_bytes, proxy=transport.proxy_for(url, env_for_loopback=False),
                               ssl_context=transport.ssl_context())
        status, raw = answer.status, answer.body
        path = urlsplit(url).path
        if status in (401, 403):
            spec = self.target.spec
            hint = "the key was refused" if self.target.api_key else f"it needs a key: set {spec.key_env[0]}"
            raise _ProbeError(f"HTTP {status} at {path}: {hint}", answered=True)
        if not 200 <= status < 300:
            raise _ProbeError(f"HTTP {status} at {path}", answered=True)
        try:
            return json.loads(raw)
        except ValueError:
            raise _ProbeError(f"the answer at {path} is not JSON", answered=True) from None

    async def optional(self, url: str, body: Any = None) -> Any:
        """`json`, or None when that one request fails (details a server may not offer)."""
        try:
            return await self.json(url, body)
        except _ProbeError:
            return None


# ---------------------------------------------------------------------- what each kind of server says


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _dig(item: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        item = item.get(name) if isinstance(item, Mapping) else None
    return item


# Where `/models` entries carry a context length: vLLM and SGLang `max_model_len`, LM Studio and others
# `context_length` / `context_window` / `max_context_length`, llama.cpp `meta.n_ctx_train` (its training
# context: `/props` says what is actually served, and wins).
_CONTEXT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("max_model_len",), ("context_length",), ("context_window",), ("loaded_context_length",),
    ("max_context_length",), ("meta", "n_ctx_train"),
)


def _listed_contexts(payload: Any) -> dict[str, int]:
    """Context length by model id from a `/models`-shaped body (first field of `_CONTEXT_FIELDS` found)."""
    out: dict[str, int] = {}
    for item in _dig(payload, ("data",)) or ():
        if isinstance(item, Mapping) and isinstance(item.get("id"), str):
            found = next((n for n in (_positive_int(_dig(item, f)) for f in _CONTEXT_FIELDS) if n), None)
            if found:
                out[item["id"]] = found
    return out


def _llamacpp_props(payload: Any) -> dict[str, int]:
    """llama.cpp `/props`: the context the server was started with, for its one model ("" = every model)."""
    n_ctx = _positive_int(_dig(payload, ("default_generation_settings", "n_ctx")))
    return {"": n_ctx} if n_ctx else {}


# Extra endpoints read for the context length actually served: (path at the server root, parser).
_SERVED_CONTEXT: dict[str, tuple[str, Callable[[Any], dict[str, int]]]] = {
    "llamacpp": ("/props", _llamacpp_props),
    "lmstudio": ("/api/v0/models", _listed_contexts),
}


async def _openai_models(fetch: _Fetch) -> list[ModelInfo]:
    from .wire.openai_chat import parse_model_list

    target = fetch.target
    payload = await fetch.json(target.base_url.rstrip("/") + "/models")
    models = parse_model_list(payload, provider=target.spec.id)
    listed = _listed_contexts(payload)
    served: dict[str, int] = {}
    extra = _SERVED_CONTEXT.get(target.spec.id)
    if extra is not None:
        path, parse = extra
        served = parse(await fetch.optional(_server_root(target.base_url) + path))
    return [m.model_copy(update={"context_window": served.get(m.id) or served.get("") or listed.get(m.id)
                                 or m.context_window}) for m in models]


async def _ollama_models(fetch: _Fetch) -> list[ModelInfo]:
    from .wire.openai_chat import parse_ollama_models

    root = _server_root(fetch.target.base_url)
    tags = await fetch.json(root + "/api/tags")
    listed = _dig(tags, ("models",))
    names = [n for n in (_dig(m, ("model",)) or _dig(m, ("name",)) for m in listed or ()) if isinstance(n, str)]
    shows = await asyncio.gather(*(fetch.optional(root + "/api/show", {"model": n}) for n in names[:_MAX_DETAILED]))
    detailed = {n: s for n, s in zip(names[:_MAX_DETAILED], shows, strict=True) if s is not None}
    return parse_ollama_models({"tags": tags, "show": detailed}, provider=fetch.target.spec.id)


# How each kind of server lists its models, by the row's `wire["models_api"]`.
_LISTERS: dict[str, Callable[[_Fetch], Awaitable[list[ModelInfo]]]] = {
    "openai": _openai_models,
    "ollama": _ollama_models,
}


def _default_model(spec: ProviderSpec, models: Sequence[ModelInfo]) -> str | None:
    """The row's default when served (Ollama adds `:latest`), else the first model that is not embeddings-only."""
    ids = {m.id for m in models}
    if spec.default_model:
        for name in (spec.default_model, f"{spec.default_model}:latest"):
            if name in ids:
                return name
    chat = [m.id for m in models if "embeddings" not in m.capabilities]
    first = chat or [m.id for m in models]
    return first[0] if first else spec.default_model or None


async def _probe(target: _Target, timeout: float, max_bytes: int) -> DiscoveredProvider | SkippedServer:
    spec = target.spec
    lister = _LISTERS.get(str(spec.wire.get("models_api", "openai")), _openai_models)
    try:
        models = await lister(_Fetch(target, timeout, max_bytes))
    except _ProbeError as exc:
        return SkippedServer(spec.id, target.base_url, target.source, exc.reason, exc.answered)
    except Exception as exc:  # an answer of the wrong shape: say so, never sink the other probes
        return SkippedServer(spec.id, target.base_url, target.source,
                             f"unexpected answer ({type(exc).__name__}: {exc})", True)
    return DiscoveredProvider(spec.id, target.base_url, tuple(models), target.source,
                              _default_model(spec, models))


# ---------------------------------------------------------------------- entry points


async def discover_local_providers(
    *,
    providers: Sequence[str] | None = None,
    base_urls: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Discovery:
    """Probes the local and configured model servers, concurrently, and returns what answered.

    `providers` limits the rows probed (default: every self-hosted row, see `local_provider_ids`);
    `base_urls` maps a row id to a URL to probe instead of its configured or default one (any host:
    you named it). `timeout` bounds each request, `deadline` the whole run, `max_bytes` each answer.
    """
    environ = os.environ if env is None else env
    ids = list(local_provider_ids() if providers is None else providers)
    ids += [pid for pid in (base_urls or {}) if pid not in ids]
    targets, skipped = _plan(ids, base_urls or {}, environ)
    tasks = [asyncio.ensure_future(_probe(t, timeout, max_bytes)) for t in targets]
    if tasks:
        await asyncio.wait(tasks, timeout=deadline)
    late = [t for t in tasks if not t.done()]
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)  # prompt: a cancelled probe only closes its socket
    found: list[DiscoveredProvider] = []
    for target, task in zip(targets, tasks, strict=True):
        result = None if task.cancelled() else task.result()
        if isinstance(result, DiscoveredProvider):
            found.append(result)
        else:
            skipped.append(result or SkippedServer(target.spec.id, target.base_url, target.source,
                                                   f"no whole answer within the {deadline:g} s deadline", True))
    return Discovery(found=tuple(found), skipped=tuple(skipped))


def discover_local_providers_sync(
    *,
    providers: Sequence[str] | None = None,
    base_urls: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> Discovery:
    """`discover_local_providers`, blocking (also from inside a running event loop)."""
    from .sync_bridge import run_sync

    return run_sync(discover_local_providers(providers=providers, base_urls=base_urls, env=env, timeout=timeout,
                                             deadline=deadline, max_bytes=max_bytes))
