"""What a manager call pays for its routing and resilience: breakers on (the default) versus off, side by side.

Reported, nothing asserted (the exit status is 0 whatever the figures). One provider object is registered in
several managers, one per side, and every iteration calls each side once in a fresh random order (drift
cancels, no side always follows the same neighbour):

    provider          the bare provider call (no manager);
    manager off       `AIModelProviderManager(..., breakers=False, limits=False)`: routing and `response.hops`;
    breakers          breakers on, no limiter (`limits=False`);
    default           the default manager: breakers on and a limiter learning the vendor's rate-limit headers;
    default+redis     the default on a `RedisStore` (a local redis-server), when one is available.

Targets: `fake` (`FakeProvider`, no HTTP: the manager's own cost is most visible) and `emulator` (the OpenAI
provider against the loopback wire emulator in a child process, which states rate-limit headers on every
answer, so the default side learns and keeps two buckets: a realistic ratio). Sync and async whole calls.
Reported: median, added = median(side) - median(manager off) and ratio = side / manager off; and the manager
off against the bare provider.

    .venv/bin/python benchmarks/bench_manager_resilience.py [--n 2000] [--n-emulator 500] [--warmup 50] \
        [--redis-url URL] [--no-emulator] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL, emulator, machine
from bench_resilience import redis_url, shuffled_async, shuffled_sync, side_rows

perf = time.perf_counter_ns
PROMPT = [{"role": "user", "content": "Say hello to the benchmark."}]


def managers(provider: Any, url: str | None) -> dict[str, Any]:
    """The sides: None for the bare provider, else a manager."""
    from agentos_llm.manager import AIModelProviderManager

    sides: dict[str, Any] = {
        "provider": None,
        "manager off": AIModelProviderManager([provider], breakers=False, limits=False),
        "breakers": AIModelProviderManager([provider], limits=False),
        "default": AIModelProviderManager([provider]),
    }
    if url is not None:
        from agentos_llm.resilience import RedisStore

        sides["default+redis"] = AIModelProviderManager(
            [provider], state_store=RedisStore(url, prefix=f"bench-mgr-{time.time_ns()}:", timeout=1.0))
    return sides


def per_call_sync(target: str, provider: Any, model: str, sides: dict[str, Any], n: int,
                  warmup: int) -> list[dict[str, Any]]:
    def side(manager: Any) -> Callable[[], Any]:
        if manager is None:
            return lambda: provider.generate_sync(model, PROMPT)
        routed = f"{provider.provider_id}/{model}"
        return lambda: manager.generate_sync(routed, PROMPT)

    times = shuffled_sync(provider, [side(m) for m in sides.values()], n, warmup)
    return side_rows("sync whole", target, list(sides), times, "manager off")


def per_call_async(target: str, provider: Any, model: str, sides: dict[str, Any], n: int,
                   warmup: int) -> list[dict[str, Any]]:
    def side(manager: Any) -> Callable[[], Awaitable[Any]]:
        if manager is None:
            return lambda: provider.generate(model, PROMPT)  # type: ignore[no-any-return]
        routed = f"{provider.provider_id}/{model}"
        return lambda: manager.generate(routed, PROMPT)  # type: ignore[no-any-return]

    times = shuffled_async(provider, [side(m) for m in sides.values()], n, warmup)
    return side_rows("async whole", target, list(sides), times, "manager off")


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{'scenario':<12} {'target':<9} {'side':<14} {'median µs':>10} {'vs off µs':>10} {'ratio':>6}")
    for r in rows:
        print(f"{r['scenario']:<12} {r['target']:<9} {r['side']:<14} {r['median_us']:>10.1f} "
              f"{r['added_us']:>+10.1f} {r['ratio']:>6.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="calls per side against the fake provider")
    parser.add_argument("--n-emulator", type=int, default=500, help="calls per side against the emulator")
    parser.add_argument("--warmup", type=int, default=50)
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
        rows += per_call_sync("fake", fake, "fake-model", managers(fake, url), args.n, args.warmup)
        rows += per_call_async("fake", fake, "fake-model", managers(fake, url), args.n, args.warmup)
        if not args.no_emulator:
            from agentos_llm.registry import create_provider

            with emulator() as base_url:
                provider = create_provider("openai", api_key=API_KEY, base_url=base_url, max_retries=0)
                rows += per_call_sync("emulator", provider, MODEL, managers(provider, url), args.n_emulator,
                                      args.warmup)
                rows += per_call_async("emulator", provider, MODEL, managers(provider, url), args.n_emulator,
                                       args.warmup)
                provider.close()
    _print(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "per_call": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
