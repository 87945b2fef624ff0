"""Per-call overhead of agentos-llm over the raw anthropic SDK, against the loopback wire emulator.

The Anthropic twin of `bench_overhead.py` (same loops, summaries and report; read its docstring):
three sides interleaved call by call after a warm-up, on keep-alive clients, one emulator in a child
process (`--inproc` keeps it in-process), nothing scripted, so every side gets the same echo.

- raw: `anthropic.Anthropic(...).messages.create(model=..., max_tokens=..., messages=[...])` reading the
  text and usage; for streams `stream=True`, every raw event read (text deltas and the final usage).
- ours: `generate_sync` / `await generate`, and every event of `stream_sync` / `stream`.
- floor: the same SDK client's low-level `post("/v1/messages", cast_to=httpx2.Response)` decoded with
  `json.loads` only (per `data:` line for streams): the I/O under our provider.

A ~200-word answer streams as ~200 text deltas (one event per word) plus the message and block events.
Bounds (reported, never asserted): 0.2 ms added per whole call, 20 us added per stream event.

    .venv/bin/python benchmarks/bench_overhead_anthropic.py [--n 500] [--warmup 50] [--json out.json] [--inproc]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY
from bench_overhead import (
    STREAM_WORDS,
    afloor_sides,
    aours_stream_side,
    floor_sides,
    measure_async,
    measure_sync,
    ours_stream_side,
    overhead_main,
)

MODEL = "claude-haiku-4-5"
MAX_TOKENS = 1024  # sent by every side, so the request bodies are the same
WHOLE_PROMPT = "Say hello to the benchmark."
STREAM_PROMPT = " ".join(f"w{i}" for i in range(STREAM_WORDS))
WHOLE_MSGS: list[dict[str, Any]] = [{"role": "user", "content": WHOLE_PROMPT}]
STREAM_MSGS: list[dict[str, Any]] = [{"role": "user", "content": STREAM_PROMPT}]
WHOLE_BODY = {"model": MODEL, "max_tokens": MAX_TOKENS, "messages": WHOLE_MSGS}
STREAM_BODY = {**WHOLE_BODY, "messages": STREAM_MSGS, "stream": True}


def same_answers(raw_whole: Any, ours_whole: Any, raw_usage: Any, ours_done: Any) -> None:
    """Checks once, before timing, that both sides got and read the same answers."""
    if tuple(raw_whole) != tuple(ours_whole):
        raise RuntimeError(f"raw and ours differ on the whole answer: {raw_whole!r} != {ours_whole!r}")
    if raw_usage != (ours_done.usage.input_tokens, ours_done.usage.output_tokens):
        raise RuntimeError(f"raw and ours differ on the streamed usage: {raw_usage} != {ours_done.usage}")
    if len(ours_done.text.split()) != STREAM_WORDS + 1:
        raise RuntimeError(f"unexpected streamed answer: {ours_done.text[:80]!r}...")


def _read_raw_event(event: Any, usage: list[int]) -> None:
    kind = event.type
    if kind == "content_block_delta":
        _ = event.delta.text if event.delta.type == "text_delta" else None
    elif kind == "message_start":
        usage[0] = event.message.usage.input_tokens
    elif kind == "message_delta":
        usage[1] = event.usage.output_tokens


def sync_scenarios(base_url: str, n: int, warmup: int) -> list[dict[str, Any]]:
    import anthropic
    import httpx2

    from agentos_llm.registry import create_provider

    client: Any = anthropic.Anthropic(base_url=base_url, api_key=API_KEY, max_retries=0)
    floor_client: Any = anthropic.Anthropic(base_url=base_url, api_key=API_KEY, max_retries=0)
    provider = create_provider("anthropic", api_key=API_KEY, base_url=base_url, max_retries=0)

    def raw_whole() -> Any:
        r = client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=WHOLE_MSGS)
        return r.content[0].text, r.usage.input_tokens, r.usage.output_tokens

    def ours_whole() -> Any:
        r = provider.generate_sync(MODEL, WHOLE_MSGS, max_tokens=MAX_TOKENS)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    counts = {"raw": 0, "ours": 0}

    def raw_stream() -> Any:
        usage = [0, 0]
        k = 0
        for event in client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=STREAM_MSGS, stream=True):
            k += 1
            _read_raw_event(event, usage)
        counts["raw"] = k
        return tuple(usage)

    floor_whole, floor_stream = floor_sides(floor_client, "/v1/messages", WHOLE_BODY, STREAM_BODY, httpx2.Response)
    ours_stream = ours_stream_side(provider, MODEL, STREAM_MSGS, counts, max_tokens=MAX_TOKENS)
    try:
        return measure_sync(same_answers, [raw_whole, ours_whole, floor_whole], [raw_stream, ours_stream, floor_stream],
                            counts, n, warmup)
    finally:
        client.close()
        floor_client.close()
        provider.close()


async def async_scenarios(base_url: str, n: int, warmup: int) -> list[dict[str, Any]]:
    import anthropic
    import httpx2

    from agentos_llm.registry import create_provider

    client: Any = anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY, max_retries=0)
    floor_client: Any = anthropic.AsyncAnthropic(base_url=base_url, api_key=API_KEY, max_retries=0)
    provider = create_provider("anthropic", api_key=API_KEY, base_url=base_url, max_retries=0)

    async def raw_whole() -> Any:
        r = await client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=WHOLE_MSGS)
        return r.content[0].text, r.usage.input_tokens, r.usage.output_tokens

    async def ours_whole() -> Any:
        r = await provider.generate(MODEL, WHOLE_MSGS, max_tokens=MAX_TOKENS)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    counts = {"raw": 0, "ours": 0}

    async def raw_stream() -> Any:
        usage = [0, 0]
        k = 0
        stream = await client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=STREAM_MSGS, stream=True)
        async for event in stream:
            k += 1
            _read_raw_event(event, usage)
        counts["raw"] = k
        return tuple(usage)

    floor_whole, floor_stream = afloor_sides(floor_client, "/v1/messages", WHOLE_BODY, STREAM_BODY, httpx2.Response)
    ours_stream = aours_stream_side(provider, MODEL, STREAM_MSGS, counts, max_tokens=MAX_TOKENS)
    try:
        return await measure_async(same_answers, [raw_whole, ours_whole, floor_whole],
                                   [raw_stream, ours_stream, floor_stream], counts, n, warmup)
    finally:
        await client.close()
        await floor_client.close()
        await provider.aclose()


def main(argv: list[str] | None = None) -> int:
    import anthropic

    return overhead_main(argv, __doc__, "anthropic", anthropic.__version__, sync_scenarios, async_scenarios,
                         server_root=True)


if __name__ == "__main__":
    sys.exit(main())
