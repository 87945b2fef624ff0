"""A tool-using agent: the model calls tools (several at once), the agent answers each, until it is done.

    python examples/tool_loop.py                      # offline, against the built-in emulator
    python examples/tool_loop.py --live --model anthropic/claude-sonnet-4-5   # a real provider (its key set)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _setup import example_manager, parse_args

from agentos_llm import Message, tool_result
from agentos_llm.testing import Reply

WEATHER = {"lisbon": (21, "sunny"), "oslo": (-3, "snow"), "tokyo": (15, "rain")}


def get_weather(city: str) -> dict[str, object]:
    """Current temperature (Celsius) and conditions in a city."""
    celsius, conditions = WEATHER.get(city.lower(), (None, "unknown city"))
    return {"city": city, "celsius": celsius, "conditions": conditions}


def to_fahrenheit(celsius: float) -> float:
    """Converts a Celsius temperature to Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


TOOLS: dict[str, Callable[..., Any]] = {"get_weather": get_weather, "to_fahrenheit": to_fahrenheit}

# What the emulator answers, in order: two parallel calls, one more call, then the final text.
SCRIPT = [
    Reply(tool_calls=[("get_weather", {"city": "Lisbon"}), ("get_weather", {"city": "Oslo"})]),
    Reply.tool_call("to_fahrenheit", {"celsius": 21}),
    Reply(text="Lisbon is sunny at 21 °C (69.8 °F); Oslo has snow at -3 °C."),
]


def main() -> None:
    args = parse_args(__doc__ or "", "openai/gpt-4.1-mini")
    with example_manager(args.live, SCRIPT) as manager:
        history: list[Message | dict[str, Any]] = [
            {"role": "system", "content": "Use the tools. Give temperatures in Celsius and Fahrenheit."},
            {"role": "user", "content": "What is the weather in Lisbon and Oslo?"},
        ]
        total = None
        for turn in range(8):  # a bound: an agent must stop even if the model never does
            reply = manager.generate_sync(args.model, history, tools=list(TOOLS.values()))
            total = reply.usage if total is None else total + reply.usage
            history.append(reply.message)  # once per turn, however many calls it holds
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:  # one result per call, in order, right after the assistant turn
                result = TOOLS[call.name](**call.arguments)
                print(f"turn {turn}: {call.name}({call.arguments}) -> {result}")
                history.append(tool_result(call.id, result))
        print("answer:", reply.text)
        if total is not None:
            print(f"tokens: {total.input_tokens} in, {total.output_tokens} out; cost: {total.cost_usd}")


if __name__ == "__main__":
    main()
