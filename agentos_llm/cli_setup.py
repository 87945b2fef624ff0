"""`agentos-llm setup`: writes a provider into the config file, interactively or from flags.

- `agentos-llm setup` asks for a provider, how to find its key (pasted, a password manager's command, an env
  var, the OS keyring), lists the provider's models with that key and lets the person pick the default;
- `agentos-llm setup --non-interactive --provider ID (--api-key KEY | --key-command CMD | ...)` does the same
  from flags, without any network, for scripts and CI;
- `agentos-llm setup ollama|vllm|sglang|lmstudio|llamacpp|openai-compatible [--base-url URL] [--model M]`
  finds the server (`agentos_llm.discovery`), lists what it serves, and writes it with the model picked.

The key is never printed: what is said is where it is kept.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .defaults import PROVIDERS
from .errors import ConfigurationError

__all__ = ["SERVERS", "add_setup_parser"]

SERVERS = ("ollama", "vllm", "sglang", "lmstudio", "llamacpp", "openai-compatible")
"""The self-hosted servers `setup` can find and write."""
_SHOWN = 40


def add_setup_parser(sub: Any) -> None:
    """Adds the `setup` subcommand to the `agentos-llm` parser."""
    p = sub.add_parser("setup", help="write a provider (its key, base URL and default model) into the config file",
                       description="Without arguments, asks; with --non-interactive, takes flags. With a server "
                                   f"name ({', '.join(SERVERS)}), finds that server and writes it.")
    p.add_argument("server", nargs="?", choices=SERVERS, help="set up a self-hosted server instead")
    p.add_argument("--non-interactive", action="store_true", help="take everything from flags; never ask")
    p.add_argument("--provider", metavar="ID", help="the provider id (hosted setup)")
    key = p.add_mutually_exclusive_group()
    key.add_argument("--api-key", metavar="KEY", help="the key, stored in the config file (mode 0600); '-' reads "
                                                      "it from stdin, out of shell history")
    key.add_argument("--key-command", metavar="CMD", help="a command that prints the key, e.g. 'op read "
                                                          "op://Private/OpenAI/credential' (run without a shell)")
    key.add_argument("--key-env", metavar="NAME", help="the env var that holds the key")
    p.add_argument("--keyring", action="store_true", help="keep the key (--api-key) in the OS keyring instead of "
                                                          "the file")
    p.add_argument("--base-url", metavar="URL", help="the API's base URL (a gateway, or where the server runs)")
    p.add_argument("--default-model", "--model", dest="model", metavar="MODEL",
                   help="the provider's default model")
    p.add_argument("--profile", metavar="NAME", help="write a named credential, [providers.<id>.profiles.NAME]")
    p.add_argument("--make-default", action="store_true",
                   help="also make it the agent's default model (done anyway when none is set)")
    p.add_argument("--config", metavar="PATH", type=Path, help="the config file (default: AGENTOS_LLM_CONFIG or "
                                                                "~/.config/agentos-llm/config.toml)")
    p.set_defaults(fn=_setup)


class _Asker:
    """Questions on the terminal; a closed stdin is an error, not a hang."""

    def __init__(self, read: Callable[[str], str] = input, secret: Callable[[str], str] = getpass.getpass) -> None:
        self._read = read
        self._secret = secret

    def ask(self, question: str, default: str | None = None) -> str:
        shown = f"{question} [{default}]: " if default else f"{question}: "
        try:
            answer = self._read(shown).strip()
        except EOFError:
            raise ConfigurationError("setup needs answers: stdin closed (use --non-interactive with flags)") from None
        return answer or (default or "")

    def secret(self, question: str) -> str:
        try:
            return self._secret(f"{question} (not shown): ").strip()
        except EOFError:
            raise ConfigurationError("setup needs answers: stdin closed (use --non-interactive with flags)") from None

    def choose(self, question: str, options: Sequence[str], default: str | None = None) -> str:
        """A number from the list, or one of the options by name; text that matches several filters the list."""
        shown = list(options)
        while True:
            for i, option in enumerate(shown[:_SHOWN], start=1):
                print(f"  {i:>2}. {option}")
            if len(shown) > _SHOWN:
                print(f"  ... and {len(shown) - _SHOWN} more: type part of a name to narrow the list")
            answer = self.ask(question, default)
            if answer.isdigit() and 1 <= int(answer) <= min(len(shown), _SHOWN):
                return shown[int(answer) - 1]
            if answer in options:
                return answer
            matches = [o for o in options if answer and answer.lower() in o.lower()]
            if len(matches) == 1:
                return matches[0]
            if matches:
                shown = matches
                continue
            print(f"  {answer!r} is not one of them; type a number or a name")
            shown = list(options)


def _setup(args: argparse.Namespace) -> int:
    if args.server:
        return _setup_server(args, _Asker())
    return _setup_hosted(args, _Asker())


def _path(args: argparse.Namespace) -> Path:
    from .credentials import config_path

    return args.config if args.config is not None else config_path()


def _env(args: argparse.Namespace) -> dict[str, str] | None:
    """The environment the providers built here see: the config file named by --config."""
    import os

    if args.config is None:
        return None
    return {**os.environ, "AGENTOS_LLM_CONFIG": str(args.config)}


def _hosted_ids() -> list[str]:
    return [pid for pid, spec in PROVIDERS.items() if spec.host is None and pid not in SERVERS]


# ---------------------------------------------------------------------- hosted providers


def _key_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    if args.api_key == "-":
        args.api_key = sys.stdin.readline().strip()
        if not args.api_key:
            raise ConfigurationError("--api-key - read nothing from stdin")
    if args.keyring:
        if not args.api_key:
            raise ConfigurationError("--keyring keeps the key given with --api-key in the OS keyring: give both")
        return {"keyring_key": args.api_key}
    if args.api_key:
        return {"api_key": args.api_key}
    if args.key_command:
        return {"key_command": args.key_command}
    if args.key_env:
        return {"key_env": args.key_env}
    return {}


def _ask_key(asker: _Asker, provider_id: str) -> dict[str, Any]:
    spec = PROVIDERS[provider_id]
    ways = ["paste the key (kept in the config file, mode 0600)",
            "a command that prints it (a password manager: op, pass, bw, security ...)",
            f"an environment variable ({', '.join(spec.key_env) or 'any name'})",
            "the OS keyring (paste it once)"]
    if not spec.key_required:
        ways.append("no key")
    way = ways.index(asker.choose("How should agentos-llm find the key?", ways, ways[0]))
    if way == 0:
        return {"api_key": _nonempty(asker.secret(f"{spec.label} API key"), "key")}
    if way == 1:
        return {"key_command": _nonempty(asker.ask("Command"), "command")}
    if way == 2:
        return {"key_env": _nonempty(asker.ask("Variable name", spec.key_env[0] if spec.key_env else None),
                                     "variable name")}
    if way == 3:
        return {"keyring_key": _nonempty(asker.secret(f"{spec.label} API key"), "key")}
    return {}


def _nonempty(value: str, what: str) -> str:
    if not value:
        raise ConfigurationError(f"no {what} given")
    return value


def _try_key(provider_id: str, key: dict[str, Any]) -> str | None:
    """The key the chosen way gives now (to list models with it); raises what the way's failure says."""
    import os

    from .key_sources import run_key_command

    if "api_key" in key:
        return str(key["api_key"])
    if "keyring_key" in key:
        return str(key["keyring_key"])
    if "key_command" in key:
        return run_key_command(key["key_command"], where="the command")
    if "key_env" in key:
        value = os.environ.get(key["key_env"])
        if not value:
            raise ConfigurationError(f"{key['key_env']} is not set in this shell; set it, then run setup again")
        return value
    return None


def _store_keyring(provider_id: str, profile: str | None, key: str) -> None:
    try:
        import keyring
    except ImportError:
        from .errors import MissingDependencyError

        raise MissingDependencyError("keyring", "keyring") from None
    from .key_sources import KEYRING_SERVICE

    keyring.set_password(KEYRING_SERVICE, f"{provider_id}:{profile}" if profile else provider_id, key)


def _list_models(provider_id: str, key: str | None, base_url: str | None, env: dict[str, str] | None) -> list[str]:
    from .registry import create_provider

    provider = create_provider(provider_id, api_key=key, base_url=base_url, env=env)
    with provider:
        models = provider.list_models_sync()
        if provider.last_discovery_error is not None:
            print(f"  (the live listing failed: {type(provider.last_discovery_error).__name__}; these are the "
                  "catalog's models)")
    chat = [m.id for m in models if "embeddings" not in m.capabilities and "rerank" not in m.capabilities]
    return chat or [m.id for m in models]


def _setup_hosted(args: argparse.Namespace, asker: _Asker) -> int:
    from .config_writer import apply_provider_config

    key = _key_from_flags(args)
    provider_id = args.provider
    if args.non_interactive:
        if not provider_id:
            raise ConfigurationError("--non-interactive needs --provider ID (and a key: --api-key, --key-command, "
                                     "--key-env or --keyring)")
        if provider_id not in PROVIDERS:
            raise ConfigurationError(f"unknown provider {provider_id!r}; known: {', '.join(_hosted_ids())}")
        if not key and PROVIDERS[provider_id].key_required and not args.base_url:
            raise ConfigurationError(f"{provider_id} needs a key: give --api-key, --key-command, --key-env or "
                                     "--keyring")
        model = args.model
        base_url = args.base_url
    else:
        if provider_id is None:
            provider_id = asker.choose("Provider (number or id)", _hosted_ids())
        elif provider_id not in PROVIDERS:
            raise ConfigurationError(f"unknown provider {provider_id!r}; known: {', '.join(_hosted_ids())}")
        spec = PROVIDERS[provider_id]
        if not key:
            key = _ask_key(asker, provider_id)
        base_url = args.base_url or asker.ask("Base URL", spec.base_url) or None
        if base_url == spec.base_url:
            base_url = None  # the row's own: not written, so a changed default follows
        model = args.model or _pick_model(asker, provider_id, _try_key(provider_id, key), base_url or spec.base_url,
                                          _env(args))
    if "keyring_key" in key:
        _store_keyring(provider_id, args.profile, key.pop("keyring_key"))
        key["keyring"] = True
    path = apply_provider_config(provider_id, base_url=base_url, default_model=model or None, profile=args.profile,
                                 path=_path(args), **key)
    _finish(args, asker, provider_id, model, path, key)
    return 0


def _pick_model(asker: _Asker, provider_id: str, key: str | None, base_url: str | None,
                env: dict[str, str] | None) -> str | None:
    print(f"Listing the models of {provider_id} ...", flush=True)
    models = _list_models(provider_id, key, base_url, env)
    if not models:
        print("  no models listed")
        return asker.ask("Default model", PROVIDERS[provider_id].default_model or None) or None
    spec_default = PROVIDERS[provider_id].default_model
    suggested = spec_default if spec_default in models else models[0]
    return asker.choose("Default model (number or id)", models, suggested)


def _finish(args: argparse.Namespace, asker: _Asker, provider_id: str, model: str | None, path: Path,
            key: dict[str, Any]) -> None:
    from .config_writer import set_default_model
    from .credentials import load_settings

    table = f"[providers.{provider_id}" + (f".profiles.{args.profile}]" if args.profile else "]")
    how = next(iter(key), None)
    where = {"api_key": "the key, in the file", "key_command": "a key_command",
             "key_env": f"env var {key.get('key_env')}", "keyring": "the OS keyring"}.get(how or "", "no key")
    print(f"Wrote {table} to {path}: {where}" + (f", default model {model}" if model else ""))
    if model:
        current = load_settings(path).default_model
        make = args.make_default or current is None
        if not make and not args.non_interactive:
            make = asker.ask(f"Make {provider_id}/{model} the agent's default model (now {current})? y/N", "n"
                             ).lower().startswith("y")
        if make:
            set_default_model(f"{provider_id}/{model}", path=path)
            print(f"The agent's default model is now {provider_id}/{model}.")
    print("Check it with: agentos-llm providers")


# ---------------------------------------------------------------------- self-hosted servers


def _setup_server(args: argparse.Namespace, asker: _Asker) -> int:
    import os

    from .config_writer import apply_provider_config
    from .discovery import discover_local_providers_sync

    server = args.server
    spec = PROVIDERS[server]
    base_url = args.base_url
    if not base_url and not spec.base_url:
        if args.non_interactive:
            raise ConfigurationError(f"{server} has no default address: give --base-url URL")
        base_url = _nonempty(asker.ask("Base URL of the server (e.g. http://127.0.0.1:8000/v1)"), "base URL")
    key = _key_from_flags(args)
    environ = dict(os.environ if _env(args) is None else _env(args) or {})
    secret = _try_key(server, key)
    if secret and spec.key_env:
        environ[spec.key_env[0]] = secret  # the probe sends it (vLLM --api-key, a gateway)
    found = discover_local_providers_sync(providers=[server], base_urls={server: base_url} if base_url else None,
                                          env=environ)
    if not found.found:
        why = "; ".join(f"{s.base_url}: {s.reason}" for s in found.skipped) or "nothing answered"
        print(f"agentos-llm: {spec.label} did not answer ({why})", file=sys.stderr)
        print(f"Start it, or give its address: agentos-llm setup {server} --base-url URL", file=sys.stderr)
        return 1
    server_found = found.found[0]
    models = [m.id for m in server_found.models]
    print(f"Found {spec.label} at {server_found.base_url}, serving {len(models)} model(s).")
    model = args.model
    if model is not None and models and model not in models:
        raise ConfigurationError(f"{server} at {server_found.base_url} does not serve {model!r}; it serves: "
                                 f"{', '.join(models)}")
    if model is None and models:
        suggested = server_found.default_model or models[0]
        model = suggested if args.non_interactive else asker.choose("Model (number or id)", models, suggested)
    if "keyring_key" in key:
        _store_keyring(server, args.profile, key.pop("keyring_key"))
        key["keyring"] = True
    # The address is written even when it is the default: it is what `from_env()` finds the server by.
    path = apply_provider_config(server, base_url=server_found.base_url, default_model=model, profile=args.profile,
                                 path=_path(args), **key)
    _finish(args, asker, server, model, path, key)
    return 0

