"""Helpers shared by the benchmark scripts (not part of the library).

The emulator runs in a child process by default, so its server threads do not compete with the
client under measurement for this interpreter's GIL (`--inproc` keeps it in-process instead).
With nothing scripted, the emulator answers every chat request with an echo of the last user
message, so no per-call scripting is needed and raw and ours see byte-identical answers.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

MODEL = "gpt-4o-mini"
API_KEY = "sk-bench"

_CHILD = r"""
import sys
from agentos_llm.testing import WireEmulator
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
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator did not start (got {url!r})")
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
