"""Writing the user config file, and the onboarding edits that keep it consistent.

Every write goes through `edit_config`: the file is parsed with tomlkit (so the user's comments, layout and
keys this library does not know survive), patched, validated against the schema, and written atomically
(a temporary file in the same directory, fsynced, then `os.replace`) with mode 0600, while holding a lock
file, so two processes that patch the file at once never lose each other's change.

The onboarding edits:

- `apply_provider_config`: a provider's key (or key_command, key_env, keyring), base URL, default model and
  allowlist, in its table or a profile's;
- `ensure_model_allowed`: puts a model on an allowlist that exists;
- `set_default_model`: the agent's default model, "provider/model" (and on that provider's allowlist);
- `update_credential`: what model discovery learned about a credential (account, project, plan, next refresh).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from .config_schema import CREDENTIAL_METHODS, CredentialConfig, config_problems, invalid_config
from .credentials import config_path, forget_cached_config
from .errors import ConfigurationError

if TYPE_CHECKING:
    from tomlkit import TOMLDocument
    from tomlkit.container import Container
    from tomlkit.items import Table

__all__ = [
    "LOCK_TIMEOUT",
    "apply_provider_config",
    "edit_config",
    "ensure_model_allowed",
    "set_default_model",
    "update_credential",
]

log = logging.getLogger("agentos_llm")

LOCK_TIMEOUT = 30.0
"""Seconds a writer waits for another process to finish writing the file."""
_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _target(path: Path | None, env: Mapping[str, str] | None) -> Path:
    path = config_path(env) if path is None else path
    # A dotfiles manager may link the file: write the file the link points to, and keep the link.
    return path.resolve() if path.is_symlink() else path


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    """Holds `<file>.lock` exclusively (threads of this process queue on a lock of their own first)."""
    with _thread_locks_guard:
        local = _thread_locks.setdefault(path, threading.Lock())
    if not local.acquire(timeout=timeout):
        raise ConfigurationError(f"another thread is still writing {path}")
    try:
        lock_path = path.with_name(path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while not _try_lock(fd):
                if time.monotonic() > deadline:
                    raise ConfigurationError(f"another process has held {lock_path} for {timeout:g} s; if none is "
                                             "writing the config, remove that file")
                time.sleep(0.02)
            try:
                yield
            finally:
                _unlock(fd)
        finally:
            os.close(fd)
    finally:
        local.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            if hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), 0o600)
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        forget_cached_config()  # this process reads its own write at once, not after the recheck interval
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # the rename itself survives a crash once the directory is synced
        with contextlib.suppress(OSError):
            dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


@contextlib.contextmanager
def edit_config(path: Path | None = None, *, env: Mapping[str, str] | None = None,
                timeout: float = LOCK_TIMEOUT) -> Iterator[TOMLDocument]:
    """Yields the config file as a tomlkit document to patch; on leaving, validates and writes it (0600).

    The file and its directory are created when absent. Nothing is written when the block raises, or when
    the patched file would not be valid (a `ConfigurationError` naming the key).
    """
    import tomlkit
    from tomlkit.exceptions import ParseError

    target = _target(path, env)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _file_lock(target, timeout):
        try:
            before = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            before = ""
        try:
            doc = tomlkit.parse(before)
        except ParseError as exc:
            raise ConfigurationError(f"cannot edit the config file {target}: line {exc.line}, column {exc.col}: "
                                     "not valid TOML; fix it first (see docs/credentials.md)") from None
        yield doc
        after = tomlkit.dumps(doc)
        if after == before and target.exists():
            return
        problems = config_problems(doc.unwrap(), after)
        if problems:
            # Keys the user wrote that this version does not know are kept, not judged: only what this edit
            # breaks stops it (it would stop every reader of the file).
            old = {_unlined(p) for p in config_problems(tomlkit.parse(before).unwrap(), before)}
            new = [p for p in problems if _unlined(p) not in old]
            if new:
                raise invalid_config(target, new)
            log.warning("%s", invalid_config(target, problems))
        _atomic_write(target, after)


def _unlined(problem: str) -> str:
    return re.sub(r"^line \d+: ", "", problem)


# ---------------------------------------------------------------------- tables


def _table(container: TOMLDocument | Container | Table, keys: Sequence[str]) -> Table:
    """The table at `keys`, created as `[a.b.c]` (parents as implicit super tables) when absent."""
    import tomlkit
    from tomlkit.items import InlineTable, Table

    node: Any = container
    for i, key in enumerate(keys):
        child = node.get(key)
        if child is None:
            child = tomlkit.table(is_super_table=i < len(keys) - 1)
            node[key] = child
        elif not isinstance(child, (Table, InlineTable)):
            raise ConfigurationError(f"cannot edit [{'.'.join(keys[:i + 1])}]: it is a {type(child).__name__}, "
                                     "not a table")
        node = child
    return node  # type: ignore[no-any-return]


def _credential_keys(provider_id: str, profile: str | None) -> list[str]:
    return ["providers", provider_id, *(("profiles", profile) if profile else ())]


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


def _set_method(table: Table, method: str, value: Any) -> None:
    """Sets one key method, removing the others (a table names one), and turns OAuth off in that table."""
    for other in CREDENTIAL_METHODS:
        if other != method and other in table:
            del table[other]
    if _plain(table.get("auth")) == "oauth":
        del table["auth"]
    table[method] = value


def _allow(table: Table, model: str) -> bool:
    """Appends `model` to the table's allowlist if it has one; whether it changed anything."""
    models = table.get("models")
    if models is None or model in _plain(models):
        return False
    models.append(model)
    return True


def _allowlist_holder(doc: TOMLDocument, provider_id: str, profile: str | None) -> Table | None:
    """The table whose `models` applies to a credential: the profile's if it has one, else the provider's."""
    provider = doc.get("providers", {}).get(provider_id)
    if provider is None:
        return None
    if profile is None:
        profile = _plain(provider.get("profile"))
    chosen = provider.get("profiles", {}).get(profile) if profile else None
    if chosen is not None and "models" in chosen:
        return chosen  # type: ignore[no-any-return]
    return provider if "models" in provider else None


# ---------------------------------------------------------------------- onboarding


def apply_provider_config(provider_id: str, *, api_key: str | SecretStr | None = None,
                          key_command: str | Sequence[str] | None = None, key_env: str | None = None,
                          keyring: bool | str | None = None, base_url: str | None = None,
                          default_model: str | None = None, models: Sequence[str] | None = None,
                          profile: str | None = None, path: Path | None = None,
                          env: Mapping[str, str] | None = None) -> Path:
    """Writes a provider's settings into `[providers.<id>]` (or its `profiles.<profile>`), consistently.

    At most one of api_key, key_command, key_env and keyring may be given; it replaces the table's other key
    methods. `models` replaces the allowlist; the default model (given, or already there) is kept on it. A new
    profile becomes the provider's default profile when the provider has no key and no default profile of its
    own. Returns the file written.
    """
    methods = {k: v for k, v in (("api_key", api_key), ("key_command", key_command), ("key_env", key_env),
                                 ("keyring", keyring)) if v is not None}
    if len(methods) > 1:
        raise ConfigurationError(f"give one of api_key, key_command, key_env, keyring, not {' and '.join(methods)}")
    target = _target(path, env)
    with edit_config(target) as doc:
        table = _table(doc, _credential_keys(provider_id, profile))
        for method, value in methods.items():
            _set_method(table, method, _toml_value(value))
        if base_url is not None:
            table["base_url"] = base_url
        if default_model is not None:
            table["default_model"] = default_model
        if models is not None:
            table["models"] = list(dict.fromkeys(models))
        current = _plain(table.get("default_model"))
        if current:
            holder = _allowlist_holder(doc, provider_id, profile)
            if holder is not None:
                _allow(holder, current)
        if profile is not None:
            provider = _table(doc, ["providers", provider_id])
            has_own = any(m in provider for m in CREDENTIAL_METHODS) or _plain(provider.get("auth")) == "oauth"
            if "profile" not in provider and not has_own:
                provider["profile"] = profile
    return target


def ensure_model_allowed(provider_id: str, model: str, *, profile: str | None = None, path: Path | None = None,
                         env: Mapping[str, str] | None = None) -> bool:
    """Puts `model` on the allowlist that applies to the provider (or profile), if there is one.

    Without an allowlist every model is allowed already, and nothing is written. Returns whether the file
    changed.
    """
    changed = False
    with edit_config(path, env=env) as doc:
        holder = _allowlist_holder(doc, provider_id, profile)
        if holder is not None:
            changed = _allow(holder, model)
    return changed


def set_default_model(model: str, *, path: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Sets the agent's default model (top-level `default_model = "provider/model"`), and puts the model on
    that provider's allowlist when it has one."""
    provider_id, sep, name = model.partition("/")
    if not (provider_id and sep and name):
        raise ConfigurationError(f'the default model is written "provider/model", e.g. "openai/gpt-4.1-mini", '
                                 f"not {model!r}")
    target = _target(path, env)
    with edit_config(target) as doc:
        doc["default_model"] = model
        holder = _allowlist_holder(doc, provider_id, None)
        if holder is not None:
            _allow(holder, name)
    return target


_UPDATABLE = frozenset(CredentialConfig.model_fields) - {"auth", "oauth", "key_command", "key_env", "keyring"}


def update_credential(provider_id: str, profile: str | None, *, path: Path | None = None,
                      env: Mapping[str, str] | None = None, **fields: Any) -> Path:
    """Writes what was learned about one credential into its table (`profiles.<profile>`, or the provider's):
    account_id, project_id, plan, next_refresh, a rotated api_key, ... A None value removes the key.

    A rotated api_key is written only where the key lives in the file (not over a key_command, key_env or
    keyring, whose owner rotates it).
    """
    import difflib

    unknown = sorted(set(fields) - _UPDATABLE)
    if unknown:
        near = [m for k in unknown for m in difflib.get_close_matches(k, sorted(_UPDATABLE), n=1)]
        raise ConfigurationError(f"cannot keep {', '.join(unknown)} for a credential"
                                 + (f" (did you mean {', '.join(near)}?)" if near else "")
                                 + f"; known: {', '.join(sorted(_UPDATABLE))}")
    target = _target(path, env)
    with edit_config(target) as doc:
        table = _table(doc, _credential_keys(provider_id, profile))
        if fields.get("api_key") is not None:
            elsewhere = [m for m in CREDENTIAL_METHODS if m != "api_key" and m in table]
            if elsewhere or _plain(table.get("auth")) == "oauth":
                raise ConfigurationError(f"a rotated key for {provider_id} is not written: its key comes from "
                                         f"{(elsewhere or ['auth'])[0]}, which keeps it")
        for key, value in fields.items():
            if value is None:
                if key in table:
                    del table[key]
            else:
                table[key] = _toml_value(value)
    return target


def use_oauth(provider_id: str, profile: str | None = None, *, path: Path | None = None,
              env: Mapping[str, str] | None = None) -> Path:
    """Sets `auth = "oauth"` on a provider's table (or its profile's), so the stored sign-in is used."""
    target = _target(path, env)
    with edit_config(target) as doc:
        _table(doc, _credential_keys(provider_id, profile))["auth"] = "oauth"
    return target


def _toml_value(value: Any) -> Any:
    """A value as TOML takes it: secrets revealed (this is where they are meant to go), sequences as lists."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, (tuple, list)):
        return list(value)
    return value
