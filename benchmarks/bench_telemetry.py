"""Per-call overhead of observability: the same manager calls with telemetry off, and with each kind on.

Sides run interleaved call by call (the order rotating every iteration) after a warm-up, in one run, so
drift of the machine cancels out. Reported: medians, the time added over "off" (median difference and
median of the per-iteration paired differences) and the ratio side / off.

  off     no `instrument()`, no hooks, DEBUG off: what every call pays when nothing observes it
  otel    `telemetry.instrument()` on the OpenTelemetry SDK (a span processor that drops the spans, the
          metrics aggregated in memory): a span per provider call and one per manager call, the metrics
  log     DEBUG on for `agentos_llm.calls` (a handler that formats and drops the record)
  hooks   one `on_request` and one `on_response` hook on the manager (each does nothing)

Scenarios:
  fake whole / fake stream   FakeProvider behind a manager: no I/O, so telemetry's own CPU cost shows alone
  wire whole / wire stream   the OpenAI provider behind a manager against the loopback wire emulator (in a
                             child process): what telemetry adds to a real call path

Also measured: the off path's own cost, `watch(...)` answering None, timed in a tight loop.

    .venv/bin/python benchmarks/bench_telemetry.py [--n 500] [--warmup 50] [--only fake|wire] [--json out.json]

It reports; it asserts nothing, and exits 0 whatever the figures. The otel side needs the OpenTelemetry SDK
(the dev extra); without it that side is left out.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL, emulator, machine, median, quantile

perf = time.perf_counter_ns
STREAM_PROMPT = " ".join(f"w{i}" for i in range(19))  # the echo "Echo: w0 .. w18": 20 pieces


class _Drop(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)  # a real handler formats the record: pay for that too


def make_sink() -> Any:
    """The OpenTelemetry sink on the SDK, spans dropped after processing (None without the SDK)."""
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    except ImportError:
        return None

    class DropExporter(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    from agentos_llm import telemetry
    from agentos_llm.telemetry import watch

    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(DropExporter()))
    telemetry.instrument(tp, MeterProvider(metric_readers=[InMemoryMetricReader()]))
    sink = watch.state.sink
    telemetry.uninstrument()
    return sink


class Sides:
    """Switches the process-wide telemetry state per side before each call."""

    def __init__(self) -> None:
        from agentos_llm.telemetry import watch

        self.state = watch.state
        self.sink = make_sink()
        self.log = logging.getLogger("agentos_llm.calls")
        self.log.propagate = False
        self.log.addHandler(_Drop())
        self.names = ["off", *(["otel"] if self.sink is not None else []), "log", "hooks"]

    def wrap(self, name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        state, sink, log = self.state, self.sink, self.log
        if name == "otel":
            def otel() -> Any:
                state.sink = sink
                log.setLevel(logging.INFO)
                return fn()
            return otel
        if name == "log":
            def logged() -> Any:
                state.sink = None
                log.setLevel(logging.DEBUG)
                return fn()
            return logged

        def plain() -> Any:
            state.sink = None
            log.setLevel(logging.INFO)
            return fn()
        return plain

    def reset(self) -> None:
        self.state.sink = None
        self.log.setLevel(logging.NOTSET)


def managers(make: Callable[[], Any], names: list[str]) -> dict[str, Any]:
    from agentos_llm import AIModelProviderManager

    out = {}
    for name in names:
        m = AIModelProviderManager([make()], breakers=False)
        if name == "hooks":
            m.add_hook(on_request=lambda e: None, on_response=lambda e: None)
        out[name] = m
    return out


def run(sides: list[Callable[[], Any]], n: int, warmup: int) -> list[list[float]]:
    """Interleaved timings in microseconds, one list per side."""
    times: list[list[float]] = [[] for _ in sides]
    gc.collect()
    for i in range(warmup + n):
        for j in [(i + k) % len(sides) for k in range(len(sides))]:
            t0 = perf()
            sides[j]()
            dt = perf() - t0
            if i >= warmup:
                times[j].append(dt / 1e3)
    return times


def summarize(name: str, names: list[str], times: list[list[float]]) -> dict[str, Any]:
    off = times[0]
    row: dict[str, Any] = {"scenario": name, "n": len(off)}
    for side, t in zip(names, times, strict=True):
        row[f"{side}_median_us"] = median(t)
        row[f"{side}_p90_us"] = quantile(t, 0.9)
    for side, t in zip(names[1:], times[1:], strict=True):
        row[f"{side}_added_us"] = median(t) - median(off)
        row[f"{side}_paired_us"] = median([b - a for a, b in zip(off, t, strict=True)])
        row[f"{side}_ratio"] = median(t) / median(off) if median(off) else float("nan")
    return row


def scenarios(label: str, model: str, make: Callable[[], Any], s: Sides, n: int, warmup: int
              ) -> list[dict[str, Any]]:
    ms = managers(make, s.names)

    def whole(m: Any) -> Callable[[], Any]:
        return lambda: m.generate_sync(model, "Say hello to the benchmark.")

    def stream(m: Any) -> Callable[[], Any]:
        return lambda: sum(1 for _ in m.stream_sync(model, STREAM_PROMPT))

    rows = []
    for kind, fn in (("whole", whole), ("stream", stream)):
        sides = [s.wrap(name, fn(ms[name])) for name in s.names]
        rows.append(summarize(f"{label} {kind}", s.names, run(sides, n, warmup)))
    s.reset()
    for m in ms.values():
        m.close()
    return rows


class _NoList(list):  # type: ignore[type-arg]
    def append(self, item: Any) -> None:
        pass


def fake_provider() -> Any:
    from agentos_llm.testing import FakeProvider

    p = FakeProvider()
    p.calls = _NoList()  # the fake keeps every call; do not let that grow through the run
    return p


def off_path_ns() -> dict[str, float]:
    """`watch(...)` when nothing observes (ns per call), and an empty call to subtract."""
    from agentos_llm.telemetry.watch import watch

    p = fake_provider()
    loops = 1_000_000
    check = min(timeit.repeat("watch(p, 'chat', 'm', None)", globals={"p": p, "watch": watch}, number=loops,
                              repeat=5))
    empty = min(timeit.repeat("f(p, 'chat', 'm', None)", globals={"p": p, "f": lambda *a: None}, number=loops,
                              repeat=5))
    return {"watch_ns": check / loops * 1e9, "empty_call_ns": empty / loops * 1e9,
            "watch_minus_empty_ns": (check - empty) / loops * 1e9}


def print_table(rows: list[dict[str, Any]], names: list[str]) -> None:
    head = f"{'scenario':<14} {'n':>4} {'off med':>10}" + "".join(
        f" {name + ' med':>11} {'added':>9} {'paired':>9} {'ratio':>6}" for name in names[1:])
    print(head)
    print("-" * len(head))
    for r in rows:
        line = f"{r['scenario']:<14} {r['n']:>4} {r['off_median_us']:>8.1f}us"
        for name in names[1:]:
            line += (f" {r[f'{name}_median_us']:>9.1f}us {r[f'{name}_added_us']:>+7.1f}us "
                     f"{r[f'{name}_paired_us']:>+7.1f}us {r[f'{name}_ratio']:>6.3f}")
        print(line)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--only", choices=("fake", "wire"))
    ap.add_argument("--inproc", action="store_true", help="run the emulator in this process")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    started = time.monotonic()
    s = Sides()
    rows: list[dict[str, Any]] = []
    if args.only in (None, "fake"):
        rows += scenarios("fake", "fake/fake-model", fake_provider, s, args.n, args.warmup)
    if args.only in (None, "wire"):
        from agentos_llm.registry import create_provider

        with emulator(args.inproc) as base_url:
            rows += scenarios("wire", f"openai/{MODEL}", lambda: create_provider(
                "openai", api_key=API_KEY, base_url=base_url, max_retries=0), s, args.n, args.warmup)
    off = off_path_ns()
    info = machine()
    print(f"python {info['python']} on {info['platform']}, {info['cpus']} cpus; {args.warmup} warm-up + {args.n} "
          f"measured calls per side, interleaved; {time.monotonic() - started:.1f} s")
    if s.sink is None:
        print("(the OpenTelemetry SDK is not installed: no otel side)")
    print("added = median(side) - median(off); paired = median of per-iteration (side - off); ratio = side / off\n")
    print_table(rows, s.names)
    print(f"\noff path: `watch(...)` answering None {off['watch_ns']:.0f} ns per call "
          f"({off['watch_minus_empty_ns']:.0f} ns beyond an empty call); a manager call adds one hooks/sink check")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "names": s.names, "rows": rows, "off_path": off}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
