"""`agentos-llm usage`: table, JSON, and spend per day by provider (terminal bars, HTML, PNG)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from agentos_llm.cli import main
from agentos_llm.cli_usage import html_chart, parse_since, terminal_chart
from agentos_llm.errors import ConfigurationError
from agentos_llm.ledger import SQLiteStore, UsageRecord

DAY = 86400.0


@pytest.fixture
def ledger_file(tmp_path: Path) -> Path:
    now = time.time()
    midnight = now // DAY * DAY  # UTC: days never straddle a midnight, whatever the hour the test runs
    earlier = midnight - 2 * DAY + 3600
    recent = max(now - 60, midnight + 1)
    path = tmp_path / "usage.sqlite3"
    store = SQLiteStore(path)
    store.write([
        UsageRecord(time=earlier, provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=200,
                    cost_usd=0.5, tags={"team": "search"}, id="a"),
        UsageRecord(time=earlier + 60, provider="anthropic", model="claude-<b>", input_tokens=10,
                    output_tokens=5, cost_usd=0.25, id="b"),
        UsageRecord(time=recent, provider="openai", model="gpt-4o", input_tokens=5, output_tokens=1,
                    status="RateLimitError", id="c"),
        UsageRecord(time=now - 30 * DAY, provider="openai", model="gpt-4o", input_tokens=7, cost_usd=9.0, id="old"),
    ])
    store.close()
    return path


def test_table_with_totals_and_terminal_chart(ledger_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--store", str(ledger_file)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("usage since ") and "by provider, model" in lines[0]
    openai = next(line for line in lines if line.startswith("openai"))
    assert openai.split()[:4] == ["openai", "gpt-4o", "2", "1"]  # 2 calls in 7 days, 1 error
    assert "$0.500000" in openai
    total = next(line for line in lines if line.startswith("total"))
    assert "$0.750000" in total and "1,015" in total  # the 30-day-old row is outside --since 7d
    assert "spend per day by provider:" in out and "█ openai" in out
    bars = [line for line in lines if "|" in line]
    assert len(bars) == 3  # three days, the quiet one included
    assert bars[0].count("█") == 27 and bars[0].count("▓") == 13 and bars[-1].strip().endswith("$0.0000")


def test_json_groups_and_since(ledger_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", "--store", str(ledger_file), "--since", "all", "--by", "day,provider,tag:team",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["since"] is None and data["by"] == ["day", "provider", "tag:team"]
    assert data["total"]["calls"] == 4 and data["total"]["cost_usd"] == pytest.approx(9.75)
    teams = {(r["provider"], r["tag:team"]) for r in data["rows"]}
    assert ("openai", "search") in teams and ("anthropic", None) in teams
    assert sum(d["cost_usd"] or 0 for d in data["spend_per_day"]) == pytest.approx(9.75)
    assert main(["usage", "--store", str(ledger_file), "--since", "1h", "--by", "status", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows == [{**rows[0], "status": "RateLimitError", "calls": 1, "errors": 1}]


def test_html_chart_and_png_fallback(ledger_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "spend.html"
    assert main(["usage", "--store", str(ledger_file), "--chart", str(page)]) == 0
    text = page.read_text()
    assert "<svg" in text and "openai" in text and "anthropic" in text and "<script" not in text
    assert capsys.readouterr().err.strip().endswith(str(page))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    assert main(["usage", "--store", str(ledger_file), "--chart", str(tmp_path / "spend.png")]) == 0
    err = capsys.readouterr().err
    assert "matplotlib is not installed" in err and (tmp_path / "spend.html").exists()
    assert not (tmp_path / "spend.png").exists()


def test_png_with_matplotlib(ledger_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "spend.png"
    assert main(["usage", "--store", str(ledger_file), "--chart", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_names_are_escaped_in_html() -> None:
    page = html_chart([{"day": "2026-01-01", "provider": "<script>x</script>", "cost_usd": 1.0, "calls": 1}])
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_errors_and_missing_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.sqlite3"
    assert main(["usage", "--store", str(missing)]) == 2  # a ledger named but not there: a usage error
    assert "no usage ledger" in capsys.readouterr().err and not missing.exists()
    assert main(["usage", "--store", str(missing), "--by", "colour"]) == 2
    assert "cannot group by 'colour'" in capsys.readouterr().err
    assert main(["usage", "--store", str(missing), "--since", "last tuesday"]) == 2


def test_parse_since_and_empty_chart() -> None:
    now = 1_000_000.0
    assert parse_since("7d", now) == now - 7 * DAY
    assert parse_since("36h", now) == now - 36 * 3600
    assert parse_since("2w", now) == now - 14 * DAY
    assert parse_since("all", now) is None
    assert parse_since("2026-01-01", now) == 1_767_225_600.0
    with pytest.raises(ConfigurationError):
        parse_since("soon", now)
    assert "no priced calls" in terminal_chart([])
