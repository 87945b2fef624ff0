"""Per-call overhead of agentos-llm over the raw openai SDK, against the loopback wire emulator.

Raw SDK and our provider call one emulator in the same run, interleaved call by call (the order
rotates every iteration) after a warm-up, so drift of the machine and of the server cancels out.
Calls are sequential on keep-alive clients. Reported: medians, the added time (median ours minus
median raw) and the median of the per-iteration paired differences.

A third side, the "floor", is the same SDK client's low-level `post` returning the bare HTTP
response decoded with `json.loads` only: the I/O our provider does underneath. `ours - floor` is
the cost of our own layer (conversion to our types, validation, retry policy, cost lookup), which
is what profiling should look at; `ours - raw` is what the bounds are about.

Scenarios:
  sync / async whole response: `chat.completions.create` reading the text and usage, versus
      `generate_sync` / `await generate` reading the same.
  sync / async stream: a ~200-piece answer (the emulator streams one chunk per word), every chunk
      of the raw SDK's stream read, versus every event of `stream_sync` / `stream`; the added time
      per event is (median ours - median raw) / the number of events we yield.

Bounds (from the issue; measured and reported, never asserted): 0.2 ms added per whole call and
20 us added per stream event. The exit status is 0 whatever the figures.

    .venv/bin/python benchmarks/bench_overhead.py [--n 500] [--warmup 50] [--json out.json] [--inproc]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import sys
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL, emulator, machine, median, quantile

CALL_BOUND_MS = 0.2
EVENT_BOUND_US = 20.0
STREAM_WORDS = 199  # the echo is "Echo:" plus these words: 200 text pieces, 203 chunks with role/finish/usage
WHOLE_PROMPT = "Say hello to the benchmark."
STREAM_PROMPT = " ".join(f"w{i}" for i in range(STREAM_WORDS))

perf = time.perf_counter_ns


# ---------------------------------------------------------------------- measurement loops


def _order(i: int, k: int) -> list[int]:
    """Side order for iteration i: rotated every iteration, so each side runs first equally often."""
    return [(i + j) % k for j in range(k)]


def run_sync(sides: list[Callable[[], Any]], n: int, warmup: int) -> list[list[float]]:
    """Interleaved timings in ms, one list per side."""
    times: list[list[float]] = [[] for _ in sides]
    gc.collect()
    for i in range(warmup + n):
        for j in _order(i, len(sides)):
            fn = sides[j]
            t0 = perf()
            fn()
            dt = perf() - t0
            if i >= warmup:
                times[j].append(dt / 1e6)
    return times


async def run_async(sides: list[Callable[[], Awaitable[Any]]], n: int, warmup: int) -> list[list[float]]:
    times: list[list[float]] = [[] for _ in sides]
    gc.collect()
    for i in range(warmup + n):
        for j in _order(i, len(sides)):
            fn = sides[j]
            t0 = perf()
            await fn()
            dt = perf() - t0
            if i >= warmup:
                times[j].append(dt / 1e6)
    return times


def summarize(name: str, times: list[list[float]], *, events: int | None = None,
              chunks: int | None = None) -> dict[str, Any]:
    raw_t, ours_t, floor_t = times
    raw_m, ours_m, floor_m = median(raw_t), median(ours_t), median(floor_t)
    added = ours_m - raw_m
    row: dict[str, Any] = {
        "scenario": name,
        "n": len(raw_t),
        "raw_median_ms": raw_m,
        "ours_median_ms": ours_m,
        "floor_median_ms": floor_m,
        "raw_p10_ms": quantile(raw_t, 0.1),
        "raw_p90_ms": quantile(raw_t, 0.9),
        "ours_p10_ms": quantile(ours_t, 0.1),
        "ours_p90_ms": quantile(ours_t, 0.9),
        "added_ms": added,
        "added_paired_median_ms": median([o - r for r, o in zip(raw_t, ours_t, strict=True)]),
        "ratio": ours_m / raw_m if raw_m else float("nan"),
        "layer_ms": ours_m - floor_m,
        "layer_paired_median_ms": median([o - f for f, o in zip(floor_t, ours_t, strict=True)]),
    }
    if events:
        row["events"] = events
        row["wire_chunks"] = chunks
        row["added_per_event_us"] = added * 1000 / events
        row["layer_per_event_us"] = row["layer_ms"] * 1000 / events
        row["bound_us_per_event"] = EVENT_BOUND_US
        row["pass"] = row["added_per_event_us"] <= EVENT_BOUND_US
    else:
        row["bound_ms"] = CALL_BOUND_MS
        row["pass"] = added <= CALL_BOUND_MS
    return row


# ---------------------------------------------------------------------- sides every SDK-shaped benchmark shares
#
# The openai, Responses and anthropic benchmarks differ only in their raw side (the SDK's typed API) and
# their bodies; our stream side, the floor (the SDK client's low-level `post` + `json.loads`) and the
# measuring are the same, so they live here once.


def decode_sse(lines: Iterable[str]) -> int:
    """json.loads every `data:` line of an event stream (the floor's decoding); the number of payloads."""
    k = 0
    for line in lines:
        if line.startswith("data: ") and not line.startswith("data: [DONE]"):
            json.loads(line[6:])
            k += 1
    return k


async def adecode_sse(lines: AsyncIterable[str]) -> int:
    """`decode_sse` over an async line iterator."""
    k = 0
    async for line in lines:
        if line.startswith("data: ") and not line.startswith("data: [DONE]"):
            json.loads(line[6:])
            k += 1
    return k


def floor_sides(client: Any, path: str, whole_body: dict[str, Any], stream_body: dict[str, Any],
                response_cls: Any) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The floor's whole and stream sides on a sync SDK client."""

    def whole() -> Any:
        return json.loads(client.post(path, body=whole_body, cast_to=response_cls).content)

    def stream() -> Any:
        r = client.post(path, body=stream_body, cast_to=response_cls, stream=True, stream_cls=None)
        try:
            return decode_sse(r.iter_lines())
        finally:
            r.close()

    return whole, stream


def afloor_sides(client: Any, path: str, whole_body: dict[str, Any], stream_body: dict[str, Any],
                 response_cls: Any) -> tuple[Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]:
    """The floor's whole and stream sides on an async SDK client."""

    async def whole() -> Any:
        return json.loads((await client.post(path, body=whole_body, cast_to=response_cls)).content)

    async def stream() -> Any:
        r = await client.post(path, body=stream_body, cast_to=response_cls, stream=True, stream_cls=None)
        try:
            return await adecode_sse(r.aiter_lines())
        finally:
            await r.aclose()

    return whole, stream


def ours_stream_side(provider: Any, model: str, messages: Any, counts: dict[str, int],
                     **options: Any) -> Callable[[], Any]:
    """Our sync stream read to its end (every event looked at); returns the done event's response."""

    def stream() -> Any:
        k = 0
        done = None
        for event in provider.stream_sync(model, messages, **options):
            k += 1
            if event.type == "text_delta":
                _ = event.delta
            elif event.type == "done":
                done = event.response
        counts["ours"] = k
        return done

    return stream


def aours_stream_side(provider: Any, model: str, messages: Any, counts: dict[str, int],
                      **options: Any) -> Callable[[], Awaitable[Any]]:
    """`ours_stream_side` for the async API."""

    async def stream() -> Any:
        k = 0
        done = None
        async with provider.stream(model, messages, **options) as events:
            async for event in events:
                k += 1
                if event.type == "text_delta":
                    _ = event.delta
                elif event.type == "done":
                    done = event.response
        counts["ours"] = k
        return done

    return stream


Check = Callable[[Any, Any, Any, Any], None]


def measure_sync(check: Check, whole: list[Callable[[], Any]], stream: list[Callable[[], Any]],
                 counts: dict[str, int], n: int, warmup: int) -> list[dict[str, Any]]:
    """Checks once that raw and ours read the same answers (sides are raw, ours, floor), then times them."""
    check(whole[0](), whole[1](), stream[0](), stream[1]())
    rows = [summarize("sync whole", run_sync(whole, n, warmup))]
    rows.append(summarize("sync stream", run_sync(stream, n, warmup), events=counts["ours"], chunks=counts["raw"]))
    return rows


async def measure_async(check: Check, whole: list[Callable[[], Awaitable[Any]]],
                        stream: list[Callable[[], Awaitable[Any]]], counts: dict[str, int], n: int,
                        warmup: int) -> list[dict[str, Any]]:
    """`measure_sync` for async sides."""
    check(await whole[0](), await whole[1](), await stream[0](), await stream[1]())
    rows = [summarize("async whole", await run_async(whole, n, warmup))]
    times = await run_async(stream, n, warmup)
    rows.append(summarize("async stream", times, events=counts["ours"], chunks=counts["raw"]))
    return rows


# ---------------------------------------------------------------------- scenarios
#
# Three sides per scenario, interleaved: "raw" (the openai SDK's typed API, the baseline of the
# bounds), "ours" (the provider), and "floor": the same SDK client's low-level `post` returning the
# bare HTTP response, decoded with `json.loads` only. The floor is exactly the I/O our provider
# does underneath, so ours - floor is the cost of our own layer (conversions, validation, policy).


def _http_response_cls() -> Any:
    """The response class of the HTTP client under the openai SDK (httpx2, or httpx for older SDKs)."""
    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name).Response
        except ImportError:
            continue
    raise RuntimeError("the openai SDK's HTTP client (httpx2 / httpx) is not installed")


WHOLE_MSGS: list[dict[str, Any]] = [{"role": "user", "content": WHOLE_PROMPT}]
STREAM_MSGS: list[dict[str, Any]] = [{"role": "user", "content": STREAM_PROMPT}]
WHOLE_BODY = {"model": MODEL, "messages": WHOLE_MSGS}
STREAM_BODY = {"model": MODEL, "messages": STREAM_MSGS, "stream": True, "stream_options": {"include_usage": True}}


def same_answers(raw_whole: Any, ours_whole: Any, raw_usage: Any, ours_done: Any) -> None:
    """Checks once, before timing, that both sides got and read the same answers."""
    if tuple(raw_whole) != tuple(ours_whole):
        raise RuntimeError(f"raw and ours differ on the whole answer: {raw_whole!r} != {ours_whole!r}")
    if (raw_usage.prompt_tokens, raw_usage.completion_tokens) != (ours_done.usage.input_tokens,
                                                                   ours_done.usage.output_tokens):
        raise RuntimeError("raw and ours differ on the streamed answer's usage")
    if len(ours_done.text.split()) != STREAM_WORDS + 1:
        raise RuntimeError(f"unexpected streamed answer: {ours_done.text[:80]!r}...")


def _read_raw_chunk(chunk: Any, usage: Any) -> Any:
    if chunk.choices:
        _ = chunk.choices[0].delta.content
    return chunk.usage if chunk.usage is not None else usage


def sync_scenarios(base_url: str, n: int, warmup: int) -> list[dict[str, Any]]:
    import openai

    from agentos_llm.registry import create_provider

    client: Any = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    floor_client: Any = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    provider = create_provider("openai", api_key=API_KEY, base_url=base_url, max_retries=0)

    def raw_whole() -> Any:
        r = client.chat.completions.create(model=MODEL, messages=WHOLE_MSGS)
        u = r.usage
        assert u is not None
        return r.choices[0].message.content, u.prompt_tokens, u.completion_tokens

    def ours_whole() -> Any:
        r = provider.generate_sync(MODEL, WHOLE_MSGS)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    counts = {"raw": 0, "ours": 0}

    def raw_stream() -> Any:
        stream = client.chat.completions.create(model=MODEL, messages=STREAM_MSGS,
                                                stream=True, stream_options={"include_usage": True})
        k = 0
        usage = None
        for chunk in stream:
            k += 1
            usage = _read_raw_chunk(chunk, usage)
        counts["raw"] = k
        return usage

    floor_whole, floor_stream = floor_sides(floor_client, "/chat/completions", WHOLE_BODY, STREAM_BODY,
                                            _http_response_cls())
    ours_stream = ours_stream_side(provider, MODEL, STREAM_MSGS, counts)
    try:
        return measure_sync(same_answers, [raw_whole, ours_whole, floor_whole], [raw_stream, ours_stream, floor_stream],
                            counts, n, warmup)
    finally:
        client.close()
        floor_client.close()
        provider.close()


async def async_scenarios(base_url: str, n: int, warmup: int) -> list[dict[str, Any]]:
    import openai

    from agentos_llm.registry import create_provider

    client: Any = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    floor_client: Any = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
    provider = create_provider("openai", api_key=API_KEY, base_url=base_url, max_retries=0)

    async def raw_whole() -> Any:
        r = await client.chat.completions.create(model=MODEL, messages=WHOLE_MSGS)
        u = r.usage
        assert u is not None
        return r.choices[0].message.content, u.prompt_tokens, u.completion_tokens

    async def ours_whole() -> Any:
        r = await provider.generate(MODEL, WHOLE_MSGS)
        return r.text, r.usage.input_tokens, r.usage.output_tokens

    counts = {"raw": 0, "ours": 0}

    async def raw_stream() -> Any:
        stream = await client.chat.completions.create(
            model=MODEL, messages=STREAM_MSGS, stream=True,
            stream_options={"include_usage": True})
        k = 0
        usage = None
        async for chunk in stream:
            k += 1
            usage = _read_raw_chunk(chunk, usage)
        counts["raw"] = k
        return usage

    floor_whole, floor_stream = afloor_sides(floor_client, "/chat/completions", WHOLE_BODY, STREAM_BODY,
                                             _http_response_cls())
    ours_stream = aours_stream_side(provider, MODEL, STREAM_MSGS, counts)
    try:
        return await measure_async(same_answers, [raw_whole, ours_whole, floor_whole],
                                   [raw_stream, ours_stream, floor_stream], counts, n, warmup)
    finally:
        await client.close()
        await floor_client.close()
        await provider.aclose()


# ---------------------------------------------------------------------- report


def print_table(rows: list[dict[str, Any]], floor: str = "same SDK client, low-level post + json.loads") -> None:
    head = (f"{'scenario':<13} {'n':>4} {'raw med':>10} {'ours med':>10} {'added':>10} {'paired':>10} "
            f"{'ratio':>6} {'per event':>10} {'bound':>9}  result")
    print(head)
    print("-" * len(head))
    for r in rows:
        per_event = f"{r['added_per_event_us']:+.2f} us" if "added_per_event_us" in r else ""
        bound = f"{r['bound_us_per_event']:g} us/ev" if "bound_us_per_event" in r else f"{r['bound_ms']:g} ms"
        print(f"{r['scenario']:<13} {r['n']:>4} {r['raw_median_ms']:>7.3f} ms {r['ours_median_ms']:>7.3f} ms "
              f"{r['added_ms']:>+7.3f} ms {r['added_paired_median_ms']:>+7.3f} ms {r['ratio']:>6.3f} "
              f"{per_event:>10} {bound:>9}  {'PASS' if r['pass'] else 'FAIL'}")
    print(f"\nour own layer, against the transport floor ({floor}):")
    for r in rows:
        line = (f"  {r['scenario']:<13} floor {r['floor_median_ms']:7.3f} ms   ours - floor "
                f"{r['layer_ms']:+.3f} ms (paired {r['layer_paired_median_ms']:+.3f} ms)")
        if "layer_per_event_us" in r:
            line += f" = {r['layer_per_event_us']:+.2f} us per event"
        print(line)
    for r in rows:
        if "events" in r:
            print(f"  {r['scenario']}: {r['events']} events yielded by ours, {r['wire_chunks']} chunks "
                  "read from the raw SDK stream, per call")


Scenarios = Callable[[str, int, int], list[dict[str, Any]]]
AsyncScenarios = Callable[[str, int, int], Awaitable[list[dict[str, Any]]]]


def overhead_main(argv: list[str] | None, doc: str | None, sdk: str, sdk_version: str, sync_scenarios: Scenarios,
                  async_scenarios: AsyncScenarios, *, server_root: bool = False) -> int:
    """The command line every overhead script shares: run the scenarios against the emulator and report.

    `server_root`: the SDK takes the emulator's root URL (Anthropic, Gemini), not `.../v1` (OpenAI).
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="measured calls per side and scenario (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured calls per side first (default 50)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--inproc", action="store_true",
                        help="run the emulator in this process (default: a child process)")
    parser.add_argument("--only", choices=("sync", "async"), help="run only the sync or the async scenarios")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with emulator(args.inproc) as openai_base_url:
        base_url = openai_base_url.removesuffix("/v1") if server_root else openai_base_url
        if args.only in (None, "sync"):
            rows += sync_scenarios(base_url, args.n, args.warmup)
        if args.only in (None, "async"):
            rows += asyncio.run(async_scenarios(base_url, args.n, args.warmup))
    elapsed = time.perf_counter() - started

    info = {**machine(), sdk: sdk_version}
    print(f"python {info['python']} on {info['platform']}, {info['cpus']} cpus; {sdk} {sdk_version}, "
          f"pydantic {info['pydantic']}; emulator {'in-process' if args.inproc else 'in a child process'}; "
          f"{args.warmup} warm-up + {args.n} measured calls per side, interleaved; {elapsed:.1f} s")
    print("added = median(ours) - median(raw); paired = median of per-iteration (ours - raw)\n")
    print_table(rows)
    print("\noverall:", "PASS" if all(r["pass"] for r in rows) else "FAIL")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": info, "n": args.n, "warmup": args.warmup, "inproc": args.inproc,
            "bounds": {"call_ms": CALL_BOUND_MS, "event_us": EVENT_BOUND_US},
            "results": rows, "elapsed_s": elapsed,
        }, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    import openai

    return overhead_main(argv, __doc__, "openai", openai.__version__, sync_scenarios, async_scenarios)


if __name__ == "__main__":
    sys.exit(main())
