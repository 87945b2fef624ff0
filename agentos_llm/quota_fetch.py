"""Asking a host what its key may still spend: `get_quota()` and `manager.quotas()` run here.

Which endpoint to ask comes, first found, from the `settings` argument, the config file's
`[providers.<id>.quota]` table, or the host row's preset (`ProviderSpec.quota`)::

    [providers.my-gateway.quota]
    path = "/quota"              # GET <base_url>/quota, answering the neutral contract
    # preset = "litellm"         # or a vendor preset (openrouter, litellm, deepseek) at its usual path ...
    # timeout = 10               # seconds, connecting and reading together
    # header = "X-Api-Key"       # where the key goes (default: Authorization), and its prefix:
    # scheme = ""                # "" sends the key alone (default: "Bearer")
    # [providers.my-gateway.quota.mapping]   # ... or an answer shape of its own (see quota_mapping)

The request is deliberately narrow, since it carries the key: https only (plain http to this machine
only), the host's own base URL only, no redirect followed, a JSON answer only, at most `max_bytes`, within
`timeout`. Every failure becomes a snapshot's status and message; nothing here raises.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .credentials import config_path, provider_config
from .errors import ConfigurationError, describe_error_body
from .http_bridge import TransportPolicy, transport_of
from .quota import QuotaSnapshot, QuotaStatus, QuotaWindow, header_windows
from .quota_mapping import (
    MappedQuota,
    MappingError,
    QuotaEndpoint,
    QuotaMapping,
    QuotaPreset,
    apply_mapping,
    check_path,
)
from .quota_presets import PRESET_NAMES, get_preset
from .rate_limits import RATE_LIMITS
from .redaction import redact

if TYPE_CHECKING:
    from .provider import IProvider

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "QuotaSettings",
    "fetch_quota",
    "fetch_quota_sync",
    "gather_quotas",
    "quota_settings",
]

DEFAULT_TIMEOUT = 10.0
"""Seconds one quota request may take, connecting and reading together."""
MAX_RESPONSE_BYTES = 1 << 20
"""The largest quota answer read (1 MiB)."""
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class QuotaSettings(BaseModel):
    """Where a host's quota is asked and how its answer reads: a `[providers.<id>.quota]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    preset: str | None = None
    """A preset name (`agentos_llm.quota_presets`), or "custom" with `mapping`; default: the host row's
    preset, else "custom" with a mapping, else "neutral"."""
    path: str | None = None
    """The endpoint's path, appended to the host's base URL (replaces a preset's first path)."""
    mapping: QuotaMapping | None = None
    header: str | None = None
    scheme: str | None = None
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=300)
    max_bytes: int = Field(default=MAX_RESPONSE_BYTES, gt=0, le=64 << 20)
    enabled: bool = True

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("an empty path; write it as /path, e.g. /quota")
        return None if value is None else check_path(value)

    @field_validator("header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is not None and (not value or not set(value) <= _TOKEN_CHARS):
            raise ValueError(f"{value!r} is not an HTTP header name")
        return value

    @field_validator("scheme")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is not None and any(c.isspace() for c in value):
            raise ValueError(f"{value!r} has blanks; a scheme is one word such as Bearer, or empty")
        return value

    @model_validator(mode="after")
    def _preset(self) -> QuotaSettings:
        known = (*PRESET_NAMES, "custom")
        if self.preset is not None and self.preset not in known:
            raise ValueError(f"preset {self.preset!r} is unknown; use one of {', '.join(known)}")
        if self.mapping is not None and self.preset not in (None, "custom"):
            raise ValueError(f"a mapping goes with preset = \"custom\", not {self.preset!r}")
        if self.preset == "custom" and self.mapping is None:
            raise ValueError("preset \"custom\" needs a mapping table")
        return self


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key: remove it or check its spelling"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _validate(data: Any, where: str) -> QuotaSettings:
    if isinstance(data, str):  # `quota = "litellm"`: a preset by name
        data = {"preset": data}
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where} must be a table (or a preset name), not {type(data).__name__}")
    try:
        return QuotaSettings.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigurationError(f"{where}: {_describe(exc)} (see docs/quota-and-cost.md)") from None


def quota_settings(provider: IProvider, settings: QuotaSettings | Mapping[str, Any] | None = None
                   ) -> QuotaSettings | None:
    """The quota settings in force for a provider (None: it has none); a bad table is a `ConfigurationError`
    naming the file and the key."""
    spec = provider.spec
    if settings is not None:
        return settings if isinstance(settings, QuotaSettings) else _validate(settings, "quota settings")
    path = config_path(provider._env)
    for section in dict.fromkeys((spec.id, spec.host_id)):
        table = provider_config(section, path).get("quota")
        if table is not None:
            return _validate(table, f"{path}: [providers.{section}.quota]")
    return QuotaSettings(preset=spec.quota) if spec.quota else None


# ---------------------------------------------------------------------- what to ask


@dataclass(frozen=True)
class _Plan:
    preset: QuotaPreset
    urls: tuple[str, ...]
    headers: Mapping[str, str]
    timeout: float
    max_bytes: int
    secret: str | None
    transport: TransportPolicy
    """The provider's proxy and CA bundle: quota requests leave the way its calls do."""


def _is_loopback(host: str | None) -> bool:
    from .discovery import is_loopback

    return is_loopback(host)


def _url(base_url: str, endpoint: QuotaEndpoint) -> str:
    base = base_url.rstrip("/")
    if endpoint.from_root and base.endswith("/v1"):
        base = base[:-3]
    return base + endpoint.path


def _check_url(url: str, provider: IProvider) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return
    raise ConfigurationError(
        f"refusing to send the key of {provider.provider_id} to {url}: quota requests go over https "
        "(plain http only to this machine); give the provider an https base_url")


def _preset(settings: QuotaSettings, provider: IProvider) -> QuotaPreset:
    name = settings.preset or ("custom" if settings.mapping else provider.spec.quota or "neutral")
    where = f"the quota of {provider.provider_id}"
    if name == "custom":
        assert settings.mapping is not None  # QuotaSettings checks it
        if not settings.path:
            raise ConfigurationError(f"{where}: a custom mapping needs path = \"/...\", the endpoint to ask")
        preset = QuotaPreset(name="custom", docs="config",
                             endpoints=(QuotaEndpoint(path=settings.path, mapping=settings.mapping),))
    else:
        preset = get_preset(name)
    first, *rest = preset.endpoints
    if settings.path:
        first = first.model_copy(update={"path": settings.path, "from_root": False})
    elif not first.path:
        raise ConfigurationError(f"{where}: the {name} preset needs path = \"/...\" (e.g. path = \"/quota\") "
                                 f"under [providers.{provider.spec.host_id}.quota]")
    update: dict[str, Any] = {"endpoints": (first, *rest)}
    if settings.header is not None:
        update["auth_header"] = settings.header
    if settings.scheme is not None:
        update["auth_scheme"] = settings.scheme
    return preset.model_copy(update=update)


def _plan(provider: IProvider, settings: QuotaSettings, timeout: float | None) -> _Plan:
    preset = _preset(settings, provider)
    if not provider.base_url:
        raise ConfigurationError(f"the quota of {provider.provider_id}: the provider has no base URL to ask")
    urls = tuple(_url(provider.base_url, e) for e in preset.endpoints)
    for url in urls:
        _check_url(url, provider)
    key = provider.api_key.get_secret_value() if provider.api_key is not None else None
    headers = {"User-Agent": "agentos-llm-quota"}
    if key:
        headers[preset.auth_header] = f"{preset.auth_scheme} {key}" if preset.auth_scheme else key
    transport = transport_of(provider)
    transport.ssl_context()  # a CA bundle gone since is a ConfigurationError here, so the snapshot says it
    return _Plan(preset, urls, headers, timeout or settings.timeout, settings.max_bytes, key, transport)


# ---------------------------------------------------------------------- asking


@dataclass(frozen=True)
class _Outcome:
    endpoint: QuotaEndpoint
    url: str
    mapped: MappedQuota | None = None
    status: QuotaStatus = "ok"
    message: str | None = None


async def _ask(plan: _Plan, endpoint: QuotaEndpoint, url: str, now: datetime) -> _Outcome:
    from .small_http import HttpFailure, request

    def failed(status: QuotaStatus, message: str) -> _Outcome:
        return _Outcome(endpoint, url, status=status, message=redact(message))

    try:
        answer = await request("GET", url, headers=plan.headers, timeout=plan.timeout, max_bytes=plan.max_bytes,
                               proxy=plan.transport.proxy_for(url), ssl_context=plan.transport.ssl_context())
    except HttpFailure as exc:
        if exc.timed_out:
            return failed("error", f"timed out: {exc.reason} (GET {url})")
        return failed("error", f"{exc.reason} (GET {url})")
    status = answer.status
    if 300 <= status < 400:
        where = answer.headers.get("location", "elsewhere")
        return failed("error", f"GET {url} was redirected (HTTP {status} to {where}); redirects are not "
                               "followed: configure the address it points to")
    body_text = answer.body.decode("utf-8", "replace")
    if status in (401, 403):
        why = "the key was refused" if plan.secret else "no key was sent: configure the provider's key"
        detail = describe_error_body(body_text)[0]
        return failed("unauthorized", f"HTTP {status} at {url}: {why}" + (f" ({detail[:200]})" if detail else ""))
    if not 200 <= status < 300:
        detail = describe_error_body(body_text)[0]
        return failed("error", f"HTTP {status} at {url}" + (f": {detail[:200]}" if detail else ""))
    content_type = answer.headers.get("content-type", "")
    if "json" not in content_type.lower():
        return failed("error", f"the answer at {url} is not JSON (content-type {content_type or 'missing'})")
    try:
        payload = json.loads(answer.body)
    except ValueError:
        return failed("error", f"the answer at {url} is malformed JSON")
    try:
        mapped = apply_mapping(endpoint.mapping, payload, now=now)
    except MappingError as exc:
        return failed("error", f"the answer at {url} does not fit the {plan.preset.name} mapping: {exc}")
    if not mapped.matched:
        return failed("error", f"the answer at {url} has none of the fields the {plan.preset.name} mapping reads")
    return _Outcome(endpoint, url, mapped)


def _row(provider: IProvider, now: datetime, **fields: Any) -> QuotaSnapshot:
    return QuotaSnapshot(provider=provider.provider_id, label=provider.label,
                         credential_source=provider.credential_source, fetched_at=now, **fields)


def _combine(provider: IProvider, plan: _Plan, outcomes: Sequence[_Outcome], heard: list[QuotaWindow],
             now: datetime) -> QuotaSnapshot:
    windows: list[QuotaWindow] = []
    fields: dict[str, Any] = {"balances": [], "url": plan.urls[0]}
    status: QuotaStatus = "ok"
    messages: list[str] = []
    for o in outcomes:
        if o.mapped is not None:
            windows.extend(o.mapped.windows)
            fields["balances"].extend(o.mapped.balances)
            if o.mapped.plan and not fields.get("plan"):
                fields["plan"] = o.mapped.plan
            if o.mapped.key and not fields.get("key") and not (plan.secret and plan.secret in o.mapped.key):
                fields["key"] = redact(o.mapped.key)
            messages.extend(o.mapped.notes)
        elif o.endpoint.required:
            status = o.status if status == "ok" else status
            messages.insert(0, o.message or o.status)
        else:
            messages.append(f"{o.message} (optional endpoint; the other numbers stand)")
    endpoint_numbers = bool(windows or fields["balances"])
    source = ("endpoint+headers" if endpoint_numbers and heard else "endpoint" if endpoint_numbers
              else "headers" if heard else None)
    return _row(provider, now, windows=windows + heard, status=status, source=source,
                message="; ".join(messages) or None, **fields)


def _unsupported_message(provider: IProvider) -> str:
    section = provider.spec.host_id
    return (f"{provider.label} has no quota endpoint known here; its rate limits show once a response has "
            f"carried them, and a gateway can name one: path = \"/quota\" under [providers.{section}.quota] "
            f"in {config_path(provider._env)}")


async def fetch_quota(provider: IProvider, *, timeout: float | None = None,
                      settings: QuotaSettings | Mapping[str, Any] | None = None) -> QuotaSnapshot:
    """The provider's quota snapshot: its quota endpoint (if it has one) plus the rate limits its latest
    responses carried. Never raises: failures are the snapshot's status and message."""
    now = datetime.now(timezone.utc)
    heard = header_windows(RATE_LIMITS.get(provider.provider_id, provider._listing_key()))
    try:
        chosen = quota_settings(provider, settings)
        plan = None if chosen is None or not chosen.enabled else _plan(provider, chosen, timeout)
    except ConfigurationError as exc:
        return _row(provider, now, windows=heard, status="error", message=redact(str(exc)),
                    source="headers" if heard else None)
    if plan is None:
        if heard:
            return _row(provider, now, windows=heard, source="headers")
        why = "quota requests are disabled (enabled = false)" if chosen is not None else _unsupported_message(provider)
        return _row(provider, now, status="unsupported", message=why)
    outcomes = await asyncio.gather(*(_ask(plan, e, u, now) for e, u in zip(plan.preset.endpoints, plan.urls,
                                                                              strict=True)))
    return _combine(provider, plan, outcomes, heard, now)


def fetch_quota_sync(provider: IProvider, *, timeout: float | None = None,
                     settings: QuotaSettings | Mapping[str, Any] | None = None) -> QuotaSnapshot:
    """`fetch_quota`, blocking (also from inside a running event loop)."""
    from .sync_bridge import run_sync

    return run_sync(fetch_quota(provider, timeout=timeout, settings=settings))


async def gather_quotas(providers: Sequence[IProvider], *, timeout: float = DEFAULT_TIMEOUT
                        ) -> list[QuotaSnapshot]:
    """Every provider's snapshot, asked concurrently, each within `timeout` seconds: one row per provider,
    in order, whatever fails or hangs."""

    async def one(provider: IProvider) -> QuotaSnapshot:
        now = datetime.now(timezone.utc)
        try:
            return await asyncio.wait_for(provider.get_quota(timeout=timeout), timeout)
        except asyncio.TimeoutError:
            return _row(provider, now, status="error", message=f"timed out: no quota answer within {timeout:g} s")
        except Exception as exc:  # a custom provider's get_quota must not sink the other rows
            return _row(provider, now, status="error", message=redact(f"{type(exc).__name__}: {exc}"))

    return list(await asyncio.gather(*(one(p) for p in providers)))
