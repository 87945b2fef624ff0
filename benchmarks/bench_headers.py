"""What reading a response's headers adds to a whole call: `IProvider._whole` on the same parsed answer with
the bare payload, and with `Received(payload, headers)` carrying a real-sized OpenAI header set (24 headers:
rate limits, a request id, the usual server headers), in one process with no I/O.

Both sides run interleaved in batches; reported: the median per-call time of the bare side, the median of
the per-batch paired differences (what the headers add), and `hear()` alone. Reports only; exit status 0.

    .venv/bin/python benchmarks/bench_headers.py [--batches 300] [--size 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx2

from agentos_llm import create_provider
from agentos_llm.provider import Received
from agentos_llm.received import hear
from agentos_llm.testing.openai_wire import default_reply, render_completion

HEADERS = {
    "date": "Thu, 26 Nov 2026 04:00:00 GMT", "content-type": "application/json", "content-length": "612",
    "connection": "keep-alive", "access-control-expose-headers": "X-Request-ID", "openai-organization": "org-x",
    "openai-processing-ms": "312", "openai-project": "proj_x", "openai-version": "2020-10-01",
    "x-envoy-upstream-service-time": "318", "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-limit-tokens": "30000000", "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-remaining-tokens": "29999990", "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-reset-tokens": "0s", "x-request-id": "req_0123456789abcdef",
    "strict-transport-security": "max-age=31536000", "cf-cache-status": "DYNAMIC", "set-cookie": "__cf_bm=x; path=/",
    "x-content-type-options": "nosniff", "server": "cloudflare", "cf-ray": "8f1b2c3d4e5f6a7b-AMS",
    "alt-svc": 'h3=":443"; ma=86400',
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--size", type=int, default=200, help="calls per batch and side")
    args = parser.parse_args()

    p = create_provider("openai", api_key="sk-bench", base_url="http://127.0.0.1:9/v1")
    call = p._make_call("gpt-4o-mini", "Say hello to the benchmark.", {})
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the benchmark."}]}
    payload = render_completion(default_reply(body), completion_id="c1", model="gpt-4o-mini", created=1,
                                call_ids=[[]], prompt_tokens=5, quirks=frozenset())
    headers = httpx2.Headers(HEADERS)  # what the SDK transport hands over
    got = Received(payload, headers)

    def bare() -> None:
        p._whole(payload, call)

    def heard() -> None:
        p._whole(got, call)

    def alone() -> None:
        hear("openai", p._listing_key, headers)

    sides = (bare, heard, alone)
    for fn in sides:
        for _ in range(2000):
            fn()
    times: list[list[float]] = [[], [], []]
    for _ in range(args.batches):
        for i, fn in enumerate(sides):
            t0 = time.perf_counter_ns()
            for _ in range(args.size):
                fn()
            times[i].append((time.perf_counter_ns() - t0) / args.size / 1000)
    added = [h - b for b, h in zip(times[0], times[1], strict=True)]
    print(f"whole call, bare payload        {statistics.median(times[0]):7.2f} us")
    print(f"added by reading the headers    {statistics.median(added):+7.2f} us (paired median; "
          f"p10 {statistics.quantiles(added, n=10)[0]:+.2f})")
    print(f"hear() alone                    {statistics.median(times[2]):7.2f} us (min {min(times[2]):.2f})")


if __name__ == "__main__":
    main()
