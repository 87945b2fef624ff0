"""Per-call overhead of agentos-llm's Bedrock provider over raw boto3, against the wire emulator's Bedrock dialect.

The method of `bench_overhead.py` (read its docstring): the emulator in a child process (`--inproc` keeps it
in-process), nothing scripted so every side gets the same echo, sides interleaved call by call after a warm-up,
medians, ratios ours / raw. Nothing is asserted; the exit status is 0 whatever the figures.

- raw: a boto3 `bedrock-runtime` client configured as ours is (retries off, `--threads` pooled connections):
  `client.converse(modelId=..., messages=[...])` reading the text and usage out of its dict the way a user
  would; streams: `client.converse_stream(...)["stream"]`, every event read (text deltas, the usage). Async:
  the same in `asyncio.to_thread`, with a default executor as large as our pool (`--threads`); a stream is
  read whole in one `to_thread` call (the fastest way with boto3; it hands over no event before the end).
- ours: `create_provider("bedrock", ...)`: `generate_sync` / `await generate`, every event of `stream_sync` /
  `stream` (async: boto3 in the provider's bounded pool, streams read in hops, see `providers/bedrock_stream.py`).
- floor: our provider's own transport (`_send` / `_open_stream` / `_aopen_stream`: the same boto3 client calls,
  with the User-Agent built once per client, and stream frames read by `providers/bedrock_frames.py`; botocore's
  dicts, nothing converted). `ours - floor` is our layer (converting to our types, validation, retry policy,
  pricing); `raw - floor` is what our transport saves over boto3 called as a user calls it.

Scenarios: sync / async whole call (a ~5-word answer); sync / async stream of 200 text deltas (204 wire events,
202 of ours); then `--concurrency` streams (default 200 and 500) of `--events` text deltas gathered on one event
loop, `--repeats` times, sides alternating: median wall time and median CPU time of this process (all threads;
the emulator's CPU is not counted, so the CPU ratio is the client's cost even when the server is the bottleneck).

    .venv/bin/python benchmarks/bench_overhead_bedrock.py [--n 500] [--warmup 50] [--concurrency 200 500]
        [--events 40] [--repeats 5] [--threads 64] [--only sync|async|concurrent] [--json out.json] [--inproc]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emulator, machine, print_concurrent, run_concurrent
from bench_overhead import STREAM_WORDS, print_table, run_async, run_sync, summarize

MODEL = "us.amazon.nova-micro-v1:0"
REGION = "us-east-1"
WHOLE_PROMPT = "Say hello to the benchmark."
STREAM_PROMPT = " ".join(f"w{i}" for i in range(STREAM_WORDS))


def messages(prompt: str) -> list[dict[str, Any]]:
    """The Converse `messages` a user writes for one prompt (ours sends the same)."""
    return [{"role": "user", "content": [{"text": prompt}]}]


def fake_aws_env() -> None:
    """Credentials that sign but grant nothing (the emulator checks no signature); no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "AKIDBENCHMARK0000001", "AWS_SECRET_ACCESS_KEY": "bench-secret-key",
                       "AWS_EC2_METADATA_DISABLED": "true"})


class Raw:
    """Raw boto3, read as a user reads it."""

    def __init__(self, url: str, threads: int) -> None:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        self.client = boto3.client("bedrock-runtime", endpoint_url=url, config=Config(
            region_name=REGION, retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=threads,
            tcp_keepalive=True, read_timeout=60))

    def whole(self, prompt: str = WHOLE_PROMPT) -> tuple[str, int, int]:
        r = self.client.converse(modelId=MODEL, messages=messages(prompt))
        usage = r["usage"]
        return r["output"]["message"]["content"][0]["text"], usage["inputTokens"], usage["outputTokens"]

    def stream(self, prompt: str = STREAM_PROMPT) -> tuple[int, tuple[int, int]]:
        k, usage = 0, (0, 0)
        for event in self.client.converse_stream(modelId=MODEL, messages=messages(prompt))["stream"]:
            k += 1
            if "contentBlockDelta" in event:
                _ = event["contentBlockDelta"]["delta"].get("text")
            elif "metadata" in event:
                u = event["metadata"]["usage"]
                usage = (u["inputTokens"], u["outputTokens"])
        return k, usage


class Ours:
    """Our provider, and its own transport without converting (the floor)."""

    def __init__(self, url: str, threads: int) -> None:
        from agentos_llm import create_provider
        from agentos_llm.providers.bedrock import BedrockRequest

        self.p: Any = create_provider("bedrock", base_url=url, region=REGION, max_retries=0, timeout=60,
                                      max_concurrency=threads)
        self.whole_request = BedrockRequest(MODEL, {"messages": messages(WHOLE_PROMPT)})
        self.stream_request = BedrockRequest(MODEL, {"messages": messages(STREAM_PROMPT)})

    def whole(self, prompt: str = WHOLE_PROMPT) -> tuple[str, int, int]:
        r = self.p.generate_sync(MODEL, prompt)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    async def awhole(self, prompt: str = WHOLE_PROMPT) -> tuple[str, int, int]:
        r = await self.p.generate(MODEL, prompt)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    def stream(self, prompt: str = STREAM_PROMPT) -> tuple[int, Any]:
        k, done = 0, None
        for event in self.p.stream_sync(MODEL, prompt):
            k += 1
            if event.type == "text_delta":
                _ = event.delta
            elif event.type == "done":
                done = event.response
        return k, done

    async def astream(self, prompt: str = STREAM_PROMPT) -> tuple[int, Any]:
        k, done = 0, None
        async for event in self.p.stream(MODEL, prompt):
            k += 1
            if event.type == "text_delta":
                _ = event.delta
            elif event.type == "done":
                done = event.response
        return k, done

    def floor_whole(self) -> Any:
        return self.p._send("chat", self.whole_request, 60.0, None)

    async def afloor_whole(self) -> Any:
        return await self.p._asend("chat", self.whole_request, 60.0, None)

    def floor_stream(self) -> int:
        return sum(1 for _ in self.p._open_stream(self.stream_request, 60.0, None))

    async def afloor_stream(self) -> int:
        k = 0
        async for _ in self.p._aopen_stream(self.stream_request, 60.0, None):
            k += 1
        return k


def same_answers(raw: Raw, ours: Ours) -> tuple[int, int]:
    """Checks once, before timing, that both sides got and read the same answers; the stream's event counts."""
    if raw.whole() != ours.whole():
        raise RuntimeError(f"raw and ours differ on the whole answer: {raw.whole()!r} != {ours.whole()!r}")
    (raw_k, usage), (ours_k, done) = raw.stream(), ours.stream()
    if usage != (done.usage.input_tokens, done.usage.output_tokens) or len(done.text.split()) != STREAM_WORDS + 1:
        raise RuntimeError(f"raw and ours differ on the streamed answer: {usage} != {done.usage}")
    return ours_k, raw_k


def sync_scenarios(url: str, n: int, warmup: int, threads: int) -> list[dict[str, Any]]:
    raw, ours = Raw(url, threads), Ours(url, threads)
    try:
        events, chunks = same_answers(raw, ours)
        rows = [summarize("sync whole", run_sync([raw.whole, ours.whole, ours.floor_whole], n, warmup))]
        times = run_sync([raw.stream, ours.stream, ours.floor_stream], n, warmup)
        rows.append(summarize("sync stream", times, events=events, chunks=chunks))
        return rows
    finally:
        raw.client.close()
        ours.p.close()


async def async_scenarios(url: str, n: int, warmup: int, threads: int) -> list[dict[str, Any]]:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads))
    raw, ours = Raw(url, threads), Ours(url, threads)

    async def raw_whole() -> Any:
        return await asyncio.to_thread(raw.whole)

    async def raw_stream() -> Any:
        return await asyncio.to_thread(raw.stream)

    try:
        events, chunks = same_answers(raw, ours)
        if await raw_whole() != await ours.awhole() or (await ours.astream())[0] != events:
            raise RuntimeError("the async sides differ from the sync ones")
        rows = [summarize("async whole", await run_async([raw_whole, ours.awhole, ours.afloor_whole], n, warmup))]
        times = await run_async([raw_stream, ours.astream, ours.afloor_stream], n, warmup)
        rows.append(summarize("async stream", times, events=events, chunks=chunks))
        return rows
    finally:
        raw.client.close()
        await ours.p.aclose()


# ---------------------------------------------------------------------- concurrent streams on one loop


async def concurrent_scenarios(url: str, counts: list[int], events: int, repeats: int, threads: int
                               ) -> list[dict[str, Any]]:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads))
    prompt = " ".join(f"w{i}" for i in range(events - 1))  # the echo: "Echo:" and these words
    raw, ours = Raw(url, threads), Ours(url, threads)

    async def ours_stream() -> None:
        _, done = await ours.astream(prompt)
        if len(done.text.split()) != events:
            raise RuntimeError(f"a stream ended short: {done.text!r}")

    async def raw_stream() -> None:
        k, _ = await asyncio.to_thread(raw.stream, prompt)
        if k != events + 4:  # messageStart, contentBlockStop, messageStop, metadata
            raise RuntimeError(f"a raw stream ended short: {k} events")

    try:
        rows = await run_concurrent({"ours": ours_stream, "raw": raw_stream}, counts, repeats)
        print_concurrent(rows, ["ours", "raw"], events)
        return rows
    finally:
        raw.client.close()
        await ours.p.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="measured calls per side and scenario (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured calls per side first (default 50)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[200, 500], help="streams gathered at once")
    parser.add_argument("--events", type=int, default=40, help="text deltas per concurrent stream (default 40)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per side and concurrency (default 5)")
    parser.add_argument("--threads", type=int, default=64,
                        help="our pool (max_concurrency), the to_thread executor and both connection pools")
    parser.add_argument("--only", choices=("sync", "async", "concurrent"))
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--inproc", action="store_true", help="run the emulator in this process")
    args = parser.parse_args(argv)
    fake_aws_env()
    import boto3

    rows: list[dict[str, Any]] = []
    concurrent: list[dict[str, Any]] = []
    started = time.perf_counter()
    with emulator(args.inproc) as openai_url:
        url = openai_url.removesuffix("/v1")  # the Bedrock dialect is at the server root
        if args.only in (None, "sync"):
            rows += sync_scenarios(url, args.n, args.warmup, args.threads)
        if args.only in (None, "async"):
            rows += asyncio.run(async_scenarios(url, args.n, args.warmup, args.threads))
        if rows:
            print_table(rows, "our provider's own transport: botocore's dicts, nothing converted")
        if args.only in (None, "concurrent"):
            concurrent = asyncio.run(concurrent_scenarios(url, args.concurrency, args.events, args.repeats,
                                                          args.threads))
    elapsed = time.perf_counter() - started
    info = {**machine(), "boto3": boto3.__version__}
    print(f"\npython {info['python']} on {info['platform']}, {info['cpus']} cpus; boto3 {boto3.__version__}, "
          f"pydantic {info['pydantic']}; emulator {'in-process' if args.inproc else 'in a child process'}; "
          f"{args.warmup} warm-up + {args.n} calls per side; threads {args.threads}; {elapsed:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "args": vars(args), "results": rows,
                                               "concurrent": concurrent, "elapsed_s": elapsed}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
