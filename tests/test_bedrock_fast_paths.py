"""The Bedrock provider's fast paths give what botocore gives: the ConverseStream frame reader
(`agentos_llm.providers.bedrock_frames.iter_items`) against botocore's own EventStream on the same bytes (the same
items up to unmodeled members and blobs left base64, the same assembled answers, the same errors, however the
bytes are split into reads), and the User-Agent kept per client against the one botocore builds each time."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.eventstream import ChecksumMismatch, EventStream, InvalidPayloadLength
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser

from agentos_llm.providers import bedrock as bedrock_module
from agentos_llm.providers.bedrock_frames import iter_items
from agentos_llm.registry import create_provider
from agentos_llm.testing import WireEmulator, bedrock_wire
from agentos_llm.testing.aws_eventstream import encode_message, event_message, exception_message
from agentos_llm.testing.emulator import Reply
from agentos_llm.wire.bedrock_converse_response import ConverseStreamAssembler

SAMPLES_FILE = Path(__file__).resolve().parent / "data" / "wire-samples" / "samples.jsonl"
SHAPE = botocore.session.get_session().get_service_model("bedrock-runtime").operation_model(
    "ConverseStream").output_shape.members["stream"]
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


class _Raw:
    """What botocore's EventStream reads: `data` in reads of `size` bytes (all at once when 0)."""

    def __init__(self, data: bytes, size: int = 0) -> None:
        self.data, self.size = data, size

    def stream(self) -> Iterator[bytes]:
        size = self.size or len(self.data) or 1
        for i in range(0, len(self.data), size):
            yield self.data[i:i + size]

    def close(self) -> None:
        pass


def _stream(data: bytes, size: int = 0) -> EventStream:
    return EventStream(_Raw(data, size), SHAPE, EventStreamJSONParser(), "ConverseStream")


def _assembled(items: list[Any]) -> tuple[list[Any], Any]:
    assembler = ConverseStreamAssembler("bedrock", MODEL)
    events = [e for item in items for e in assembler.feed(item)]
    tail, response = assembler.finish()
    return [e.model_dump() for e in events + list(tail)], response.model_dump(exclude={"latency_ms"})


def _outcome(items: Any) -> Any:
    try:
        return list(items())
    except Exception as exc:
        return type(exc), str(exc)


def _frames(reply: Reply, tool_ids: list[str] | None = None) -> bytes:
    events = bedrock_wire.stream_events(reply, tool_ids=tool_ids or [], prompt_tokens=12)
    return b"".join(event_message(kind, payload) for kind, payload in events)


REPLIES = [
    Reply(text="Hello there, general Kenobi."),
    Reply(reasoning="Think first, then answer.", text="Forty-two."),
    Reply(text="Calling.", tool_calls=[("get_weather", {"city": "Paris", "days": [1, 2]})]),
]


@pytest.mark.parametrize("reply", REPLIES, ids=["text", "reasoning", "tools"])
@pytest.mark.parametrize("size", [0, 1, 7, 100])
def test_same_items_as_botocore_however_the_reads_split(reply: Reply, size: int) -> None:
    data = _frames(reply, ["tooluse_1"] if reply.tool_calls else None)
    ours = list(iter_items(_stream(data, size)))
    theirs = list(_stream(data))
    assert ours == theirs  # no padding, no blobs: item for item
    assert [next(iter(item)) for item in ours][:1] == ["messageStart"]


def test_padding_and_blobs_assemble_alike() -> None:
    padded = {"contentBlockIndex": 0, "p": "abcdefgh"}
    redacted = base64.b64encode(b"\x00secret\xff").decode()
    data = b"".join([
        event_message("messageStart", {"role": "assistant", "p": "abc"}),
        event_message("contentBlockDelta", {**padded, "delta": {"reasoningContent": {"redactedContent": redacted}}}),
        event_message("contentBlockStop", padded),
        event_message("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Hi"}, "p": "x"}),
        event_message("contentBlockStop", {"contentBlockIndex": 1}),
        event_message("messageStop", {"stopReason": "end_turn", "additionalModelResponseFields": {"a": [1]}}),
        event_message("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
                                   "metrics": {"latencyMs": 9}, "p": "pad"}),
    ])
    ours, theirs = list(iter_items(_stream(data, 5))), list(_stream(data))
    assert ours != theirs  # ours keeps the padding and the blob's base64 text
    assert _assembled(ours) == _assembled(theirs)
    assert _assembled(ours)[1]["message"]["vendor_blocks"]  # the redacted reasoning is kept


def test_exceptions_errors_and_unknown_events_go_through_botocore() -> None:
    start = event_message("messageStart", {"role": "assistant"})
    unknown = event_message("somethingNew", {"x": 1})
    thrown = exception_message("throttlingException", {"message": "slow down"})
    for data in (start + unknown + thrown, start + thrown):
        with pytest.raises(EventStreamError) as ours:
            list(iter_items(_stream(data, 3)))
        with pytest.raises(EventStreamError) as theirs:
            list(_stream(data))
        assert ours.value.response == theirs.value.response
        assert ours.value.response["Error"]["Code"] == "throttlingException"
    error = encode_message({":message-type": "error", ":error-code": "Boom", ":error-message": "it broke"}, b"")
    with pytest.raises(EventStreamError, match="Boom"):
        list(iter_items(_stream(start + error)))
    # An unknown event type is dropped, as botocore drops it.
    assert list(iter_items(_stream(start + unknown))) == list(_stream(start + unknown)) == [
        {"messageStart": {"role": "assistant"}}]


def test_other_header_types_and_odd_payloads_fall_back_to_botocore() -> None:
    raw_headers = (b"\x0d:message-type\x07\x00\x05event" + b"\x0b:event-type\x07\x00\x0bmessageStop"
                   + b"\x04flag\x00")  # a boolean header: botocore's decoder reads it
    payload = b'{"stopReason":"end_turn"}'
    prelude = struct.pack(">II", 16 + len(raw_headers) + len(payload), len(raw_headers))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    odd = body + struct.pack(">I", zlib.crc32(body))
    not_object = event_message("messageStop", b"[1, 2]")
    empty = event_message("contentBlockStop", b"")
    for data in (odd, not_object, empty):  # botocore fails on a list payload: so do we, the same way
        assert _outcome(lambda d=data: iter_items(_stream(d, 4))) == _outcome(lambda d=data: _stream(d))
    assert list(iter_items(_stream(odd))) == [{"messageStop": {"stopReason": "end_turn"}}]


def test_broken_frames_raise_botocores_errors() -> None:
    good = event_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}})
    bad_message = bytearray(good)
    bad_message[-1] ^= 0xFF
    bad_prelude = bytearray(good)
    bad_prelude[9] ^= 0xFF
    for data in (bytes(bad_message), bytes(bad_prelude)):
        with pytest.raises(ChecksumMismatch) as ours:
            list(iter_items(_stream(data, 2)))
        with pytest.raises(ChecksumMismatch) as theirs:
            list(_stream(data))
        assert str(ours.value) == str(theirs.value)
    tiny = struct.pack(">II", 8, 0)
    with pytest.raises(InvalidPayloadLength):
        list(iter_items(_stream(tiny + struct.pack(">I", zlib.crc32(tiny)) + b"\x00" * 8)))
    # A stream cut inside a frame ends where botocore's ends: after the last whole frame.
    cut = good + good[:20]
    assert list(iter_items(_stream(cut, 6))) == list(_stream(cut)) == [
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "x"}}}]


def test_an_event_stream_without_the_private_attributes_is_iterated_as_is() -> None:
    items = [{"messageStart": {"role": "assistant"}}]
    assert list(iter_items(items)) == items


@pytest.mark.skipif(not SAMPLES_FILE.is_file(), reason=f"no recorded samples at {SAMPLES_FILE}")
def test_recorded_bedrock_streams_assemble_alike() -> None:
    records = []
    with SAMPLES_FILE.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["kind"] == "bedrock-converse" and record["stream"] and record.get("body_b64"):
                records.append(record)
    assert records
    for record in records:
        data = base64.b64decode(record["body_b64"])
        theirs: list[Any] | Exception
        try:
            theirs = list(_stream(data))
        except Exception as exc:  # a recorded error inside the stream
            theirs = exc
        for size in (0, 13):
            if isinstance(theirs, Exception):
                with pytest.raises(type(theirs)):
                    list(iter_items(_stream(data, size)))
                continue
            ours = list(iter_items(_stream(data, size)))
            assert len(ours) == len(theirs)
            assert _assembled(ours) == _assembled(theirs), record.get("id")


def test_the_user_agent_is_the_one_botocore_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE000000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with WireEmulator() as emu:
        kept = create_provider("bedrock", base_url=emu.bedrock_base_url, region="us-east-1", max_retries=0)
        for _ in range(2):  # built, then kept
            kept.generate_sync("us.amazon.nova-micro-v1:0", "hi")
            list(kept.stream_sync("us.amazon.nova-micro-v1:0", "hi"))
        assert "to_string" in vars(kept.client._user_agent_creator)
        monkeypatch.setattr(bedrock_module, "get_context", None)  # botocore's own way: built on every call
        plain = create_provider("bedrock", base_url=emu.bedrock_base_url, region="us-east-1", max_retries=0)
        plain.generate_sync("us.amazon.nova-micro-v1:0", "hi")
        list(plain.stream_sync("us.amazon.nova-micro-v1:0", "hi"))
        assert "to_string" not in vars(plain.client._user_agent_creator)
        agents = [r.headers["user-agent"] for r in emu.requests]
        kept.close()
        plain.close()
    assert len(agents) == 6 and "Botocore/" in agents[0]
    assert agents[:4] == [agents[4], agents[5]] * 2  # whole calls alike, streams alike
