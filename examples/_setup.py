"""What every example shares: the built-in emulator by default, real providers with `--live`.

By default an example starts agentos-llm's `WireEmulator` on 127.0.0.1, scripts the answers the
example needs, and points the providers' env vars at it, so it runs offline with no key. With
`--live` (or `AGENTOS_LLM_EXAMPLES_LIVE=1`) nothing is emulated: `AIModelProviderManager.from_env()`
uses the keys in your environment and config file, and `--model provider/model` picks the model.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from agentos_llm import AIModelProviderManager
from agentos_llm.testing import Fault, Reply, WireEmulator

EMULATED_ENV = ("OPENAI", "ANTHROPIC", "GEMINI", "COHERE", "VOYAGE")
"""The providers pointed at the emulator: `<ID>_API_KEY` and `<ID>_BASE_URL` of each."""


def parse_args(description: str, default_model: str, **flags: str) -> argparse.Namespace:
    """`--live` and `--model`, the flags every example takes, and `--<name>` for each of `flags` (with its default)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", action="store_true", default=os.environ.get("AGENTOS_LLM_EXAMPLES_LIVE") == "1",
                        help="use the real providers whose keys are set instead of the built-in emulator")
    parser.add_argument("--model", default=default_model, help=f"provider/model to use (default {default_model})")
    for name, default in flags.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=default, help=f"(default {default!r})")
    return parser.parse_args()


@contextmanager
def example_manager(live: bool, script: Sequence[Reply | Fault] = (), **kwargs: Any) -> Iterator[
        AIModelProviderManager]:
    """A manager from the environment; unless `live`, the environment is the emulator's and `script` its answers."""
    if live:
        manager = AIModelProviderManager.from_env(**kwargs)
        try:
            yield manager
        finally:
            manager.close()
        return
    with WireEmulator() as emu, tempfile.TemporaryDirectory() as home:
        urls = {"OPENAI": emu.openai_base_url, "ANTHROPIC": emu.anthropic_base_url, "GEMINI": emu.gemini_base_url,
                "COHERE": emu.cohere_base_url, "VOYAGE": emu.voyage_base_url}
        env = {name: value for name, value in os.environ.items()
               if not name.endswith(("_API_KEY", "_BASE_URL")) and not name.startswith(("AWS_", "AGENTOS_LLM_"))}
        for prefix in EMULATED_ENV:
            env[f"{prefix}_API_KEY"] = "emulator-key"  # the emulator checks no key
            env[f"{prefix}_BASE_URL"] = urls[prefix]
        env["AGENTOS_LLM_CONFIG"] = os.path.join(home, "absent.toml")  # your config file is for --live only
        emu.script(*script)
        manager = AIModelProviderManager.from_env(env=env, **kwargs)
        try:
            yield manager
        finally:
            manager.close()
