"""Every ```python block of README.md and docs/ runs as written, alone, against the loopback wire emulator.

Each block runs in a fresh interpreter whose environment points the providers' env vars at one `WireEmulator`
(as docs/quickstart.md shows a reader how to do): no placeholder, no missing import, no key. A block may be
left out only with a visible reason on the line right before it: `<!-- not-run: why -->`. A block that goes on
from the one before it on its page says so the same way, `<!-- continues -->`, and runs after that block.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentos_llm.defaults import PROVIDERS
from agentos_llm.testing import Reply, WireEmulator

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>[^>]*?)\s*-->\s*$")
CONTINUES = re.compile(r"<!--\s*continues\s*-->\s*$")
# A runaway block (waiting on a socket nobody answers) fails instead of hanging the suite.
HANG_GUARD_S = 180


@dataclass(frozen=True)
class Block:
    """One fenced python block: where it is, its code (with the blocks it continues), and why it is not run."""

    path: Path
    line: int
    code: str
    skip_reason: str | None
    continues: bool = False

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """The python blocks of one markdown file, dedented, each with the not-run reason written before it."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        reason = NOT_RUN.search(before)
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        line = text.count("\n", 0, match.start()) + 1
        continues = CONTINUES.search(before) is not None
        if continues:
            if not found:
                raise ValueError(f"{path}:{line}: <!-- continues --> on a page's first block")
            code = found[-1].code + "\n" + code
        found.append(Block(path, line, code, reason["reason"] if reason else None, continues))
    return found


ALL_BLOCKS = [block for path in DOCS for block in blocks_of(path)]


def emulator_env(emu: WireEmulator, home: Path) -> dict[str, str]:
    """The environment of a reader who pointed every provider at the emulator, and nothing else."""
    names = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env)}
    names |= {spec.base_url_env for spec in PROVIDERS.values() if spec.base_url_env}
    env = {k: v for k, v in os.environ.items()
           if k not in names and not k.startswith(("AWS_", "AGENTOS_LLM_")) and "proxy" not in k.lower()}
    env.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CACHE_HOME": str(home / ".cache"), "XDG_STATE_HOME": str(home / ".local/state"),
        "AGENTOS_LLM_CONFIG": str(home / "absent.toml"),
        "OPENAI_API_KEY": "emulator-key", "OPENAI_BASE_URL": emu.openai_base_url,
        "ANTHROPIC_API_KEY": "emulator-key", "ANTHROPIC_BASE_URL": emu.anthropic_base_url,
        "GEMINI_API_KEY": "emulator-key", "GEMINI_BASE_URL": emu.gemini_base_url,
        "COHERE_API_KEY": "emulator-key", "COHERE_BASE_URL": emu.cohere_base_url,
        "VOYAGE_API_KEY": "emulator-key", "VOYAGE_BASE_URL": emu.voyage_base_url,
        "BEDROCK_BASE_URL": emu.bedrock_base_url, "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAEMULATOREXAMPLE0", "AWS_SECRET_ACCESS_KEY": "emulator-secret",
        "GROQ_API_KEY": "emulator-key", "GROQ_BASE_URL": emu.openai_base_url,
        # The gateways the docs define with define_provider (docs/custom-providers.md, docs/models.md).
        "ACME_API_KEY": "acme-emulator-key", "ACME_BASE_URL": emu.openai_base_url,
        "DARKBLOOM_API_KEY": "darkbloom-emulator-key", "DARKBLOOM_BASE_URL": emu.openai_base_url,
        # botocore must never look for credentials on the instance-metadata address.
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


@pytest.fixture(scope="module")
def emulator() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


def run_block(block: Block, emu: WireEmulator, home: Path) -> subprocess.CompletedProcess[str]:
    """Runs one block alone in a fresh interpreter, in an empty directory that is also its HOME."""
    script = home / "block.py"
    script.write_text(block.code, encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], cwd=home, env=emulator_env(emu, home),
                          capture_output=True, text=True, timeout=HANG_GUARD_S, check=False)


@pytest.fixture(scope="module")
def block_runs(request: pytest.FixtureRequest, emulator: WireEmulator,
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future[subprocess.CompletedProcess[str]]]:
    """Every selected block started at once on a few workers (each interpreter spends seconds importing SDKs)."""
    selected = [item.callspec.params["block"] for item in request.session.items
                if getattr(item, "callspec", None) is not None and isinstance(item.callspec.params.get("block"), Block)]
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    request.addfinalizer(pool.shutdown)
    return {b.name: pool.submit(run_block, b, emulator, tmp_path_factory.mktemp("block"))
            for b in selected if b.skip_reason is None}


def test_the_docs_have_blocks_and_few_are_left_out() -> None:
    """A regex that found nothing would pass every run; and not-run must stay the exception."""
    assert len(ALL_BLOCKS) >= 40, [b.name for b in ALL_BLOCKS]
    skipped = [b for b in ALL_BLOCKS if b.skip_reason is not None]
    assert all(b.skip_reason for b in skipped), "a not-run marker needs a reason"
    assert len(skipped) <= 6, [(b.name, b.skip_reason) for b in skipped]
    assert sum(b.continues for b in ALL_BLOCKS) <= 12, [b.name for b in ALL_BLOCKS if b.continues]


def test_the_extractor_sees_markers_and_indented_blocks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("intro\n\n<!-- not-run: needs a browser -->\n```python\nimport webbrowser\n```\n\n"
                    "- a list item:\n\n  ```python\n  print(1)\n  ```\n", encoding="utf-8")
    first, second = blocks_of(page)
    assert (first.skip_reason, first.code, first.line) == ("needs a browser", "import webbrowser\n", 4)
    assert (second.skip_reason, second.code) == (None, "print(1)\n")


def test_a_continued_block_runs_after_the_one_before(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n```\n\n<!-- continues -->\n```python\nprint(x)\n```\n", encoding="utf-8")
    first, second = blocks_of(page)
    assert (first.continues, second.continues, second.code) == (False, True, "x = 1\n\nprint(x)\n")


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=[b.name for b in ALL_BLOCKS])
def test_block_runs_as_written(block: Block, block_runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    if block.skip_reason is not None:
        pytest.skip(f"not-run: {block.skip_reason}")
    done = block_runs[block.name].result()
    assert done.returncode == 0, (
        f"{block.name} failed:\n{block.code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")


def test_the_readme_starts_with_the_two_fresh_machine_commands() -> None:
    """A newcomer's first two commands: install and run the offline demo; install and run the tests."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert first is not None and readme.index("```bash") < readme.index("```python")
    commands = [line for line in first.group(1).splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].startswith("python3 -m venv .venv") and commands[0].endswith("agentos-llm demo")
    assert commands[1].startswith("python3 -m venv .venv") and commands[1].endswith("bash scripts/test.sh")


def test_the_stability_page_names_every_public_export() -> None:
    import agentos_llm

    page = (ROOT / "docs" / "stability.md").read_text(encoding="utf-8")
    assert [name for name in agentos_llm.__all__ if f"`{name}`" not in page] == []


def test_every_docs_page_is_in_the_site_nav() -> None:
    """mkdocs --strict fails on a page left out of the nav too; this says which, without building the site."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md"))
    assert [p for p in pages if f": {p}\n" not in nav] == []


def test_the_readme_tool_loop_answers_parallel_calls_once(tmp_path: Path) -> None:
    """The README's loop, given two parallel calls, sends [user, assistant, tool, tool] (one assistant turn)."""
    (readme,) = [b for b in ALL_BLOCKS if b.path.name == "README.md" and "tool_result" in b.code]
    with WireEmulator() as emu:
        emu.script(Reply(text="2, 3, 5."), Reply(text="1 2 3 4 5"),
                   Reply(tool_calls=[("get_weather", {"city": "Lisbon"}), ("get_weather", {"city": "Oslo"})]),
                   Reply(text="Sunny in both."))
        env = {k: v for k, v in emulator_env(emu, tmp_path).items() if not k.startswith(("ANTHROPIC", "GEMINI",
                                                                                           "COHERE", "VOYAGE"))}
        done = subprocess.run([sys.executable, "-c", readme.code], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=HANG_GUARD_S, check=False)
        chats = [r.body for r in emu.requests if r.path.endswith("/chat/completions")]
    assert done.returncode == 0, done.stderr
    assert [m["role"] for m in chats[-1]["messages"]] == ["user", "assistant", "tool", "tool"]
    assert [len(m.get("tool_calls") or []) for m in chats[-1]["messages"]] == [0, 2, 0, 0]
    assert "Sunny in both." in done.stdout
