"""Where keys and settings come from: the explicit argument, then the environment, then the user config file.

The config file is TOML, `~/.config/agentos-llm/config.toml` unless `AGENTOS_LLM_CONFIG` names another path;
its schema is `agentos_llm.config_schema` (documented in docs/credentials.md)::

    default_model = "openai/gpt-4.1-mini"

    [providers.openai]
    key_command = ["op", "read", "op://Private/OpenAI/credential"]
    profile = "work"

    [providers.openai.profiles.work]
    key_env = "WORK_OPENAI_KEY"

`resolve_settings` is what every provider (and so `from_env()`, the CLI and `create_provider`) reads: the key
and where it came from (`credential_source`, never the key), the profile, base URL, default model, headers
and model allowlist.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from .config_schema import ConfigFile, CredentialConfig, ProviderConfig, syntax_error, validate_config
from .defaults import ProviderSpec
from .errors import ConfigurationError
from .key_sources import KEYRING_SERVICE, keyring_secret, run_key_command, warn_if_exposed
from .redaction import register_secret

__all__ = [
    "CONFIG_ENV_VAR",
    "Credential",
    "ResolvedSettings",
    "check_base_url",
    "config_path",
    "load_config",
    "load_settings",
    "provider_config",
    "resolve_credential",
    "resolve_settings",
]

log = logging.getLogger("agentos_llm")

CONFIG_ENV_VAR = "AGENTOS_LLM_CONFIG"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The user config file's path (it need not exist)."""
    env = os.environ if env is None else env
    explicit = env.get(CONFIG_ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agentos-llm" / "config.toml"


CONFIG_RECHECK_SECONDS = 1.0
"""How long a loaded config file is trusted before its stat is checked again: every call prices itself
from the config, and a stat per call costs a system call that hands the GIL to other threads."""

_config_cache: dict[Path, tuple[float, tuple[int, int, int] | None, dict[str, Any], ConfigFile]] = {}
_EMPTY = ConfigFile.model_construct()  # no validator needed: an absent file builds no schema


def forget_cached_config() -> None:
    """Makes the next read check the config file again (the config writer calls it after each write)."""
    _config_cache.clear()


def _load(path: Path) -> tuple[dict[str, Any], ConfigFile]:
    now = time.monotonic()
    cached = _config_cache.get(path)
    if cached is not None and now - cached[0] < CONFIG_RECHECK_SECONDS:
        return cached[2], cached[3]
    try:
        st = path.stat()
        stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        stamp = None
    if cached is not None and cached[1] == stamp:
        _config_cache[path] = (now, *cached[1:])
        return cached[2], cached[3]
    if stamp is None:
        _config_cache[path] = (now, None, {}, _EMPTY)
        return {}, _EMPTY
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the config file {path}: {type(exc).__name__}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except ValueError as exc:
        raise syntax_error(path, exc) from None
    settings = validate_config(data, path, text)
    warn_if_exposed(path)
    for table in (*settings.providers.values(),
                  *(p for t in settings.providers.values() for p in t.profiles.values())):
        if table.api_key is not None:
            register_secret(table.api_key.get_secret_value())
    _config_cache[path] = (now, stamp, data, settings)
    return data, settings


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file ({} when absent); a broken or invalid file is a `ConfigurationError` naming the
    file, the line and the fix."""
    return dict(_load(config_path() if path is None else path)[0])


def load_settings(path: Path | None = None) -> ConfigFile:
    """The config file, validated (`agentos_llm.config_schema.ConfigFile`; empty when absent)."""
    return _load(config_path() if path is None else path)[1]


def provider_config(provider_id: str, path: Path | None = None) -> dict[str, Any]:
    """The `[providers.<id>]` table of the config file, as written."""
    section = load_config(path).get("providers", {})
    value = section.get(provider_id, {}) if isinstance(section, dict) else {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Credential:
    """A resolved key and where it came from (`argument`, `env:NAME`, `config:<path>`, `key_command:...`,
    `keyring:<service>`, `oauth:...`, with `#profiles.<name>` when a profile gave it; None: no key)."""

    api_key: SecretStr | None
    source: str | None
    profile: str | None = None


@dataclass(frozen=True)
class ResolvedSettings:
    """What a provider is built from, and where each part came from (no secret in any repr)."""

    credential: Credential
    profile: str | None
    """The profile chosen (argument, else the table's `profile`), whether or not it gave the key."""
    base_url: str | None
    default_model: str
    default_model_source: str | None
    headers: dict[str, str] = field(repr=False)  # may hold an Authorization header
    models: tuple[str, ...] | None
    """The allowlist (None: any model)."""
    section: str
    """The `[providers.<section>]` table these settings are read from."""
    config_path: Path
    from_config: bool
    """Whether the credential came from the config file (so discovery may write updates back to it)."""


@dataclass(frozen=True)
class _Tables:
    """The config tables that apply, most specific first: the profile's (with its name), then the provider's."""

    section: str
    path: Path
    profile: str | None
    tables: tuple[tuple[CredentialConfig, str | None], ...]

    def first(self, name: str) -> tuple[Any, str | None]:
        """The first value of a setting, and the profile it came from."""
        for table, profile in self.tables:
            value = getattr(table, name)
            if value is not None:
                return value, profile
        return None, None


def _tables(spec: ProviderSpec, settings: ConfigFile, path: Path, profile: str | None) -> _Tables:
    section = spec.id if spec.id in settings.providers else spec.host_id
    table: ProviderConfig | None = settings.providers.get(section)
    if table is None:
        if profile is not None:
            raise ConfigurationError(f"no profile {profile!r} for {spec.id}: {path} has no [providers.{spec.id}] "
                                     f"table; add [providers.{spec.id}.profiles.{profile}] (see docs/credentials.md)")
        return _Tables(section, path, None, ())
    name = profile if profile is not None else table.profile
    if name is None:
        return _Tables(section, path, None, ((table, None),))
    chosen = table.profiles.get(name)
    if chosen is None:
        raise ConfigurationError(
            f"no profile {name!r} for {spec.id} in {path}: add [providers.{section}.profiles.{name}] "
            f"(profiles there: {', '.join(table.profiles) or 'none'})")
    return _Tables(section, path, name, ((chosen, name), (table, None)))


def _from_table(found: _Tables, env: Mapping[str, str]) -> Credential | None:
    """The key a config table names (its profile's, else its own), run or looked up now."""
    for table, profile in found.tables:
        suffix = f"#profiles.{profile}" if profile else ""
        where = f"[providers.{found.section}{'.profiles.' + profile if profile else ''}] in {found.path}"
        if table.api_key is not None:
            return Credential(table.api_key, f"config:{found.path}{suffix}", profile)
        if table.key_env is not None:
            value = env.get(table.key_env)
            if not value:
                raise ConfigurationError(f"{where}: key_env names {table.key_env}, which is not set; set it, or "
                                         "name another variable")
            return Credential(SecretStr(value), f"env:{table.key_env}{suffix}", profile)
        if table.key_command is not None:
            value = run_key_command(table.key_command, where=where, timeout=table.key_command_timeout)
            return Credential(SecretStr(value), f"key_command:providers.{found.section}{suffix}", profile)
        if table.keyring is not None:
            service = KEYRING_SERVICE if table.keyring is True else str(table.keyring)
            user = f"{found.section}:{profile}" if profile else found.section
            return Credential(SecretStr(keyring_secret(service, user, where=where)), f"keyring:{service}{suffix}",
                              profile)
        if table.auth == "oauth":
            oauth: dict[str, Any] = {}
            for t, _ in reversed(found.tables):  # the provider's oauth table, then the profile's over it
                oauth.update(t.oauth or {})
            return _oauth(found, oauth, found.profile, env, where)
    return None


def _oauth(found: _Tables, oauth: dict[str, Any], profile: str | None, env: Mapping[str, str],
           where: str) -> Credential:
    """The OAuth seam: `agentos_llm.auth.current_token` returns (secret, source), refreshed when due, or None
    when nobody has signed in."""
    from .auth import current_token

    got = current_token(found.section, profile, {"auth": "oauth", "oauth": oauth})
    if got is None:
        login = f"agentos-llm login {found.section}" + (f" --profile {profile}" if profile else "")
        raise ConfigurationError(f'{where} says auth = "oauth", but nobody has signed in: run `{login}`')
    secret, source = got
    register_secret(secret)
    return Credential(SecretStr(secret), source, profile)


def resolve_settings(spec: ProviderSpec, *, api_key: str | SecretStr | None = None, base_url: str | None = None,
                     default_model: str | None = None, default_headers: Mapping[str, str] | None = None,
                     profile: str | None = None, env: Mapping[str, str] | None = None,
                     key_env: tuple[str, ...] | None = None) -> ResolvedSettings:
    """Everything a provider of `spec` is built from: arguments, then env vars, then the config file.

    An explicit `profile` puts that profile's key before the env vars; otherwise a key in the environment beats
    the config file. A broken config file is an error, unless `api_key` was passed (then it is logged and
    ignored, so code that passes its own key does not depend on the user's file).
    """
    env = os.environ if env is None else env
    path = config_path(env)
    try:
        settings = load_settings(path)
    except ConfigurationError as exc:
        if api_key is None:
            raise
        log.warning("ignoring the config file: %s", exc)
        settings = _EMPTY
    found = _tables(spec, settings, path, profile)
    credential, from_config = _credential(spec, found, api_key, env, key_env, explicit_profile=profile is not None)
    configured_model, model_profile = found.first("default_model")
    model: str
    model_source: str | None
    if default_model:
        model, model_source = default_model, "argument"
    elif configured_model:
        model = configured_model
        model_source = f"config:{path}" + (f"#profiles.{model_profile}" if model_profile else "")
    else:
        model, model_source = spec.default_model, ("host default" if spec.default_model else None)
    headers: dict[str, str] = {}
    for table, _ in reversed(found.tables):
        headers.update(table.headers or {})
    headers.update(default_headers or {})
    models, _ = found.first("models")
    return ResolvedSettings(
        credential=credential, profile=found.profile,
        base_url=check_base_url(*_base_url_from(spec, base_url, env, found), spec.id),
        default_model=model, default_model_source=model_source, headers=headers,
        models=tuple(models) if models is not None else None,
        section=found.section, config_path=path, from_config=from_config,
    )


def _credential(spec: ProviderSpec, found: _Tables, api_key: str | SecretStr | None, env: Mapping[str, str],
                key_env: tuple[str, ...] | None, *, explicit_profile: bool) -> tuple[Credential, bool]:
    """The key and whether the config file gave it."""
    names = spec.key_env if key_env is None else key_env
    result: Credential | None = None
    from_config = False
    if api_key is not None:
        result = Credential(api_key if isinstance(api_key, SecretStr) else SecretStr(api_key), "argument")
    if result is None and explicit_profile:
        result = _from_table(found, env)
        from_config = result is not None
    if result is None:
        name = next((n for n in names if env.get(n)), None)
        if name is not None:
            result = Credential(SecretStr(env[name]), f"env:{name}")
    if result is None and not explicit_profile:
        result = _from_table(found, env)
        from_config = result is not None
    if result is None:
        if spec.key_required:
            where = " or ".join(names) if names else "an api_key argument"
            raise ConfigurationError(
                f"no API key for {spec.label} ({spec.id}): set {where}, pass api_key=..., "
                f"or add api_key (or key_command, key_env, keyring) under [providers.{spec.id}] in {found.path}, "
                "or run: agentos-llm setup")
        return Credential(None, None), False
    register_secret(result.api_key.get_secret_value() if result.api_key else None)
    return result, from_config


def _base_url(spec: ProviderSpec, base_url: str | None, env: Mapping[str, str], found: _Tables) -> str | None:
    return _base_url_from(spec, base_url, env, found)[0]


def _base_url_from(spec: ProviderSpec, base_url: str | None, env: Mapping[str, str], found: _Tables
                   ) -> tuple[str | None, str]:
    """The base URL and the setting it came from (for errors)."""
    if base_url:
        return base_url, "base_url"
    if spec.base_url_env and env.get(spec.base_url_env):
        return env[spec.base_url_env], spec.base_url_env
    configured, _ = found.first("base_url")
    if configured:
        return str(configured), f"base_url under [providers.{found.section}] in {found.path}"
    return spec.base_url or None, f"the base URL of {spec.id}"


def check_base_url(url: str | None, setting: str, provider: str) -> str | None:
    """`url` when it is an http(s) URL with a host (None passes); otherwise a `ConfigurationError` naming the
    `setting` it came from, raised when the provider is built rather than after the first call's retries."""
    if url is None:
        return None
    problem = _url_problem(url)
    if problem is None:
        return url
    hint = ""
    if isinstance(url, str) and url and "://" not in url and not any(c.isspace() for c in url):
        local = url.startswith(("localhost", "127.", "0.0.0.0", "[::1]"))
        hint = f"; did you mean '{'http' if local else 'https'}://{url}'?"
    raise ConfigurationError(f"{setting} for {provider} is not a URL: {url!r} {problem} (it must look like "
                             f"'https://host[:port]/path'){hint}")


def _url_problem(url: object) -> str | None:
    if not isinstance(url, str):
        return f"is a {type(url).__name__}, not a string"
    if url != url.strip() or any(c.isspace() for c in url):
        return "contains whitespace"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError as exc:
        return f"cannot be parsed ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"has the scheme {parts.scheme!r}, not http or https" if parts.scheme else "has no scheme"
    if not parts.hostname:
        return "has no host"
    return None


def resolve_credential(spec: ProviderSpec, api_key: str | SecretStr | None = None, *,
                       env: Mapping[str, str] | None = None, key_env: tuple[str, ...] | None = None,
                       profile: str | None = None) -> Credential:
    """Finds the key for a provider row; raises `ConfigurationError` naming the env vars when required."""
    env = os.environ if env is None else env
    path = config_path(env)
    settings = load_settings(path) if api_key is None else _EMPTY
    found = _tables(spec, settings, path, profile)
    return _credential(spec, found, api_key, env, key_env, explicit_profile=profile is not None)[0]


def resolve_base_url(spec: ProviderSpec, base_url: str | None, *, env: Mapping[str, str] | None = None,
                     profile: str | None = None) -> str | None:
    """The base URL: the argument, then the row's env var, then the config file, then the row's default."""
    if base_url:
        return base_url
    env = os.environ if env is None else env
    path = config_path(env)
    return _base_url(spec, None, env, _tables(spec, load_settings(path), path, profile))
