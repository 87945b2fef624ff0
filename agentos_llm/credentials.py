"""Where keys come from: the explicit argument, then the environment, then the user config file.

The config file is TOML, `~/.config/agentos-llm/config.toml` unless `AGENTOS_LLM_CONFIG` names
another path::

    [providers.openai]
    api_key = "sk-..."
    base_url = "https://gateway.example/v1"
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from .defaults import ProviderSpec
from .errors import ConfigurationError
from .redaction import register_secret

__all__ = ["CONFIG_ENV_VAR", "Credential", "config_path", "load_config", "resolve_credential"]

CONFIG_ENV_VAR = "AGENTOS_LLM_CONFIG"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The user config file's path (it need not exist)."""
    env = os.environ if env is None else env
    explicit = env.get(CONFIG_ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agentos-llm" / "config.toml"


_config_cache: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file ({} when absent); a broken file is a `ConfigurationError`."""
    path = config_path() if path is None else path
    try:
        stat = path.stat()
        mtime = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        return {}
    cached = _config_cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the config file {path}: {exc}") from None
    _config_cache[path] = (mtime, data)
    return dict(data)


def provider_config(provider_id: str, path: Path | None = None) -> dict[str, Any]:
    """The `[providers.<id>]` table of the config file."""
    section = load_config(path).get("providers", {})
    value = section.get(provider_id, {}) if isinstance(section, dict) else {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Credential:
    """A resolved key and where it came from (`argument`, `env:NAME`, `config:<path>`, or None)."""

    api_key: SecretStr | None
    source: str | None


def resolve_credential(spec: ProviderSpec, api_key: str | SecretStr | None = None, *,
                       env: Mapping[str, str] | None = None, key_env: tuple[str, ...] | None = None
                       ) -> Credential:
    """Finds the key for a provider row; raises `ConfigurationError` naming the env vars when required."""
    env = os.environ if env is None else env
    names = spec.key_env if key_env is None else key_env
    found: Credential | None = None
    if api_key is not None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        found = Credential(secret, "argument")
    else:
        for name in names:
            value = env.get(name)
            if value:
                found = Credential(SecretStr(value), f"env:{name}")
                break
        else:
            path = config_path(env)
            value = provider_config(spec.id, path).get("api_key")
            if isinstance(value, str) and value:
                found = Credential(SecretStr(value), f"config:{path}")
    if found is None:
        if spec.key_required:
            where = " or ".join(names) if names else "an api_key argument"
            raise ConfigurationError(
                f"no API key for {spec.label} ({spec.id}): set {where}, pass api_key=..., "
                f"or add api_key under [providers.{spec.id}] in {config_path(env)}"
            )
        return Credential(None, None)
    register_secret(found.api_key.get_secret_value() if found.api_key else None)
    return found


def resolve_base_url(spec: ProviderSpec, base_url: str | None, *, env: Mapping[str, str] | None = None
                     ) -> str | None:
    """The base URL: the argument, then the row's env var, then the config file, then the row's default."""
    if base_url:
        return base_url
    env = os.environ if env is None else env
    if spec.base_url_env and env.get(spec.base_url_env):
        return env[spec.base_url_env]
    configured = provider_config(spec.id, config_path(env)).get("base_url")
    if isinstance(configured, str) and configured:
        return configured
    return spec.base_url or None
