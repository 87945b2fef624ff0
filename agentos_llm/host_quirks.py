"""Host quirks as a typed, validated profile: a misspelt or mistyped key is an error when the row loads.

`HostQuirks` is a dict (the converters read it on every request, so lookups stay C-fast) whose keys
and value types are checked on construction against `QUIRK_TYPES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError

__all__ = ["QUIRK_TYPES", "HostQuirks"]

QUIRK_TYPES: dict[str, tuple[type, ...]] = {
    "max_tokens_field": (str,),
    "stream_options": (bool,),
    "json_schema": (bool,),
    "json_object": (bool,),
    "parallel_tool_calls": (bool,),
    "renames": (Mapping,),
    "unsupported": (tuple, list, frozenset),
    "chat_body": (Mapping,),
    "config": (Mapping,),
    "think_tags": (bool,),
    "embeddings": (bool,),
    "embeddings_base64": (bool,),
    "models_api": (str,),
    "traits_family": (str,),
    "count_tokens": (str,),
    "documents": (bool,),
    "audio": (bool,),
}
"""Every quirk a host row may set, with the types its value may have (documented in `defaults`)."""

_CHOICES: dict[str, frozenset[str]] = {
    "max_tokens_field": frozenset({"max_tokens", "max_completion_tokens"}),
    "models_api": frozenset({"openai", "ollama"}),
    "count_tokens": frozenset({"estimate", "responses", "none"}),
}


class HostQuirks(dict[str, Any]):
    """A host's quirks, validated: unknown keys, wrong types and unknown choices raise `ConfigurationError`."""

    def __init__(self, data: Mapping[str, Any] | None = None, *, where: str = "host quirks") -> None:
        super().__init__(data or {})
        for key, value in self.items():
            types = QUIRK_TYPES.get(key)
            if types is None:
                from difflib import get_close_matches

                near = get_close_matches(key, QUIRK_TYPES, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ConfigurationError(
                    f"{where}: unknown quirk {key!r}{hint}; known: {', '.join(sorted(QUIRK_TYPES))}")
            if not isinstance(value, types) or (bool in types) != isinstance(value, bool):
                raise ConfigurationError(
                    f"{where}: quirk {key!r} takes {' or '.join(t.__name__ for t in types)}, "
                    f"not {type(value).__name__}")
            choices = _CHOICES.get(key)
            if choices is not None and value not in choices:
                raise ConfigurationError(
                    f"{where}: quirk {key!r} is one of {', '.join(sorted(choices))}, not {value!r}")
