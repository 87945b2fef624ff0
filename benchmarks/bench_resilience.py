"""What circuit breakers, client-side limits and the Redis store add per call, side by side with them off.

Two parts, reported, nothing asserted (the exit status is 0 whatever the figures):

1. Per call, sides interleaved (in a fresh random order every iteration, so drift cancels and no side
   always follows the same neighbour, e.g. a Redis round trip that leaves the caches cold), the guard wrapped
   around the provider call here since the manager's wiring comes later (`Guard.call` / `acall`):
     off            the bare provider call;
     breaker        `Guard(Breakers())`: one state read before, nothing after a success;
     limiter        `Guard(limiter=Limiter(...))`: a concurrency slot, a request and 100 estimated tokens
                    taken from two buckets, the estimate settled with the usage after;
     both           breaker and limiter, in memory;
     both+redis     the same on `RedisStore` (a local redis-server): 2-3 round trips per call.
   Targets: `fake` (`FakeProvider`, no HTTP: the engine's own cost is most visible) and `emulator` (the
   OpenAI provider against the loopback wire emulator in a child process: a realistic ratio). Sync and
   async whole calls. Reported: median, added = median(side) - median(off), ratio = side / off.
2. The engine alone, hot loop: microseconds per check + record_success and per acquire + settle, in
   memory and on Redis.

Redis: `--redis-url URL`, else a throwaway `redis-server` on a free port when the binary is installed
(Debian's `redis-server`), else the Redis rows are left out.

    .venv/bin/python benchmarks/bench_resilience.py [--n 2000] [--n-emulator 500] [--warmup 50] \
        [--loops 20000] [--redis-url URL] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL, emulator, machine, median

perf = time.perf_counter_ns
PROMPT = [{"role": "user", "content": "Say hello to the benchmark."}]
BIG = 1e12  # limits that never bite: what is measured is their bookkeeping, not a wait


@contextmanager
def redis_url(given: str | None) -> Iterator[str | None]:
    """The URL to use: the given one, a throwaway server's, or None."""
    if given:
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    root = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", root, "--loglevel", "warning"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def guards(url: str | None) -> dict[str, Any]:
    """The sides: None for off, else a Guard."""
    from agentos_llm.resilience import Breakers, Guard, Limiter, Limits, MemoryStore

    limits = Limits(concurrency=10_000, requests_per_minute=BIG, tokens_per_minute=BIG)
    sides: dict[str, Any] = {
        "off": None,
        "breaker": Guard(Breakers(store=MemoryStore())),
        "limiter": Guard(limiter=Limiter(limits, store=MemoryStore())),
        "both": Guard(Breakers(store=MemoryStore()), Limiter(limits, store=MemoryStore())),
    }
    if url is not None:
        from agentos_llm.resilience import RedisStore

        store = RedisStore(url, prefix="bench:", timeout=1.0)
        sides["both+redis"] = Guard(Breakers(store=store), Limiter(limits, store=store))
    return sides


def side_rows(scenario: str, target: str, names: list[str], times: list[list[float]],
              base: str) -> list[dict[str, Any]]:
    """One row per side: median, and added time and ratio against the side named `base`."""
    ref = median(times[names.index(base)])
    return [{"scenario": scenario, "target": target, "side": name, "n": len(t), "median_us": median(t),
             "added_us": median(t) - ref, "ratio": median(t) / ref} for name, t in zip(names, times, strict=True)]


def shuffled_sync(provider: Any, fns: list[Callable[[], Any]], n: int, warmup: int) -> list[list[float]]:
    """Timings in us per side, the sides run in a fresh random order every iteration."""
    times: list[list[float]] = [[] for _ in fns]
    gc.collect()
    order = list(range(len(fns)))
    rng = random.Random(12)
    for i in range(warmup + n):
        rng.shuffle(order)
        for j in order:
            t0 = perf()
            fns[j]()
            dt = perf() - t0
            if i >= warmup:
                times[j].append(dt / 1e3)
        if hasattr(provider, "calls"):  # a FakeProvider keeps every call: not across thousands of them
            provider.calls.clear()
    return times


def shuffled_async(provider: Any, fns: list[Callable[[], Awaitable[Any]]], n: int, warmup: int) -> list[list[float]]:
    """`shuffled_sync` for coroutine sides, on one event loop; closes the provider's async clients after."""

    async def run() -> list[list[float]]:
        times: list[list[float]] = [[] for _ in fns]
        gc.collect()
        order = list(range(len(fns)))
        rng = random.Random(12)
        for i in range(warmup + n):
            rng.shuffle(order)
            for j in order:
                t0 = perf()
                await fns[j]()
                dt = perf() - t0
                if i >= warmup:
                    times[j].append(dt / 1e3)
            if hasattr(provider, "calls"):
                provider.calls.clear()
        closer = getattr(provider, "aclose", None)
        if closer is not None:
            await closer()
        return times

    return asyncio.run(run())


def per_call_sync(target: str, provider: Any, model: str, sides: dict[str, Any], n: int,
                  warmup: int) -> list[dict[str, Any]]:
    from agentos_llm.resilience import CallKey

    key = CallKey.for_provider(provider, model)

    def side(guard: Any) -> Callable[[], Any]:
        def call() -> Any:
            return provider.generate_sync(model, PROMPT)
        if guard is None:
            return call
        return lambda: guard.call(key, call, estimated_tokens=100)

    times = shuffled_sync(provider, [side(g) for g in sides.values()], n, warmup)
    return side_rows("sync whole", target, list(sides), times, "off")


def per_call_async(target: str, provider: Any, model: str, sides: dict[str, Any], n: int,
                   warmup: int) -> list[dict[str, Any]]:
    from agentos_llm.resilience import CallKey

    key = CallKey.for_provider(provider, model)

    def side(guard: Any) -> Callable[[], Awaitable[Any]]:
        def call() -> Awaitable[Any]:
            return provider.generate(model, PROMPT)  # type: ignore[no-any-return]
        if guard is None:
            return call
        return lambda: guard.acall(key, call, estimated_tokens=100)

    times = shuffled_async(provider, [side(g) for g in sides.values()], n, warmup)
    return side_rows("async whole", target, list(sides), times, "off")


def engine_alone(url: str | None, loops: int) -> list[dict[str, Any]]:
    from agentos_llm.resilience import Breakers, CallKey, Limiter, Limits, MemoryStore, StateStore

    key = CallKey("bench", "c0ffee", "model", "bench key")
    stores: list[tuple[str, StateStore]] = [("memory", MemoryStore())]
    if url is not None:
        from agentos_llm.resilience import RedisStore

        stores.append(("redis", RedisStore(url, prefix="bench-alone:", timeout=1.0)))
    rows = []
    for name, store in stores:
        breakers = Breakers(store=store)
        limiter = Limiter(Limits(requests_per_minute=BIG, tokens_per_minute=BIG), store=store)
        count = loops if name == "memory" else max(1, loops // 20)

        def breaker_pair(breakers: Breakers = breakers) -> None:
            breakers.record_success(breakers.check(key))

        def limiter_pair(limiter: Limiter = limiter) -> None:
            limiter.acquire(key, 100).settle(80)

        for op, fn in (("check + record_success", breaker_pair), ("acquire + settle(tokens)", limiter_pair)):
            for _ in range(min(200, count)):
                fn()
            t0 = perf()
            for _ in range(count):
                fn()
            rows.append({"store": name, "op": op, "loops": count, "us_per_op": (perf() - t0) / 1e3 / count})
    return rows


def _print(per_call: list[dict[str, Any]], alone: list[dict[str, Any]]) -> None:
    print(f"{'scenario':<12} {'target':<9} {'side':<11} {'median µs':>10} {'added µs':>9} {'ratio':>6}")
    for r in per_call:
        print(f"{r['scenario']:<12} {r['target']:<9} {r['side']:<11} {r['median_us']:>10.1f} "
              f"{r['added_us']:>+9.1f} {r['ratio']:>6.2f}")
    print()
    print(f"{'store':<7} {'operation':<26} {'µs/op':>8}")
    for r in alone:
        print(f"{r['store']:<7} {r['op']:<26} {r['us_per_op']:>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="calls per side against the fake provider")
    parser.add_argument("--n-emulator", type=int, default=500, help="calls per side against the emulator")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--loops", type=int, default=20000, help="hot-loop iterations for the engine alone")
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--no-emulator", action="store_true", help="the fake provider only")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)

    from agentos_llm.testing import FakeProvider

    rows: list[dict[str, Any]] = []
    with redis_url(args.redis_url) as url:
        if url is None:
            print("no redis-server found and no --redis-url: the Redis rows are left out\n")
        fake = FakeProvider()
        rows += per_call_sync("fake", fake, "fake-model", guards(url), args.n, args.warmup)
        rows += per_call_async("fake", fake, "fake-model", guards(url), args.n, args.warmup)
        if not args.no_emulator:
            from agentos_llm.registry import create_provider

            with emulator() as base_url:
                provider = create_provider("openai", api_key=API_KEY, base_url=base_url, max_retries=0)
                rows += per_call_sync("emulator", provider, MODEL, guards(url), args.n_emulator, args.warmup)
                rows += per_call_async("emulator", provider, MODEL, guards(url), args.n_emulator, args.warmup)
                provider.close()
        alone = engine_alone(url, args.loops)
    _print(rows, alone)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "per_call": rows, "engine_alone": alone},
                                              indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
