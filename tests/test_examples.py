"""examples/: every agent runs as `python examples/<name>.py`, offline against the built-in emulator, and does
what its page says (the tool loop answers parallel calls once each, the budget stops the loop, ...)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentos_llm.defaults import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# A runaway example (waiting on a socket nobody answers) fails instead of hanging the suite.
HANG_GUARD_S = 180

EXPECTED: dict[str, list[str]] = {
    "tool_loop.py": [
        "turn 0: get_weather({'city': 'Lisbon'}) -> {'city': 'Lisbon', 'celsius': 21, 'conditions': 'sunny'}",
        "turn 0: get_weather({'city': 'Oslo'}) -> {'city': 'Oslo', 'celsius': -3, 'conditions': 'snow'}",
        "turn 1: to_fahrenheit({'celsius': 21}) -> 69.8",
        "answer: Lisbon is sunny at 21 °C (69.8 °F); Oslo has snow at -3 °C.",
    ],
    "structured_extraction.py": [
        "Kickoff on 2026-03-02 at Lisbon office",
        "action items: ['Bring the Q1 budget']",
        "attempts: 2, tokens: 136",
    ],
    "retrieval.py": [
        "answer: Alpaca fleece is softer than llama wool and has no lanolin [1].",
    ],
    "fallback.py": [
        "  anthropic/claude-sonnet-4-5 failed (ServerError); trying openai/gpt-4.1-mini",
        "answer from openai/gpt-4.1-mini: Paris.",
        "streamed from anthropic: Lisbon is the capital of Portugal.",
    ],
    "cost_capped.py": [
        "stopped before turn 7: $0.01 a day: spent $0.0096 of $0.01",
        "ledger: gpt-4.1-mini: 6 calls, 90 tokens in, 6000 out, $0.0096",
    ],
}


def clean_env(home: Path) -> dict[str, str]:
    """A machine with no key, no config file and no proxy: the examples must need none."""
    names = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env)}
    names |= {spec.base_url_env for spec in PROVIDERS.values() if spec.base_url_env}
    env = {k: v for k, v in os.environ.items()
           if k not in names and not k.startswith(("AWS_", "AGENTOS_LLM_")) and "proxy" not in k.lower()}
    env.update({"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
                "AWS_EC2_METADATA_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def run(name: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=home, env=clean_env(home),
                          capture_output=True, text=True, timeout=HANG_GUARD_S, check=False)


def test_every_example_is_tested_and_documented() -> None:
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
    assert scripts == sorted(EXPECTED)
    page = (ROOT / "docs" / "examples.md").read_text(encoding="utf-8")
    assert [s for s in scripts if f"examples/{s}" not in page] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_offline(name: str, tmp_path: Path) -> None:
    done = run(name, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    missing = [line for line in EXPECTED[name] if line not in lines]
    assert missing == [], done.stdout


def test_the_tool_loop_answers_each_parallel_call_once(tmp_path: Path) -> None:
    """The history the example sends: one assistant turn, then one result per call (not one turn per call)."""
    code = (EXAMPLES / "tool_loop.py").read_text(encoding="utf-8")
    assert code.count("history.append(reply.message)") == 1
    done = run("tool_loop.py", tmp_path)
    assert done.returncode == 0, done.stderr
    assert sum(line.startswith("turn 0: ") for line in done.stdout.splitlines()) == 2


def test_a_budget_below_one_call_stops_the_loop_at_once(tmp_path: Path) -> None:
    done = run("cost_capped.py", tmp_path, "--usd", "0.001")
    assert done.returncode == 0, done.stderr
    assert "stopped before turn 1: $0.001 a day: spent $0.0000 of $0.001" in done.stdout.splitlines()
    assert not any(line.startswith("turn ") for line in done.stdout.splitlines())


def test_live_mode_needs_a_key(tmp_path: Path) -> None:
    """--live uses the real environment: with no key there, it says what to set instead of calling anyone."""
    done = run("tool_loop.py", tmp_path, "--live")
    assert done.returncode != 0
    assert "OPENAI_API_KEY" in done.stderr
