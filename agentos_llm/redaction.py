"""Keeps API keys out of every string the library produces (errors, reprs, logs).

Two nets: key-shaped strings of the vendors we talk to are masked even if we never saw them, and every
secret the library has seen (`register_secret`, `hold_secret`) is masked wherever it appears. A password
written into a URL (`https://user:pw@host`) is masked too.

The registry of seen secrets is bounded and costs the same per key however many there are (a multi-tenant
server makes thousands of providers):

- a key held by a live owner (`hold_secret`: each provider holds its own) is always masked, for as long as
  one owner lives;
- any other registered key is kept among the `MAX_RECENT` most recently registered, and forgotten after;
- registering is a dictionary update; the regex of known keys is built lazily by `redact`, and rebuilt only
  when the keys added since (matched meanwhile by plain substring search) or forgotten since (still masked
  meanwhile: masking too much is harmless) reach a fraction of it, so each key pays a bounded share of it.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict, deque

__all__ = ["MAX_RECENT", "hold_secret", "known_secrets", "redact", "register_secret"]

# Key shapes of the vendors we talk to; anything matching is masked even if we never saw the key.
_KEY_PATTERN = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{16,}|AIza[0-9A-Za-z_\-]{20,}|gsk_[A-Za-z0-9]{16,}"
    r"|xai-[A-Za-z0-9]{16,}|hf_[A-Za-z0-9]{16,}|csk-[A-Za-z0-9]{16,}|ya29\.[A-Za-z0-9_\-.]{16,}"
    r"|(?<=Bearer )[A-Za-z0-9_\-.=]{12,})"
)
_MASK = "[REDACTED]"
# A password written into a URL (`https://user:pw@gateway/v1`, a proxy URL) travels in connection errors.
_URL_PASSWORD = re.compile(r"(://[^/\s@:]*):[^/\s@]+@")
_MIN_LENGTH = 10  # short placeholders ("ollama") are not worth masking everywhere

MAX_RECENT = 1024
"""How many registered keys no live owner holds are remembered (the most recently registered)."""

_lock = threading.Lock()
_recent: OrderedDict[str, None] = OrderedDict()
_held: dict[str, int] = {}
_compiled: re.Pattern[str] | None = None
_compiled_keys: frozenset[str] = frozenset()
_pending: dict[str, None] = {}  # live keys the compiled regex does not have yet
_dead = 0  # keys the compiled regex has that are no longer live
_released: deque[str] = deque()  # keys whose owner died, queued by finalizers


def _live(value: str) -> bool:
    return value in _held or value in _recent


def _added(value: str) -> None:
    global _dead
    if value in _compiled_keys:
        _dead -= 1  # forgotten, now known again: the compiled regex has it
    else:
        _pending[value] = None


def _forgotten(value: str) -> None:
    global _dead
    if value in _pending:
        del _pending[value]
    elif value in _compiled_keys:
        _dead += 1


def register_secret(value: str | None) -> None:
    """Remembers a secret so that `redact` masks it wherever it appears (among the `MAX_RECENT` latest)."""
    if not value or len(value) < _MIN_LENGTH:
        return
    with _lock:
        _settle_releases()
        if value in _recent:
            _recent.move_to_end(value)
            return
        was_live = value in _held
        _recent[value] = None
        if not was_live:
            _added(value)
        while len(_recent) > MAX_RECENT:
            old, _ = _recent.popitem(last=False)
            if old not in _held:
                _forgotten(old)


def hold_secret(owner: object, value: str | None) -> None:
    """Masks `value` for as long as `owner` lives (whatever else is registered meanwhile)."""
    if not value or len(value) < _MIN_LENGTH:
        return
    with _lock:
        _settle_releases()
        count = _held.get(value, 0)
        _held[value] = count + 1
        if count == 0 and value not in _recent:
            _added(value)
    weakref.finalize(owner, _release, value)


def _release(value: str) -> None:
    # A weakref finalizer: the garbage collector may run it anywhere, even inside a `with _lock:` of this
    # very thread (a plain Lock would then deadlock), so it only queues; the next locked section settles it.
    _released.append(value)


def _settle_releases() -> None:
    """Applies the releases queued by finalizers (the caller holds `_lock`)."""
    while _released:
        value = _released.popleft()
        count = _held.get(value, 0) - 1
        if count > 0:
            _held[value] = count
            continue
        _held.pop(value, None)
        if value not in _recent:
            _forgotten(value)


def known_secrets() -> int:
    """How many secrets are remembered now (held by live owners, or among the recent ones)."""
    with _lock:
        _settle_releases()
        return len(_held.keys() | _recent.keys())


def _alternation(keys: frozenset[str] | set[str]) -> re.Pattern[str]:
    # Longest first, so that a key that starts another one never leaves the rest of it unmasked.
    return re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))


def _current() -> tuple[re.Pattern[str] | None, list[str]]:
    """The compiled regex and the keys it lacks, rebuilt first when too much changed since it was built."""
    global _compiled, _compiled_keys, _dead
    with _lock:
        _settle_releases()
        size = len(_compiled_keys)
        if len(_pending) > 32 + size // 4 or _dead > 32 + size // 2:
            keys = frozenset(_held.keys() | _recent.keys())
            _compiled = _alternation(keys) if keys else None
            _compiled_keys = keys
            _pending.clear()
            _dead = 0
        return _compiled, list(_pending)


def redact(text: str) -> str:
    """Masks known secrets and key-shaped strings."""
    pattern, pending = _current()
    hits = [k for k in pending if k in text]
    if hits:
        found = set(hits)
        if pattern is not None:
            found.update(pattern.findall(text))
        text = _alternation(found).sub(_MASK, text)
    elif pattern is not None:
        text = pattern.sub(_MASK, text)
    if "@" in text and "://" in text:
        text = _URL_PASSWORD.sub(rf"\1:{_MASK}@", text)
    return _KEY_PATTERN.sub(_MASK, text)
