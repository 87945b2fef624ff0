"""What a breaker, a limiter or a credential pool is keyed by: host, credential and model.

A credential is never stored, logged or sent to Redis: it is named by a stable hash (the same digest
`catalog.listing_key` uses for live listings) plus a human `label` (a profile name, the environment
variable it came from, "key #2"), which is what errors and `snapshot()`s show.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

__all__ = ["CallKey", "credential_id"]


def credential_id(material: Any) -> str:
    """A short stable id for a credential: 16 hex digits of SHA-256 over its material (a key, a profile name,
    or `IProvider._listing_key()`), the same in every process and on every machine."""
    if isinstance(material, (tuple, list)):
        text = "\x1f".join("" if part is None else str(part) for part in material)
    else:
        text = "" if material is None else str(material)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _clean(part: str) -> str:
    # "|" separates the parts of store keys; a model id may contain ":" or "/" but never needs "|".
    return part.replace("|", "%7C")


@dataclass(frozen=True)
class CallKey:
    """One (host, credential, model) a call goes to.

    `host` is the provider id (a row of `agentos_llm.defaults`), `credential` a `credential_id`, `model` the
    model id ("" for a host-wide key), `label` how people know the credential. Equality and store keys use
    host, credential and model only.
    """

    host: str
    credential: str = ""
    model: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", f"key {self.credential[:8]}" if self.credential else "default")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CallKey):
            return NotImplemented
        return (self.host, self.credential, self.model) == (other.host, other.credential, other.model)

    def __hash__(self) -> int:
        return hash((self.host, self.credential, self.model))

    @classmethod
    def for_provider(cls, provider: Any, model: str, *, label: str | None = None) -> CallKey:
        """The key of a call through `provider` (an `IProvider`) to `model`: its credential is the hash of
        `provider._listing_key()` (provider id, base URL and a hash of the key and its scope)."""
        credential = credential_id(provider._listing_key())
        if label is None:
            label = (getattr(provider, "credential_profile", None) or getattr(provider, "credential_source", None)
                     or "default")
            if label == "argument":  # keys passed in code all say so: the hash tells them apart
                label = f"key {credential[:8]} (argument)"
        return cls(str(provider.provider_id), credential, model, str(label))

    def with_model(self, model: str) -> CallKey:
        """The same host and credential, another model."""
        return CallKey(self.host, self.credential, model, self.label)

    @property
    def host_credential(self) -> str:
        """`host|credential`: the part of store keys shared by every model of this credential."""
        return f"{_clean(self.host)}|{self.credential}"

    @property
    def model_part(self) -> str:
        """`host|credential|model` ("*" for no model)."""
        return f"{self.host_credential}|{_clean(self.model) or '*'}"

    def describe(self, *, with_model: bool = True) -> str:
        """`host/label/model`, for messages (never the secret)."""
        parts = [self.host, self.label] + ([self.model] if with_model and self.model else [])
        return "/".join(parts)
