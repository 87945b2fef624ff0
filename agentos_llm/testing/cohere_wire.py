"""Placeholder: the cohere emulator dialect is being written."""

from __future__ import annotations

from .emulator import Route

__all__ = ["routes"]


def routes() -> list[Route]:
    """The cohere routes."""
    return []
