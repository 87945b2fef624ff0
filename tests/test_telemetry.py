"""Observability without OpenTelemetry: the DEBUG record per call, manager-wide hooks, and nothing paid or
imported while all of it is off."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from agentos_llm import AIModelProviderManager, create_provider
from agentos_llm.errors import ConfigurationError, MissingDependencyError, RateLimitError
from agentos_llm.telemetry import CallEvent, calllog, watch
from agentos_llm.testing import FakeProvider, FakeReply, Fault, Reply, WireEmulator
from agentos_llm.types import Usage

API_KEY = "sk-test-telemetry-not-a-real-key-0002"


@pytest.fixture
def emulator() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


def call_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "agentos_llm.calls"]


# ---------------------------------------------------------------------- the DEBUG record


def test_one_debug_record_per_call_with_route_status_latency_tokens_cost_and_request_id(
        caplog: pytest.LogCaptureFixture, emulator: WireEmulator) -> None:
    emulator.script(Reply(text="hello", prompt_tokens=11, completion_tokens=2),
                    Reply(text="streamed", prompt_tokens=5, completion_tokens=3))
    provider = create_provider("openai", api_key=API_KEY, base_url=emulator.openai_base_url, max_retries=0)
    with caplog.at_level(logging.DEBUG, logger="agentos_llm"), provider:
        r = provider.generate_sync("gpt-4o-mini", "hi")
        for _ in provider.stream_sync("gpt-4o-mini", "stream"):
            pass
    whole, streamed = call_records(caplog)
    assert whole.levelno == logging.DEBUG
    f = whole.agentos_llm  # type: ignore[attr-defined]
    assert (f["operation"], f["route"], f["status"]) == ("chat", "openai/gpt-4o-mini", "ok")
    assert (f["input_tokens"], f["output_tokens"]) == (11, 2)
    assert f["cost_usd"] == r.usage.cost_usd is not None and f["latency_ms"] > 0
    assert f["request_id"] == r.request_id and r.request_id
    message = whole.getMessage()
    assert "chat openai/gpt-4o-mini ok" in message and "tokens=11+2" in message and r.request_id in message
    assert streamed.agentos_llm["operation"] == "stream"  # type: ignore[attr-defined]
    assert streamed.agentos_llm["ttft_ms"] is not None  # type: ignore[attr-defined]
    json.dumps(f)  # a structured handler can ship the fields as they are


def test_error_record_has_its_status_and_never_the_key(caplog: pytest.LogCaptureFixture,
                                                       emulator: WireEmulator) -> None:
    emulator.script(Fault(status=429, body={"error": {"message": f"slow down, key {API_KEY}",
                                                      "type": "rate_limit_error"}}))
    provider = create_provider("openai", api_key=API_KEY, base_url=emulator.openai_base_url, max_retries=0)
    with caplog.at_level(logging.DEBUG, logger="agentos_llm"), provider, pytest.raises(RateLimitError):
        provider.generate_sync("gpt-4o-mini", "hi")
    (record,) = call_records(caplog)
    f = record.agentos_llm  # type: ignore[attr-defined]
    assert f["status"] == "error" and f["error_type"] == "RateLimitError" and f["status_code"] == 429
    assert "slow down" in record.getMessage()
    assert API_KEY not in record.getMessage() and API_KEY not in json.dumps(f)


def test_no_record_and_no_watch_when_debug_is_off(caplog: pytest.LogCaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    monkeypatch.setattr(calllog, "call_fields", lambda *a: built.append(a))
    provider = FakeProvider()
    with caplog.at_level(logging.INFO, logger="agentos_llm"):
        assert watch.watch(provider, "chat", "fake-model", None) is None  # nothing observes: nothing is made
        provider.generate_sync("fake-model", "x")
        list(provider.stream_sync("fake-model", "x"))
    assert call_records(caplog) == [] and built == []


# ---------------------------------------------------------------------- manager-wide hooks


class Seen:
    def __init__(self) -> None:
        self.events: list[CallEvent] = []

    def __call__(self, event: CallEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[tuple[str, str, str | None]]:
        return [(e.kind, e.provider, e.status) for e in self.events]


def test_hooks_see_every_provider_and_hop() -> None:
    busy = FakeProvider([RateLimitError("slow down", provider="busy")], provider_id="busy")
    spare = FakeProvider([FakeReply(text="ok", usage=Usage(input_tokens=4, output_tokens=1, cost_usd=0.5))],
                         provider_id="spare")
    manager = AIModelProviderManager([busy, spare], breakers=False)
    seen = Seen()
    manager.add_hook(on_request=seen, on_response=seen, on_error=seen)
    manager.generate_sync("busy/fake-model", "hi", fallback=["spare/fake-model"])
    assert seen.kinds() == [("request", "busy", None), ("error", "busy", "error"),
                            ("request", "spare", None), ("response", "spare", "ok")]
    req, err, _, resp = seen.events
    assert err.call_id == req.call_id and resp.call_id != req.call_id
    assert isinstance(err.error, RateLimitError)
    assert resp.response.text == "ok" and resp.usage is not None and resp.cost_usd == 0.5
    assert resp.operation == "chat" and resp.model == "fake-model" and resp.latency_s is not None
    assert req.request.messages[0].text == "hi"  # the Call: messages and options


async def test_hooks_for_streams_embeddings_and_cancelled_streams() -> None:
    provider = FakeProvider(["one two three", "four five six"])
    manager = AIModelProviderManager([provider])
    seen = Seen()
    manager.add_hook(on_response=seen, on_error=seen)
    async with manager.stream("fake/fake-model", "x") as events:
        async for _ in events:
            pass
    with manager.stream_sync("fake/fake-model", "y") as events_sync:
        next(events_sync)
    await manager.embed("fake/fake-embedding", ["a", "b"])
    assert [(e.operation, e.kind, e.status) for e in seen.events] == [
        ("stream", "response", "ok"), ("stream", "error", "cancelled"), ("embed", "response", "ok")]
    assert seen.events[0].ttft_s is not None and seen.events[1].error is None


def test_a_raising_hook_is_logged_and_never_breaks_the_call(caplog: pytest.LogCaptureFixture) -> None:
    manager = AIModelProviderManager([FakeProvider()])

    def broken(event: CallEvent) -> None:
        raise RuntimeError("hook bug")

    seen = Seen()
    manager.add_hook(on_request=broken, on_response=broken)
    manager.add_hook(on_response=seen)
    with caplog.at_level(logging.ERROR, logger="agentos_llm.telemetry"):
        assert manager.generate_sync("fake/fake-model", "x").text == "Echo: x"
    assert len(seen.events) == 1  # the hooks after the broken one still ran
    assert sum("hook bug" in (r.exc_text or "") or "broken" in r.getMessage() for r in caplog.records) == 2


def test_add_and_remove_hooks() -> None:
    provider = FakeProvider()
    manager = AIModelProviderManager([provider])
    seen = Seen()
    handle = manager.add_hook(on_response=seen)
    assert manager.hooks == (handle,)
    manager.generate_sync("fake/fake-model", "x")
    manager.remove_hook(handle)
    manager.generate_sync("fake/fake-model", "x")
    assert len(seen.events) == 1 and manager.hooks == ()
    with pytest.raises(ConfigurationError):
        manager.remove_hook(handle)
    with pytest.raises(ConfigurationError, match="plain function"):
        async def later(event: CallEvent) -> None:
            pass
        manager.add_hook(on_response=later)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        manager.add_hook()


async def test_hooks_belong_to_their_manager() -> None:
    shared = FakeProvider()
    a, b = AIModelProviderManager([shared]), AIModelProviderManager([shared])
    seen_a, seen_b = Seen(), Seen()
    a.add_hook(on_response=seen_a)
    b.add_hook(on_response=seen_b)
    await asyncio.gather(a.generate("fake/fake-model", "for a"), b.generate("fake/fake-model", "for b"),
                         b.generate("fake/fake-model", "for b again"))
    shared.generate_sync("fake-model", "direct")  # a provider called directly answers to no manager
    assert [e.request.messages[0].text for e in seen_a.events] == ["for a"]
    assert sorted(e.request.messages[0].text for e in seen_b.events) == ["for b", "for b again"]


# ---------------------------------------------------------------------- off: nothing imported, nothing paid


def _child(body: str) -> dict[str, object]:
    code = textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_import_and_calls_without_instrumenting_import_no_opentelemetry() -> None:
    out = _child("""
        import json, sys
        import agentos_llm
        from agentos_llm import AIModelProviderManager
        from agentos_llm.testing import FakeProvider
        after_import = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
        manager = AIModelProviderManager([FakeProvider()])
        manager.add_hook(on_response=lambda e: None)
        manager.generate_sync("fake/fake-model", "x")
        list(manager.stream_sync("fake/fake-model", "x"))
        manager.embed_sync("fake/fake-embedding", ["x"])
        after_calls = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
        import opentelemetry  # the probe can see it when it is imported
        seen = "opentelemetry" in sys.modules
        print(json.dumps({"import": after_import, "calls": after_calls, "probe": seen}))
    """)
    assert out == {"import": [], "calls": [], "probe": True}


def test_instrument_without_the_extra_says_which_extra_to_install() -> None:
    out = _child("""
        import json, sys
        sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
        from agentos_llm import telemetry
        from agentos_llm.errors import MissingDependencyError
        try:
            telemetry.instrument()
        except MissingDependencyError as exc:
            print(json.dumps({"extra": exc.extra, "message": str(exc)}))
    """)
    assert out["extra"] == "otel" and 'agentos-llm[otel]' in str(out["message"])
    assert MissingDependencyError  # the error the child raised is the library's
