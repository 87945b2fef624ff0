"""Where sign-in results live: `<config dir>/tokens/<provider>[.<profile>].json`, 0600, written atomically.

A file holds either an OAuth token set (access token, refresh token, expiry, and the endpoint that
refreshes it) or an API key a sign-in produced (OpenRouter). A lock file beside it lets one process
refresh while the others wait and then read what it wrote.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..errors import APITimeoutError, ConfigurationError
from ..redaction import register_secret

__all__ = ["TokenRecord", "TokenStore", "tokens_dir"]

log = logging.getLogger("agentos_llm.auth")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
_SECRETS = ("access_token", "refresh_token", "id_token", "api_key")


def tokens_dir(env: Mapping[str, str] | None = None) -> Path:
    """`tokens/` beside the user config file (which `AGENTOS_LLM_CONFIG` may move)."""
    from ..credentials import config_path

    return config_path(env).parent / "tokens"


@dataclass(frozen=True)
class TokenRecord:
    """What a sign-in left: an OAuth token set (`kind="oauth"`) or an API key (`kind="api_key"`).

    The repr names the issuer and the expiry, never a token.
    """

    kind: str
    issuer: str
    client_id: str | None = None
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    token_type: str | None = None
    scope: str | None = None
    expires_at: float | None = None
    obtained_at: float | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    id_token: str | None = None
    api_key: str | None = None

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                          if f.name not in _SECRETS and getattr(self, f.name) is not None)
        held = [name for name in _SECRETS if getattr(self, name)]
        return f"TokenRecord({shown}, holds={held})"

    __str__ = __repr__

    def secret(self, token_field: str = "access_token") -> str | None:
        """The value sent to the provider: the API key, or the access (or id) token."""
        if self.kind == "api_key":
            return self.api_key
        return self.id_token if token_field == "id_token" else self.access_token

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """Whether the token expires within `seconds` (never, for a token without an expiry)."""
        if self.expires_at is None:
            return False
        return self.expires_at - (time.time() if now is None else now) <= seconds

    @classmethod
    def from_oauth(cls, token: Mapping[str, Any], *, issuer: str, client_id: str | None,
                   token_endpoint: str | None, revocation_endpoint: str | None,
                   previous: TokenRecord | None = None) -> TokenRecord:
        """A record from a token endpoint's answer; a refresh answer without a refresh token keeps the old one."""
        now = time.time()
        expires_at: float | None = None
        if isinstance(token.get("expires_at"), (int, float)):
            expires_at = float(token["expires_at"])
        elif isinstance(token.get("expires_in"), (int, float)):
            expires_at = now + float(token["expires_in"])

        def text(name: str) -> str | None:
            value = token.get(name)
            return str(value) if value else None

        refresh = text("refresh_token") or (previous.refresh_token if previous else None)
        return cls(kind="oauth", issuer=issuer, client_id=client_id, token_endpoint=token_endpoint,
                   revocation_endpoint=revocation_endpoint, token_type=text("token_type"), scope=text("scope"),
                   expires_at=expires_at, obtained_at=now, access_token=text("access_token"),
                   refresh_token=refresh, id_token=text("id_token") or (previous.id_token if previous else None))

    def register(self) -> TokenRecord:
        """Registers every secret it holds for redaction; returns itself."""
        for name in _SECRETS:
            register_secret(getattr(self, name))
        return self


class TokenStore:
    """The token file of one provider and profile (`profile` None or "default": `<provider>.json`)."""

    def __init__(self, provider_id: str, profile: str | None = None, *, directory: Path | None = None) -> None:
        for label, value in (("provider id", provider_id), ("profile", profile)):
            if value is not None and not _NAME.match(value):
                raise ConfigurationError(f"a {label} for a token file must be letters, digits, '-' or '_': {value!r}")
        self.provider_id = provider_id
        self.profile = None if profile in (None, "default") else profile
        self.directory = tokens_dir() if directory is None else directory
        stem = provider_id if self.profile is None else f"{provider_id}.{self.profile}"
        self.path = self.directory / f"{stem}.json"
        self.lock_path = self.directory / f".{stem}.lock"

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def load(self) -> TokenRecord | None:
        """The stored record, or None when there is none (or it cannot be read: signing in again fixes it)."""
        try:
            st = self.path.stat()
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read the token file %s: %s", self.path, exc.strerror)
            return None
        if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("the token file %s can be read by other users: run `chmod 600 %s`", self.path, self.path)
        try:
            data = json.loads(raw)
            known = {f.name for f in fields(TokenRecord)}
            record = TokenRecord(**{k: v for k, v in data.items() if k in known})
        except (ValueError, TypeError, AttributeError):
            # The error text could quote the file, and the file holds tokens: say only where it is.
            log.warning("the token file %s is not valid; sign in again", self.path)
            return None
        return record.register()

    def save(self, record: TokenRecord) -> None:
        """Writes the record atomically (a 0600 temp file renamed over the old one) in a 0700 directory."""
        record.register()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        body = json.dumps({k: v for k, v in asdict(record).items() if v is not None}, indent=2).encode("utf-8")
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            # mkstemp creates the file 0600 already; fchmod makes sure whatever the umask.
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def delete(self) -> bool:
        """Removes the token file; whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def update(self, record: TokenRecord, **changes: Any) -> TokenRecord:
        """Saves a changed copy of a record and returns it."""
        new = replace(record, **changes)
        self.save(new)
        return new

    @contextlib.contextmanager
    def lock(self, timeout: float) -> Iterator[None]:
        """An exclusive inter-process lock on this token (fcntl/msvcrt); `APITimeoutError` after `timeout` s."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise APITimeoutError(f"waited {timeout:.0f} s for another process refreshing the token of "
                                          f"{self.provider_id}; lock file {self.lock_path}",
                                          provider=self.provider_id)
                time.sleep(0.05)
            try:
                yield
            finally:
                _unlock(fd)
        finally:
            os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        return
    fcntl.flock(fd, fcntl.LOCK_UN)
