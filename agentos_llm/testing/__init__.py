"""Test helpers for agents built on agentos-llm: a loopback wire emulator and a scripted fake provider.

`WireEmulator` speaks the vendors' real wire formats on 127.0.0.1, so the real SDKs and providers
run against it offline; `FakeProvider` answers from a script with no HTTP at all.
"""

from __future__ import annotations

from .emulator import Fault, RecordedRequest, Reply, WireEmulator
from .fake import FakeProvider, FakeReply

__all__ = ["FakeProvider", "FakeReply", "Fault", "RecordedRequest", "Reply", "WireEmulator"]
