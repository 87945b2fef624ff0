"""`agentos-llm quota`: what each configured provider's key may still spend, one row per provider, with
each window's use as a bar (or the snapshots as JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from .defaults import key_env_hint

if TYPE_CHECKING:
    from .quota import Balance, QuotaSnapshot, QuotaWindow

__all__ = ["add_quota_parser", "format_quotas"]

_BAR_WIDTH = 20


def add_quota_parser(sub: Any) -> None:
    """Adds the `quota` subcommand to the `agentos-llm` parser."""
    p = sub.add_parser("quota", help="what each configured provider's key may still spend")
    p.add_argument("--json", action="store_true", help="print the quota snapshots as JSON")
    p.add_argument("--provider", action="append", metavar="ID",
                   help="only this provider (repeatable; default: every configured provider)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per provider (default 10)")
    p.set_defaults(fn=_quota)


def _quota(args: argparse.Namespace) -> int:
    from .manager import AIModelProviderManager

    manager = AIModelProviderManager.from_env()
    if args.provider:
        wanted = [manager.get(pid) for pid in args.provider]  # an unknown id says how to configure it
        manager = AIModelProviderManager(wanted)
    if not manager.providers:
        print(f"agentos-llm: no provider configured. Set one of these (checked in this order): {key_env_hint()}",
              file=sys.stderr)
        return 2
    rows = manager.quotas_sync(timeout=args.timeout)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
    else:
        print(format_quotas(rows, ascii_only=not _can_print("█░", sys.stdout)))
        for pid, why in manager.skipped.items():
            print(f"{pid}: skipped, {why}", file=sys.stderr)
    return 0


def _can_print(text: str, out: TextIO) -> bool:
    try:
        text.encode(out.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


# ---------------------------------------------------------------------- the table


def bar(percent: float, *, width: int = _BAR_WIDTH, ascii_only: bool = False) -> str:
    """`percent` used as a text bar of `width` cells (over 100% fills it)."""
    filled = round(max(0.0, min(percent, 100.0)) * width / 100.0)
    full, empty = ("#", "-") if ascii_only else ("█", "░")
    return f"[{full * filled}{empty * (width - filled)}]"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) and abs(value) >= 1000 else f"{value:,.4g}"


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "?"
    if unit == "usd":
        return f"${value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"${value:.4g}"
    return _number(value)


def _until(when: datetime, now: datetime) -> str:
    seconds = (when - now).total_seconds()
    if seconds <= 0:
        return "resets now"
    for threshold, unit, name in ((2 * 86400, 86400, "d"), (2 * 3600, 3600, "h"), (120, 60, "m")):
        if seconds >= threshold:
            return f"resets in {seconds / unit:.0f}{name}"
    return f"resets in {seconds:.0f}s"


def _window(w: QuotaWindow, now: datetime, ascii_only: bool) -> str:
    unit = "" if w.unit == "usd" else f" {w.unit}"
    if w.used_percent is not None:
        text = (f"{bar(w.used_percent, ascii_only=ascii_only)} {w.used_percent:5.1f}%  "
                f"{_amount(w.used, w.unit)} of {_amount(w.limit, w.unit)}{unit}")
    elif w.limit is not None and w.remaining is not None:
        text = f"{_amount(w.remaining, w.unit)} left of {_amount(w.limit, w.unit)}{unit}"
    elif w.used is not None:
        text = f"{_amount(w.used, w.unit)}{unit} used"
    elif w.limit is not None:
        text = f"limit {_amount(w.limit, w.unit)}{unit}"
    else:
        text = f"{_amount(w.remaining, w.unit)}{unit} left"
    extras = [_until(w.resets_at, now)] if w.resets_at is not None else []
    if w.source == "headers":
        extras.append("from response headers")
    return f"{w.name}: {text}" + (f" ({', '.join(extras)})" if extras else "")


def _balance(b: Balance) -> str:
    def money(value: float) -> str:
        return f"{_number(value)} credits" if b.currency == "credits" else f"{value:,.2f} {b.currency}"

    parts = []
    if b.remaining is not None:
        parts.append(f"{money(b.remaining)} left" + (f" of {money(b.limit)}" if b.limit is not None else ""))
    elif b.used is not None:
        parts.append(f"{money(b.used)} used" + (f" of {money(b.limit)}" if b.limit is not None else ""))
    split = [f"{name} {money(v)}" for name, v in (("granted", b.granted), ("topped up", b.topped_up))
             if v is not None]
    return "balance: " + (", ".join(parts) or "?") + (f" ({', '.join(split)})" if split else "")


def format_quotas(rows: Sequence[QuotaSnapshot], *, ascii_only: bool = False) -> str:
    """The snapshots as a table: provider, where the key came from, status, then each window and balance."""
    header = ("provider", "key from", "status")
    cells = [(r.provider, r.credential_source or "no key", r.status + (f" ({r.plan})" if r.plan else ""))
             for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    indent = " " * (sum(widths) + 2 * len(widths))

    def line(values: Sequence[str], detail: str) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + "  " + detail

    out = [line(header, "quota").rstrip()]
    for row, values in zip(rows, cells, strict=True):
        details = [_window(w, row.fetched_at, ascii_only) for w in row.windows]
        details += [_balance(b) for b in row.balances]
        if row.key:
            details.append(f"key: {row.key}")
        if row.message:
            details.append(("note: " if row.ok else "") + row.message)
        out.append(line(values, details[0] if details else "-"))
        out.extend(indent + d for d in details[1:])
    return "\n".join(out)
