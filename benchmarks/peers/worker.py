"""Runs one side's workloads in one interpreter (a peer's venv) and prints the figures as JSON on stdout.

    python worker.py --side NAME --mode import|calls|memory|concurrent --base-url URL [--n N] [--warmup W]

Standard library only at the top (the sides import their library when asked), so `--mode import` times the
library's import and nothing of ours. A side is a small adapter (sides_*.py) with one method per workload;
every answer is checked once before timing, so no side can be fast by doing less.
"""

from __future__ import annotations

import sys
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from workloads import BIG, SMALL, STREAM_TEXT, TOOL_ARGS, conc_text  # noqa: E402

# side name -> (module, class); the module is imported only for that side.
SIDES: dict[str, tuple[str, str]] = {
    "openai": ("sides_raw", "OpenAIRaw"),
    "openai-floor": ("sides_raw", "OpenAIFloor"),
    "anthropic": ("sides_raw", "AnthropicRaw"),
    "anthropic-floor": ("sides_raw", "AnthropicFloor"),
    "google-genai": ("sides_raw", "GeminiRaw"),
    "google-genai-floor": ("sides_raw", "GeminiFloor"),
    "litellm": ("sides_peers", "LiteLLM"),
    "any-llm": ("sides_peers", "AnyLLM"),
    "pydantic-ai": ("sides_peers", "PydanticAI"),
    "langchain": ("sides_peers", "LangChain"),
    "agentos-llm": ("sides_ours", "OursOpenAI"),
    "agentos-llm/anthropic": ("sides_ours", "OursAnthropic"),
    "agentos-llm/gemini": ("sides_ours", "OursGemini"),
}

CALLS = ("small", "big", "tool")
perf = time.perf_counter


def load(name: str) -> Any:
    """The adapter instance of a side."""
    module, cls = SIDES[name]
    return getattr(importlib.import_module(module), cls)()


def rss_kb() -> int:
    """Resident set size now, in KB (Linux /proc; ru_maxrss elsewhere, an upper bound)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def check(kind: str, got: Any) -> None:
    """Raises unless a side read the answer the mock sent."""
    want: Any = {"small": SMALL, "big": BIG, "tool": ("get_weather", TOOL_ARGS), "stream": STREAM_TEXT}.get(kind)
    if kind.startswith("conc"):
        want = conc_text(int(kind[4:]))
    if got != want:
        raise RuntimeError(f"{kind}: unexpected answer {str(got)[:120]!r}")


# ---------------------------------------------------------------------- modes


def mode_import(side_name: str, base_url: str) -> dict[str, Any]:
    t0 = perf()
    side = load(side_name)
    side.do_import()
    t1 = perf()
    rss = rss_kb()
    side.setup(base_url)
    got = side.read("small", side.call("small"))
    t2 = perf()
    check("small", got)
    return {"import_ms": (t1 - t0) * 1e3, "first_response_ms": (t2 - t0) * 1e3, "rss_after_import_mb": rss / 1024,
            "interpreter_ms": (t0 - T_START) * 1e3}


def _timed(fn: Any, n: int, warmup: int) -> list[float]:
    out = []
    for i in range(warmup + n):
        t0 = perf()
        fn()
        if i >= warmup:
            out.append((perf() - t0) * 1e3)
    return out


async def _atimed(fn: Any, n: int, warmup: int) -> list[float]:
    out = []
    for i in range(warmup + n):
        t0 = perf()
        await fn()
        if i >= warmup:
            out.append((perf() - t0) * 1e3)
    return out


async def _aread(side: Any, kind: str) -> Any:
    return side.read(kind, await side.acall(kind))


def mode_calls(side_name: str, base_url: str, n: int, warmup: int, n_stream: int) -> dict[str, list[float]]:
    import asyncio

    side = load(side_name)
    side.do_import()
    side.setup(base_url)
    res: dict[str, list[float]] = {}
    for kind in CALLS:
        check(kind, side.read(kind, side.call(kind)))
    check("stream", side.stream(STREAM_TEXT))
    gc.collect()
    for kind in CALLS:
        res[f"sync_{kind}_ms"] = _timed(lambda k=kind: side.read(k, side.call(k)), n, warmup)
    res["sync_stream_ms"] = _timed(lambda: side.stream(STREAM_TEXT), n_stream, max(2, warmup // 5))
    side.close()

    async def run_async() -> None:
        await side.asetup(base_url)
        for kind in CALLS:
            check(kind, side.read(kind, await side.acall(kind)))
        check("stream", await side.astream(STREAM_TEXT))
        gc.collect()
        for kind in CALLS:
            res[f"async_{kind}_ms"] = await _atimed(lambda k=kind: _aread(side, k), n, warmup)
        res["async_stream_ms"] = await _atimed(lambda: side.astream(STREAM_TEXT), n_stream, max(2, warmup // 5))
        await side.aclose()

    asyncio.run(run_async())
    return res


def mode_memory(side_name: str, base_url: str, keep: int) -> dict[str, Any]:
    import tracemalloc

    side = load(side_name)
    side.do_import()
    rss_import = rss_kb()
    side.setup(base_url)
    for _ in range(20):
        side.call("small")
    gc.collect()
    tracemalloc.start()
    peaks = []
    for _ in range(15):
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        side.read("small", side.call("small"))
        peaks.append(tracemalloc.get_traced_memory()[1] - base)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    kept = [side.call("small") for _ in range(keep)]
    gc.collect()
    per = (tracemalloc.get_traced_memory()[0] - before) / keep
    tracemalloc.stop()
    check("small", side.read("small", kept[-1]))
    side.close()
    return {"rss_after_import_mb": rss_import / 1024, "peak_per_call_kb": statistics.median(peaks) / 1024,
            "kept_per_response_kb": per / 1024, "rss_after_calls_mb": rss_kb() / 1024}


def mode_concurrent(side_name: str, base_url: str, streams: int, timeout: float) -> dict[str, Any]:
    import asyncio

    side = load(side_name)
    side.do_import()

    async def one(i: int) -> None:
        got = await asyncio.wait_for(side.astream(conc_text(i)), timeout)
        check(f"conc{i}", got)

    async def main() -> dict[str, Any]:
        await side.asetup(base_url)
        await asyncio.gather(*(one(i) for i in range(20)))  # warm the pool and the code paths
        t0 = perf()
        results = await asyncio.gather(*(one(i) for i in range(streams)), return_exceptions=True)
        wall = perf() - t0
        errors = [r for r in results if isinstance(r, BaseException)]
        timeouts = sum(isinstance(e, (asyncio.TimeoutError, TimeoutError)) for e in errors)
        await side.aclose()
        out: dict[str, Any] = {"concurrent_s": wall, "errors": len(errors) - timeouts, "timeouts": timeouts}
        if errors:
            out["first_error"] = repr(errors[0])[:300]
        return out

    return asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", required=True, choices=sorted(SIDES))
    ap.add_argument("--mode", required=True, choices=("import", "calls", "memory", "concurrent"))
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--n-stream", type=int, default=20)
    ap.add_argument("--keep", type=int, default=200)
    ap.add_argument("--streams", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    out: Any
    if a.mode == "import":
        out = mode_import(a.side, a.base_url)
    elif a.mode == "calls":
        out = mode_calls(a.side, a.base_url, a.n, a.warmup, a.n_stream)
    elif a.mode == "memory":
        out = mode_memory(a.side, a.base_url, a.keep)
    else:
        out = mode_concurrent(a.side, a.base_url, a.streams, a.timeout)
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    # Some libraries keep non-daemon threads (background loggers): do not let them hold the run.
    os._exit(0)


if __name__ == "__main__":
    main()
