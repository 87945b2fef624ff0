"""Helpers shared by the benchmark scripts (not part of the library).

The emulator runs in a child process by default, so its server threads do not compete with the
client under measurement for this interpreter's GIL (`--inproc` keeps it in-process instead).
With nothing scripted, the emulator answers every chat request with an echo of the last user
message, so no per-call scripting is needed and raw and ours see byte-identical answers.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MODEL = "gpt-4o-mini"
API_KEY = "sk-bench"

_CHILD = r"""
import sys
from agentos_llm.testing import WireEmulator
from agentos_llm.testing import emulator_http
# A deep accept queue: hundreds of concurrent connections must not overflow it (a dropped SYN costs the
# client a 1 s retransmit, which would swamp what the concurrency benchmarks measure). The server class
# sets one itself; this keeps the guarantee if its default ever shrinks.
emulator_http.EmulatorServer.request_queue_size = max(emulator_http.EmulatorServer.request_queue_size, 1024)
emu = WireEmulator().start()
print(emu.openai_base_url, flush=True)
sys.stdin.read()  # runs until the parent closes our stdin
emu.stop()
"""


@contextmanager
def emulator(inproc: bool = False) -> Iterator[str]:
    """Yields the OpenAI base URL of a running emulator (child process unless `inproc`)."""
    if inproc:
        from agentos_llm.testing import WireEmulator

        with WireEmulator() as emu:
            yield emu.openai_base_url
        return
    with _child_url([sys.executable, "-c", _CHILD], "the emulator") as url:
        yield url


@contextmanager
def mock_server() -> Iterator[str]:
    """Yields the root URL of benchmarks/peers/mock_server.py, run in a child process (the peers' mock)."""
    with _child_url([sys.executable, str(Path(__file__).resolve().parent / "peers" / "mock_server.py")],
                    "the mock server") as url:
        yield url


@contextmanager
def _child_url(command: list[str], what: str) -> Iterator[str]:
    """A child process that prints its URL and serves until its stdin closes."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"{what} did not start (got {url!r})")
        yield url
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import openai
    import pydantic

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "openai": openai.__version__,
        "pydantic": pydantic.VERSION,
    }


# ---------------------------------------------------------------------- many streams on one event loop


async def gathered(fn: Callable[[], Awaitable[Any]], count: int) -> tuple[float, float]:
    """Wall and CPU time (ms; CPU of this process, every thread) of `count` calls of `fn` gathered at once."""
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(fn() for _ in range(count)))
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


async def run_concurrent(sides: dict[str, Callable[[], Awaitable[Any]]], counts: Sequence[int], repeats: int
                         ) -> list[dict[str, Any]]:
    """Every side at every concurrency `repeats` times, sides taking turns (the order rotating); medians of wall
    and CPU time, and the ratios of the first side over each other one."""
    names = list(sides)
    for fn in sides.values():  # warm-up: pools, connections, threads
        await gathered(fn, min(counts))
    rows = []
    for count in counts:
        wall: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for i in range(repeats):
            for j in range(len(names)):
                name = names[(i + j) % len(names)]
                w, c = await gathered(sides[name], count)
                wall[name].append(w)
                cpu[name].append(c)
        row: dict[str, Any] = {"streams": count, "repeats": repeats}
        for name in names:
            row[f"{name}_wall_ms"], row[f"{name}_cpu_ms"] = median(wall[name]), median(cpu[name])
        for name in names[1:]:
            row[f"wall_ratio_vs_{name}"] = row[f"{names[0]}_wall_ms"] / row[f"{name}_wall_ms"]
            row[f"cpu_ratio_vs_{name}"] = row[f"{names[0]}_cpu_ms"] / row[f"{name}_cpu_ms"]
        rows.append(row)
    return rows


def print_concurrent(rows: list[dict[str, Any]], names: list[str], events: int) -> None:
    """The table of `run_concurrent`."""
    print(f"\nconcurrent streams on one event loop ({events} text deltas each; medians; ratio = {names[0]} / other; "
          "CPU = this process, all threads):")
    for row in rows:
        sides = "   ".join(f"{name} {row[f'{name}_wall_ms']:8.1f} ms wall {row[f'{name}_cpu_ms']:8.1f} ms cpu"
                           for name in names)
        ratios = "   ".join(f"vs {name}: wall {row[f'wall_ratio_vs_{name}']:.2f} cpu {row[f'cpu_ratio_vs_{name}']:.2f}"
                            for name in names[1:])
        print(f"  {row['streams']:>4} streams  {sides}\n               ratios {ratios}")
