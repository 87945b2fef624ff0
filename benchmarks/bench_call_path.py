"""What two per-call steps of this wave cost, side by side with them off in one run: the tool-call history
check (`history_rules.check_history`, in validation) and the packing of a finished response
(`response_pack.pack`, which keeps a retained response small).

Sides, interleaved in a fresh random order every iteration: `both on` (the library as shipped), `history
off`, `pack off`, `both off` (each step replaced by a pass-through for the run). Targets: `fake`
(`FakeProvider`, no HTTP: the steps' own cost is most visible) and `emulator` (the OpenAI provider against
the loopback wire emulator in a child process: a realistic ratio). The history is a tool loop of 3 turns
(user, assistant with 2 parallel calls, 2 results). Reported, never asserted.

    .venv/bin/python benchmarks/bench_call_path.py [--n 2000] [--n-emulator 300] [--warmup 50]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import API_KEY, MODEL, emulator, machine
from bench_resilience import shuffled_sync, side_rows

SIDES = ("both on", "history off", "pack off", "both off")


def history() -> list[Any]:
    from agentos_llm import Message, tool_result
    from agentos_llm.types import ToolCall

    calls = [ToolCall(id="c1", name="get_time", arguments={"tz": "UTC"}),
             ToolCall(id="c2", name="get_time", arguments={"tz": "CET"})]
    return [Message(role="user", content="What time is it in UTC and CET?"),
            Message(role="assistant", content=None, tool_calls=calls),
            tool_result("c1", "12:00"), tool_result("c2", "13:00")]


@contextlib.contextmanager
def steps(history_on: bool, pack_on: bool) -> Iterator[None]:
    from agentos_llm import provider, provider_responses

    saved = provider.check_history, provider_responses.pack
    if not history_on:
        provider.check_history = lambda *a, **k: None  # type: ignore[assignment]
    if not pack_on:
        provider_responses.pack = lambda response: response  # type: ignore[assignment]
    try:
        yield
    finally:
        provider.check_history, provider_responses.pack = saved


def sides(provider: Any, model: str, messages: list[Any]) -> list[Callable[[], Any]]:
    def side(history_on: bool, pack_on: bool) -> Callable[[], Any]:
        def call() -> Any:
            with steps(history_on, pack_on):
                return provider.generate_sync(model, messages)
        return call
    return [side(True, True), side(False, True), side(True, False), side(False, False)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--n-emulator", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args(argv)

    from agentos_llm.registry import create_provider
    from agentos_llm.testing import FakeProvider

    messages = history()
    rows = []
    fake = FakeProvider()
    rows += side_rows("sync whole", "fake", list(SIDES),
                      shuffled_sync(fake, sides(fake, "fake-model", messages), args.n, args.warmup), "both off")
    with emulator() as url:
        real = create_provider("openai", api_key=API_KEY, base_url=url, max_retries=0)
        rows += side_rows("sync whole", "emulator", list(SIDES),
                          shuffled_sync(real, sides(real, MODEL, messages), args.n_emulator, args.warmup),
                          "both off")
        real.close()
    print(f"machine: {machine()}")
    print(f"{'target':9} {'side':12} {'median µs':>10} {'added µs':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['target']:9} {r['side']:12} {r['median_us']:10.1f} {r['added_us']:+9.1f} {r['ratio']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
