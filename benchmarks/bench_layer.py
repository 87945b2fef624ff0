"""What the library's own layer costs over the transport, per wire API: µs per whole call and per stream event.

Each provider runs against the loopback wire emulator (a child process). The I/O hooks are wrapped with a
timer: for a whole call, the time inside `_send` (the SDK's request and `json.loads` of the body: the
transport floor every library pays) is subtracted from the call's time; for a stream, the time inside the
chunk iterator `_open_stream` returns (reading and decoding each event) is subtracted from the time to read
the whole stream. What is left is the layer: validation, the request converter, the response or event
converter, retries, usage, pricing, metadata and packing. It is measured with real I/O between calls, so
caches are as cold as in an application (a loop over a stub runs the same code faster). What the timing
wrappers themselves cost is measured on a stub first and subtracted.

Workloads: `small` (a short prompt and answer), `tool` (one function tool offered, its call required, and
called), both sync;
`event`: a 500-word answer streamed (one text event per word), sync, divided by the events read.
Reported as medians (and p10) over `--n` calls after a warm-up; a report, never a bound. The `hot` columns run
the same whole calls in a loop over a stub of `_send` (one recorded answer, decoded again each time, the
decoding subtracted): the layer's cost with hot caches, for comparison.

    .venv/bin/python benchmarks/bench_layer.py [--n 1500] [--streams 30] [--api openai-chat ...] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, emulator, machine

APIS = ("openai-chat", "openai-responses", "anthropic-messages", "gemini-generate", "bedrock-converse",
        "cohere-chat")
_TOOL_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
_WORDS = " ".join(f"word{i}" for i in range(500))


def _provider(api: str, root: str) -> tuple[Any, str]:
    from agentos_llm import create_provider

    if api == "openai-chat":
        return create_provider("openai", api_key=API_KEY, base_url=root + "/v1"), "gpt-4o-mini"
    if api == "openai-responses":
        return create_provider("openai", api="responses", api_key=API_KEY, base_url=root + "/v1"), "gpt-4o-mini"
    if api == "anthropic-messages":
        return create_provider("anthropic", api_key=API_KEY, base_url=root), "claude-sonnet-4-5"
    if api == "gemini-generate":
        return create_provider("gemini", api_key=API_KEY, base_url=root), "gemini-2.5-flash"
    if api == "bedrock-converse":
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench-access-key")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret-key")
        return (create_provider("bedrock", region="us-east-1", base_url=root),
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    return create_provider("cohere", api_key=API_KEY, base_url=root), "command-a-03-2025"


class _Timed:
    """Wraps a provider's I/O hooks and keeps the seconds spent inside them for the current call."""

    def __init__(self, p: Any) -> None:
        self.inside = 0.0
        send, open_stream = p._send, p._open_stream

        def timed_send(*args: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return send(*args)
            finally:
                self.inside += time.perf_counter() - t0

        def timed_open(*args: Any) -> Iterator[Any]:
            t0 = time.perf_counter()
            chunks = open_stream(*args)
            self.inside += time.perf_counter() - t0
            return self._timed_chunks(chunks)

        p._send, p._open_stream = timed_send, timed_open

    def _timed_chunks(self, chunks: Iterator[Any]) -> Iterator[Any]:
        try:
            while True:
                t0 = time.perf_counter()
                try:
                    chunk = next(chunks)
                except StopIteration:
                    self.inside += time.perf_counter() - t0
                    return
                self.inside += time.perf_counter() - t0
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


def _outside(timed: _Timed, run: Callable[[], int]) -> tuple[float, int]:
    timed.inside = 0.0
    t0 = time.perf_counter()
    count = run()
    return time.perf_counter() - t0 - timed.inside, count


def calibrate(rounds: int = 2000) -> tuple[float, float]:
    """What the timing wrappers themselves add outside the I/O (µs per call, µs per chunk), to subtract."""

    class Stub:
        def _send(self, *args: Any) -> None:
            return None

        def _open_stream(self, *args: Any) -> Iterator[Any]:
            return iter(range(500))

    plain, wrapped = Stub(), Stub()
    timed = _Timed(wrapped)
    per_call, per_chunk = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        plain._send()
        t1 = time.perf_counter()
        timed.inside = 0.0
        t2 = time.perf_counter()
        wrapped._send()
        t3 = time.perf_counter()
        per_call.append(((t3 - t2 - timed.inside) - (t1 - t0)) * 1e6)
    for _ in range(max(rounds // 50, 10)):
        t0 = time.perf_counter()
        for _ in plain._open_stream():
            pass
        t1 = time.perf_counter()
        timed.inside = 0.0
        t2 = time.perf_counter()
        for _ in wrapped._open_stream():
            pass
        t3 = time.perf_counter()
        per_chunk.append(((t3 - t2 - timed.inside) - (t1 - t0)) / 500 * 1e6)
    return max(statistics.median(per_call), 0.0), max(statistics.median(per_chunk), 0.0)


def measure(api: str, root: str, n: int, streams: int, harness: tuple[float, float]) -> dict[str, Any]:
    from agentos_llm import ToolDefinition

    p, model = _provider(api, root)
    tools = [ToolDefinition(name="get_weather", description="The weather in a city", parameters=_TOOL_SCHEMA)]
    timed = _Timed(p)
    hello = [{"role": "user", "content": "hello there"}]
    words = [{"role": "user", "content": _WORDS}]

    def small() -> int:
        assert p.generate_sync(model, hello).text
        return 1

    def tool() -> int:
        assert p.generate_sync(model, hello, tools=tools, tool_choice="required").tool_calls
        return 1

    def stream() -> int:
        events = 0
        with p.stream_sync(model, words) as chunks:
            for event in chunks:
                events += event.type == "text_delta"
        return events

    out: dict[str, Any] = {}
    for name, run, count in (("small", small, n), ("tool", tool, n), ("event", stream, streams)):
        for _ in range(max(count // 10, 3)):
            run()
        per: list[float] = []
        for _ in range(count):
            seconds, items = _outside(timed, run)
            per.append(seconds / max(items, 1) * 1e6 - (harness[1] if name == "event" else harness[0]))
        per.sort()
        out[name] = {"median_us": statistics.median(per), "p10_us": per[len(per) // 10]}
    for name, kw in (("small", {}), ("tool", {"tools": tools, "tool_choice": "required"})):
        out[f"hot_{name}"] = {"median_us": _hot(p, model, hello, kw, n), "p10_us": None}
    p.close()
    return out


def _hot(p: Any, model: str, messages: Any, options: dict[str, Any], n: int) -> float:
    """The same call in a loop over a stub of `_send` (a recorded answer, decoded again each time): the layer with
    hot caches, the decoding subtracted."""
    from agentos_llm.received import Received

    got = p._send("chat", p._wire_request(p._make_call(model, messages, options))[0], None, None)
    body = json.dumps(got.payload).encode()
    p._send = lambda *args: Received(json.loads(body), got.headers, got.status)
    for _ in range(max(n // 10, 50)):
        p.generate_sync(model, messages, **options)
    calls, decodes = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        p.generate_sync(model, messages, **options)
        t1 = time.perf_counter()
        json.loads(body)
        t2 = time.perf_counter()
        calls.append(t1 - t0)
        decodes.append(t2 - t1)
    return (statistics.median(calls) - statistics.median(decodes)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1500, help="timed whole calls per workload")
    parser.add_argument("--streams", type=int, default=30, help="timed 500-event streams")
    parser.add_argument("--api", action="append", choices=APIS, help="only these APIs (repeatable)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    harness = calibrate()
    with emulator() as openai_url:
        root = openai_url.removesuffix("/v1")
        for api in args.api or APIS:
            results[api] = measure(api, root, args.n, args.streams, harness)
    print(f"machine: {machine()}")
    print(f"the timing wrappers' own cost, subtracted: {harness[0]:.2f} µs per call, {harness[1]:.2f} µs per event")
    print("the layer over the transport (µs; median, p10 in brackets): whole sync calls, and per stream event;")
    print("hot: the same whole calls in a loop over a stub of the transport (median)")
    print(f"{'API':20s} {'small':>16s} {'tool call':>16s} {'per event':>16s} {'hot small':>10s} {'hot tool':>10s}")
    for api, row in results.items():
        cells = [f"{row[k]['median_us']:7.1f} ({row[k]['p10_us']:5.1f})" for k in ("small", "tool", "event")]
        hot = [f"{row[k]['median_us']:10.1f}" for k in ("hot_small", "hot_tool")]
        print(f"{api:20s} " + " ".join(f"{c:>16s}" for c in cells) + " " + " ".join(hot))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "harness_us": harness, "results": results},
                                              indent=2))


if __name__ == "__main__":
    main()
