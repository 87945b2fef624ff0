"""What the streams' idle timeout costs (`stream_idle_timeout`), side by side with it off in one run: sync
streams (enforced by `agentos_llm.stream_watchdog`) and async ones (one timer per stream, `streaming._QuietGuard`).

On, a sync stream is watched from its first event: it is registered with the watchdog thread once, and its
reading loop stores the time each wait for a chunk begins (and marks itself paused while the consumer has
events). Off (`stream_idle_timeout=None`), the loop is the plain one.

Sides, interleaved in a fresh random order every iteration: `idle on` (the default, 60 s) and `idle off`.
Targets: `stub` (the OpenAI provider with `_open_stream` replaying chunks recorded once from the emulator: no
I/O, so the loop's own cost is most visible) and `emulator` (the OpenAI provider against the loopback wire
emulator in a child process: a realistic ratio), and async streams against the same emulator. Each stream has
~500 events. Reported as medians in µs per event and the ratio on / off; never asserted.

    .venv/bin/python benchmarks/bench_stream_watchdog.py [--n 300] [--n-emulator 100] [--warmup 20]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL, emulator, machine
from bench_resilience import shuffled_async, shuffled_sync, side_rows

SIDES = ("idle on", "idle off")
WORDS = 499  # the echo is "Echo:" plus these words: 500 text pieces, and the role, finish and usage chunks
PROMPT = " ".join(f"w{i}" for i in range(WORDS))


def count_events(provider: Any) -> int:
    return sum(1 for _ in provider.stream_sync(MODEL, PROMPT))


def side(provider: Any, idle: float | None, events: int) -> Callable[[], Any]:
    def run() -> None:
        provider.stream_idle_timeout = idle
        got = count_events(provider)
        if got != events:
            raise RuntimeError(f"a stream gave {got} events, not {events}")
    return run


def recorded_chunks(provider: Any) -> list[Any]:
    """The chunks `_open_stream` gives for the benchmark's stream, read once from the emulator."""
    request, headers = provider._wire_request(provider._make_call(MODEL, PROMPT, {}, stream=True))
    chunks = provider._open_stream(request, 60.0, headers)
    try:
        return list(chunks)
    finally:
        chunks.close()


def stub(url: str) -> Any:
    """An OpenAI provider whose `_open_stream` replays recorded chunks (the Severable a real one gives, without a
    connection to cut)."""
    from agentos_llm.registry import create_provider
    from agentos_llm.stream_watchdog import Severable

    recorder = create_provider("openai", api_key=API_KEY, base_url=url, max_retries=0)
    chunks = recorded_chunks(recorder)
    recorder.close()
    provider = create_provider("openai", api_key=API_KEY, base_url=url, max_retries=0)

    def replay(request: Any, timeout: float | None, headers: Any) -> Iterator[Any]:
        return Severable(iter(chunks), None)

    provider._open_stream = replay
    return provider


def measure(target: str, provider: Any, n: int, warmup: int) -> list[dict[str, Any]]:
    events = count_events(provider)
    fns = [side(provider, 60.0, events), side(provider, None, events)]
    times = shuffled_sync(provider, fns, n, warmup)
    per_event = [[t / events for t in ts] for ts in times]
    rows = side_rows("sync stream", target, list(SIDES), per_event, "idle off")
    for row in rows:
        row["events"] = events
    return rows


def measure_async(target: str, provider: Any, n: int, warmup: int) -> list[dict[str, Any]]:
    import asyncio

    async def count() -> int:
        return sum([1 async for _ in provider.stream(MODEL, PROMPT)])

    events = asyncio.run(count())

    def aside(idle: float | None) -> Callable[[], Any]:
        async def run() -> None:
            provider.stream_idle_timeout = idle
            got = await count()
            if got != events:
                raise RuntimeError(f"a stream gave {got} events, not {events}")
        return run

    times = shuffled_async(provider, [aside(60.0), aside(None)], n, warmup)
    rows = side_rows("async stream", target, list(SIDES), [[t / events for t in ts] for ts in times], "idle off")
    for row in rows:
        row["events"] = events
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--n-emulator", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)

    from agentos_llm.registry import create_provider

    rows = []
    with emulator() as url:
        fake = stub(url)
        rows += measure("stub", fake, args.n, args.warmup)
        fake.close()
        real = create_provider("openai", api_key=API_KEY, base_url=url, max_retries=0)
        rows += measure("emulator", real, args.n_emulator, args.warmup)
        real.close()
        areal = create_provider("openai", api_key=API_KEY, base_url=url, max_retries=0)
        rows += measure_async("async", areal, args.n_emulator, args.warmup)
    print(f"machine: {machine()}")
    print(f"{'target':9} {'side':9} {'events':>6} {'median µs/event':>16} {'added µs':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['target']:9} {r['side']:9} {r['events']:6d} {r['median_us']:16.3f} {r['added_us']:+9.3f} "
              f"{r['ratio']:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
