"""Creating providers by id, and defining new named providers from a base.

`create_provider("openai")` looks the id up among defined providers, then the provider table, and
imports the implementation (and so its vendor SDK) only then.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from .apis import get_api, resolve_api
from .credentials import check_base_url
from .defaults import PROVIDERS, ProviderSpec, get_spec
from .errors import ConfigurationError, MissingDependencyError
from .pricing import register_prices
from .provider import EventStream, IProvider
from .provider_surface import register_icon
from .redaction import register_secret
from .sync_bridge import iterate_sync, run_sync

__all__ = [
    "ConfigValue",
    "OverrideContext",
    "ValueType",
    "create_provider",
    "define_provider",
    "defined_providers",
    "provider_class",
    "provider_const",
    "provider_env",
    "provider_value",
    "temporary_provider",
    "undefine_provider",
]

_SDK_MODULE = {"openai": "openai", "anthropic": "anthropic", "gemini": "google.genai", "bedrock": "boto3",
               "cohere": "cohere", "voyage": "httpx"}


def provider_class(provider_id: str, api: str | None = None) -> type[IProvider]:
    """The implementation class of a provider id over its default API or `api` (imports its module and SDK)."""
    defined = _DEFINED.get(provider_id)
    if defined is not None and api is None:
        return defined.cls
    spec = defined.spec if defined is not None else get_spec(provider_id)
    return _load_implementation(spec, api)


def _load_implementation(spec: ProviderSpec, api: str | None = None) -> type[IProvider]:
    api_id = resolve_api(spec.id, spec.label, spec.apis, spec.default_api, api)
    path = spec.implementation_for(api_id)
    module_name, _, class_name = path.partition(":")
    extra = get_api(api_id).extra
    try:
        module = importlib.import_module(module_name)
    except MissingDependencyError:
        raise
    except ImportError as exc:
        sdk = _SDK_MODULE.get(extra, extra)
        missing = getattr(exc, "name", None) or ""
        if missing and (missing == sdk or missing.startswith(sdk + ".") or sdk.startswith(missing + ".")):
            raise MissingDependencyError(extra, sdk) from exc
        raise
    cls: type[IProvider] = getattr(module, class_name)
    return cls


def create_provider(
    provider_id: str,
    *,
    api: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    default_headers: Mapping[str, str] | None = None,
    **config: Any,
) -> IProvider:
    """A ready provider for an id of the host table or of `define_provider`.

    `api` picks another wire API the host offers (`"responses"` or `"openai-responses"`, ...); an API it
    does not offer is a `ConfigurationError` listing the ones it does. `base_url` means what it means in
    the vendor's SDK (for OpenAI-compatible hosts, the URL before `/chat/completions`). A missing key
    raises `ConfigurationError` naming the env vars to set.
    """
    kwargs: dict[str, Any] = dict(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
                                  default_headers=default_headers, **config)
    defined = _DEFINED.get(provider_id)
    if defined is not None:
        return defined.create(kwargs, api)
    spec = get_spec(provider_id)
    return _load_implementation(spec, api)(spec=spec, **kwargs)


# ---------------------------------------------------------------------- define_provider


ValueType = Literal["str", "secret", "url", "int", "float", "bool"]
"""What an env var's value must be (`provider_env(..., value_type=...)`), checked when the provider is built."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_WHAT = {"str": "a string", "secret": "a non-empty secret", "url": "an http(s) URL", "int": "an integer",
         "float": "a number", "bool": "a boolean (true/false, 1/0, yes/no, on/off)"}


def _convert(value: Any, value_type: ValueType) -> Any:
    """`value` as `value_type`; ValueError when it is not one."""
    if value_type in ("str", "secret"):
        if not isinstance(value, str) or (value_type == "secret" and not value.strip()):
            raise ValueError
        return value
    if value_type == "url":
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError
        return value
    if value_type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, str) else None
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError
    if isinstance(value, bool):
        raise ValueError
    if value_type == "int":
        if isinstance(value, int):
            return value
        return int(str(value).strip(), 10)
    number = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    if not math.isfinite(number):
        raise ValueError
    return number


@dataclass(frozen=True)
class ConfigValue:
    """Where a defined provider's config value comes from: an env var (with a default) or a constant."""

    env: str | None = None
    default: Any = None
    required: bool = False
    secret: bool = False
    description: str = ""
    value: Any = None
    value_type: ValueType | None = None
    """What the env var's value must be; it is converted to it (an int, a float, a bool) when read."""

    def typed(self, value: Any, provider: str, origin: str) -> Any:
        """`value` checked and converted to `value_type`; a `ConfigurationError` naming the variable otherwise."""
        if self.value_type is None or value is None:
            return value
        try:
            return _convert(value, self.value_type)
        except (ValueError, TypeError, OverflowError):
            shown = "a value that is not one" if self.secret or self.value_type == "secret" else f"{value!r}"
            raise ConfigurationError(f"provider {provider!r}: {origin} must be {_WHAT[self.value_type]}, "
                                     f"not {shown}") from None

    def resolve(self, name: str, provider: str, environ: Mapping[str, str]) -> Any:
        """The value now: the env var if set, else the constant or default; missing required is an error."""
        if self.env is not None:
            found = environ.get(self.env)
            if found:
                return self.typed(found, provider, self.env)
            if self.default is not None:
                return self.typed(self.default, provider, f"the default of {self.env}")
            if self.required:
                what = f" ({self.description})" if self.description else ""
                raise ConfigurationError(f"provider {provider!r} needs {name}{what}: set {self.env}")
            return None
        return self.value


def provider_env(name: str, *, default: Any = None, required: bool = False, secret: bool = False,
                 description: str = "", value_type: ValueType | None = None) -> ConfigValue:
    """A config value read from the env var `name` when the provider is created.

    `value_type` ("str", "secret", "url", "int", "float", "bool") checks the value (and converts it) when the
    provider is built: a bad one is a `ConfigurationError` naming the variable. "secret" implies `secret=True`
    (the value is registered for redaction and never shown in errors).
    """
    if value_type is not None and value_type not in get_args(ValueType):
        raise ConfigurationError(f"value_type of {name} must be one of {', '.join(get_args(ValueType))}, "
                                 f"not {value_type!r}")
    return ConfigValue(env=name, default=default, required=required, secret=secret or value_type == "secret",
                       description=description, value_type=value_type)


def provider_value(value: Any) -> ConfigValue:
    """A constant config value."""
    return ConfigValue(value=value)


provider_const = provider_value
"""`provider_value` under the name Standard Agents gives it: a constant config value."""


@dataclass
class OverrideContext:
    """What an override sees: the provider, the method's arguments, and the resolved config."""

    provider: IProvider
    method: str
    args: dict[str, Any]
    config: dict[str, Any]


Override = Callable[[OverrideContext, Callable[[], Any]], Any]
_OVERRIDABLE = ("generate", "stream", "list_models", "get_model_info", "supports_model", "get_icon", "get_tools",
                "inspect_request", "get_response_metadata", "list_models_page", "get_model_capabilities")
_SYNC_TWINS = frozenset({"generate", "stream", "list_models", "get_model_info", "inspect_request", "list_models_page",
                         "get_model_capabilities"})
"""Async methods whose `_sync` twin goes through the override (run on the sync bridge)."""
_CONSTRUCTOR_KEYS = ("api_key", "base_url", "timeout", "max_retries", "default_headers", "default_model")


@dataclass
class _Defined:
    name: str
    base: type[IProvider]
    spec: ProviderSpec
    config: dict[str, ConfigValue]
    cls: type[IProvider]
    secret_envs: tuple[str, ...] = field(default=())
    prices: Mapping[str, Mapping[str, float]] | None = None
    icon: str | None = None
    base_host: str | None = None

    def register_extras(self) -> None:
        """Registers the definition's prices and icon (validated: a bad one raises `ConfigurationError`)."""
        register_prices(self.name, self.prices)
        register_icon(self.name, self.icon, self.base_host)

    def resolved_config(self, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        env = os.environ if environ is None else environ
        return {k: v.resolve(k, self.name, env) for k, v in self.config.items()}

    def create(self, kwargs: dict[str, Any], api: str | None = None) -> IProvider:
        environ = os.environ if kwargs.get("env") is None else kwargs["env"]
        values = self.resolved_config(environ)
        merged = {k: v for k, v in kwargs.items() if v is not None}
        for key, value in values.items():
            source = self.config[key]
            if source.secret and isinstance(value, str):
                register_secret(value)
            if key == "base_url" and "base_url" not in merged:  # a bad URL names its variable, and fails now
                check_base_url(value, source.env or "base_url", self.name)
            if key == "api_key" and source.env and environ.get(source.env):
                continue  # found by the spec's key_env, so credential_source names the env var
            if value is not None and key not in merged:
                merged[key] = value
        cls = self.cls
        if api is not None and resolve_api(self.name, self.spec.label, self.spec.apis, self.spec.default_api,
                                           api) != self.spec.default_api:
            cls = _load_implementation(self.spec, api)  # the host over another API: the base's, no overrides
        provider = cls(spec=self.spec, **merged)
        provider.defined_config = values  # type: ignore[attr-defined]
        return provider


_DEFINED: dict[str, _Defined] = {}


def defined_providers() -> dict[str, ProviderSpec]:
    """The providers made with `define_provider`, by name."""
    return {name: d.spec for name, d in _DEFINED.items()}


def define_provider(
    name: str,
    *,
    base: str | type[IProvider],
    label: str | None = None,
    config: Mapping[str, ConfigValue | Any] | None = None,
    overrides: Mapping[str, Override] | None = None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
    icon: str | None = None,
) -> type[IProvider]:
    """Defines a named provider built on a base provider (an id or a class), and registers it.

    `config` maps constructor keys (api_key, base_url, default_model, ...) to `provider_env(...)` or
    `provider_value(...)` (`provider_const(...)`); keys it does not set keep the base's own env defaults.
    `overrides` replace generate, stream, list_models, get_model_info, supports_model, get_icon, get_tools,
    inspect_request, get_response_metadata, list_models_page or get_model_capabilities with
    `fn(context, next)`, where `next()` calls the base (await it in async overrides). `prices` gives USD per
    1M tokens per model (`{"my-model": {"input": 0.5, "output": 1.5, "cached": 0.05, "cache_write": 0.6}}`),
    used for models no other price source knows (see docs/quota-and-cost.md). `icon` is an http(s) URL or a
    `data:` URI (`get_icon()`; default: the base host's). Everything is documented in docs/custom-providers.md.

    Where overrides run: an override of an async method runs on the caller's event loop when awaited; its
    `_sync` twin (`generate_sync`, `stream_sync`, `list_models_sync`, ...) runs that async method on the sync
    bridge, one shared daemon thread ("agentos-llm-sync-bridge") with its own event loop, and blocks the calling
    thread until it is done. So from a `_sync` call the override sees neither the caller's thread-locals nor
    its context variables, and a blocking call inside it stalls every other `_sync` call of defined providers.
    Overrides of sync methods (`supports_model`, `get_icon`, `get_tools`, `get_response_metadata`) run in the
    caller's thread, on its event loop when called from async code.

    The definition is process-wide (redefining a name replaces it); `undefine_provider(name)` removes it, and
    `with temporary_provider(name, ...)` defines one for a block only (tests).
    """
    if not name or "/" in name or ":" in name:
        raise ConfigurationError(f"a provider name cannot be empty or contain '/' or ':': {name!r}")
    if name in PROVIDERS:
        raise ConfigurationError(f"{name!r} is a built-in provider id; choose another name")
    if isinstance(base, str):
        base_spec = get_spec(base) if base not in _DEFINED else _DEFINED[base].spec
        base_cls = provider_class(base)
    else:
        base_cls = base
        base_spec = get_spec(base.provider_id) if base.provider_id in PROVIDERS else ProviderSpec(
            id=base.provider_id or name, label=label or name, implementation=None, extra="")
    values = {k: v if isinstance(v, ConfigValue) else provider_value(v) for k, v in (config or {}).items()}
    bad = [k for k in (overrides or {}) if k not in _OVERRIDABLE]
    if bad:
        raise ConfigurationError(f"cannot override {', '.join(bad)}; overridable: {', '.join(_OVERRIDABLE)}")
    unknown = [k for k in values if k not in _CONSTRUCTOR_KEYS and k not in base_cls.config_keys]
    if unknown:
        raise ConfigurationError(f"unknown config key(s) for {name!r}: {', '.join(unknown)}")
    register_prices(name, prices)  # validated here: a bad price fails the definition, not a later call
    for value in values.values():  # a default of the wrong type fails the definition too
        if value.env is not None and value.default is not None:
            value.typed(value.default, name, f"the default of {value.env}")
    register_icon(name, icon, base_spec.host_id)
    key_envs = tuple(v.env for k, v in values.items() if k == "api_key" and v.env)
    base_url_env = next((v.env for k, v in values.items() if k == "base_url" and v.env), base_spec.base_url_env)
    api_key_value = values.get("api_key")
    spec = replace(
        base_spec, id=name, label=label or name, implementation=None,
        key_env=key_envs or base_spec.key_env, base_url_env=base_url_env,
        key_required=bool(api_key_value.required) if api_key_value is not None else base_spec.key_required,
        detect_env=key_envs or base_spec.detect_env,
    )
    attrs: dict[str, Any] = {"provider_id": name, "__doc__": f"{label or name}: defined from {base_cls.__name__}."}
    for method, fn in (overrides or {}).items():
        attrs[method] = _wrap_override(method, fn, getattr(base_cls, method))
        if method in _SYNC_TWINS:
            attrs[f"{method}_sync"] = _sync_twin(method)
    cls = type(f"Defined_{name.replace('-', '_')}", (base_cls,), attrs)
    _DEFINED[name] = _Defined(name=name, base=base_cls, spec=spec, config=values, cls=cls, prices=prices, icon=icon,
                              base_host=base_spec.host_id)
    return cls


def undefine_provider(name: str) -> ProviderSpec | None:
    """Removes a `define_provider` definition, with its prices and icon; returns its spec (None: there was none).

    Providers already created from it keep working; `create_provider(name)` and `from_env()` no longer know
    the name. Built-in ids are not definitions and cannot be removed.
    """
    found = _DEFINED.pop(name, None)
    if found is None:
        return None
    register_prices(name, None)
    register_icon(name, None)
    return found.spec


@contextmanager
def temporary_provider(name: str, **definition: Any) -> Iterator[type[IProvider]]:
    """`define_provider(name, **definition)` for the length of a `with` block (a test's): yields the class, then
    removes the definition, or puts back the one the name had before."""
    before = _DEFINED.get(name)
    cls = define_provider(name, **definition)
    try:
        yield cls
    finally:
        undefine_provider(name)
        if before is not None:
            _DEFINED[name] = before
            before.register_extras()


def _wrap_override(method: str, fn: Override, base_method: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(base_method)
    is_async_method = inspect.iscoroutinefunction(base_method)

    def context(self: IProvider, args: tuple[Any, ...], kwargs: dict[str, Any]) -> OverrideContext:
        bound = signature.bind(self, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.pop("self", None)
        return OverrideContext(provider=self, method=method, args=arguments,
                               config=getattr(self, "defined_config", {}))

    if is_async_method:
        async def async_wrapper(self: IProvider, *args: Any, **kwargs: Any) -> Any:
            def call_next() -> Awaitable[Any]:
                return base_method(self, *args, **kwargs)  # type: ignore[no-any-return]

            result = fn(context(self, args, kwargs), call_next)
            return await result if inspect.isawaitable(result) else result

        async_wrapper.__name__ = method
        async_wrapper.__doc__ = base_method.__doc__
        return async_wrapper

    def wrapper(self: IProvider, *args: Any, **kwargs: Any) -> Any:
        def call_next() -> Any:
            return base_method(self, *args, **kwargs)

        return fn(context(self, args, kwargs), call_next)

    wrapper.__name__ = method
    wrapper.__doc__ = base_method.__doc__
    return wrapper


def _sync_twin(method: str) -> Callable[..., Any]:
    """A sync twin that goes through the (overridden) async method, so overrides apply to both."""

    if method == "stream":
        def stream_sync(self: IProvider, *args: Any, **kwargs: Any) -> Any:
            return EventStream(iterate_sync(self.stream(*args, **kwargs)))

        return stream_sync

    def twin(self: IProvider, *args: Any, **kwargs: Any) -> Any:
        return run_sync(getattr(self, method)(*args, **kwargs))

    twin.__name__ = f"{method}_sync"
    return twin
