"""`agentos-llm structured SCHEMA [PROMPT]`: an answer shaped by a JSON Schema (a file, or inline JSON) and
validated against it; an answer that does not validate is sent back with the errors, and after the last
attempt the command fails (exit code 1). Prints the validated JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli_common import UsageError, configured_manager, dump_json, parse_option_pairs, read_prompt
from .cli_schema import load_schema, schema_type
from .types import Message, system, user

__all__ = ["add_structured_parser"]


def add_structured_parser(sub: Any) -> None:
    """Adds the `structured` subcommand to the `agentos-llm` parser."""
    p = sub.add_parser("structured", help="an answer validated against a JSON Schema, printed as JSON",
                       description="SCHEMA is a JSON Schema file (or inline JSON). The prompt is PROMPT, '-' or "
                                   "piped stdin (piped text first, then PROMPT).")
    p.add_argument("schema", metavar="SCHEMA", help="a JSON Schema file, or the schema as inline JSON")
    p.add_argument("prompt", nargs="?", help="the prompt; '-' reads it from stdin")
    p.add_argument("-m", "--model", help="provider/model, a provider id, a model or a route name")
    p.add_argument("-s", "--system", help="the system prompt")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a call option, typed, as for chat (repeatable)")
    p.add_argument("--max-attempts", type=int, metavar="N",
                   help="calls allowed to get a valid answer (default: the provider's, 3)")
    p.add_argument("--json", action="store_true",
                   help="print the value with the attempts taken and the whole last response")
    p.add_argument("-u", "--usage", action="store_true", help="print tokens and cost on stderr")
    p.set_defaults(fn=_structured)


def _structured(args: argparse.Namespace) -> int:
    schema = load_schema(args.schema)
    prompt = read_prompt(args.prompt, sys.stdin)
    if prompt is None:
        raise UsageError("structured needs a prompt: give PROMPT, '-', or pipe text in")
    if args.max_attempts is not None and args.max_attempts < 1:
        raise UsageError("--max-attempts must be at least 1")
    options = parse_option_pairs(args.option)
    messages: list[Message] = [system(args.system)] if args.system else []
    messages.append(user(prompt))
    manager = configured_manager()
    try:
        result = manager.generate_structured_sync(args.model, messages, schema_type(schema),
                                                  max_attempts=args.max_attempts, **options)
    finally:
        manager.close()
    if args.json:
        dump_json({"value": result.value, "attempts": result.attempts,
                   "response": result.response.model_dump(mode="json")})
    else:
        dump_json(result.value)
    if args.usage:
        from .cli_chat import print_usage

        print_usage(result.response.usage)
    return 0
