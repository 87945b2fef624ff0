"""`agentos-llm usage`: what the usage ledger recorded, as a table, JSON, or spend per day by provider
as a picture (PNG with matplotlib, else HTML) or, in the terminal, as bars."""

from __future__ import annotations

import argparse
import calendar
import html
import importlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

__all__ = ["add_usage_parser", "parse_since"]

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_COLUMNS = (("calls", "calls"), ("errors", "errors"), ("input_tokens", "input"), ("cached_input_tokens", "cached"),
            ("output_tokens", "output"), ("reasoning_tokens", "reasoning"), ("cost_usd", "cost"))
_BAR_CHARS = "█▓▒░#=+*%@"
_COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")


def add_usage_parser(sub: Any) -> None:
    """Adds the `usage` subcommand to the `agentos-llm` parser."""
    p = sub.add_parser("usage", help="calls, tokens and spend the usage ledger recorded")
    p.add_argument("--since", default="7d", help="30m, 24h, 7d, 2w, a UTC date (2026-01-31), or 'all' (default 7d)")
    p.add_argument("--by", default="provider,model",
                   help="comma-separated groups: provider, model, day, month, host, api, operation, status, "
                        "tag:NAME (default provider,model)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--chart", metavar="FILE",
                   help="write spend per day by provider to FILE: .png (needs matplotlib; an .html file is "
                        "written instead without it) or .html")
    p.add_argument("--store", metavar="PATH_OR_URL",
                   help="the ledger: a SQLite file or a postgresql:// URL (default: $AGENTOS_LLM_LEDGER, else "
                        "~/.local/share/agentos-llm/usage.sqlite3)")
    p.set_defaults(fn=_usage)


def parse_since(text: str, now: float | None = None) -> float | None:
    """Epoch seconds from "7d", "24h", "30m", "2w", a UTC date or datetime (ISO), or None for "all"."""
    text = text.strip()
    if text.lower() in ("all", ""):
        return None
    now = time.time() if now is None else now
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([mhdw])", text.lower())
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    from datetime import datetime, timezone

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(f"--since takes 30m, 24h, 7d, 2w, a date (2026-01-31) or 'all', not {text!r}"
                                 ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _usage(args: argparse.Namespace) -> int:
    from .ledger.records import check_group_keys
    from .ledger.stores import LEDGER_ENV, SQLiteStore, open_store

    since = parse_since(args.since)
    try:
        by = check_group_keys([k for k in args.by.split(",") if k.strip()])
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    store = open_store(args.store)
    if isinstance(store, SQLiteStore) and not store.path.exists():
        # Reading must not create an empty ledger where the user did not expect one. A ledger the user named
        # that is not there is a usage error; the default one missing only means nothing was recorded yet.
        if args.store or os.environ.get(LEDGER_ENV):
            raise ConfigurationError(f"no usage ledger at {store.path} (check --store or {LEDGER_ENV})")
        print(f"No usage recorded yet: no ledger at {store.path} (attach a ledger to record calls; or pass "
              f"--store or set {LEDGER_ENV})", file=sys.stderr)
        return 0
    try:
        rows = store.summary(since=since, by=by)
        total = store.summary(since=since, by=())
        daily = store.summary(since=since, by=("day", "provider"))
    finally:
        store.close()
    totals = total[0] if total else {name: 0 for name, _ in _COLUMNS}
    if args.json:
        print(json.dumps({"since": _iso(since), "by": by, "rows": rows, "total": totals,
                          "spend_per_day": [{"day": d["day"], "provider": d["provider"], "cost_usd": d["cost_usd"],
                                             "calls": d["calls"]} for d in daily]}, indent=2))
    else:
        print(f"usage since {_iso(since) or 'the beginning'}" + (f", by {', '.join(by)}" if by else ""))
        print(_table(rows, by, totals))
    if args.chart:
        written = write_chart(Path(args.chart), daily)
        print(f"spend per day by provider: {written}", file=sys.stderr)
    elif not args.json:
        print()
        print(terminal_chart(daily))
    return 0


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _cell(name: str, value: Any) -> str:
    if name == "cost_usd":
        return "-" if value is None else f"${value:,.6f}" if value < 1 else f"${value:,.2f}"
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(rows: list[dict[str, Any]], by: list[str], totals: dict[str, Any]) -> str:
    header = [*by, *(label for _, label in _COLUMNS)]
    body = [[_cell(k, r.get(k)) for k in by] + [_cell(n, r.get(n)) for n, _ in _COLUMNS] for r in rows]
    if by:
        body.append(["total", *[""] * (len(by) - 1), *(_cell(n, totals.get(n)) for n, _ in _COLUMNS)])
    else:
        body = [[_cell(n, totals.get(n)) for n, _ in _COLUMNS]]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(header)]
    numeric = len(by)

    def fmt(line: list[str]) -> str:
        return "  ".join(c.rjust(w) if i >= numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths,
                                                                                                    strict=True)))

    lines = [fmt(header), "  ".join("-" * w for w in widths)]
    if by and not rows:
        lines.append("(no calls recorded in this period)")
    lines += [fmt(line) for line in body]
    return "\n".join(lines)


def _per_day(daily: list[dict[str, Any]]) -> tuple[list[str], list[str], dict[tuple[str, str], float]]:
    spend: dict[tuple[str, str], float] = {}
    for d in daily:
        spend[(d["day"], d["provider"])] = spend.get((d["day"], d["provider"]), 0.0) + (d["cost_usd"] or 0.0)
    days = sorted({day for day, _ in spend})
    providers = sorted({p for _, p in spend}, key=lambda p: -sum(v for (_, q), v in spend.items() if q == p))
    return _fill_days(days), providers, spend


def _fill_days(days: list[str]) -> list[str]:
    """Every day from the first to the last (a quiet day shows as an empty bar, not as nothing)."""
    if len(days) < 2:
        return days
    first = calendar.timegm(time.strptime(days[0], "%Y-%m-%d"))
    last = calendar.timegm(time.strptime(days[-1], "%Y-%m-%d"))
    return [time.strftime("%Y-%m-%d", time.gmtime(t)) for t in range(first, last + 1, 86400)]


def terminal_chart(daily: list[dict[str, Any]], width: int = 40) -> str:
    """Spend per day as horizontal bars, one character per provider."""
    days, providers, spend = _per_day(daily)
    top = max((sum(spend.get((d, p), 0.0) for p in providers) for d in days), default=0.0)
    if top <= 0:
        return "spend per day by provider: no priced calls in this period"
    marks = {p: _BAR_CHARS[i % len(_BAR_CHARS)] for i, p in enumerate(providers)}
    lines = ["spend per day by provider: " + "  ".join(f"{marks[p]} {p}" for p in providers)]
    for day in days:
        bar = ""
        for p in providers:
            bar += marks[p] * round(spend.get((day, p), 0.0) / top * width)
        total = sum(spend.get((day, p), 0.0) for p in providers)
        lines.append(f"{day} |{bar.ljust(width)} ${total:,.4f}")
    return "\n".join(lines)


def write_chart(path: Path, daily: list[dict[str, Any]]) -> Path:
    """Writes the spend-per-day chart: a picture through matplotlib, else (or for .html) an HTML page.
    Returns the file written (FILE.html when a picture was asked for and matplotlib is missing)."""
    if path.suffix.lower() not in (".html", ".htm"):
        try:
            matplotlib = importlib.import_module("matplotlib")  # optional, untyped here
        except ImportError:
            path = path.with_suffix(".html")
            print("agentos-llm: matplotlib is not installed (pip install matplotlib); writing HTML instead",
                  file=sys.stderr)
        else:
            matplotlib.use("Agg")
            _picture(path, daily)
            return path
    path.write_text(html_chart(daily), encoding="utf-8")
    return path


def _picture(path: Path, daily: list[dict[str, Any]]) -> None:
    plt = importlib.import_module("matplotlib.pyplot")
    days, providers, spend = _per_day(daily)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(days) + 2), 4))
    bottom = [0.0] * len(days)
    for i, p in enumerate(providers):
        values = [spend.get((d, p), 0.0) for d in days]
        ax.bar(days, values, bottom=bottom, label=p, color=_COLORS[i % len(_COLORS)])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("USD")
    ax.set_title("Spend per day by provider")
    if providers:
        ax.legend()
    ax.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def html_chart(daily: list[dict[str, Any]]) -> str:
    """A self-contained HTML page (inline SVG, no scripts) of spend per day by provider."""
    days, providers, spend = _per_day(daily)
    top = max((sum(spend.get((d, p), 0.0) for p in providers) for d in days), default=0.0) or 1.0
    bar_w, gap, height, left = 28, 10, 240, 60
    width = left + len(days) * (bar_w + gap) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 90}" '
             'role="img" aria-label="spend per day by provider">',
             f'<text x="4" y="16" font-size="12">${top:,.4f}</text>',
             f'<line x1="{left - 4}" y1="{height + 20}" x2="{width}" y2="{height + 20}" stroke="#888"/>']
    for i, day in enumerate(days):
        x = left + i * (bar_w + gap)
        y = height + 20.0
        for j, p in enumerate(providers):
            value = spend.get((day, p), 0.0)
            h = value / top * height
            if h <= 0:
                continue
            y -= h
            parts.append(f'<rect x="{x}" y="{y:.1f}" width="{bar_w}" height="{h:.1f}" '
                         f'fill="{_COLORS[j % len(_COLORS)]}"><title>{html.escape(day)} {html.escape(p)}: '
                         f'${value:,.6f}</title></rect>')
        parts.append(f'<text x="{x}" y="{height + 34}" font-size="9" transform="rotate(45 {x} {height + 34})">'
                     f'{html.escape(day)}</text>')
    parts.append("</svg>")
    legend = "".join(f'<li><span style="color:{_COLORS[j % len(_COLORS)]}">&#9632;</span> {html.escape(p)}</li>'
                     for j, p in enumerate(providers))
    rows = "".join(f"<tr><td>{html.escape(d)}</td><td>{html.escape(p)}</td><td>${spend[(d, p)]:,.6f}</td></tr>"
                   for d in days for p in providers if (d, p) in spend)
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Spend per day by provider</title></head>"
            "<body style=\"font-family:sans-serif\"><h1>Spend per day by provider</h1>"
            + "".join(parts) + f"<ul>{legend}</ul><table><tr><th>day</th><th>provider</th><th>USD</th></tr>{rows}"
            "</table></body></html>\n")
