"""docs/models.md: its examples run as written, against the loopback wire emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from surface_helpers import clean_env

from agentos_llm.model_definitions import defined_models, undefine_model
from agentos_llm.registry import _DEFINED
from agentos_llm.testing import WireEmulator

DOC = Path(__file__).resolve().parent.parent / "docs" / "models.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    clean_env(monkeypatch, tmp_path)
    before, models = set(_DEFINED), set(defined_models())
    yield
    for name in set(defined_models()) - models:
        undefine_model(name)
    for name in set(_DEFINED) - before:
        del _DEFINED[name]


def test_the_documented_models_run(clean: None, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    define, inspect_and_health = python_blocks()
    with WireEmulator() as emu:
        monkeypatch.setenv("DARKBLOOM_BASE_URL", emu.openai_base_url)
        monkeypatch.setenv("DARKBLOOM_API_KEY", "darkbloom-secret-123456")
        scope = {"__name__": "docs_example"}
        exec(compile(define, str(DOC), "exec"), scope)
        exec(compile(inspect_and_health, str(DOC), "exec"), scope)
        requests = emu.requests
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Echo: Say hi. definition"
    assert out[1] == "[('darkbloom_chat', 'definition')]"
    assert out[2].startswith("darkbloom_chat -> darkbloom/darkbloom-7b ('darkbloom_chat' is a defined model")
    assert out[3] == "POST ['chat', 'completions'] Bearer [REDACTED] 0.2"
    assert out[4] == "200 openai-chat darkbloom True"
    assert out[5] == "[('darkbloom', 'ok')]"
    chats = [r for r in requests if r.path == "/v1/chat/completions"]
    assert chats[0].body["top_a"] == 0.1 and chats[0].body["max_tokens"] == 50
    assert chats[-1].headers["authorization"] == "Bearer user-7-key-0123456789"
    assert "user-7-key" not in "\n".join(out)
