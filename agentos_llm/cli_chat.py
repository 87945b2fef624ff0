"""`agentos-llm chat`: one prompt (an argument, stdin or both), or a session when started on a terminal
without one; every exchange is kept so `-c` continues the last conversation."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .cli_common import UsageError, configured_manager, dump_json, parse_option_pairs, read_prompt, scrub
from .cli_conversations import Conversation, ConversationStore
from .errors import AgentOSLLMError
from .types import CompletionResponse, Message, system, user

if TYPE_CHECKING:
    from .manager import AIModelProviderManager

__all__ = ["add_chat_parser", "print_usage"]

_EXIT_WORDS = frozenset({"exit", "quit", ":q", "/exit", "/quit"})


def add_chat_parser(sub: Any) -> None:
    """Adds the `chat` subcommand to the `agentos-llm` parser."""
    p = sub.add_parser(
        "chat", help="send a prompt (argument, stdin or both), or chat on a terminal",
        description="Sends PROMPT (or '-' / piped stdin: piped text comes first, then PROMPT). Started on a "
                    "terminal without a prompt, opens a session that streams each answer.")
    p.add_argument("prompt", nargs="?", help="the prompt; '-' reads it from stdin")
    p.add_argument("-m", "--model", help="provider/model, a provider id, a model or a route name "
                                         "(default: the configured default; with -c, the conversation's)")
    p.add_argument("-s", "--system", help="the system prompt (with -c, replaces the conversation's)")
    p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a call option, typed: -o temperature=0.2 -o max_tokens=200 -o stop='[\"END\"]' "
                        "(repeatable)")
    conv = p.add_mutually_exclusive_group()
    conv.add_argument("-c", "--continue", dest="continue_", action="store_true",
                      help="continue the last conversation")
    conv.add_argument("--cid", metavar="ID", help="continue the conversation of this id")
    p.add_argument("-n", "--no-log", action="store_true", help="do not keep this exchange")
    p.add_argument("--json", action="store_true",
                   help="print the whole response (text, usage, finish reason, tool calls, ...) as JSON")
    streaming = p.add_mutually_exclusive_group()
    streaming.add_argument("--no-stream", dest="stream", action="store_false",
                           help="print the answer once it is complete")
    streaming.add_argument("--stream", dest="stream", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(stream=True)
    p.add_argument("-u", "--usage", action="store_true", help="print tokens and cost on stderr")
    p.add_argument("-v", "--verbose", action="store_true", help="print the route taken on stderr")
    p.set_defaults(fn=_chat)


def print_usage(usage: Any, out: TextIO | None = None) -> None:
    """One line of tokens and cost."""
    cost = f", ${usage.cost_usd:.6f}" if usage.cost_usd is not None else ""
    print(f"usage: {usage.input_tokens} in ({usage.cached_input_tokens} cached), {usage.output_tokens} out "
          f"({usage.reasoning_tokens} reasoning){cost}", file=out or sys.stderr)


def _conversation(args: argparse.Namespace, store: ConversationStore) -> Conversation | None:
    if args.cid:
        return store.load(args.cid)
    if args.continue_:
        found = store.latest()
        if found is None:
            raise UsageError(f"no conversation to continue yet (none in {store.root})")
        return found
    return None


def _with_system(history: list[Message], text: str | None) -> list[Message]:
    if text is None:
        return history
    return [system(text), *(m for m in history if m.role != "system")]


def _chat(args: argparse.Namespace) -> int:
    prompt = read_prompt(args.prompt, sys.stdin)
    options = parse_option_pairs(args.option)
    store = ConversationStore()
    conversation = _conversation(args, store)
    manager = configured_manager()
    model = args.model or (conversation.model if conversation else None)
    route = manager.resolve(model)  # an unknown provider or model fails here, before anything is sent
    if conversation is None:
        conversation = store.new(model or f"{route.provider.provider_id}/{route.model}")
    elif args.model:
        conversation.model = args.model
    if args.verbose:
        print(f"[{route.provider.provider_id}/{route.model}: {route.reason}]", file=sys.stderr)
    conversation.messages = _with_system(conversation.messages, args.system)
    if prompt is None:
        return Session(manager, conversation, options, None if args.no_log else store, args.usage).run()
    messages = [*conversation.messages, user(prompt)]
    if args.json:
        response = manager.generate_sync(conversation.model, messages, **options)
        dump_json(response.model_dump(mode="json"))
    elif args.stream:
        response = stream_answer(manager, conversation.model, messages, options, sys.stdout)
    else:
        response = manager.generate_sync(conversation.model, messages, **options)
        print(response.text)
        _print_tool_calls(response, sys.stdout)
    if args.usage:
        print_usage(response.usage)
    if not args.no_log:
        conversation.messages = [*messages, response.message]
        store.save(conversation)
    return 0


def _print_tool_calls(response: CompletionResponse, out: TextIO) -> None:
    for call in response.tool_calls:
        print(f"[tool call {call.name}({json.dumps(call.arguments, ensure_ascii=False)})]", file=out)


def stream_answer(manager: AIModelProviderManager, model: str | None, messages: list[Message],
                  options: dict[str, Any], out: TextIO) -> CompletionResponse:
    """Streams one answer to `out` as it arrives, and returns the whole response."""
    response: CompletionResponse | None = None
    with manager.stream_sync(model, messages, **options) as events:
        for event in events:
            if event.type == "text_delta":
                out.write(event.delta)
                out.flush()
            elif event.type == "done":
                response = event.response
    if response is None:  # pragma: no cover - every stream ends with a done event
        raise RuntimeError("the stream ended without a done event")
    if not response.text.endswith("\n"):
        out.write("\n")
    _print_tool_calls(response, out)
    out.flush()
    return response


class Session:
    """An interactive chat on a terminal: each line is a turn, each answer streams; Ctrl-C stops an answer,
    Ctrl-D (or `exit`) ends the session. A failed turn is reported and left out of the history."""

    def __init__(self, manager: AIModelProviderManager, conversation: Conversation, options: dict[str, Any],
                 store: ConversationStore | None, show_usage: bool = False,
                 read: Callable[[str], str] = input, out: TextIO | None = None) -> None:
        self.manager = manager
        self.conversation = conversation
        self.options = options
        self.store = store
        self.show_usage = show_usage
        self._read = read
        self._out = out or sys.stdout

    def run(self) -> int:
        """Runs until end of input; returns the exit code (0: the session ended as asked)."""
        with contextlib.suppress(ImportError):  # line editing and history for input(), where the platform has it
            importlib.import_module("readline")
        c = self.conversation
        resumed = f", continuing {c.id} ({len(c.messages)} messages)" if c.messages else ""
        print(f"Chatting with {c.model}{resumed}. Type 'exit' or press Ctrl-D to end; Ctrl-C stops an answer.",
              file=self._out)
        while True:
            try:
                line = self._read("> ")
            except (EOFError, KeyboardInterrupt):
                print(file=self._out)
                return 0
            if line.strip().lower() in _EXIT_WORDS:
                return 0
            if line.strip():
                self.turn(line)

    def turn(self, text: str) -> CompletionResponse | None:
        """Sends one line and streams the answer; None when it failed or was interrupted."""
        messages = [*self.conversation.messages, user(text)]
        try:
            response = stream_answer(self.manager, self.conversation.model, messages, self.options, self._out)
        except KeyboardInterrupt:
            print("\n[answer stopped]", file=self._out)
            return None
        except AgentOSLLMError as exc:
            print(f"agentos-llm: {type(exc).__name__}: {scrub(str(exc))}", file=sys.stderr)
            return None
        if self.show_usage:
            print_usage(response.usage)
        self.conversation.messages = [*messages, response.message]
        if self.store is not None:
            self.store.save(self.conversation)
        return response
