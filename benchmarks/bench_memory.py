"""Memory of agentos-llm next to the raw openai SDK (informational; no bounds).

1. RSS after import, in fresh interpreters (bytecode cached as in `bench_import.py`).
2. tracemalloc over `--calls` sequential calls (default 200) against the emulator (in a child
   process, so the server's own allocations are not counted), raw SDK versus our provider, whole
   responses and streams: the peak of traced memory above the level before the block, and what
   is still held after the block and a `gc.collect()` (a leak would show there). Both sides are
   warmed up first, so lazy imports and client creation are not counted.

    .venv/bin/python benchmarks/bench_memory.py [--calls 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL, emulator

IMPORTS = [
    "pass",
    "from pydantic import BaseModel",
    "import agentos_llm",
    "from agentos_llm import create_provider, Message, GenerateOptions",
    "import openai",
    "from agentos_llm.providers.openai import OpenAIProvider",
]
_RSS_CHILD = r"""
import sys, json, resource
exec(compile(sys.argv[1], "<bench>", "exec"), {})
rss = None
try:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
except OSError:
    pass
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak_mb = peak / 1024 / (1024 if sys.platform == "darwin" else 1)
print(json.dumps({"rss_mb": rss, "peak_rss_mb": peak_mb}))
"""
WHOLE_MSGS: list[dict[str, Any]] = [{"role": "user", "content": "Say hello to the benchmark."}]
STREAM_MSGS: list[dict[str, Any]] = [{"role": "user", "content": " ".join(f"w{i}" for i in range(199))}]


def rss_after_imports(runs: int) -> list[dict[str, Any]]:
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-pycache-") as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        for statement in IMPORTS:  # warm-up: fills the bytecode cache
            subprocess.run([sys.executable, "-c", _RSS_CHILD, statement], check=True, capture_output=True, env=env)
        for statement in IMPORTS:
            samples = []
            for _ in range(runs):
                res = subprocess.run([sys.executable, "-c", _RSS_CHILD, statement], check=True,
                                     capture_output=True, text=True, env=env)
                samples.append(json.loads(res.stdout))
            key = "rss_mb" if samples[0]["rss_mb"] is not None else "peak_rss_mb"
            values = sorted(s[key] for s in samples)
            out.append({"statement": statement, "measure": key, "median_mb": values[len(values) // 2]})
    return out


def traced(fn: Callable[[], Any], calls: int) -> dict[str, float]:
    """Peak and retained traced memory (KiB) of `calls` sequential calls of `fn`."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(calls):
            fn()
        peak = tracemalloc.get_traced_memory()[1]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return {"peak_kib": (peak - before) / 1024, "retained_kib": (after - before) / 1024}


def call_memory(base_url: str, calls: int) -> list[dict[str, Any]]:
    import openai

    from agentos_llm.registry import create_provider

    client: Any = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    provider = create_provider("openai", api_key=API_KEY, base_url=base_url, max_retries=0)

    def raw_whole() -> Any:
        r = client.chat.completions.create(model=MODEL, messages=WHOLE_MSGS)
        return r.choices[0].message.content, r.usage

    def ours_whole() -> Any:
        r = provider.generate_sync(MODEL, WHOLE_MSGS)
        return r.text, r.usage

    def raw_stream() -> Any:
        usage = None
        for chunk in client.chat.completions.create(model=MODEL, messages=STREAM_MSGS,
                                                    stream=True, stream_options={"include_usage": True}):
            if chunk.choices:
                _ = chunk.choices[0].delta.content
            usage = chunk.usage or usage
        return usage

    def ours_stream() -> Any:
        done = None
        for event in provider.stream_sync(MODEL, STREAM_MSGS):
            if event.type == "text_delta":
                _ = event.delta
            elif event.type == "done":
                done = event.response
        return done

    rows = []
    try:
        for name, raw, ours in (("sync whole", raw_whole, ours_whole), ("sync stream", raw_stream, ours_stream)):
            for _ in range(10):  # warm-up
                raw()
                ours()
            r = traced(raw, calls)
            o = traced(ours, calls)
            rows.append({"scenario": name, "calls": calls, "raw": r, "ours": o})
    finally:
        client.close()
        provider.close()
    return rows


def freed_per_item(make: Callable[[], Any], n: int) -> float:
    """Bytes per item that dropping `n` retained results of `make()` frees (tracemalloc): what a caller keeps,
    without the client's caches or the emulator's bookkeeping."""
    for _ in range(5):
        make()
    gc.collect()
    tracemalloc.start()
    try:
        kept = [make() for _ in range(n)]
        gc.collect()
        with_them = tracemalloc.get_traced_memory()[0]
        del kept
        gc.collect()
        without = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (with_them - without) / n


def retained(root: str, n: int) -> list[dict[str, Any]]:
    """Kept per response (issue 15): ours on every API, the raw openai SDK's object, and the bare-dict floor."""
    import httpx
    import openai

    from agentos_llm.registry import create_provider

    rows: list[dict[str, Any]] = []
    client: Any = openai.OpenAI(base_url=root + "/v1", api_key=API_KEY, max_retries=0)
    http = httpx.Client()
    body = {"model": MODEL, "messages": WHOLE_MSGS}
    try:
        rows.append({"side": "raw openai SDK (ChatCompletion)", "bytes": freed_per_item(
            lambda: client.chat.completions.create(model=MODEL, messages=WHOLE_MSGS), n)})
        rows.append({"side": "floor: json.loads of the body (dict)", "bytes": freed_per_item(
            lambda: json.loads(http.post(root + "/v1/chat/completions", json=body,
                                         headers={"authorization": f"Bearer {API_KEY}"}).content), n)})
    finally:
        client.close()
        http.close()
    sides = {"openai-chat": ("openai", {"base_url": root + "/v1"}, MODEL),
             "openai-responses": ("openai", {"base_url": root + "/v1", "api": "responses"}, MODEL),
             "anthropic-messages": ("anthropic", {"base_url": root}, "claude-3-5-haiku-latest"),
             "gemini-generate": ("gemini", {"base_url": root}, "gemini-2.0-flash"),
             "bedrock-converse": ("bedrock", {"base_url": root, "region": "us-east-1"},
                                  "anthropic.claude-3-haiku-20240307-v1:0"),
             "cohere-chat": ("cohere", {"base_url": root}, "command-r")}
    for api, (host, kwargs, model) in sides.items():
        try:
            provider = create_provider(host, api_key=API_KEY, max_retries=0, **kwargs)
        except Exception as exc:  # an extra not installed
            rows.append({"side": f"ours {api}", "bytes": None, "skipped": str(exc)})
            continue
        try:
            rows.append({"side": f"ours {api}", "bytes": freed_per_item(
                lambda p=provider, m=model: p.generate_sync(m, WHOLE_MSGS), n)})
        finally:
            provider.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="calls per side and scenario (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters per import statement (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)

    imports = rss_after_imports(args.runs)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    with emulator() as base_url:
        calls = call_memory(base_url, args.calls)
        kept = retained(base_url[: -len("/v1")], args.calls)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus\n")
    print(f"RSS after import (median of {args.runs} fresh interpreters, cached bytecode):")
    width = max(len(r["statement"]) for r in imports)
    base = imports[0]["median_mb"]
    for r in imports:
        print(f"  {r['statement']:<{width}} {r['median_mb']:7.1f} MiB  ({r['median_mb'] - base:+6.1f} MiB over bare "
              "python)")
    print(f"\ntracemalloc over {args.calls} sequential calls (KiB above the level before the block):")
    print(f"  {'scenario':<12} {'raw peak':>10} {'ours peak':>10} {'raw retained':>13} {'ours retained':>14}")
    for r in calls:
        print(f"  {r['scenario']:<12} {r['raw']['peak_kib']:10.1f} {r['ours']['peak_kib']:10.1f} "
              f"{r['raw']['retained_kib']:13.1f} {r['ours']['retained_kib']:14.1f}")
    print(f"\nkept per retained response (bytes freed by dropping {args.calls} of them; target <= 1350, "
          "pydantic-ai's figure):")
    for r in kept:
        print(f"  {r['side']:<40} " + (f"{r['bytes']:8.0f} B" if r["bytes"] is not None else "  skipped"))
    if args.json:
        Path(args.json).write_text(json.dumps({"imports": imports, "calls": calls, "kept": kept}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
