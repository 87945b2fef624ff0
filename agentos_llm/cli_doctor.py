"""`agentos-llm doctor`: what the library sees on this machine, to fix a setup or attach to a bug report.

Each provider's key and where it came from (never the key), the config file, the extras installed and
their SDK versions, and (unless `--offline`) whether each configured provider answers, with the latency.
Exit code: 0 all well; 1 a configured provider did not answer as it should; 2 the configuration is broken,
nothing is configured, or a provider was skipped (a missing extra, a key source that failed).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .cli_common import EXIT_OK, EXIT_PROVIDER, EXIT_USAGE, dump_json, scrub
from .defaults import AUTO_DETECT_ORDER, PROVIDERS
from .errors import ConfigurationError

__all__ = ["EXTRAS", "add_doctor_parser", "installed_extras"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "openai": ("openai",), "anthropic": ("anthropic",), "gemini": ("google-genai",),
    "bedrock": ("boto3", "botocore"), "cohere": ("cohere",), "voyage": ("httpx",), "oauth": ("authlib", "httpx"),
    "keyring": ("keyring",), "redis": ("redis",), "ledger-postgres": ("psycopg",), "otel": ("opentelemetry-api",),
}
"""Each pip extra of agentos-llm and the distributions it installs."""
_CORE = ("pydantic", "tenacity", "tomlkit", "genai-prices")


def add_doctor_parser(sub: Any) -> None:
    """Adds the `doctor` subcommand to the `agentos-llm` parser."""
    p = sub.add_parser("doctor", help="keys and where they came from, extras, SDK versions, reachability",
                       description="Never prints a key. Exit code 0: all well; 1: a provider did not answer as it "
                                   "should; 2: configuration problem.")
    p.add_argument("--offline", action="store_true", help="skip the reachability check (no network)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per provider check (default 10)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(fn=_doctor)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def installed_extras() -> dict[str, dict[str, str | None]]:
    """For each extra, the version of each distribution it needs (None: not installed)."""
    return {extra: {d: _version(d) for d in dists} for extra, dists in EXTRAS.items()}


def _public_url(url: str | None) -> str | None:
    """The URL without a user or password in it."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, parts.query, ""))


def _report(offline: bool, timeout: float) -> dict[str, Any]:
    from . import __version__
    from .cli_conversations import conversations_dir
    from .credentials import config_path, load_settings
    from .manager import AIModelProviderManager

    path = config_path()
    config: dict[str, Any] = {"path": str(path), "exists": path.exists(), "error": None}
    try:
        load_settings(path)
        manager = AIModelProviderManager.from_env()
    except ConfigurationError as exc:
        config["error"] = str(exc)
        manager = AIModelProviderManager()
    providers: list[dict[str, Any]] = []
    for pid, p in manager.providers.items():
        providers.append({"id": pid, "status": "configured", "key_source": p.credential_source,
                          "base_url": _public_url(p.base_url), "api": p.api, "default_model": p.default_model or None,
                          "extra": p.spec.extra})
    for pid, why in manager.skipped.items():
        providers.append({"id": pid, "status": "skipped", "reason": why, "extra": PROVIDERS[pid].extra
                          if pid in PROVIDERS else None})
    seen = {row["id"] for row in providers}
    for pid in AUTO_DETECT_ORDER:
        if pid not in seen and pid in PROVIDERS:
            spec = PROVIDERS[pid]
            providers.append({"id": pid, "status": "not configured", "set": list(spec.detect_vars)})
    report: dict[str, Any] = {
        "version": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "executable": sys.executable, "config": config, "conversations": str(conversations_dir()),
        "providers": providers, "extras": installed_extras(), "core": {d: _version(d) for d in _CORE},
        "reachability": None,
    }
    try:
        if not offline and manager.providers:
            report["reachability"] = [{"provider": s.provider, "ok": s.ok, "state": s.state,
                                       "latency_ms": None if s.latency_ms is None else round(s.latency_ms, 1),
                                       "error": s.error} for s in manager.check_health_sync(timeout=timeout)]
    finally:
        manager.close()
    return report


def _exit_code(report: dict[str, Any]) -> int:
    configured = [p for p in report["providers"] if p["status"] == "configured"]
    if report["config"]["error"] or not configured or any(p["status"] == "skipped" for p in report["providers"]):
        return EXIT_USAGE
    if any(not r["ok"] for r in report["reachability"] or ()):
        return EXIT_PROVIDER
    return EXIT_OK


def _text(report: dict[str, Any]) -> str:
    config = report["config"]
    lines = [f"agentos-llm {report['version']} on Python {report['python']} ({report['platform']})",
             f"config file: {config['path']} " + ("(broken: " + config["error"] + ")" if config["error"] else
                                                  "(found)" if config["exists"] else "(none)"),
             f"conversations: {report['conversations']}", "", "providers:"]
    for p in report["providers"]:
        if p["status"] == "configured":
            lines.append(f"  ok    {p['id']}: key from {p['key_source'] or 'nowhere (none needed)'}; {p['api']} at "
                         f"{p['base_url'] or 'the SDK default'}; default model {p['default_model'] or '-'}")
        elif p["status"] == "skipped":
            lines.append(f"  FAIL  {p['id']}: skipped, {p['reason']}")
        else:
            lines.append(f"  -     {p['id']}: not configured (set {' or '.join(p['set']) or 'its key'})")
    needed = {p.get("extra") for p in report["providers"] if p["status"] != "not configured"}
    lines += ["", "extras:"]
    for extra, dists in report["extras"].items():
        present = all(v is not None for v in dists.values())
        versions = ", ".join(f"{d} {v or 'missing'}" for d, v in dists.items())
        hint = "" if present or extra not in needed else f'  <- needed: pip install "agentos-llm[{extra}]"'
        lines.append(f"  {'yes' if present else 'no ':3}  {extra:<16}{versions}{hint}")
    lines.append("  core: " + ", ".join(f"{d} {v or 'missing'}" for d, v in report["core"].items()))
    lines += ["", "reachability:"]
    if report["reachability"] is None:
        lines.append("  skipped (--offline)" if report.get("offline") else "  nothing configured to check")
    for r in report["reachability"] or ():
        latency = "" if r["latency_ms"] is None else f" in {r['latency_ms']:.0f} ms"
        detail = f": {r['error']}" if r["error"] else ""
        lines.append(f"  {'ok  ' if r['ok'] else 'FAIL'}  {r['provider']}: {r['state']}{latency}{detail}")
    return "\n".join(lines)


def _doctor(args: argparse.Namespace) -> int:
    report = _report(args.offline, args.timeout)
    report["offline"] = args.offline
    if args.json:
        dump_json(report)
    else:
        print(scrub(_text(report)))
    return _exit_code(report)
