"""What the pure converters cost, per API, on real recorded wire samples: µs per stream event and per response.

No I/O: each sample's recorded body is decoded once up front (SSE events or Bedrock event-stream frames into the
chunks the I/O module hands the assembler), then the provider's own converter hooks are timed on it:

- `event`: one stream chunk through `assembler.feed`, the whole stream's `finish` spread over its events;
- `event+json`: the same with each event's `json.loads` (what the I/O module does before `feed`) counted in;
- `feed`: one stream chunk through `assembler.feed` alone (what each event of a long stream costs), and
  `finish`: a stream's `finish` (its whole response built), per stream: the recorded streams are short (Gemini's
  carry 4 events on average), so `event` spreads a finish over few events;
- `response`: a whole response body (already JSON-decoded) through `_parse_response`;
- `request`: `_make_call` (options and tools coerced) plus `_build_request` for a small tool-calling request with a
  three-message history: the converter side of sending.

Samples come from tests/data/wire-samples/samples.jsonl when the repository has it, else ../shared/wire-samples.
Cohere has no recorded stream: its stream row is left out (its whole responses are real). Medians of `--repeats`
passes over every sample, after a warm-up pass; a report, never a bound.

    .venv/bin/python benchmarks/bench_converters.py [--repeats 30] [--samples PATH] [--kind KIND] [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentos_llm import create_provider  # noqa: E402
from agentos_llm.provider import Call, IProvider  # noqa: E402
from agentos_llm.wire.sse import iter_sse  # noqa: E402

CHAT_KINDS = ("openai-chat", "openai-responses", "anthropic-messages", "gemini-generate", "bedrock-converse",
              "cohere-chat")
_VENDORS = {"openai": "openai", "groq": "groq", "openrouter": "openrouter", "mistral": "mistral",
            "deepseek": "deepseek", "together": "together", "ollama": "ollama", "xai": "xai", "cerebras": "cerebras"}


def samples_path(given: str | None) -> Path:
    if given:
        return Path(given)
    local = ROOT / "tests" / "data" / "wire-samples" / "samples.jsonl"
    return local if local.exists() else ROOT.parent / "shared" / "wire-samples" / "samples.jsonl"


def provider_for(kind: str, vendor: str) -> tuple[IProvider, str]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench-access-key")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret-key")
    url = "http://127.0.0.1:9"
    if kind == "openai-chat":
        return create_provider(_VENDORS.get(vendor, "openai"), api_key="bench-key", base_url=url), "gpt-4o"
    if kind == "openai-responses":
        return create_provider("openai", api="responses", api_key="bench-key", base_url=url), "gpt-4o"
    if kind == "anthropic-messages":
        return create_provider("anthropic", api_key="bench-key", base_url=url), "claude-sonnet-4-5"
    if kind == "gemini-generate":
        return create_provider("gemini", api_key="bench-key", base_url=url), "gemini-2.5-flash"
    if kind == "bedrock-converse":
        return (create_provider("bedrock", region="us-east-1", base_url=url),
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    return create_provider("cohere", api_key="bench-key", base_url=url), "command-a-03-2025"


# ---------------------------------------------------------------------- stream bodies to chunks


def _sse_decoder(kind: str, provider: IProvider) -> Callable[[str | None, str], Any]:
    if kind == "openai-chat":
        from agentos_llm.wire.openai_chat import ChunkDecoder

        chat = ChunkDecoder(provider.provider_id)
        return lambda event, data: chat.decode(data)
    if kind == "openai-responses":
        from agentos_llm.wire.openai_responses_stream import EventDecoder

        return EventDecoder(provider.provider_id).decode
    if kind == "anthropic-messages":
        from agentos_llm.wire.anthropic_messages import decode_event

        return lambda event, data: decode_event(data, provider.provider_id)
    if kind == "gemini-generate":
        from agentos_llm.wire.gemini_generate import decode_stream_event

        return lambda event, data: decode_stream_event(data, provider.provider_id)
    from agentos_llm.wire.cohere_stream import decode_event as cohere_event

    return lambda event, data: cohere_event(event, data, provider.provider_id)


def _bedrock_items(raw: bytes) -> list[tuple[str, Any]]:
    from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]

    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    items = []
    for message in buffer:
        name = message.headers.get(":event-type")
        if message.headers.get(":message-type") == "event" and name:
            items.append((name, message.payload.decode()))
    return items


def stream_events(sample: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(event name, data) of every event of a recorded stream, in order (Bedrock: the frame's event type)."""
    if sample["kind"] == "bedrock-converse":
        raw = base64.b64decode(sample["body_b64"]) if sample.get("body_b64") else sample["body"].encode()
        return list(_bedrock_items(raw))
    return [(e.event, e.data) for e in iter_sse(sample["body"].splitlines())]


def make_decoder(kind: str, provider: IProvider) -> Callable[[str | None, str], Any]:
    """A fresh decoder for one stream (some keep state: what follows `[DONE]` is ignored)."""
    if kind == "bedrock-converse":
        return lambda name, data: {name: json.loads(data)}
    return _sse_decoder(kind, provider)


# ---------------------------------------------------------------------- timing


_STAT: Callable[[list[float]], float] = statistics.median


def _per_pass(fn: Callable[[], int], repeats: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        n = fn()
        times.append((time.perf_counter_ns() - t0) / 1000 / max(n, 1))
    return times


def bench_kind(kind: str, samples: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    row: dict[str, Any] = {"kind": kind}
    whole = [s for s in samples if not s["stream"] and s["status"] == 200]
    streams = [s for s in samples if s["stream"] and s["status"] == 200]
    provider, model = provider_for(kind, whole[0]["vendor"] if whole else "openai")
    call: Call = provider._make_call(model, "hi", {})
    stream_call: Call = provider._make_call(model, "hi", {}, stream=True)

    # whole responses
    payloads = []
    for s in whole:
        payload = json.loads(s["body"])
        try:
            provider._parse_response(payload, call)
        except Exception:
            continue
        payloads.append(payload)

    def parse_all() -> int:
        for payload in payloads:
            provider._parse_response(payload, call)
        return len(payloads)

    if payloads:
        row["responses"] = len(payloads)
        row["response_us"] = _STAT(_per_pass(parse_all, repeats))

    # streams
    decoded: list[list[Any]] = []
    recorded: list[list[tuple[str | None, str]]] = []
    for s in streams:
        events = stream_events(s)
        decode = make_decoder(kind, provider)
        chunks = [c for c in (decode(name, data) for name, data in events) if c is not None]
        try:
            assembler = provider._stream_assembler(stream_call)
            for chunk in chunks:
                assembler.feed(chunk)
            assembler.finish()
        except Exception:
            continue
        decoded.append(chunks)
        recorded.append(events)

    def feeding(finish: bool) -> Callable[[], int]:
        def feed_all() -> int:
            n = 0
            for chunks in decoded:
                assembler = provider._stream_assembler(stream_call)
                for chunk in chunks:
                    assembler.feed(chunk)
                if finish:
                    assembler.finish()
                n += len(chunks)
            return n

        return feed_all

    def decode_and_feed_all() -> int:
        n = 0
        for events in recorded:
            decode = make_decoder(kind, provider)
            assembler = provider._stream_assembler(stream_call)
            for name, data in events:
                chunk = decode(name, data)
                if chunk is not None:
                    assembler.feed(chunk)
                    n += 1
            assembler.finish()
        return n

    if decoded:
        row["streams"] = len(decoded)
        row["events"] = sum(len(c) for c in decoded)
        row["event_us"] = _STAT(_per_pass(feeding(finish=True), repeats))
        row["event_json_us"] = _STAT(_per_pass(decode_and_feed_all, repeats))
        feed_only = _STAT(_per_pass(feeding(finish=False), repeats))
        row["feed_us"] = feed_only
        # a stream's finish (the whole response built), per stream: what a long stream spreads thin
        row["finish_us"] = max(row["event_us"] - feed_only, 0.0) * row["events"] / row["streams"]

    # the request side: options and tools coerced, the body built
    history = [{"role": "user", "content": "What is the weather in Oslo?"},
               {"role": "assistant", "content": None, "tool_calls": [
                   {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "12 C, cloudy"}]
    tool = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
                                             "parameters": {"type": "object", "properties": {
                                                 "city": {"type": "string"}}, "required": ["city"]}}}
    options = {"tools": [tool], "temperature": 0.2, "max_tokens": 300}

    def build_all() -> int:
        for _ in range(50):
            provider._build_request(provider._make_call(model, history, options))
        return 50

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["request_us"] = _STAT(_per_pass(build_all, repeats))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--samples")
    parser.add_argument("--kind", action="append", choices=CHAT_KINDS)
    parser.add_argument("--json")
    parser.add_argument("--best", action="store_true",
                        help="report the fastest pass instead of the median (steadier on a busy machine)")
    args = parser.parse_args()
    global _STAT
    _STAT = min if args.best else statistics.median
    path = samples_path(args.samples)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    with path.open() as f:
        for line in f:
            sample = json.loads(line)
            by_kind.setdefault(sample["kind"], []).append(sample)
    rows = [bench_kind(kind, by_kind.get(kind, []), args.repeats) for kind in args.kind or CHAT_KINDS
            if by_kind.get(kind)]
    stat = "fastest" if args.best else "median"
    print(f"converter cost on {path} ({stat} of {args.repeats} passes; µs)")
    print(f"{'API':<20} {'responses':>9} {'µs/resp':>8} {'streams':>7} {'events':>6} {'µs/event':>8} "
          f"{'+json':>7} {'feed':>6} {'finish':>7} {'µs/request':>10}")

    def cell(row: dict[str, Any], key: str, width: int, fmt: str = ".2f") -> str:
        value = row.get(key)
        return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"

    for row in rows:
        print(f"{row['kind']:<20} {cell(row, 'responses', 9, 'd')} {cell(row, 'response_us', 8)} "
              f"{cell(row, 'streams', 7, 'd')} {cell(row, 'events', 6, 'd')} {cell(row, 'event_us', 8)} "
              f"{cell(row, 'event_json_us', 7)} {cell(row, 'feed_us', 6)} {cell(row, 'finish_us', 7)} "
              f"{cell(row, 'request_us', 10)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
