"""No command ever prints a key: distinctive canary keys are set for several providers (some served by the
emulator, one unreachable) and every command's stdout and stderr are searched for them, in-process and as
subprocesses. Also `--version`, and the exit codes of the older commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_env import ANTHROPIC_KEY, CANARIES, GEMINI_KEY, GROQ_KEY, OPENAI_KEY, Stdin, clean, run_cli

from agentos_llm import __version__
from agentos_llm.cli import main
from agentos_llm.testing import WireEmulator

COMMANDS: list[list[str]] = [
    ["providers"], ["models"], ["models", "openai", "--json"], ["models", "anthropic", "--catalog"],
    ["chat", "hello"], ["chat", "--json", "hello"], ["chat", "-c", "again", "-u", "-v"],
    ["chat", "-m", "groq/llama-3.3-70b-versatile", "-o", "max_retries=0", "hello"],  # a provider error
    ["structured", '{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}', "x"],
    ["embed", "-t", "one", "-t", "two"], ["doctor", "--timeout", "30"], ["doctor", "--offline", "--json"],
    ["quota"], ["quota", "--json"], ["usage"], ["discover", "--provider", "vllm", "--timeout", "2"],
    ["login", "openai", "--no-browser"], ["logout", "openai", "--no-revoke"],
]


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    clean(monkeypatch, tmp_path)
    with WireEmulator() as emu:
        for var, value in {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": emu.openai_base_url,
                           "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": emu.anthropic_base_url,
                           "GEMINI_API_KEY": GEMINI_KEY, "GEMINI_BASE_URL": emu.gemini_base_url,
                           "GROQ_API_KEY": GROQ_KEY, "GROQ_BASE_URL": "http://127.0.0.1:9/openai/v1",
                           "VLLM_BASE_URL": "http://127.0.0.1:9/v1"}.items():
            monkeypatch.setenv(var, value)
        yield emu


def test_no_command_prints_a_key(keyed: WireEmulator, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    codes = {}
    for argv in COMMANDS:
        monkeypatch.setattr("sys.stdin", Stdin(""))
        codes[" ".join(argv[:2])] = main(argv)
        captured = capsys.readouterr()
        for canary in CANARIES:
            assert canary not in captured.out + captured.err, (argv, canary)
    assert codes["providers"] == 0 and codes["chat hello"] == 0 and codes["chat -m"] == 1
    assert codes["doctor --timeout"] == 1  # groq does not answer
    assert codes["usage"] == 0  # nothing recorded yet is no error
    assert codes["discover --provider"] == 0  # nothing found is an answer
    assert codes["login openai"] == 2  # no sign-in configured for it: a configuration error


def test_setup_never_echoes_the_key(keyed: WireEmulator, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "written.toml"
    assert main(["setup", "--non-interactive", "--provider", "groq", "--api-key", GROQ_KEY,
                 "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert GROQ_KEY not in captured.out + captured.err
    assert GROQ_KEY in config.read_text()  # it was written where asked, and only there


@pytest.mark.parametrize("argv", [["chat", "--json", "hello"], ["doctor"]])
def test_no_key_in_subprocess_output(keyed: WireEmulator, tmp_path: Path, argv: list[str]) -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": keyed.openai_base_url, "GROQ_API_KEY": GROQ_KEY,
           "GROQ_BASE_URL": "http://127.0.0.1:9/openai/v1"}
    done = run_cli(tmp_path, *argv, **env)
    assert done.returncode in (0, 1), done.stderr
    for canary in CANARIES:
        assert canary not in done.stdout + done.stderr


def test_version(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"agentos-llm {__version__}"
    done = run_cli(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"agentos-llm {__version__}"


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["no-such-command"], ["chat", "--no-such-flag", "x"], ["embed", "--batch-size", "many"], []):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    capsys.readouterr()


def test_providers_with_nothing_configured_says_what_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    clean(monkeypatch, tmp_path)
    assert main(["providers"]) == 0
    out = capsys.readouterr().out
    assert "no provider configured; set one of: OPENROUTER_API_KEY, OPENAI_API_KEY" in out
    assert "agentos-llm setup" in out
