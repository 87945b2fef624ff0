"""Async Bedrock: our provider (boto3 in a bounded thread pool) against raw boto3 in `asyncio.to_thread` and
raw aiobotocore (when importable), side by side in one run.

A tiny Bedrock imitation runs in a child process (so its threads do not share this interpreter's GIL): it
answers Converse with a fixed JSON answer and ConverseStream with `--events` text deltas in the AWS binary
event-stream framing, sent at once, or `--pace` milliseconds apart (as a model generating tokens would).

Scenarios (each repeated `--repeats` times, sides interleaved; medians reported):

- whole, sequential: `--n` awaited Converse calls one after another; per-call median.
- whole, concurrent: `--concurrency` Converse calls gathered at once; wall time.
- streams, concurrent: `--concurrency` ConverseStream calls gathered at once, every event read; wall time,
  with frames at once and with frames paced.

Sides:
- ours: `create_provider("bedrock", ...)`, `await generate` / `async for` over `stream`, converting to our types
  (thread pool of `max_concurrency`, default 64 threads; streams read in hops, see
  `agentos_llm/providers/bedrock_stream.py`);
- ours, transport only: the same provider's `_asend` / `_aopen_stream`, botocore's parsed dicts with no
  converting (what to weigh against the raw sides when choosing the transport);
- boto3 + to_thread: `asyncio.to_thread` of `client.converse` / of reading a whole stream, with a default
  executor of the same size;
- aiobotocore: `await client.converse` / `async for` over its stream.
Nothing is asserted; ratios are ours / other.

    .venv/bin/python benchmarks/bench_bedrock_async.py [--n 200] [--concurrency 200] [--events 40] [--pace 20]
        [--repeats 3] [--threads 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]

# ---------------------------------------------------------------------- the imitation (child process)


def _frame(kind: str, body: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    raw = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
                   for k, v in headers.items())
    payload = json.dumps(body).encode()
    prelude = struct.pack(">II", 16 + len(raw) + len(payload), len(raw))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _serve(events: int, pace_ms: float) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    whole = json.dumps({"output": {"message": {"role": "assistant", "content": [{"text": "Hello there."}]}},
                        "stopReason": "end_turn", "usage": {"inputTokens": 9, "outputTokens": 3, "totalTokens": 12},
                        "metrics": {"latencyMs": 1}}).encode()
    frames = [_frame("messageStart", {"role": "assistant"})]
    frames += [_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"w{i} "}})
               for i in range(events)]
    frames += [_frame("contentBlockStop", {"contentBlockIndex": 0}), _frame("messageStop", {"stopReason": "end_turn"}),
               _frame("metadata", {"usage": {"inputTokens": 9, "outputTokens": events, "totalTokens": 9 + events},
                                   "metrics": {"latencyMs": 1}})]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            if not self.path.endswith("/converse-stream"):
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(whole)))
                self.end_headers()
                self.wfile.write(whole)
                return
            self.send_response(200)
            self.send_header("content-type", "application/vnd.amazon.eventstream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            if pace_ms <= 0:
                data = b"".join(frames)
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
                return
            for data in frames:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                time.sleep(pace_ms / 1000)
            self.wfile.write(b"0\r\n\r\n")

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 512

    httpd = Server(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{httpd.server_address[1]}", flush=True)
    import threading

    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sys.stdin.read()


def _child(events: int, pace_ms: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(events), str(pace_ms)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        raise RuntimeError(f"the imitation did not start (got {url!r})")
    return proc, url


# ---------------------------------------------------------------------- the sides


class Side:
    """One way of calling Bedrock asynchronously: a whole call and a whole stream (returns the event count)."""

    name = ""

    async def whole(self) -> None:
        raise NotImplementedError

    async def stream(self) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class Ours(Side):
    name = "ours (thread pool)"

    def __init__(self, url: str, threads: int) -> None:
        from agentos_llm import create_provider

        self.p = create_provider("bedrock", base_url=url, region="us-east-1", max_retries=0, timeout=60,
                                 max_concurrency=threads)

    async def whole(self) -> None:
        await self.p.generate(MODEL, "hi")

    async def stream(self) -> int:
        n = 0
        async for _ in self.p.stream(MODEL, "hi"):
            n += 1
        return n

    async def close(self) -> None:
        await self.p.aclose()


class OursTransport(Side):
    name = "ours, transport only"

    def __init__(self, ours: Ours) -> None:
        from agentos_llm.providers.bedrock import BedrockRequest

        self.p = ours.p
        self.request = BedrockRequest(MODEL, {"messages": MESSAGES})

    async def whole(self) -> None:
        await self.p._asend("chat", self.request, 60.0, None)

    async def stream(self) -> int:
        n = 0
        async for _ in self.p._aopen_stream(self.request, 60.0, None):
            n += 1
        return n


def _client_config(threads: int) -> dict[str, Any]:
    return {"region_name": "us-east-1", "retries": {"total_max_attempts": 1, "mode": "standard"},
            "max_pool_connections": max(threads, 256), "read_timeout": 60}


class RawBoto3(Side):
    name = "boto3 + to_thread"

    def __init__(self, url: str, threads: int) -> None:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        self.client = boto3.client("bedrock-runtime", endpoint_url=url, config=Config(**_client_config(threads)))

    async def whole(self) -> None:
        await asyncio.to_thread(self.client.converse, modelId=MODEL, messages=MESSAGES)

    def _read_stream(self) -> int:
        return sum(1 for _ in self.client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])

    async def stream(self) -> int:
        return await asyncio.to_thread(self._read_stream)


class RawAiobotocore(Side):
    name = "aiobotocore"

    def __init__(self, url: str, threads: int) -> None:
        self.url, self.threads = url, threads
        self.client: Any = None
        self._cm: Any = None

    async def open(self) -> None:
        from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
        from aiobotocore.session import get_session  # type: ignore[import-untyped]

        self._cm = get_session().create_client("bedrock-runtime", endpoint_url=self.url,
                                               config=AioConfig(**_client_config(self.threads)))
        self.client = await self._cm.__aenter__()

    async def whole(self) -> None:
        await self.client.converse(modelId=MODEL, messages=MESSAGES)

    async def stream(self) -> int:
        response = await self.client.converse_stream(modelId=MODEL, messages=MESSAGES)
        n = 0
        async for _ in response["stream"]:
            n += 1
        return n

    async def close(self) -> None:
        await self._cm.__aexit__(None, None, None)


# ---------------------------------------------------------------------- timing


async def _sequential(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def _concurrent(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    t = time.perf_counter()
    await asyncio.gather(*(fn() for _ in range(n)))
    return time.perf_counter() - t


async def _measure(url: str, paced_url: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(args.threads))
    sides: dict[str, list[Side]] = {"plain": [], "paced": []}
    for key, where in (("plain", url), ("paced", paced_url)):
        ours = Ours(where, args.threads)
        sides[key] = [ours, OursTransport(ours), RawBoto3(where, args.threads)]
        try:
            aio = RawAiobotocore(where, args.threads)
            await aio.open()
            sides[key].append(aio)
        except ImportError:
            print("aiobotocore is not importable: its column is left out", file=sys.stderr)
    results: dict[str, dict[str, list[float]]] = {}

    def add(scenario: str, side: Side, value: float) -> None:
        results.setdefault(scenario, {}).setdefault(side.name, []).append(value)

    for side in sides["plain"] + sides["paced"]:  # warm-up: clients, pools, connections
        await _concurrent(side.whole, 20)
        await _concurrent(side.stream, 20)
    for _ in range(args.repeats):
        for side in sides["plain"]:
            add("whole, sequential (per call)", side, await _sequential(side.whole, args.n))
        for side in sides["plain"]:
            add(f"whole, {args.concurrency} concurrent (wall)", side, await _concurrent(side.whole, args.concurrency))
        for side in sides["plain"]:
            add(f"{args.concurrency} streams x {args.events + 5} events, at once (wall)", side,
                await _concurrent(side.stream, args.concurrency))
        for side in sides["paced"]:
            add(f"{args.concurrency} streams, {args.pace:g} ms apart (wall)", side,
                await _concurrent(side.stream, args.concurrency))
    for side in sides["plain"] + sides["paced"]:
        if not isinstance(side, OursTransport):
            await side.close()
    return {s: {k: statistics.median(v) for k, v in by.items()} for s, by in results.items()}


def _report(medians: dict[str, dict[str, float]]) -> None:
    names = list(next(iter(medians.values())))
    others = names[2:]
    print(f"{'scenario':52}" + "".join(f"{n:>23}" for n in names))
    for scenario, by in medians.items():
        print(f"{scenario:52}" + "".join(f"{by[n] * 1000:>20.2f} ms" for n in names))
    print("\nratios: ours / other (whole provider), ours transport / other (the thread pool alone)")
    print(f"{'scenario':52}" + "".join(f"{'ours/' + n.split()[0]:>18}{'transport/' + n.split()[0]:>22}"
                                       for n in others))
    for scenario, by in medians.items():
        print(f"{scenario:52}" + "".join(f"{by[names[0]] / by[n]:>18.2f}{by[names[1]] / by[n]:>22.2f}"
                                          for n in others))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        _serve(int(sys.argv[2]), float(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="sequential whole calls per repeat")
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--events", type=int, default=40, help="text deltas per stream")
    ap.add_argument("--pace", type=float, default=20.0, help="ms between frames of the paced streams")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=64, help="our pool (max_concurrency) and the to_thread pool")
    ap.add_argument("--json")
    args = ap.parse_args()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "AKIDBENCHMARK0000001", "AWS_SECRET_ACCESS_KEY": "bench-secret-key",
                       "AWS_EC2_METADATA_DISABLED": "true"})
    plain, url = _child(args.events, 0)
    paced, paced_url = _child(args.events, args.pace)
    try:
        medians = asyncio.run(_measure(url, paced_url, args))
    finally:
        for proc in (plain, paced):
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, threads={args.threads}, "
          f"repeats={args.repeats} (medians)")
    _report(medians)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "medians": medians}, f, indent=1)


if __name__ == "__main__":
    main()
