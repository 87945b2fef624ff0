"""Per-call overhead of the usage ledger: the same calls with the ledger off, on, and on with a budget.

Sides run interleaved call by call (the order rotating every iteration) after a warm-up, in one
run, so drift of the machine cancels out. Reported: medians, the time added over "off" (median
difference and median of the per-iteration paired differences) and the ratio.

  off       provider.usage_ledger is None: the code path every call takes without a ledger
  on        a UsageLedger on SQLite (WAL, batches of 500, flush every 1 s) in a temporary directory
  budget    the same, plus one token budget (per day) and one USD budget scoped to the provider:
            a reservation before and a settlement after each call, the store re-read once a second

Scenarios:
  fake whole / fake stream   FakeProvider: no I/O at all, so the ledger's own CPU cost shows alone
                             (the stream is 20 words: 20 text events + usage + done)
  wire whole / wire stream   the OpenAI provider against the loopback wire emulator (in a child
                             process): what the ledger adds to a real call path

Also measured: the "off" path's own cost, the single attribute check a provider does per call
(`provider.usage_ledger is not None`), timed in a tight loop.

    .venv/bin/python benchmarks/bench_ledger.py [--n 500] [--warmup 50] [--only fake|wire] [--json out.json]

It reports; it asserts nothing, and exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL, emulator, machine, median, quantile

SIDES = ("off", "on", "budget")
perf = time.perf_counter_ns
STREAM_PROMPT = " ".join(f"w{i}" for i in range(19))  # the echo "Echo: w0 .. w18": 20 pieces


def _order(i: int, k: int) -> list[int]:
    return [(i + j) % k for j in range(k)]


def run(sides: list[Callable[[], Any]], n: int, warmup: int) -> list[list[float]]:
    """Interleaved timings in microseconds, one list per side."""
    times: list[list[float]] = [[] for _ in sides]
    gc.collect()
    for i in range(warmup + n):
        for j in _order(i, len(sides)):
            t0 = perf()
            sides[j]()
            dt = perf() - t0
            if i >= warmup:
                times[j].append(dt / 1e3)
    return times


def summarize(name: str, times: list[list[float]]) -> dict[str, Any]:
    off = times[0]
    row: dict[str, Any] = {"scenario": name, "n": len(off)}
    for side, t in zip(SIDES, times, strict=True):
        row[f"{side}_median_us"] = median(t)
        row[f"{side}_p10_us"] = quantile(t, 0.1)
        row[f"{side}_p90_us"] = quantile(t, 0.9)
    for side, t in zip(SIDES[1:], times[1:], strict=True):
        row[f"{side}_added_us"] = median(t) - median(off)
        row[f"{side}_paired_us"] = median([b - a for a, b in zip(off, t, strict=True)])
        row[f"{side}_ratio"] = median(t) / median(off) if median(off) else float("nan")
    return row


def make_ledgers(tmp: Path, provider_id: str) -> tuple[Any, Any]:
    from agentos_llm.ledger import Budget, SQLiteStore, UsageLedger

    plain = UsageLedger(SQLiteStore(tmp / "on.sqlite3"))
    budgeted = UsageLedger(SQLiteStore(tmp / "budget.sqlite3"),
                           budgets=[Budget(tokens=10**12, per="day"), Budget(usd=10**9, provider=provider_id)])
    return plain, budgeted


def fake_scenarios(tmp: Path, n: int, warmup: int) -> list[dict[str, Any]]:
    from agentos_llm.testing import FakeProvider

    plain, budgeted = make_ledgers(tmp, "fake")
    providers = [FakeProvider(), FakeProvider(), FakeProvider()]
    providers[1].usage_ledger = plain
    providers[2].usage_ledger = budgeted
    for p in providers:
        p.calls = _NoList()  # the fake keeps every call; do not let that grow through the run

    def whole(p: Any) -> Callable[[], Any]:
        return lambda: p.generate_sync("fake-model", "Say hello to the benchmark.")

    def stream(p: Any) -> Callable[[], Any]:
        return lambda: sum(1 for _ in p.stream_sync("fake-model", STREAM_PROMPT))

    rows = [summarize("fake whole", run([whole(p) for p in providers], n, warmup)),
            summarize("fake stream (22 ev)", run([stream(p) for p in providers], n, warmup))]
    _close(plain, budgeted)
    return rows


class _NoList(list):  # type: ignore[type-arg]
    def append(self, item: Any) -> None:
        pass


def wire_scenarios(tmp: Path, n: int, warmup: int, inproc: bool) -> list[dict[str, Any]]:
    from agentos_llm.registry import create_provider

    with emulator(inproc) as base_url:
        providers = [create_provider("openai", api_key=API_KEY, base_url=base_url, max_retries=0) for _ in SIDES]
        plain, budgeted = make_ledgers(tmp, "openai")
        providers[1].usage_ledger = plain
        providers[2].usage_ledger = budgeted

        def whole(p: Any) -> Callable[[], Any]:
            return lambda: p.generate_sync(MODEL, "Say hello to the benchmark.").usage

        def stream(p: Any) -> Callable[[], Any]:
            return lambda: sum(1 for _ in p.stream_sync(MODEL, STREAM_PROMPT))

        rows = [summarize("wire whole", run([whole(p) for p in providers], n, warmup)),
                summarize("wire stream (22 ev)", run([stream(p) for p in providers], n, warmup))]
        for p in providers:
            p.close()
    _close(plain, budgeted)
    return rows


def _close(*ledgers: Any) -> None:
    for led in ledgers:
        led.close()
        if led.dropped:
            print(f"warning: {led.dropped} rows dropped by {led!r}", file=sys.stderr)


def off_path_check_ns() -> dict[str, float]:
    """The attribute check of the off path, and an empty loop to subtract (ns per iteration)."""
    from agentos_llm.testing import FakeProvider

    p = FakeProvider()
    loops = 2_000_000
    check = min(timeit.repeat("p.usage_ledger is not None", globals={"p": p}, number=loops, repeat=5))
    empty = min(timeit.repeat("p", globals={"p": p}, number=loops, repeat=5))
    return {"check_ns": check / loops * 1e9, "empty_loop_ns": empty / loops * 1e9,
            "check_minus_empty_ns": (check - empty) / loops * 1e9}


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (f"{'scenario':<20} {'n':>4} {'off med':>10} {'on med':>10} {'on added':>10} {'paired':>9} "
            f"{'ratio':>6} {'budget med':>11} {'budget added':>12} {'paired':>9} {'ratio':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['scenario']:<20} {r['n']:>4} {r['off_median_us']:>8.1f}us {r['on_median_us']:>8.1f}us "
              f"{r['on_added_us']:>+8.1f}us {r['on_paired_us']:>+7.1f}us {r['on_ratio']:>6.3f} "
              f"{r['budget_median_us']:>9.1f}us {r['budget_added_us']:>+10.1f}us {r['budget_paired_us']:>+7.1f}us "
              f"{r['budget_ratio']:>6.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--only", choices=("fake", "wire"))
    ap.add_argument("--inproc", action="store_true", help="run the emulator in this process")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        if args.only in (None, "fake"):
            rows += fake_scenarios(Path(tmp), args.n, args.warmup)
        if args.only in (None, "wire"):
            rows += wire_scenarios(Path(tmp), args.n, args.warmup, args.inproc)
    off = off_path_check_ns()
    info = machine()
    print(f"python {info['python']} on {info['platform']}, {info['cpus']} cpus; {args.warmup} warm-up + {args.n} "
          f"measured calls per side, interleaved; {time.monotonic() - started:.1f} s")
    print("added = median(side) - median(off); paired = median of per-iteration (side - off); ratio = side / off\n")
    print_table(rows)
    print(f"\noff path: `provider.usage_ledger is not None` {off['check_ns']:.1f} ns per call "
          f"({off['check_minus_empty_ns']:.1f} ns beyond an empty loop)")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows, "off_path": off}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
