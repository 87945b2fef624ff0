"""The `agentos-llm` command: the entry point, `providers`, `discover` and the offline `demo`; the other
commands live in `cli_<command>.py`. Exit codes (docs/cli.md): 0 success, 1 a provider error, 2 a usage or
configuration error."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from .cli_common import EXIT_OK, EXIT_PROVIDER, EXIT_USAGE, scrub
from .errors import AgentOSLLMError, ConfigurationError, UnsupportedCapabilityError

__all__ = ["main"]


def _providers(args: argparse.Namespace) -> int:
    from .manager import AIModelProviderManager

    manager = AIModelProviderManager.from_env()
    print(manager.describe())
    manager.close()
    return 0


def _discover(args: argparse.Namespace) -> int:
    import json

    from .discovery import discover_local_providers_sync

    base_urls = {}
    for item in args.url or ():
        pid, sep, url = item.partition("=")
        if not sep or not pid or not url:
            raise ConfigurationError(f"--url takes PROVIDER=URL, not {item!r}")
        base_urls[pid] = url
    found = discover_local_providers_sync(providers=args.provider, base_urls=base_urls, timeout=args.timeout,
                                          deadline=args.deadline)
    if args.json:
        print(json.dumps({
            "found": [{"provider": f.provider_id, "base_url": f.base_url, "source": f.source,
                       "default_model": f.default_model,
                       "models": [m.model_dump(mode="json", exclude_none=True) for m in f.models]}
                      for f in found.found],
            "skipped": [{"provider": s.provider_id, "base_url": s.base_url, "source": s.source,
                         "reason": s.reason} for s in found.skipped],
        }, indent=2))
    else:
        print(found.describe())
        if found.found:
            first = found.found[0]
            model = f"/{first.default_model}" if first.default_model else ""
            print(f"\nTry: agentos-llm chat --model {first.provider_id}{model} \"hello\"  "
                  "(set its *_BASE_URL env var, or use AIModelProviderManager.from_env(discover=True))")
    if not found.found:
        print("No local model server answered. Start one (Ollama, vLLM, llama.cpp, LM Studio ...), or point at "
              "it with --url ID=URL or its *_BASE_URL env var.")
    return 0


def _print_usage(usage: Any, out: Any = None) -> None:
    cost = f", ${usage.cost_usd:.6f}" if usage.cost_usd is not None else ""
    print(f"   usage: {usage.input_tokens} in ({usage.cached_input_tokens} cached), {usage.output_tokens} out "
          f"({usage.reasoning_tokens} reasoning){cost}", file=out or sys.stderr)


class _Forecast(BaseModel):
    """A weather forecast."""

    city: str
    temperature_c: float
    conditions: list[str]


def _demo(args: argparse.Namespace) -> int:
    from .registry import create_provider
    from .testing import Reply, WireEmulator
    from .types import StructuredResponse, ToolDefinition, tool_result

    def get_weather(city: str, unit: str = "celsius") -> str:
        """Current weather for a city."""
        return f"18 degrees {unit} and sunny in {city}"

    with WireEmulator() as emulator:
        print(f"The built-in wire emulator is serving the OpenAI API on {emulator.openai_base_url}.")
        print("Every answer below comes from it, through agentos-llm's OpenAI provider and the real openai SDK;")
        print("no key and no network are used.\n")
        provider = create_provider("openai", api_key="demo-key-not-secret", base_url=emulator.openai_base_url)
        model = "gpt-4o-mini"
        with provider:
            print("1. generate")
            r = provider.generate_sync(model, "Say hello to agent code.")
            print(f"   {r.text!r}  finish={r.finish_reason}")
            _print_usage(r.usage, sys.stdout)

            print("2. stream")
            emulator.script(Reply(text="Streaming arrives piece by piece, then one done event."))
            print("   ", end="")
            for event in provider.stream_sync(model, "Stream something."):
                if event.type == "text_delta":
                    print(f"[{event.delta}]", end="", flush=True)
                elif event.type == "done":
                    print(f"\n   done: finish={event.response.finish_reason}")
                    _print_usage(event.response.usage, sys.stdout)

            print("3. tools")
            tool = ToolDefinition.from_function(get_weather)
            emulator.script(Reply.tool_call("get_weather", {"city": "Lisbon"}),
                            Reply(text="It is 18 degrees and sunny in Lisbon."))
            history: list[Any] = [{"role": "user", "content": "What is the weather in Lisbon?"}]
            first = provider.generate_sync(model, history, tools=[tool])
            call = first.tool_calls[0]
            print(f"   model asked for {call.name}({call.arguments})  finish={first.finish_reason}")
            history += [first.message, tool_result(call.id, get_weather(**call.arguments))]
            final = provider.generate_sync(model, history, tools=[tool])
            print(f"   after the tool result: {final.text!r}")

            print("4. structured output")
            result: StructuredResponse[_Forecast] = provider.generate_structured_sync(
                model, "Forecast for Lisbon.", _Forecast)
            print(f"   {result.value!r}  (attempts={result.attempts})")

            print("5. embeddings")
            emb = provider.embed_sync("text-embedding-3-small", ["agents", "providers", "tools"], dimensions=8)
            print(f"   {len(emb.vectors)} vectors of {len(emb.vectors[0])} dimensions, "
                  f"first: {[round(x, 3) for x in emb.vectors[0][:4]]}...")
            _print_usage(emb.usage, sys.stdout)
        _demo_other_vendors(emulator, history, tool)
        print(f"\nThe emulator served {len(emulator.requests)} requests. Set a real key (e.g. OPENAI_API_KEY) "
              "and try `agentos-llm chat \"hello\"`.")
    return 0


def _demo_other_vendors(emulator: Any, history: list[Any], tool: Any) -> None:
    """Steps 6-7 of the demo: Anthropic and Gemini through their own SDKs, and the history moving to them."""
    from .errors import MissingDependencyError
    from .registry import create_provider
    from .testing import Reply

    vendors = (("anthropic", emulator.anthropic_base_url, "claude-haiku-4-5"),
               ("gemini", emulator.gemini_base_url, "gemini-2.5-flash"))
    for step, (pid, base_url, model) in enumerate(vendors, start=6):
        try:
            provider = create_provider(pid, api_key="demo-key-not-secret", base_url=base_url)
        except MissingDependencyError as exc:
            print(f"{step}. {pid}: skipped ({exc})")
            continue
        with provider:
            print(f"{step}. {provider.label}, through its own SDK")
            emulator.script(Reply(text=f"Hello from the {provider.label} wire.", reasoning="A short greeting."))
            r = provider.generate_sync(model, "Say hello.", reasoning_effort="low")
            print(f"   {r.text!r}  reasoning={r.reasoning!r}  finish={r.finish_reason}")
            _print_usage(r.usage, sys.stdout)
            emulator.script(Reply(text="The Lisbon answer, continued on another vendor."))
            moved = provider.generate_sync(model, [*history, {"role": "user", "content": "And in Fahrenheit?"}],
                                           tools=[tool])
            print(f"   the OpenAI tool-call history continues here: {moved.text!r}")


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from .cli_chat import add_chat_parser
    from .cli_doctor import add_doctor_parser
    from .cli_embed import add_embed_parser
    from .cli_login import add_login_parsers
    from .cli_models import add_models_parser
    from .cli_quota import add_quota_parser
    from .cli_setup import add_setup_parser
    from .cli_structured import add_structured_parser
    from .cli_usage import add_usage_parser

    parser = argparse.ArgumentParser(prog="agentos-llm", description="One interface over every LLM provider.",
                                     epilog="Exit codes: 0 success, 1 provider error, 2 usage or configuration "
                                            "error. See docs/cli.md.")
    parser.add_argument("--version", action="version", version=f"agentos-llm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_chat_parser(sub)
    add_structured_parser(sub)
    add_embed_parser(sub)
    add_models_parser(sub)
    sub.add_parser("providers", help="what auto-detect found, and from where").set_defaults(fn=_providers)
    discover = sub.add_parser("discover", help="probe the local model servers (Ollama, vLLM, llama.cpp, ...)")
    discover.add_argument("--provider", action="append", metavar="ID",
                          help="probe only this row (repeatable; default: every local-server row)")
    discover.add_argument("--url", action="append", metavar="ID=URL", help="probe this URL for a row (repeatable)")
    discover.add_argument("--timeout", type=float, default=1.0, help="seconds per request (default 1)")
    discover.add_argument("--deadline", type=float, default=3.0, help="seconds for the whole run (default 3)")
    discover.add_argument("--json", action="store_true", help="print the result as JSON")
    discover.set_defaults(fn=_discover)
    add_doctor_parser(sub)
    add_quota_parser(sub)
    add_usage_parser(sub)
    add_setup_parser(sub)
    add_login_parsers(sub)
    sub.add_parser("demo", help="run everything offline against the built-in emulator").set_defaults(fn=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `agentos-llm` command; returns the exit code (0 success, 1 provider error, 2 usage or
    configuration error; argparse exits with 2 itself on bad arguments)."""
    args = _parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (ConfigurationError, UnsupportedCapabilityError) as exc:
        # Both are said before anything is sent: the command or the configuration must change.
        print(f"agentos-llm: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except AgentOSLLMError as exc:
        print(f"agentos-llm: {type(exc).__name__}: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_PROVIDER
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours; stop writing to the closed pipe.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
