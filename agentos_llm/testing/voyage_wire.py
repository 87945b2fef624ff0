"""Placeholder: the voyage emulator dialect is being written."""

from __future__ import annotations

from .emulator import Route

__all__ = ["routes"]


def routes() -> list[Route]:
    """The voyage routes."""
    return []
