"""What computing the cost of a call adds: cost on, side by side with cost off, in one run.

Three parts, all reported, nothing asserted (the exit status is 0 whatever the figures):

1. Per call, against the loopback wire emulator (child process): four providers of the same class called
   interleaved, the order rotating every iteration, so drift cancels:
     off           the OpenAI provider with pricing turned off (`_price` does nothing);
     genai-prices  the same over a model genai-prices knows (`gpt-4o-mini`): the usual case;
     catalog       Fireworks over a model only the static catalog prices: genai-prices misses (cached), the
                   listing cache is asked, then the catalog answers;
     none          an unknown model: every source is asked, the config file too (a stat), and none knows.
   Whole responses and streams (a stream prices twice: its `usage` event and `done`). Reported: medians,
   added = median(side) - median(off), the paired median difference, and the ratio side / off.
2. Pricing alone (no I/O), hot loop: microseconds per `price_usage` for each source.
3. The first cost in a fresh interpreter: loading genai-prices and its data (once per process).

    .venv/bin/python benchmarks/bench_cost.py [--n 500] [--warmup 50] [--loops 20000] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, emulator, machine, median

perf = time.perf_counter_ns
SIDES = ("off", "genai-prices", "catalog", "none")
MODELS = {"off": "gpt-4o-mini", "genai-prices": "gpt-4o-mini",
          "catalog": "accounts/fireworks/models/llama-v3p3-70b-instruct", "none": "bench-unknown-model"}
PROMPT = [{"role": "user", "content": "Say hello to the benchmark."}]
STREAM_PROMPT = [{"role": "user", "content": " ".join(f"w{i}" for i in range(49))}]


def _providers(base_url: str) -> dict[str, Any]:
    from agentos_llm.providers.openai import OpenAIProvider
    from agentos_llm.registry import create_provider
    from agentos_llm.types import Usage

    class Unpriced(OpenAIProvider):
        def _price(self, usage: Usage, model: str) -> None:
            return None

    made = {side: create_provider("openai", api_key=API_KEY, base_url=base_url, max_retries=0)
            for side in ("genai-prices", "none")}
    made["catalog"] = create_provider("fireworks", api_key=API_KEY, base_url=base_url, max_retries=0)
    made["off"] = Unpriced(api_key=API_KEY, base_url=base_url, max_retries=0)
    return made


def _interleaved(sides: list[Callable[[], Any]], n: int, warmup: int) -> list[list[float]]:
    times: list[list[float]] = [[] for _ in sides]
    gc.collect()
    for i in range(warmup + n):
        for k in range(len(sides)):
            j = (i + k) % len(sides)
            t0 = perf()
            sides[j]()
            dt = perf() - t0
            if i >= warmup:
                times[j].append(dt / 1e3)  # microseconds
    return times


def per_call(base_url: str, n: int, warmup: int) -> list[dict[str, Any]]:
    providers = _providers(base_url)

    def whole(side: str) -> Callable[[], Any]:
        p, model = providers[side], MODELS[side]
        return lambda: p.generate_sync(model, PROMPT).usage

    def stream(side: str) -> Callable[[], Any]:
        p, model = providers[side], MODELS[side]

        def run() -> Any:
            done = None
            for event in p.stream_sync(model, STREAM_PROMPT):
                if event.type == "done":
                    done = event.response
            return done

        return run

    for side in SIDES:  # what each side really priced, checked once before timing
        usage = whole(side)()
        expected = {"off": None, "genai-prices": "genai-prices", "catalog": "catalog", "none": "none"}[side]
        if usage.cost_source != expected:
            raise RuntimeError(f"side {side!r} priced from {usage.cost_source!r}, not {expected!r}")
    rows = []
    try:
        for scenario, make in (("sync whole", whole), ("sync stream", stream)):
            times = _interleaved([make(s) for s in SIDES], n, warmup)
            base = times[0]
            for side, t in zip(SIDES, times, strict=True):
                rows.append({
                    "scenario": scenario, "side": side, "n": len(t), "median_us": median(t),
                    "added_us": median(t) - median(base),
                    "paired_us": median([a - b for a, b in zip(t, base, strict=True)]),
                    "ratio": median(t) / median(base),
                })
    finally:
        for p in providers.values():
            p.close()
    return rows


def pricing_alone(loops: int) -> list[dict[str, Any]]:
    from agentos_llm.pricing import price_usage
    from agentos_llm.registry import create_provider
    from agentos_llm.types import Usage

    openai = create_provider("openai", api_key=API_KEY, base_url="http://127.0.0.1:9/v1")
    anthropic = create_provider("anthropic", api_key=API_KEY, base_url="http://127.0.0.1:9")
    fireworks = create_provider("fireworks", api_key=API_KEY, base_url="http://127.0.0.1:9/v1")
    cases: list[tuple[str, Any, str, dict[str, int]]] = [
        ("provider-reported", openai, "gpt-4o-mini", {"input_tokens": 1000, "output_tokens": 100}),
        ("genai-prices (flat)", openai, "gpt-4o-mini", {"input_tokens": 1000, "output_tokens": 100,
                                                       "cached_input_tokens": 200}),
        ("genai-prices (tiered, cache)", anthropic, "claude-sonnet-4-5",
         {"input_tokens": 1000, "output_tokens": 100, "cached_input_tokens": 200, "cache_write_input_tokens": 100}),
        ("catalog", fireworks, "accounts/fireworks/models/llama-v3p3-70b-instruct",
         {"input_tokens": 1000, "output_tokens": 100}),
        ("none (every source asked)", openai, "bench-unknown-model", {"input_tokens": 1000, "output_tokens": 100}),
    ]
    rows = []
    for name, provider, model, fields in cases:
        cost = 0.001 if name == "provider-reported" else None

        def build(fields: dict[str, int] = fields, cost: float | None = cost) -> Usage:
            return Usage(**fields, cost_usd=cost)

        def priced(provider: Any = provider, model: str = model, build: Callable[[], Usage] = build) -> None:
            price_usage(provider, build(), model)

        priced()  # warm: resolution and compilation are cached per (host, model)
        t0 = perf()
        for _ in range(loops):
            build()
        floor = perf() - t0
        t0 = perf()
        for _ in range(loops):
            priced()
        rows.append({"case": name, "us_per_call": (perf() - t0 - floor) / loops / 1e3})
    return rows


_COLD = """
import time
from agentos_llm.registry import create_provider
from agentos_llm.pricing import price_usage
from agentos_llm.types import Usage
p = create_provider("openai", api_key="sk-bench", base_url="http://127.0.0.1:9/v1")
t0 = time.perf_counter(); price_usage(p, Usage(input_tokens=10, output_tokens=5), "gpt-4o-mini")
t1 = time.perf_counter(); price_usage(p, Usage(input_tokens=10, output_tokens=5), "gpt-4.1-mini")
t2 = time.perf_counter(); price_usage(p, Usage(input_tokens=10, output_tokens=5), "gpt-4.1-mini")
t3 = time.perf_counter()
print((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
"""


def first_cost(runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True, check=True)
        samples.append([float(x) for x in out.stdout.split()])
    return {"first_cost_ms": median([s[0] for s in samples]),
            "first_cost_of_another_model_ms": median([s[1] for s in samples]),
            "warm_ms": median([s[2] for s in samples])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="measured calls per side and scenario (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured calls per side first (default 50)")
    parser.add_argument("--loops", type=int, default=20000, help="hot-loop iterations per pricing case")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh interpreters for the first cost")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with emulator() as base_url:
        calls = per_call(base_url, args.n, args.warmup)
    alone = pricing_alone(args.loops)
    cold = first_cost(args.cold_runs)
    info = machine()
    print(f"python {info['python']} on {info['platform']}, {info['cpus']} cpus; emulator in a child process; "
          f"{args.warmup} warm-up + {args.n} measured calls per side, interleaved; "
          f"{time.perf_counter() - started:.1f} s\n")
    print("1. per call (added = median(side) - median(off); paired = median of per-iteration differences)")
    print(f"{'scenario':<12} {'side':<13} {'median':>11} {'added':>10} {'paired':>10} {'ratio':>6}")
    for r in calls:
        print(f"{r['scenario']:<12} {r['side']:<13} {r['median_us']:>8.1f} us {r['added_us']:>+7.1f} us "
              f"{r['paired_us']:>+7.1f} us {r['ratio']:>6.3f}")
    print("\n2. pricing alone (hot loop, no I/O; building the Usage subtracted)")
    for r in alone:
        print(f"  {r['case']:<30} {r['us_per_call']:6.2f} us per call")
    print("\n3. first cost in a fresh interpreter (genai-prices and its data load once per process)")
    print(f"  first cost {cold['first_cost_ms']:.1f} ms; first of another model "
          f"{cold['first_cost_of_another_model_ms']:.2f} ms; warm {cold['warm_ms'] * 1000:.1f} us "
          f"(median of {args.cold_runs})")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "n": args.n, "warmup": args.warmup,
                                               "per_call": calls, "pricing_alone": alone, "first_cost": cold},
                                              indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
