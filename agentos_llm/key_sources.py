"""Keys kept outside the config file: a password manager's command, the OS keyring; and files that say too much.

Nothing here ever puts a secret in a message: a failing `key_command` is reported by its program name, exit
status and how much it printed, never by what it printed.
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from .errors import ConfigurationError, MissingDependencyError
from .redaction import register_secret

__all__ = ["DEFAULT_KEY_COMMAND_TIMEOUT", "KEYRING_SERVICE", "clear_key_cache", "exposed_warning", "keyring_secret",
           "run_key_command", "warn_if_exposed"]

log = logging.getLogger("agentos_llm")

DEFAULT_KEY_COMMAND_TIMEOUT = 30.0
"""Seconds a `key_command` may take (a password manager may wait for an unlock)."""
KEYRING_SERVICE = "agentos-llm"
"""The keyring service of `keyring = true`; the user name is the provider id (`<id>:<profile>` for a profile)."""

_cache: dict[tuple[str, ...], str] = {}
_cache_lock = threading.Lock()


def clear_key_cache() -> None:
    """Forgets the keys `key_command`s printed (each command runs once per process otherwise)."""
    with _cache_lock:
        _cache.clear()


def command_argv(command: str | Sequence[str]) -> list[str]:
    """A `key_command` as an argument vector: a list as is, a string split like a POSIX shell (no shell runs)."""
    if isinstance(command, str):
        try:
            return shlex.split(command)
        except ValueError as exc:
            raise ConfigurationError(f"key_command cannot be split into arguments ({exc}); write it as a list, "
                                     'key_command = ["op", "read", "op://..."]') from None
    return list(command)


def run_key_command(command: str | Sequence[str], *, where: str, timeout: float | None = None) -> str:
    """Runs a `key_command` without a shell and returns its stdout, stripped; `ConfigurationError` otherwise.

    The result is kept for the process, so a slow password manager is asked once. `where` names the
    config table in messages ("[providers.openai]").
    """
    argv = command_argv(command)
    if not argv:
        raise ConfigurationError(f"{where} key_command is empty")
    key = tuple(argv)
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    program = os.path.basename(argv[0])
    limit = DEFAULT_KEY_COMMAND_TIMEOUT if timeout is None else timeout
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=limit, check=False,
                              shell=False)
    except FileNotFoundError:
        raise ConfigurationError(f"{where} key_command: {program!r} is not installed or not on PATH") from None
    except PermissionError:
        raise ConfigurationError(f"{where} key_command: {program!r} cannot be run (permission denied)") from None
    except subprocess.TimeoutExpired:
        raise ConfigurationError(
            f"{where} key_command {program!r} did not finish within {limit:g} s; unlock the password manager "
            "first, or raise key_command_timeout") from None
    except OSError as exc:
        raise ConfigurationError(f"{where} key_command {program!r} cannot be run: {type(exc).__name__}") from None
    # Neither stream is quoted: either may hold the key (a tool that prints it, then fails).
    if done.returncode != 0:
        said = f", and wrote {len(done.stderr.splitlines())} line(s) to stderr" if done.stderr else ""
        raise ConfigurationError(f"{where} key_command {program!r} failed with exit status {done.returncode}{said}; "
                                 "run it yourself to see why")
    try:
        value = done.stdout.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigurationError(f"{where} key_command {program!r} printed something that is not UTF-8 text") from None
    if not value:
        raise ConfigurationError(f"{where} key_command {program!r} printed nothing; it must print the key")
    if "\n" in value:
        raise ConfigurationError(f"{where} key_command {program!r} printed {len(value.splitlines())} lines; it must "
                                 "print only the key (e.g. `op read`, `pass show ... | head -1`)")
    register_secret(value)
    with _cache_lock:
        _cache[key] = value
    return value


def keyring_secret(service: str, username: str, *, where: str) -> str:
    """The password stored in the OS keyring under (service, username); `ConfigurationError` when absent."""
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError as exc:
        raise MissingDependencyError("keyring", "keyring") from exc
    try:
        value = keyring.get_password(service, username)
    except KeyringError as exc:
        raise ConfigurationError(f"{where} keyring: the keyring refused ({type(exc).__name__}); is it unlocked?"
                                 ) from None
    if not value:
        raise ConfigurationError(f"{where} keyring: nothing is stored for user {username!r} in service {service!r}; "
                                 f"store it with: keyring set {shlex.quote(service)} {shlex.quote(username)}")
    register_secret(value)
    return value


_warned: set[tuple[str, int]] = set()


def exposed_warning(path: Path, what: str = "config file") -> str | None:
    """What to say when a file is readable or writable by others (None when it is not, or on Windows)."""
    if sys.platform == "win32":  # pragma: no cover - POSIX modes mean little there
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if not stat.S_ISREG(st.st_mode) or not mode & 0o077:  # /dev/null (no config) holds no secret
        return None
    return (f"the {what} {path} can be read by other users (mode {mode:o}); "
            f"run: chmod 600 {shlex.quote(str(path))}")


def warn_if_exposed(path: Path, what: str = "config file") -> None:
    """Logs (once per file and mode) that a file holding credentials is readable by others, with the chmod fix."""
    message = exposed_warning(path, what)
    if message is None:
        return
    try:
        marker = (str(path), path.stat().st_mode)
    except OSError:
        return
    if marker in _warned:
        return
    _warned.add(marker)
    log.warning("%s", message)
