"""What the fast sends save per call, for the same JSON request to the loopback mock server
(benchmarks/peers/mock_server.py, in a child process), with clients built as the providers build them:
- `agentos_llm.providers.sdk_fast_post`: the SDK's `client.post(...)` against `FastPost.post` (and their async
  twins), for openai and anthropic clients (max_retries=0);
- `agentos_llm.providers.genai_fast_send` (sync only): google-genai's `api._request_once(api._build_request(...),
  True)` against `GenaiFastSend.send`, on the Gemini provider's own API client.

Each side is a whole exchange as the providers make it: sync, the request opened as a stream, its body read and
closed, then JSON-decoded (`sdk_transport.sync_json`); async, a whole response (`stream=False`), then decoded (the
providers' `_asend`). The sides run interleaved, in a fresh random order every round. Reported per target: the
median and p10 of one call in ms, and the ratio fast / SDK. Reports only; exit status 0.

    .venv/bin/python benchmarks/bench_fast_post.py [--n 2000] [--warmup 200] [--only sync|async]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, median, mock_server, quantile

from agentos_llm.providers.sdk_fast_post import AsyncFastPost, FastPost

SIDES = ("sdk", "fast")
PROMPT = "Say hello to the benchmark, in one short sentence please."
TARGETS = {  # vendor: (base URL suffix, path, body)
    "openai": ("/v1", "/chat/completions",
               {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}], "temperature": 0.2}),
    "anthropic": ("", "/v1/messages",
                  {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": PROMPT}]}),
}
TIMEOUT = 600.0
GEMINI_MODEL = "gemini-2.5-flash"
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}


def make_client(vendor: str, url: str, is_async: bool) -> Any:
    """As the providers' `_client_kwargs` build them."""
    kwargs: dict[str, Any] = {"api_key": "sk-bench", "base_url": url + TARGETS[vendor][0], "max_retries": 0,
                              "timeout": TIMEOUT, "default_headers": None}
    if vendor == "openai":
        return (openai.AsyncOpenAI if is_async else openai.OpenAI)(**kwargs)
    return (anthropic.AsyncAnthropic if is_async else anthropic.Anthropic)(**kwargs)


def sync_sides(client: Any, fp: FastPost, path: str, body: Any) -> list[Callable[[], Any]]:
    options = {"timeout": TIMEOUT}

    def sdk() -> Any:
        response = client.post(path, body=body, cast_to=httpx2.Response, options=options, stream=True,
                               stream_cls=None)
        try:
            return json.loads(response.read())
        finally:
            response.close()

    def fast() -> Any:
        response = fp.post(path, body, timeout=TIMEOUT, headers=None, stream=True)
        try:
            return json.loads(response.read())
        finally:
            response.close()

    return [sdk, fast]


def async_sides(client: Any, fp: AsyncFastPost, path: str, body: Any) -> list[Callable[[], Awaitable[Any]]]:
    options = {"timeout": TIMEOUT}

    async def sdk() -> Any:
        response = await client.post(path, body=body, cast_to=httpx2.Response, options=options)
        return json.loads(response.content)

    async def fast() -> Any:
        response = await fp.post(path, body, timeout=TIMEOUT, headers=None, stream=False)
        return json.loads(response.content)

    return [sdk, fast]


def interleaved(fns: list[Callable[[], Any]], n: int, warmup: int) -> list[list[float]]:
    """Per-call times in ms for each side, the sides run in a fresh random order every round."""
    times: list[list[float]] = [[] for _ in fns]
    order = list(range(len(fns)))
    rng = random.Random(7)
    gc.collect()
    for i in range(warmup + n):
        rng.shuffle(order)
        for j in order:
            t0 = time.perf_counter()
            fns[j]()
            if i >= warmup:
                times[j].append((time.perf_counter() - t0) * 1000)
    return times


async def ainterleaved(fns: list[Callable[[], Awaitable[Any]]], n: int, warmup: int) -> list[list[float]]:
    times: list[list[float]] = [[] for _ in fns]
    order = list(range(len(fns)))
    rng = random.Random(7)
    gc.collect()
    for i in range(warmup + n):
        rng.shuffle(order)
        for j in order:
            t0 = time.perf_counter()
            await fns[j]()
            if i >= warmup:
                times[j].append((time.perf_counter() - t0) * 1000)
    return times


def row(target: str, times: list[list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"target": target, "n": len(times[0])}
    for name, ts in zip(SIDES, times, strict=True):
        out[f"{name}_median_ms"], out[f"{name}_p10_ms"] = median(ts), quantile(ts, 0.10)
    out["ratio_median"] = out["fast_median_ms"] / out["sdk_median_ms"]
    out["ratio_p10"] = out["fast_p10_ms"] / out["sdk_p10_ms"]
    out["saved_median_ms"] = out["sdk_median_ms"] - out["fast_median_ms"]
    return out


def measure_sync(vendor: str, url: str, n: int, warmup: int) -> dict[str, Any]:
    _, path, body = TARGETS[vendor]
    client = make_client(vendor, url, False)
    try:
        fp = FastPost.for_client(client)
        assert fp is not None, "FastPost does not serve this client"
        sides = sync_sides(client, fp, path, body)
        answers = [fn() for fn in sides]
        assert answers[0] == answers[1], "the two sides got different answers"
        return row(f"{vendor} sync", interleaved(sides, n, warmup))
    finally:
        client.close()


def measure_async(vendor: str, url: str, n: int, warmup: int) -> dict[str, Any]:
    _, path, body = TARGETS[vendor]

    async def run() -> dict[str, Any]:
        client = make_client(vendor, url, True)
        try:
            fp = AsyncFastPost.for_client(client)
            assert fp is not None, "AsyncFastPost does not serve this client"
            sides = async_sides(client, fp, path, body)
            answers = [await fn() for fn in sides]
            assert answers[0] == answers[1], "the two sides got different answers"
            return row(f"{vendor} async", await ainterleaved(sides, n, warmup))
        finally:
            await client.close()

    return asyncio.run(run())


def measure_gemini(url: str, n: int, warmup: int) -> dict[str, Any]:
    from agentos_llm import create_provider
    from agentos_llm.providers.genai_fast_send import GenaiFastSend

    provider = create_provider("gemini", api_key="bench-key", base_url=url, timeout=TIMEOUT)
    try:
        api = provider.client._api_client  # type: ignore[attr-defined]
        fast_send = GenaiFastSend.for_api(api)
        assert fast_send is not None, "GenaiFastSend does not serve this client"
        path = f"models/{GEMINI_MODEL}:generateContent"

        def read(response: Any) -> Any:
            try:
                return json.loads(response.response_stream.read())
            finally:
                response.response_stream.close()

        def sdk() -> Any:
            return read(api._request_once(api._build_request("post", path, dict(GEMINI_BODY), None), True))

        def fast() -> Any:
            return read(fast_send.send("post", path, GEMINI_BODY, None))

        sides = [sdk, fast]
        answers = [fn() for fn in sides]
        assert answers[0] == answers[1], "the two sides got different answers"
        return row("gemini sync", interleaved(sides, n, warmup))
    finally:
        provider.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="measured calls per side and target")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--only", choices=("sync", "async"))
    args = parser.parse_args(argv)

    rows = []
    with mock_server() as url:
        for vendor in TARGETS:
            if args.only != "async":
                rows.append(measure_sync(vendor, url, args.n, args.warmup))
            if args.only != "sync":
                rows.append(measure_async(vendor, url, args.n, args.warmup))
        if args.only != "async":
            rows.append(measure_gemini(url, args.n, args.warmup))
    print(f"machine: {machine()} anthropic: {anthropic.__version__}")
    print(f"per call, ms (n={args.n} per side; ratio = fast / SDK)")
    print(f"{'target':16} {'SDK median':>10} {'SDK p10':>8} {'fast median':>11} {'fast p10':>8} {'saved':>7} "
          f"{'ratio':>6} {'ratio p10':>9}")
    for r in rows:
        print(f"{r['target']:16} {r['sdk_median_ms']:10.3f} {r['sdk_p10_ms']:8.3f} {r['fast_median_ms']:11.3f} "
              f"{r['fast_p10_ms']:8.3f} {r['saved_median_ms']:7.3f} {r['ratio_median']:6.2f} {r['ratio_p10']:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
