"""Per-call overhead of agentos-llm's Gemini provider over the raw google-genai SDK, against the emulator.

The same method as `bench_overhead.py` (read its docstring): one emulator (a child process unless
`--inproc`), nothing scripted (the emulator echoes the last user message, so both sides read
byte-identical answers, checked once before timing), three sides interleaved call by call with the
order rotating every iteration, after a warm-up:

- raw: the SDK's typed API, `genai.Client(api_key=..., http_options=HttpOptions(base_url=...))`:
  `client.models.generate_content(model=..., contents=...)` reading `.text` and `.usage_metadata`
  (async: `client.aio.models...`); streams: `generate_content_stream`, every chunk's `.text` read.
- ours: `create_provider("gemini", api_key=..., base_url=..., max_retries=0)`: `generate_sync` /
  `await generate` reading `.text` and `.usage`; streams: every event of `stream_sync` / `stream`.
- floor: the same SDK's API client sending the same REST body and returning the raw JSON
  (`request` + `json.loads`; streams: the parsed SSE segments), which is the I/O our provider does
  underneath; `ours - floor` is the cost of our own layer.

Bounds (reported, never asserted): 0.2 ms added per whole call, 20 us added per stream event.

    .venv/bin/python benchmarks/bench_overhead_gemini.py [--n 500] [--warmup 50] [--json out.json] [--inproc]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_overhead import (
    STREAM_PROMPT,
    STREAM_WORDS,
    WHOLE_PROMPT,
    aours_stream_side,
    measure_async,
    measure_sync,
    ours_stream_side,
    overhead_main,
)

MODEL = "gemini-2.5-flash"
API_KEY = "AIza-bench-not-a-real-key"
WHOLE_BODY = {"contents": [{"role": "user", "parts": [{"text": WHOLE_PROMPT}]}]}
STREAM_BODY = {"contents": [{"role": "user", "parts": [{"text": STREAM_PROMPT}]}]}
WHOLE_PATH = f"models/{MODEL}:generateContent"
STREAM_PATH = f"models/{MODEL}:streamGenerateContent?alt=sse"


def _clients(root: str) -> tuple[Any, Any, Any]:
    from google import genai
    from google.genai import types

    from agentos_llm.registry import create_provider

    def sdk() -> Any:
        return genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=root))

    return sdk(), sdk(), create_provider("gemini", api_key=API_KEY, base_url=root, max_retries=0)


def same_answers(raw_whole: Any, ours_whole: Any, raw_stream: Any, ours_done: Any) -> None:
    """Checks once, before timing, that both sides got and read the same answers."""
    if tuple(raw_whole) != tuple(ours_whole):
        raise RuntimeError(f"raw and ours differ on the whole answer: {raw_whole!r} != {ours_whole!r}")
    text, usage = raw_stream
    if text != ours_done.text or (usage.prompt_token_count, usage.candidates_token_count) != (
            ours_done.usage.input_tokens, ours_done.usage.output_tokens):
        raise RuntimeError("raw and ours differ on the streamed answer")
    if len(ours_done.text.split()) != STREAM_WORDS + 1:
        raise RuntimeError(f"unexpected streamed answer: {ours_done.text[:80]!r}...")


def sync_scenarios(root: str, n: int, warmup: int) -> list[dict[str, Any]]:
    client, floor_client, provider = _clients(root)
    api = floor_client._api_client
    counts = {"raw": 0, "ours": 0}

    def raw_whole() -> Any:
        r = client.models.generate_content(model=MODEL, contents=WHOLE_PROMPT)
        u = r.usage_metadata
        return r.text, u.prompt_token_count, u.candidates_token_count

    def ours_whole() -> Any:
        r = provider.generate_sync(MODEL, WHOLE_PROMPT)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    def floor_whole() -> Any:
        return json.loads(api.request("post", WHOLE_PATH, dict(WHOLE_BODY)).body)

    def raw_stream() -> Any:
        k = 0
        text: list[str] = []
        usage = None
        for chunk in client.models.generate_content_stream(model=MODEL, contents=STREAM_PROMPT):
            k += 1
            text.append(chunk.text or "")
            usage = chunk.usage_metadata or usage
        counts["raw"] = k
        return "".join(text), usage

    ours_stream = ours_stream_side(provider, MODEL, STREAM_PROMPT, counts)

    def floor_stream() -> Any:
        response = api._request(api._build_request("post", STREAM_PATH, dict(STREAM_BODY)), None, stream=True)
        return sum(1 for _ in response.segments())

    try:
        return measure_sync(same_answers, [raw_whole, ours_whole, floor_whole], [raw_stream, ours_stream, floor_stream],
                            counts, n, warmup)
    finally:
        client.close()
        floor_client.close()
        provider.close()


async def async_scenarios(root: str, n: int, warmup: int) -> list[dict[str, Any]]:
    client, floor_client, provider = _clients(root)
    api = floor_client._api_client
    counts = {"raw": 0, "ours": 0}

    async def raw_whole() -> Any:
        r = await client.aio.models.generate_content(model=MODEL, contents=WHOLE_PROMPT)
        u = r.usage_metadata
        return r.text, u.prompt_token_count, u.candidates_token_count

    async def ours_whole() -> Any:
        r = await provider.generate(MODEL, WHOLE_PROMPT)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    async def floor_whole() -> Any:
        return json.loads((await api.async_request("post", WHOLE_PATH, dict(WHOLE_BODY))).body)

    async def raw_stream() -> Any:
        k = 0
        text: list[str] = []
        usage = None
        async for chunk in await client.aio.models.generate_content_stream(model=MODEL, contents=STREAM_PROMPT):
            k += 1
            text.append(chunk.text or "")
            usage = chunk.usage_metadata or usage
        counts["raw"] = k
        return "".join(text), usage

    ours_stream = aours_stream_side(provider, MODEL, STREAM_PROMPT, counts)

    async def floor_stream() -> Any:
        sent = api._build_request("post", STREAM_PATH, dict(STREAM_BODY))
        response = await api._async_request(sent, None, stream=True)
        k = 0
        async for _ in response.async_segments():
            k += 1
        return k

    try:
        return await measure_async(same_answers, [raw_whole, ours_whole, floor_whole],
                                   [raw_stream, ours_stream, floor_stream], counts, n, warmup)
    finally:
        await client.aio.aclose()
        client.close()
        await floor_client.aio.aclose()
        floor_client.close()
        await provider.aclose()


def main(argv: list[str] | None = None) -> int:
    import google.genai

    return overhead_main(argv, __doc__, "google-genai", google.genai.__version__, sync_scenarios,
                         async_scenarios, server_root=True)


if __name__ == "__main__":
    sys.exit(main())
