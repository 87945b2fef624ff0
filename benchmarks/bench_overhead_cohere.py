"""Per-call overhead of agentos-llm's Cohere provider over the raw cohere SDK, against the emulator's Cohere dialect.

The method of `bench_overhead.py` (read its docstring): the emulator in a child process (`--inproc` keeps it
in-process), nothing scripted so every side gets the same echo, sides interleaved call by call after a warm-up,
medians, ratios ours / raw. Nothing is asserted; the exit status is 0 whatever the figures.

- raw: the SDK's typed API, `cohere.ClientV2(api_key=..., base_url=..., max_retries=0)` / `AsyncClientV2`:
  `client.chat(model=..., messages=[...])` reading `.message.content[0].text` and the usage; `chat_stream`,
  every event read (content deltas, the usage of `message-end`); `client.embed(..., embedding_types=["float"])`
  reading `.embeddings.float_`. Its typed parsing is part of what a user of the SDK pays.
- ours: `create_provider("cohere", ...)`: `generate_sync` / `await generate`, every event of `stream_sync` /
  `stream`, `embed_sync` / `await embed`.
- floor: the same SDK client's HTTP client (`client._client_wrapper.httpx_client`, which our provider sends
  through) posting the same body, decoded with `json.loads` only (streams: per SSE `data:` line). `ours - floor`
  is our own layer.

Scenarios: sync / async whole call (a ~5-word answer); sync / async stream of 200 text deltas (204 SSE events,
202 of ours); sync / async embed of `--texts` texts at 1024 dimensions (one request, `--embed-n` times: the
emulator takes tens of ms to make the vectors); then `--concurrency`
streams (default 500) of `--events` text deltas gathered on one event loop, `--repeats` times, sides
alternating: median wall and CPU time of this process (the emulator's CPU is not counted).

    .venv/bin/python benchmarks/bench_overhead_cohere.py [--n 500] [--warmup 50] [--texts 32] [--embed-n 100]
        [--concurrency 500] [--events 40] [--repeats 3] [--only sync|async|concurrent] [--json out.json] [--inproc]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, emulator, machine, print_concurrent, run_concurrent
from bench_overhead import STREAM_WORDS, print_table, run_async, run_sync, summarize

MODEL = "command-a-03-2025"
EMBED_MODEL = "embed-v4.0"
DIMENSIONS = 1024
WHOLE_PROMPT = "Say hello to the benchmark."
STREAM_PROMPT = " ".join(f"w{i}" for i in range(STREAM_WORDS))


def messages(prompt: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": prompt}]


def bodies(texts: list[str]) -> dict[str, dict[str, Any]]:
    """What every side sends (ours builds the same bodies)."""
    return {"whole": {"model": MODEL, "messages": messages(WHOLE_PROMPT), "stream": False},
            "stream": {"model": MODEL, "messages": messages(STREAM_PROMPT), "stream": True},
            "embed": {"model": EMBED_MODEL, "texts": texts, "input_type": "search_document",
                      "embedding_types": ["float"], "output_dimension": DIMENSIONS}}


def _usage(usage: Any) -> tuple[int, int]:
    return int(usage.tokens.input_tokens), int(usage.tokens.output_tokens)


def _read_raw_event(event: Any, seen: list[Any]) -> None:
    if event.type == "content-delta":
        _ = event.delta.message.content.text
    elif event.type == "message-end":
        seen[1] = _usage(event.delta.usage)
    seen[0] += 1


def _read_ours_event(event: Any, seen: list[Any]) -> None:
    if event.type == "text_delta":
        _ = event.delta
    elif event.type == "done":
        r = event.response
        seen[1] = (r.usage.input_tokens, r.usage.output_tokens, len(r.text.split()))
    seen[0] += 1


def _decode_sse(lines: Any) -> int:
    k = 0
    for line in lines:
        if line.startswith("data: "):
            json.loads(line[6:])
            k += 1
    return k


def same_answers(whole: tuple[Any, Any], stream: tuple[Any, Any], embed: tuple[Any, Any]) -> None:
    """Checks once, before timing, that both sides got and read the same answers."""
    if whole[0] != whole[1]:
        raise RuntimeError(f"raw and ours differ on the whole answer: {whole[0]!r} != {whole[1]!r}")
    if stream[0] != stream[1][:2] or stream[1][2] != STREAM_WORDS + 1:
        raise RuntimeError(f"raw and ours differ on the streamed answer: {stream}")
    if embed[0] != embed[1]:
        raise RuntimeError("raw and ours differ on the embeddings")


class Sides:
    """The three sides' sync calls, on keep-alive clients (the provider's sync client is its own)."""

    def __init__(self, url: str, texts: list[str]) -> None:
        import cohere

        from agentos_llm import create_provider

        self.raw = cohere.ClientV2(api_key=API_KEY, base_url=url, max_retries=0)
        self.http = cohere.ClientV2(api_key=API_KEY, base_url=url, max_retries=0)._client_wrapper.httpx_client
        self.p: Any = create_provider("cohere", api_key=API_KEY, base_url=url, max_retries=0)
        self.texts, self.bodies, self.counts = texts, bodies(texts), [0, 0]

    def raw_whole(self) -> Any:
        r = self.raw.chat(model=MODEL, messages=messages(WHOLE_PROMPT))
        return (r.message.content[0].text, *_usage(r.usage))

    def ours_whole(self) -> Any:
        r = self.p.generate_sync(MODEL, WHOLE_PROMPT)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    def floor_whole(self) -> Any:
        return self._post("v2/chat", self.bodies["whole"])

    def raw_stream(self) -> Any:
        seen: list[Any] = [0, None]
        for event in self.raw.chat_stream(model=MODEL, messages=messages(STREAM_PROMPT)):
            _read_raw_event(event, seen)
        self.counts[0] = seen[0]
        return seen[1]

    def ours_stream(self) -> Any:
        seen: list[Any] = [0, None]
        for event in self.p.stream_sync(MODEL, STREAM_PROMPT):
            _read_ours_event(event, seen)
        self.counts[1] = seen[0]
        return seen[1]

    def floor_stream(self) -> int:
        with self.http.stream("v2/chat", method="POST", json=self.bodies["stream"],
                              request_options={"max_retries": 0}) as response:
            return _decode_sse(response.iter_lines())

    def raw_embed(self) -> Any:
        r = self.raw.embed(model=EMBED_MODEL, texts=self.texts, input_type="search_document",
                           embedding_types=["float"], output_dimension=DIMENSIONS)
        return r.embeddings.float_

    def ours_embed(self) -> Any:
        return self.p.embed_sync(EMBED_MODEL, self.texts, dimensions=DIMENSIONS).vectors

    def floor_embed(self) -> Any:
        return self._post("v2/embed", self.bodies["embed"])

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return json.loads(self.http.request(path, method="POST", json=body, request_options={"max_retries": 0}).content)

    def close(self) -> None:
        self.raw._client_wrapper.httpx_client.httpx_client.close()
        self.http.httpx_client.close()
        self.p.close()


class AsyncSides(Sides):
    """The same with `AsyncClientV2` and the provider's async API."""

    def __init__(self, url: str, texts: list[str]) -> None:
        import cohere

        super().__init__(url, texts)
        self.araw = cohere.AsyncClientV2(api_key=API_KEY, base_url=url, max_retries=0)
        self.ahttp = cohere.AsyncClientV2(api_key=API_KEY, base_url=url, max_retries=0)._client_wrapper.httpx_client

    async def araw_whole(self) -> Any:
        r = await self.araw.chat(model=MODEL, messages=messages(WHOLE_PROMPT))
        return (r.message.content[0].text, *_usage(r.usage))

    async def aours_whole(self) -> Any:
        r = await self.p.generate(MODEL, WHOLE_PROMPT)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    async def afloor_whole(self) -> Any:
        return await self._apost("v2/chat", self.bodies["whole"])

    async def araw_stream(self, prompt: str = STREAM_PROMPT) -> Any:
        seen: list[Any] = [0, None]
        async for event in self.araw.chat_stream(model=MODEL, messages=messages(prompt)):
            _read_raw_event(event, seen)
        self.counts[0] = seen[0]
        return seen[1]

    async def aours_stream(self, prompt: str = STREAM_PROMPT) -> Any:
        seen: list[Any] = [0, None]
        async with self.p.stream(MODEL, prompt) as events:
            async for event in events:
                _read_ours_event(event, seen)
        self.counts[1] = seen[0]
        return seen[1]

    async def afloor_stream(self) -> int:
        k = 0
        async with self.ahttp.stream("v2/chat", method="POST", json=self.bodies["stream"],
                                     request_options={"max_retries": 0}) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    json.loads(line[6:])
                    k += 1
        return k

    async def araw_embed(self) -> Any:
        r = await self.araw.embed(model=EMBED_MODEL, texts=self.texts, input_type="search_document",
                                  embedding_types=["float"], output_dimension=DIMENSIONS)
        return r.embeddings.float_

    async def aours_embed(self) -> Any:
        return (await self.p.embed(EMBED_MODEL, self.texts, dimensions=DIMENSIONS)).vectors

    async def afloor_embed(self) -> Any:
        return await self._apost("v2/embed", self.bodies["embed"])

    async def _apost(self, path: str, body: dict[str, Any]) -> Any:
        response = await self.ahttp.request(path, method="POST", json=body, request_options={"max_retries": 0})
        return json.loads(response.content)

    async def aclose(self) -> None:
        await self.araw._client_wrapper.httpx_client.httpx_client.aclose()
        await self.ahttp.httpx_client.aclose()
        await self.p.aclose()


def sync_scenarios(url: str, n: int, warmup: int, texts: list[str], embed_n: int) -> list[dict[str, Any]]:
    s = Sides(url, texts)
    try:
        same_answers((s.raw_whole(), s.ours_whole()), (s.raw_stream(), s.ours_stream()),
                     (s.raw_embed(), s.ours_embed()))
        rows = [summarize("sync whole", run_sync([s.raw_whole, s.ours_whole, s.floor_whole], n, warmup))]
        times = run_sync([s.raw_stream, s.ours_stream, s.floor_stream], n, warmup)
        rows.append(summarize("sync stream", times, events=s.counts[1], chunks=s.counts[0]))
        times = run_sync([s.raw_embed, s.ours_embed, s.floor_embed], embed_n, min(warmup, embed_n // 5))
        rows.append(summarize("sync embed", times))
        return rows
    finally:
        s.close()


async def async_scenarios(url: str, n: int, warmup: int, texts: list[str], embed_n: int) -> list[dict[str, Any]]:
    s = AsyncSides(url, texts)
    try:
        same_answers((await s.araw_whole(), await s.aours_whole()), (await s.araw_stream(), await s.aours_stream()),
                     (await s.araw_embed(), await s.aours_embed()))
        rows = [summarize("async whole", await run_async([s.araw_whole, s.aours_whole, s.afloor_whole], n, warmup))]
        times = await run_async([s.araw_stream, s.aours_stream, s.afloor_stream], n, warmup)
        rows.append(summarize("async stream", times, events=s.counts[1], chunks=s.counts[0]))
        times = await run_async([s.araw_embed, s.aours_embed, s.afloor_embed], embed_n, min(warmup, embed_n // 5))
        rows.append(summarize("async embed", times))
        return rows
    finally:
        s.close()
        await s.aclose()


async def concurrent_scenarios(url: str, counts: list[int], events: int, repeats: int) -> list[dict[str, Any]]:
    s = AsyncSides(url, ["x"])
    prompt = " ".join(f"w{i}" for i in range(events - 1))  # the echo: "Echo:" and these words

    async def ours() -> None:
        if (await s.aours_stream(prompt))[2] != events:
            raise RuntimeError("a stream ended short")

    async def raw() -> None:
        if (await s.araw_stream(prompt)) is None:
            raise RuntimeError("a raw stream ended without its usage")

    try:
        rows = await run_concurrent({"ours": ours, "raw": raw}, counts, repeats)
        print_concurrent(rows, ["ours", "raw"], events)
        return rows
    finally:
        s.close()
        await s.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="measured calls per side and scenario (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured calls per side first (default 50)")
    parser.add_argument("--texts", type=int, default=32, help="texts per embed call (default 32; at most 96)")
    parser.add_argument("--embed-n", type=int, default=100, help="measured embed calls per side (default 100)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[500], help="streams gathered at once")
    parser.add_argument("--events", type=int, default=40, help="text deltas per concurrent stream (default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side and concurrency (default 3)")
    parser.add_argument("--only", choices=("sync", "async", "concurrent"))
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--inproc", action="store_true", help="run the emulator in this process")
    args = parser.parse_args(argv)
    import cohere

    texts = [f"document {i}: " + " ".join(f"w{j}" for j in range(12)) for i in range(args.texts)]
    rows: list[dict[str, Any]] = []
    concurrent: list[dict[str, Any]] = []
    started = time.perf_counter()
    with emulator(args.inproc) as openai_url:
        url = openai_url.removesuffix("/v1")  # the Cohere dialect is at the server root
        if args.only in (None, "sync"):
            rows += sync_scenarios(url, args.n, args.warmup, texts, args.embed_n)
        if args.only in (None, "async"):
            rows += asyncio.run(async_scenarios(url, args.n, args.warmup, texts, args.embed_n))
        if rows:
            print_table(rows, "the SDK's HTTP client, which ours sends through, + json.loads")
        if args.only in (None, "concurrent"):
            concurrent = asyncio.run(concurrent_scenarios(url, args.concurrency, args.events, args.repeats))
    elapsed = time.perf_counter() - started
    info = {**machine(), "cohere": cohere.__version__}
    print(f"\npython {info['python']} on {info['platform']}, {info['cpus']} cpus; cohere {cohere.__version__}, "
          f"pydantic {info['pydantic']}; emulator {'in-process' if args.inproc else 'in a child process'}; "
          f"{args.warmup} warm-up + {args.n} calls per side (embed: {args.embed_n} calls of {args.texts} texts); "
          f"{elapsed:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "args": vars(args), "results": rows,
                                               "concurrent": concurrent, "elapsed_s": elapsed}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
