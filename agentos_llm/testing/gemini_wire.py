"""The gemini dialect of the wire emulator (to be filled in)."""

from __future__ import annotations

from .emulator import Route

__all__ = ["routes"]


def routes() -> list[Route]:
    """The emulator routes of this dialect."""
    return []
