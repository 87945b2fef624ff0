"""The inputs every side sends, and what the mock answers (standard library only)."""

from __future__ import annotations

MODEL_OPENAI = "gpt-4o-mini"
MODEL_ANTHROPIC = "claude-sonnet-4-6"
MODEL_GEMINI = "gemini-2.5-flash"
API_KEY = "sk-bench-not-a-key"

SMALL = "Say hello to the benchmark."
# About 20 KB of text: the mock echoes it, so 20 KB go each way.
BIG = " ".join(f"lorem{i:05d}" for i in range(1862))
TOOL_PROMPT = "What is the weather in Paris?"
TOOL_ARGS = {"city": "Paris", "unit": "celsius"}
TOOL_NAME = "get_weather"
TOOL_DESCRIPTION = "The current weather in a city."
TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
}
OPENAI_TOOL = {"type": "function", "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION,
                                                "parameters": TOOL_SCHEMA}}

STREAM_WORDS = 500
# One content event per word: a 500-event stream.
STREAM_TEXT = " ".join(f"w{i}" for i in range(STREAM_WORDS))
CONC_WORDS = 50


def conc_text(i: int) -> str:
    """The prompt (and answer) of concurrent stream i: CONC_WORDS words, distinct per stream."""
    return " ".join(f"s{i}w{j}" for j in range(CONC_WORDS))


def prompt(kind: str) -> str:
    """The user message of a whole-call workload."""
    return {"small": SMALL, "big": BIG, "tool": TOOL_PROMPT}[kind]
