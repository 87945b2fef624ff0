"""`agentos-llm models [PROVIDER]`: the models a provider offers, with context window, prices and
capabilities: its live listing merged with the catalog for a configured provider, the built-in catalog
otherwise (said on stderr)."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from typing import Any

from .catalog import CAPABILITY_NAMES, catalog_models
from .cli_common import UsageError, dump_json, no_provider_message
from .defaults import PROVIDERS
from .errors import ConfigurationError
from .types import ModelInfo

__all__ = ["add_models_parser", "format_models"]


def add_models_parser(sub: Any) -> None:
    """Adds the `models` subcommand to the `agentos-llm` parser."""
    p = sub.add_parser("models", help="models with context window, prices and capabilities",
                       description="A configured provider lists its models live (merged with the catalog); "
                                   "any other known provider shows the built-in catalog.")
    p.add_argument("provider", nargs="?", metavar="PROVIDER", help="one provider id (default: every configured one)")
    p.add_argument("--json", action="store_true", help="print the models as JSON")
    p.add_argument("--capability", metavar="CAP", help=f"only models with it: {', '.join(sorted(CAPABILITY_NAMES))}")
    p.add_argument("-q", "--query", action="append", default=[], metavar="TEXT",
                   help="only models whose id contains TEXT (repeatable: all must match)")
    p.add_argument("--catalog", action="store_true", help="the built-in catalog only, without asking the provider")
    p.set_defaults(fn=_models)


def _catalog(provider_id: str) -> list[ModelInfo]:
    spec = PROVIDERS[provider_id]
    return [m.model_copy(update={"provider": provider_id}) for m in catalog_models(spec.host_id)]


def _unknown(provider_id: str) -> UsageError:
    near = difflib.get_close_matches(provider_id, list(PROVIDERS), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return UsageError(f"unknown provider {provider_id!r}{hint}; known: {', '.join(PROVIDERS)}")


def _listing(args: argparse.Namespace) -> list[ModelInfo]:
    from .manager import AIModelProviderManager
    from .registry import defined_providers

    manager = AIModelProviderManager.from_env()
    pid = args.provider
    if pid is not None and pid not in PROVIDERS and pid not in manager.providers and pid not in defined_providers():
        raise _unknown(pid)
    try:
        if pid is not None:
            try:
                provider = manager.get(pid)
            except ConfigurationError:  # known, but not configured: the catalog still answers
                if pid not in PROVIDERS:
                    raise
                why = manager.skipped.get(pid)
                print(f"agentos-llm: {pid} is not configured{f' ({why})' if why else ''}; showing the built-in "
                      f"catalog (set {' or '.join(PROVIDERS[pid].detect_vars) or 'its key'} to list it live)",
                      file=sys.stderr)
                return _catalog(pid)
            if args.catalog:
                return provider.catalog()
            return manager.list_models_sync(pid)
        if not manager.providers:
            print(f"agentos-llm: {no_provider_message(manager)}\nShowing the built-in catalog.", file=sys.stderr)
            return [m for p in PROVIDERS if PROVIDERS[p].host is None for m in _catalog(p)]
        if args.catalog:
            return [m for p in manager.providers.values() for m in p.catalog()]
        return manager.list_models_sync()
    finally:
        manager.close()


def _models(args: argparse.Namespace) -> int:
    if args.capability is not None and args.capability not in CAPABILITY_NAMES:
        raise UsageError(f"unknown capability {args.capability!r}; capabilities: {', '.join(sorted(CAPABILITY_NAMES))}")
    models = _listing(args)
    if args.capability:
        models = [m for m in models if args.capability in m.capabilities]
    for text in args.query:
        models = [m for m in models if text.lower() in m.id.lower()]
    if args.json:
        dump_json([{**m.model_dump(mode="json", exclude_none=True), "capabilities": sorted(m.capabilities)}
                   for m in models])
    elif models:
        print(format_models(models))
    else:
        print("no models match", file=sys.stderr)
    return 0


def _tokens(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _price(p: float | None) -> str:
    return "-" if p is None else f"${p:,.4g}"


def format_models(models: Sequence[ModelInfo]) -> str:
    """The models as a table: id, context window, max output, USD per million tokens in and out, capabilities."""
    header = ("model", "context", "max out", "$/M in", "$/M out", "capabilities")
    rows = [(f"{m.provider}/{m.id}", _tokens(m.context_window), _tokens(m.max_output_tokens), _price(m.input_price),
             _price(m.output_price), ", ".join(sorted(m.capabilities)) or "-") for m in models]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        out = [c.ljust(w) if i in (0, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(out).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])
