"""What every `agentos-llm` command shares: exit codes, usage errors, `-o key=value` options, reading the
prompt from stdin, the configured manager, and JSON output with no secret in it."""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from .defaults import key_env_hint
from .errors import ConfigurationError, InvalidRequestError
from .options import GenerateOptions, parse_options
from .redaction import redact

if TYPE_CHECKING:
    from .manager import AIModelProviderManager

__all__ = ["EXIT_OK", "EXIT_PROVIDER", "EXIT_USAGE", "UsageError", "configured_manager", "dump_json", "is_terminal",
           "no_provider_message", "parse_option_pairs", "read_prompt", "scrub"]

EXIT_OK = 0
"""The command did what was asked (a search that found nothing included)."""
EXIT_PROVIDER = 1
"""A provider failed: refused, unreachable, rate-limited, or answered something unusable."""
EXIT_USAGE = 2
"""Bad arguments or input, or a configuration that cannot work (argparse's own code for usage errors)."""

_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s\"']+@")
_REFUSED = {"api_key": "a key on the command line ends up in shell history and process listings; set the "
                       "provider's env var, or run: agentos-llm setup"}


class UsageError(ConfigurationError):
    """Bad arguments or input to a command (exit code 2), said before anything is sent."""


def is_terminal(stream: Any) -> bool:
    """Whether `stream` is an interactive terminal (False for pipes, files and test doubles)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def read_prompt(prompt: str | None, stdin: TextIO) -> str | None:
    """The prompt: the argument, stdin (`-`, or a pipe), or piped text followed by the argument, as `llm` does.

    None means there is nothing to read (a terminal and no argument: the caller may start a session).
    An empty or blank prompt is a `UsageError`, never a request.
    """
    if prompt == "-":
        text: str | None = stdin.read()
    elif is_terminal(stdin):
        text = prompt
    else:
        piped = stdin.read()
        text = prompt if not piped else piped if prompt is None else f"{piped.rstrip()}\n\n{prompt}"
        if text is None and not piped:
            text = ""  # a closed or empty pipe and no argument: nothing to send
    if text is not None and not text.strip():
        raise UsageError("empty prompt: nothing to send (give a prompt, pipe text in, or start `agentos-llm chat` "
                         "on a terminal without one for a session)")
    return text


def _candidates(raw: str) -> list[Any]:
    """The typed readings of an option value, most specific first; the raw string is always the last."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        lowered = raw.strip().lower()
        if lowered in ("yes", "on", "no", "off"):
            return [lowered in ("yes", "on"), raw]
        return [raw]
    return [parsed, raw] if parsed != raw else [raw]


def _typed(name: str, raw: str) -> Any:
    first_error = ""
    for value in _candidates(raw):
        try:
            GenerateOptions.model_validate({name: value})
        except ValidationError as exc:
            first_error = first_error or "; ".join(e["msg"] for e in exc.errors(include_url=False))
            continue
        return value
    raise UsageError(f"-o {name}={raw}: {first_error}")


def parse_option_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """`-o key=value` pairs as typed call options (JSON values, numbers and booleans parsed; a value that only
    fits as text stays text), checked as `generate` checks them. Unknown names are a `UsageError` naming them."""
    options: dict[str, Any] = {}
    fields = sorted(GenerateOptions.model_fields)
    for item in pairs:
        name, sep, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"-o takes KEY=VALUE, not {item!r}")
        if name in _REFUSED:
            raise UsageError(f"-o {name} is refused: {_REFUSED[name]}")
        if name not in GenerateOptions.model_fields:
            near = difflib.get_close_matches(name, fields, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise UsageError(f"unknown option {name!r}{hint}; options: "
                             f"{', '.join(f for f in fields if f not in _REFUSED)}")
        options[name] = _typed(name, raw)
    try:
        parse_options(options)
    except InvalidRequestError as exc:  # a rule between options, such as tool_choice naming no tool
        raise UsageError(str(exc)) from None
    return options


def no_provider_message(manager: AIModelProviderManager) -> str:
    """What to set when nothing is configured, with why each provider auto-detect saw was skipped."""
    lines = [f"no provider configured. Set one of these (checked in this order): {key_env_hint()}, "
             "or run: agentos-llm setup"]
    lines += [f"  {pid}: {why}" for pid, why in manager.skipped.items()]
    return "\n".join(lines)


def configured_manager() -> AIModelProviderManager:
    """The manager `from_env()` builds; a `ConfigurationError` saying what to set when it has no provider."""
    from .manager import AIModelProviderManager

    manager = AIModelProviderManager.from_env()
    if not manager.providers:
        raise ConfigurationError(no_provider_message(manager))
    return manager


def scrub(text: str) -> str:
    """`text` with every key the library knows of masked, and no user or password left in a URL."""
    return _URL_USERINFO.sub(r"\1", redact(text))


def dump_json(value: Any, out: TextIO | None = None) -> None:
    """Prints `value` as indented JSON, scrubbed (`scrub`)."""
    print(scrub(json.dumps(value, indent=2, ensure_ascii=False, default=str)), file=out or sys.stdout)
