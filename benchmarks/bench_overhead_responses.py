"""Per-call overhead of agentos-llm over the raw openai SDK on the Responses API, beside chat completions.

The Responses twin of `bench_overhead.py` (same loops, summaries and report; read its docstring), with the
chat-completions scenarios run in the same process and the same run, so "a Responses call adds no more than a
chat call does" is read off one table: compare the `added` and `layer` columns of the `responses` rows with
those of the `chat` rows.

- raw: `openai.OpenAI(...).responses.create(model=..., input=...)` reading `output_text` and the usage; for
  streams `stream=True`, every raw event read (text deltas and the final usage). Chat rows: as in
  `bench_overhead.py`.
- ours: `create_provider("openai", api="responses")` (`generate_sync` / `await generate`, every event of
  `stream_sync` / `stream`); chat rows: `create_provider("openai")`.
- floor: the same SDK client's low-level `post("/responses", cast_to=httpx2.Response)` decoded with
  `json.loads` only (per `data:` line for streams).

Reported, never asserted; exit status 0 whatever the figures.

    .venv/bin/python benchmarks/bench_overhead_responses.py [--n 500] [--warmup 50] [--json out.json] [--inproc]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL
from bench_overhead import (
    STREAM_PROMPT,
    WHOLE_PROMPT,
    afloor_sides,
    aours_stream_side,
    floor_sides,
    measure_async,
    measure_sync,
    ours_stream_side,
    overhead_main,
)
from bench_overhead import async_scenarios as chat_async_scenarios
from bench_overhead import sync_scenarios as chat_sync_scenarios

WHOLE_BODY: dict[str, Any] = {"model": MODEL, "input": WHOLE_PROMPT, "store": False}
STREAM_BODY: dict[str, Any] = {**WHOLE_BODY, "input": STREAM_PROMPT, "stream": True}


def _label(rows: list[dict[str, Any]], api: str) -> list[dict[str, Any]]:
    for row in rows:
        row["scenario"] = f"{row['scenario']} ({api})"
    return rows


def _raw_usage(usage: Any) -> tuple[int, int]:
    return usage.input_tokens, usage.output_tokens


def same_answers(raw_whole: Any, ours_whole: Any, raw_usage: Any, ours_done: Any) -> None:
    """Checks once, before timing, that both sides got and read the same answers."""
    if tuple(raw_whole) != tuple(ours_whole):
        raise RuntimeError(f"raw and ours differ on the whole answer: {raw_whole!r} != {ours_whole!r}")
    if raw_usage != (ours_done.usage.input_tokens, ours_done.usage.output_tokens):
        raise RuntimeError(f"raw and ours differ on the streamed usage: {raw_usage} != {ours_done.usage}")


def _read_raw_event(event: Any, usage: list[Any]) -> None:
    kind = event.type
    if kind == "response.output_text.delta":
        _ = event.delta
    elif kind == "response.completed":
        usage[0] = _raw_usage(event.response.usage)


def sync_scenarios(base_url: str, n: int, warmup: int) -> list[dict[str, Any]]:
    import httpx2
    import openai

    from agentos_llm.registry import create_provider

    client: Any = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    floor_client: Any = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    provider = create_provider("openai", api="responses", api_key=API_KEY, base_url=base_url, max_retries=0)

    def raw_whole() -> Any:
        r = client.responses.create(model=MODEL, input=WHOLE_PROMPT, store=False)
        return r.output_text, r.usage.input_tokens, r.usage.output_tokens

    def ours_whole() -> Any:
        r = provider.generate_sync(MODEL, WHOLE_PROMPT)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    counts = {"raw": 0, "ours": 0}

    def raw_stream() -> Any:
        usage: list[Any] = [None]
        k = 0
        for event in client.responses.create(model=MODEL, input=STREAM_PROMPT, store=False, stream=True):
            k += 1
            _read_raw_event(event, usage)
        counts["raw"] = k
        return usage[0]

    floor_whole, floor_stream = floor_sides(floor_client, "/responses", WHOLE_BODY, STREAM_BODY, httpx2.Response)
    ours_stream = ours_stream_side(provider, MODEL, STREAM_PROMPT, counts)
    try:
        rows = measure_sync(same_answers, [raw_whole, ours_whole, floor_whole], [raw_stream, ours_stream, floor_stream],
                            counts, n, warmup)
        return _label(chat_sync_scenarios(base_url, n, warmup), "chat") + _label(rows, "responses")
    finally:
        client.close()
        floor_client.close()
        provider.close()


async def async_scenarios(base_url: str, n: int, warmup: int) -> list[dict[str, Any]]:
    import httpx2
    import openai

    from agentos_llm.registry import create_provider

    client: Any = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    floor_client: Any = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    provider = create_provider("openai", api="responses", api_key=API_KEY, base_url=base_url, max_retries=0)

    async def raw_whole() -> Any:
        r = await client.responses.create(model=MODEL, input=WHOLE_PROMPT, store=False)
        return r.output_text, r.usage.input_tokens, r.usage.output_tokens

    async def ours_whole() -> Any:
        r = await provider.generate(MODEL, WHOLE_PROMPT)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    counts = {"raw": 0, "ours": 0}

    async def raw_stream() -> Any:
        usage: list[Any] = [None]
        k = 0
        stream = await client.responses.create(model=MODEL, input=STREAM_PROMPT, store=False, stream=True)
        async for event in stream:
            k += 1
            _read_raw_event(event, usage)
        counts["raw"] = k
        return usage[0]

    floor_whole, floor_stream = afloor_sides(floor_client, "/responses", WHOLE_BODY, STREAM_BODY, httpx2.Response)
    ours_stream = aours_stream_side(provider, MODEL, STREAM_PROMPT, counts)
    try:
        rows = await measure_async(same_answers, [raw_whole, ours_whole, floor_whole],
                                   [raw_stream, ours_stream, floor_stream], counts, n, warmup)
        return _label(await chat_async_scenarios(base_url, n, warmup), "chat") + _label(rows, "responses")
    finally:
        await client.close()
        await floor_client.close()
        await provider.aclose()


def main(argv: list[str] | None = None) -> int:
    import openai

    return overhead_main(argv, __doc__, "openai", openai.__version__, sync_scenarios, async_scenarios)


if __name__ == "__main__":
    sys.exit(main())
