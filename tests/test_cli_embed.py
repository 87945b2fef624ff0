"""`agentos-llm embed`: lines of a file or stdin in batches, JSON Lines out, a progress bar only on a terminal."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_env import OPENAI_KEY, Stdin, clean, run_cli, use_emulator

from agentos_llm.cli import main
from agentos_llm.cli_embed import Progress, batches
from agentos_llm.testing import WireEmulator


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    clean(monkeypatch, tmp_path)
    with WireEmulator() as emulator:
        use_emulator(monkeypatch, emulator)
        yield emulator


def test_a_file_in_batches_to_jsonl(emu: WireEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "texts.txt"
    source.write_text("alpha\nbeta\n\ngamma\r\ndelta\nepsilon\n", encoding="utf-8")
    out = tmp_path / "vectors.jsonl"
    assert main(["embed", str(source), "--batch-size", "2", "--dimensions", "4", "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["index"], r["text"]) for r in rows] == [(0, "alpha"), (1, "beta"), (3, "gamma"), (4, "delta"),
                                                       (5, "epsilon")]
    assert all(len(r["embedding"]) == 4 for r in rows)
    calls = [r.body for r in emu.requests if r.path.endswith("/embeddings")]
    assert [c["input"] for c in calls] == [["alpha", "beta"], ["gamma", "delta"], ["epsilon"]]
    assert capsys.readouterr().err == ""  # stderr is no terminal: no progress bar


def test_stdin_lines_and_no_text(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", Stdin("one\ntwo\n"))
    assert main(["embed", "--no-text"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [sorted(r) for r in rows] == [["embedding", "index"], ["embedding", "index"]]
    assert main(["embed", "-t", "solo"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == "solo"


def test_nothing_to_embed_is_a_usage_error(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", Stdin("\n  \n"))
    assert main(["embed"]) == 2
    assert "nothing to embed" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", Stdin("", tty=True))
    assert main(["embed"]) == 2
    assert "give FILE" in capsys.readouterr().err
    assert main(["embed", str(tmp_path / "missing.txt")]) == 2
    assert main(["embed", "-t", "x", "--batch-size", "0"]) == 2
    assert emu.requests == []


def test_progress_bar_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    Progress(quiet, 10).advance(5)
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    bar = Progress(shown, 4, enabled=True)
    bar.advance(2)
    bar.advance(2)
    bar.finish()
    assert shown.getvalue().split("\r")[1:] == [f"embedding [{'#' * 12}{'-' * 12}] 2/4",
                                                f"embedding [{'#' * 24}] 4/4\n"]
    unknown = io.StringIO()
    Progress(unknown, None, enabled=True).advance(3)
    assert unknown.getvalue() == "\rembedding ... 3 lines"


def test_batches() -> None:
    assert [len(b) for b in batches(((i, str(i)) for i in range(5)), 2)] == [2, 2, 1]


def test_embed_as_a_subprocess(emu: WireEmulator, tmp_path: Path) -> None:
    done = run_cli(tmp_path, "embed", "-u", stdin="first line\nsecond line\n", OPENAI_API_KEY=OPENAI_KEY,
                   OPENAI_BASE_URL=emu.openai_base_url)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["first line", "second line"] and len(rows[0]["embedding"]) > 0
    assert "embedding [" not in done.stderr and "usage: " in done.stderr
