"""Multi-provider fallback: a named route tried in order, moving on only on provider-side failures.

    python examples/fallback.py                       # offline: the emulator's Anthropic is overloaded
    python examples/fallback.py --live --route anthropic/claude-sonnet-4-5,openai/gpt-4.1-mini
"""

from __future__ import annotations

from _setup import example_manager, parse_args

from agentos_llm import Route
from agentos_llm.errors import RouteExhaustedError
from agentos_llm.testing import Fault, Reply
from agentos_llm.types import Hop

# Anthropic answers 529 (overloaded) to the first try and both retries; OpenAI then answers; the stream
# that follows is served by the first hop, healthy again.
SCRIPT: list[Reply | Fault] = [Fault(status=529), Fault(status=529), Fault(status=529),
          Reply(text="Paris."), Reply(text="Lisbon is the capital of Portugal.")]


def on_fallback(hop: Hop, next_route: Route) -> None:
    """Called each time the call moves past a hop (log it, count it, alert on it)."""
    print(f"  {hop.provider}/{hop.model} failed ({hop.error}); trying {next_route.provider.provider_id}/"
          f"{next_route.model}")


def main() -> None:
    args = parse_args(__doc__ or "", "anthropic/claude-sonnet-4-5", route="")
    route = args.route.split(",") if args.route else [args.model, "openai/gpt-4.1-mini"]
    with example_manager(args.live, SCRIPT, routes={"resilient": route}, on_fallback=on_fallback) as manager:
        print(manager.describe("resilient"))
        try:
            reply = manager.generate_sync("resilient", "What is the capital of France? One word.", max_tokens=20)
        except RouteExhaustedError as exc:  # every hop failed: each one's error is kept
            print("no provider could answer:", [h.error for h in exc.hops])
            raise SystemExit(1) from None
        print(f"answer from {reply.provider}/{reply.model}: {reply.text}")
        for hop in reply.hops:
            why = f" ({hop.error})" if hop.error else ""
            print(f"  hop {hop.provider}/{hop.model}: {hop.outcome}{why} in {hop.elapsed_ms:.0f} ms")
        # A stream falls back too, but only before its first event: after that the error is yours.
        with manager.stream_sync("resilient", "And of Portugal?", max_tokens=20) as events:
            for event in events:
                if event.type == "done":
                    print(f"streamed from {event.response.provider}: {event.response.text}")


if __name__ == "__main__":
    main()
