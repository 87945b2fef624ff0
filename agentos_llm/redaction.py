"""Keeps API keys out of every string the library produces (errors, reprs, logs)."""

from __future__ import annotations

import re
import threading

# Key shapes of the vendors we talk to; anything matching is masked even if we never saw the key.
_KEY_PATTERN = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{16,}|AIza[0-9A-Za-z_\-]{20,}|gsk_[A-Za-z0-9]{16,}"
    r"|xai-[A-Za-z0-9]{16,}|hf_[A-Za-z0-9]{16,}|csk-[A-Za-z0-9]{16,}|ya29\.[A-Za-z0-9_\-.]{16,}"
    r"|(?<=Bearer )[A-Za-z0-9_\-.=]{12,})"
)
_known: set[str] = set()
_lock = threading.Lock()
_known_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remembers a secret value so that `redact` masks it wherever it appears."""
    global _known_pattern
    if not value or len(value) < 10:  # short placeholders ("ollama") are not worth masking everywhere
        return
    with _lock:
        if value in _known:
            return
        _known.add(value)
        alternatives = sorted(_known, key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(v) for v in alternatives))


def redact(text: str) -> str:
    """Masks known secrets and key-shaped strings."""
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub("[REDACTED]", text)
    return _KEY_PATTERN.sub("[REDACTED]", text)
