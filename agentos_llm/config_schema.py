"""The schema of the user config file (`~/.config/agentos-llm/config.toml`), and errors people can act on.

`validate_config(data, path, text)` checks a parsed file against pydantic models that refuse unknown keys.
A failure is a `ConfigurationError` naming the file, the line (found in the text: tomllib gives lines only
for syntax errors), the table and key, what is wrong, and the fix, with the nearest known key for a typo.
Values are never quoted back: a misplaced key may hold a secret. The schema is documented in
docs/credentials.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from .errors import ConfigurationError
from .http_bridge import ca_bundle_problem, proxy_url_problem

__all__ = [
    "CREDENTIAL_METHODS",
    "DISCOVERED_FIELDS",
    "ConfigFile",
    "CredentialConfig",
    "LimitsConfig",
    "ProviderConfig",
    "ResilienceConfig",
    "config_problems",
    "find_line",
    "invalid_config",
    "syntax_error",
    "validate_config",
]

DOCS = "docs/credentials.md"
CREDENTIAL_METHODS = ("api_key", "key_command", "key_env", "keyring")
"""The ways a credential table names its key (at most one per table; `auth = "oauth"` is another)."""
DISCOVERED_FIELDS = ("account_id", "project_id", "plan", "next_refresh")
"""What model discovery may learn about a credential and persist (`config_writer.update_credential`)."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built by the first config file read


class CredentialConfig(_Strict):
    """One credential and its settings: a `[providers.<id>]` table or a `[providers.<id>.profiles.<name>]`."""

    auth: Literal["api_key", "oauth"] | None = None
    """"api_key" (the default) or "oauth" (then the `oauth` table says how to sign in)."""
    api_key: SecretStr | None = None
    key_command: str | list[str] | None = None
    """A command printing the key (a password manager's CLI), run without a shell; a string is split like a shell."""
    key_command_timeout: float | None = Field(default=None, gt=0, le=600)
    key_env: str | None = None
    """The name of an env var holding the key."""
    keyring: bool | str | None = None
    """True (service "agentos-llm") or a service name: the key is read from the OS keyring."""
    oauth: dict[str, Any] | None = Field(default=None, repr=False)  # may hold a client secret
    """The OAuth settings, used when `auth = "oauth"` (free-form here: `agentos_llm.auth` checks them)."""
    base_url: str | None = None
    default_model: str | None = None
    models: list[str] | None = None
    """The allowlist: the only models generate, stream and count_tokens may use with this credential."""
    headers: dict[str, str] | None = Field(default=None, repr=False)  # may hold an Authorization header
    proxy: str | None = Field(default=None, repr=False)  # may hold the proxy's user and password
    """The proxy this provider's requests go through, "http://host:port" (docs/http-bridge.md)."""
    ca_bundle: str | None = None
    """A PEM file of the CA certificates to trust instead of the default ones."""
    max_connections: int | None = Field(default=None, gt=0, le=10_000)
    """The most connections one HTTP client of this provider keeps open."""
    account_id: str | None = None
    project_id: str | None = None
    plan: str | None = None
    next_refresh: datetime | date | None = None

    @field_validator("key_command")
    @classmethod
    def _command(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is not None and (not value or (isinstance(value, list) and not all(value))):
            raise ValueError("an empty command")
        return value

    @field_validator("key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("not an environment variable name")
        return value

    @field_validator("keyring")
    @classmethod
    def _keyring(cls, value: bool | str | None) -> bool | str | None:
        if value == "" or value is False:
            raise ValueError("an empty service name")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError("not an http(s) URL")
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        problem = None if value is None else proxy_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: str | None) -> str | None:
        problem = None if value is None else ca_bundle_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not all(value):
            raise ValueError("an empty model name")
        return value

    @model_validator(mode="after")
    def _one_method(self) -> CredentialConfig:
        methods = self.methods()
        if len(methods) > 1:
            raise ValueError(f"{' and '.join(methods)} are both set: keep one, or move one to a "
                             "[...profiles.<name>] table")
        if self.auth == "oauth" and methods:
            raise ValueError(f'auth = "oauth" takes no {methods[0]}: remove it, or set auth = "api_key"')
        return self

    def methods(self) -> list[str]:
        """The key methods this table sets (api_key, key_command, key_env, keyring)."""
        return [m for m in CREDENTIAL_METHODS if getattr(self, m) is not None]

    def has_credential(self) -> bool:
        """Whether this table names a key or an OAuth sign-in."""
        return bool(self.methods()) or self.auth == "oauth"


class LimitsConfig(_Strict):
    """`[providers.<id>.limits]`: client-side limits for the provider (`agentos_llm.resilience.Limits`)."""

    rpm: float | None = Field(default=None, gt=0)
    """Requests per minute."""
    tpm: float | None = Field(default=None, gt=0)
    """Tokens per minute."""
    concurrency: int | None = Field(default=None, ge=1)
    """Calls in flight at once (per process)."""
    learn: bool = True
    """Also apply the limits the vendor's rate-limit headers state."""


class ProviderConfig(CredentialConfig):
    """A `[providers.<id>]` table: its own credential and settings, named profiles, prices and quota."""

    profile: str | None = None
    """The profile used unless `create_provider(..., profile=...)` names another."""
    profiles: dict[str, CredentialConfig] = Field(default_factory=dict)
    prices: dict[str, dict[str, Any]] | None = None
    """USD per 1M tokens per model, `[providers.<id>.prices."<model>"]`: the values are checked by
    `agentos_llm.pricing`, which warns and leaves a cost unknown rather than failing a call already paid for."""
    quota: str | dict[str, Any] | None = None
    """Where the quota is asked (read and fully checked by `agentos_llm.quota_fetch`)."""
    limits: LimitsConfig | None = None
    """Client-side limits the manager keeps for this provider (docs/routing-and-resilience.md)."""

    @model_validator(mode="after")
    def _known_profile(self) -> ProviderConfig:
        if self.profile is not None and self.profile not in self.profiles:
            near = difflib.get_close_matches(self.profile, list(self.profiles), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"profile {self.profile!r} has no [profiles.{self.profile}] table "
                             f"(profiles: {', '.join(self.profiles) or 'none'}){hint}")
        return self

    def configures(self, key_required: bool) -> bool:
        """Whether this table alone makes the provider usable: a credential, or (keyless servers) an address."""
        tables: list[CredentialConfig] = [self, *self.profiles.values()]
        if any(t.has_credential() for t in tables):
            return True
        return not key_required and any(t.base_url or t.default_model or t.models for t in tables)


ROUTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
"""What a route may be called: no "/" or ":", so a route name never shadows a "provider/model" id."""


class ResilienceConfig(_Strict):
    """`[resilience]`: the manager's circuit breakers and the store they (and the limits) keep state in."""

    state_store: str | None = None
    """"memory" (the default) or a Redis URL (`redis://host:6379/0`, `rediss://`, `unix://`)."""
    breakers: bool = True
    """Circuit breakers in the manager (on by default)."""

    @field_validator("state_store")
    @classmethod
    def _store(cls, value: str | None) -> str | None:
        if value is not None and value != "memory" and not re.match(r"(rediss?|unix)://\S+", value):
            raise ValueError('not "memory" or a redis:// URL')
        return value


class ConfigFile(_Strict):
    """The whole file."""

    default_model: str | None = None
    """The agent's default model, "provider/model"."""
    routes: dict[str, list[str]] | None = None
    """Named routes: a name and the model ids tried in order (`fast = ["groq/...", "openai/..."]`)."""
    resilience: ResilienceConfig | None = None
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)

    @field_validator("routes")
    @classmethod
    def _routes(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        for name, hops in (value or {}).items():
            if not ROUTE_NAME.fullmatch(name):
                raise ValueError(f"route name {name!r} must be letters, digits, _ . - (no / or :)")
            if not hops or not all(isinstance(h, str) and h.strip() for h in hops):
                raise ValueError(f"route {name!r} needs a non-empty list of model ids")
        return value

    @field_validator("default_model")
    @classmethod
    def _provider_model(cls, value: str | None) -> str | None:
        if value is not None:
            provider, sep, model = value.partition("/")
            if not (provider and sep and model):
                raise ValueError('not "provider/model"')
        return value


# ---------------------------------------------------------------------- errors people can act on

_FIXES: Mapping[str, str] = {
    "api_key": 'a quoted string, api_key = "..." (or keep the key out of the file: key_command, key_env, keyring)',
    "key_command": 'a command, key_command = ["op", "read", "op://Private/OpenAI/credential"] or a string',
    "key_command_timeout": "seconds, a number above 0 and at most 600",
    "key_env": 'the name of an env var, key_env = "WORK_OPENAI_KEY"',
    "keyring": 'keyring = true, or a keyring service name, keyring = "my-service"',
    "auth": 'auth = "api_key" or auth = "oauth"',
    "oauth": "an [oauth] table",
    "base_url": 'a URL, base_url = "https://gateway.example/v1"',
    "default_model": 'a model id, default_model = "gpt-4.1-mini" (at the top: "provider/model")',
    "models": 'a list of model ids, models = ["gpt-4.1-mini", "gpt-4.1"]',
    "headers": 'a table of strings, headers = { "X-Team" = "agents" }',
    "proxy": 'a proxy URL, proxy = "http://proxy.internal:3128" (docs/http-bridge.md)',
    "ca_bundle": 'the path of a PEM file that exists, ca_bundle = "/etc/ssl/corp-ca.pem"',
    "max_connections": "an integer from 1 to 10000, max_connections = 50",
    "profile": 'the name of a profile table, profile = "work" with [providers.<id>.profiles.work]',
    "profiles": "tables, [providers.<id>.profiles.<name>]",
    "prices": '[providers.<id>.prices."<model>"] with input, output, cached, cache_write (USD per 1M tokens)',
    "quota": 'a preset name, quota = "litellm", or a [providers.<id>.quota] table (docs/quota-and-cost.md)',
    "providers": "[providers.<id>] tables",
    "routes": 'a [routes] table of lists, fast = ["groq/llama-3.3-70b-versatile", "openai/gpt-4.1-mini"]',
    "limits": "a [providers.<id>.limits] table with rpm, tpm, concurrency (numbers) and learn (true/false)",
    "rpm": "requests per minute, a number above 0",
    "tpm": "tokens per minute, a number above 0",
    "concurrency": "calls at once, an integer of at least 1",
    "resilience": 'a [resilience] table, state_store = "redis://127.0.0.1:6379/0", breakers = true',
    "state_store": 'state_store = "memory" or a Redis URL, "redis://127.0.0.1:6379/0"',
    "breakers": "breakers = true or false",
    "next_refresh": "a TOML date-time, next_refresh = 2026-01-31T12:00:00Z",
}


def _key_path(data: Any, loc: Sequence[int | str]) -> list[str]:
    """The part of a pydantic error location that names keys of the file (union tags dropped)."""
    out: list[str] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            out.append(str(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]  # an item of a list: the key is the list's
        else:
            break
    return out


def _split_header(header: str) -> list[str]:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s"\']+)', header)
    return [a or b or c for a, b, c in parts]


_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _key_at_start(key: str) -> re.Pattern[str]:
    k = re.escape(key)
    return re.compile(rf"""\s*(?:{k}|"{k}"|'{k}')\s*=""")


def find_line(text: str, table: Sequence[str], key: str | None = None) -> int | None:
    """The 1-based line of `key` in table `table` (or of the table's header), found in the file's text."""
    wanted = list(table)
    current: list[str] = []
    header_line: int | None = None
    key_re = _key_at_start(key) if key else None
    parent_re = _key_at_start(wanted[-1]) if wanted else None
    for number, line in enumerate(text.splitlines(), start=1):
        m = _HEADER.match(line)
        if m:
            current = _split_header(m.group(1))
            if current == wanted and header_line is None:
                header_line = number
            continue
        if key_re is not None and current == wanted and key_re.match(line):
            return number
        if parent_re is not None and header_line is None and current == wanted[:-1] and parent_re.match(line):
            header_line = number  # an inline table, `openai = { ... }` under [providers]
    if key is not None:
        nested = find_line(text, [*wanted, key])  # a sub-table with its own header, [providers.openai.headers]
        if nested is not None:
            return nested
    return header_line


def _describe_one(err: Mapping[str, Any], keys: list[str], text: str, data: Any, union: bool) -> str:
    kind = str(err["type"])
    table: list[str]
    key: str | None
    if kind == "extra_forbidden" and keys:
        table, key = keys[:-1], keys[-1]
    elif keys and kind.startswith("value_error") and isinstance(_dig(data, keys), Mapping):
        table, key = keys, None  # a rule about the whole table (one method, a known profile, prices)
    elif keys:
        table, key = keys[:-1], keys[-1]
    else:
        table, key = [], None
    line = find_line(text, table, key)
    where = f"line {line}: " if line else ""
    name = f"[{'.'.join(table)}]" if table else "the top level"
    if kind == "extra_forbidden" and key is not None:
        known = sorted(_model_at_table(table).model_fields)
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean {near[0]!r}? " if near else ""
        return f"{where}{name} has an unknown key {key!r}: {hint}rename or remove it (keys here: {', '.join(known)})"
    msg = "has the wrong type" if union else str(err["msg"]).removeprefix("Value error, ")
    if key is None:
        return f"{where}{name}: {msg}"
    fix = _FIXES.get(key)
    if key == "api_key" and len(table) >= 2 and table[0] == "providers":
        from .defaults import PROVIDERS

        spec = PROVIDERS.get(table[1])
        if spec is not None and spec.key_env:
            fix = f'{fix}, or remove it and set {" or ".join(spec.key_env)}'
    return f"{where}{name + ' ' if table else ''}{key}: {msg}" + (f"; write it as {fix}" if fix else "")


def _model_at_table(table: Sequence[str]) -> type[BaseModel]:
    """The model of the table whose keys are `table`'s children."""
    if not table:
        return ConfigFile
    if len(table) == 2 and table[0] == "providers":
        return ProviderConfig
    if len(table) == 3 and table[0] == "providers" and table[2] == "limits":
        return LimitsConfig
    if list(table) == ["resilience"]:
        return ResilienceConfig
    if len(table) == 4 and table[0] == "providers" and table[2] == "profiles":
        return CredentialConfig
    return _Strict


def _dig(data: Any, keys: Sequence[str]) -> Any:
    for k in keys:
        data = data[k]
    return data


def _problems(exc: ValidationError, data: Any, text: str) -> list[str]:
    errors = exc.errors()
    paths = [tuple(_key_path(data, err["loc"])) for err in errors]
    seen: list[str] = []
    done: set[tuple[str, ...]] = set()
    for err, keys in zip(errors, paths, strict=True):
        if keys in done and keys:
            continue  # one line per key: a union type fails once per member
        done.add(keys)
        union = paths.count(keys) > 1 and err["type"] != "extra_forbidden"
        line = _describe_one(err, list(keys), text, data, union)
        if line not in seen:
            seen.append(line)
    return seen


def config_problems(data: Mapping[str, Any], text: str) -> list[str]:
    """What is wrong with a parsed file, one line per problem ("line N: [table] key: what; fix"); [] if valid."""
    try:
        ConfigFile.model_validate(data)
    except ValidationError as exc:
        return _problems(exc, data, text)
    return []


def validate_config(data: Mapping[str, Any], path: Path, text: str) -> ConfigFile:
    """The file as a `ConfigFile`; `ConfigurationError` naming file, line, key and fix otherwise."""
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise invalid_config(path, _problems(exc, data, text)) from None


def invalid_config(path: Path, problems: Sequence[str]) -> ConfigurationError:
    """The error for a file with `problems` (from `config_problems`)."""
    detail = "\n  ".join(problems[:8])
    return ConfigurationError(f"the config file {path} is not valid:\n  {detail}\n(see {DOCS})")


def syntax_error(path: Path, exc: ValueError) -> ConfigurationError:
    """A TOML syntax error as a `ConfigurationError` naming the file and tomllib's line and column."""
    message = str(exc)
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if m:
        message = f"line {m.group(1)}, column {m.group(2)}: {message[:m.start()]}"
    return ConfigurationError(f"cannot read the config file {path}: {message}; fix the TOML syntax there "
                              f"(see {DOCS})")
