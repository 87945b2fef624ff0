"""`agentos-llm chat` against the emulator: the prompt from an argument, stdin or both, typed `-o` options,
`--json`, conversations continued with `-c`, and the exit codes."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_env import OPENAI_KEY, Stdin, clean, run_cli, use_emulator

from agentos_llm.cli import main
from agentos_llm.cli_common import UsageError, parse_option_pairs, read_prompt
from agentos_llm.testing import Fault, Reply, WireEmulator


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WireEmulator]:
    clean(monkeypatch, tmp_path)
    with WireEmulator() as emulator:
        use_emulator(monkeypatch, emulator)
        yield emulator


def _conversations(tmp_path: Path) -> Path:
    return tmp_path / "data" / "agentos-llm" / "conversations"


def test_a_prompt_argument_is_answered_and_kept(emu: WireEmulator, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "hello there"]) == 0
    assert capsys.readouterr().out == "Echo: hello there\n"
    assert emu.requests[-1].body["stream"] is True  # text output streams by default
    files = list(_conversations(tmp_path).glob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    saved = json.loads(files[0].read_text())
    assert saved["model"] == "openai/gpt-4.1-mini"
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]


def test_continue_sends_the_last_conversation_and_its_model(emu: WireEmulator, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "-m", "openai/gpt-4o-mini", "-s", "Be brief.", "first"]) == 0
    assert main(["chat", "other conversation", "--no-stream"]) == 0
    assert main(["chat", "--cid", _oldest(tmp_path), "second"]) == 0
    body = emu.requests[-1].body
    assert body["model"] == "gpt-4o-mini"
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][2]["content"] == "Echo: first"
    assert main(["chat", "-c", "third"]) == 0  # the last one saved: the conversation continued just now
    assert [m["content"] for m in emu.requests[-1].body["messages"] if m["role"] == "user"] == [
        "first", "second", "third"]
    assert main(["chat", "-c", "-s", "Be verbose.", "fourth"]) == 0
    sent = emu.requests[-1].body["messages"]
    assert sent[0] == {"role": "system", "content": "Be verbose."} and sum(m["role"] == "system" for m in sent) == 1
    capsys.readouterr()


def _oldest(tmp_path: Path) -> str:
    files = sorted(_conversations(tmp_path).glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return files[0].stem


def test_no_log_keeps_nothing_and_continue_without_history_is_a_usage_error(
        emu: WireEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "-n", "private"]) == 0
    assert not _conversations(tmp_path).exists()
    assert main(["chat", "-c", "again"]) == 2
    assert "no conversation to continue" in capsys.readouterr().err
    assert main(["chat", "--cid", "nope", "again"]) == 2
    assert "no conversation 'nope'" in capsys.readouterr().err
    assert len(emu.requests) == 1


def test_stdin_dash_and_pipe_before_the_prompt(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", Stdin("from stdin\n"))
    assert main(["chat", "-"]) == 0
    assert emu.requests[-1].body["messages"][-1]["content"] == "from stdin\n"
    monkeypatch.setattr(sys, "stdin", Stdin("a log line\n"))
    assert main(["chat", "--no-stream", "summarize"]) == 0
    assert emu.requests[-1].body["messages"][-1]["content"] == "a log line\n\nsummarize"
    assert "stream" not in emu.requests[-1].body or not emu.requests[-1].body["stream"]
    capsys.readouterr()


@pytest.mark.parametrize(("argv", "stdin"), [(["chat", ""], ""), (["chat", "   "], ""), (["chat"], ""),
                                             (["chat", "-"], " \n"), (["chat"], "\n\n")])
def test_an_empty_prompt_is_a_usage_error_and_sends_nothing(emu: WireEmulator, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str], argv: list[str],
                                                            stdin: str) -> None:
    monkeypatch.setattr(sys, "stdin", Stdin(stdin))
    assert main(argv) == 2
    assert "empty prompt" in capsys.readouterr().err
    assert emu.requests == []


def test_options_are_typed_and_reach_the_request(emu: WireEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "hi", "-o", "temperature=0.25", "-o", "max_tokens=40", "-o", "seed=7", "-o", "stop=END",
                 "-o", "parallel_tool_calls=false", "-o", 'extra={"logprobs": true}', "-o", "user=42"]) == 0
    body = emu.requests[-1].body
    assert body["temperature"] == 0.25 and body["seed"] == 7 and body["stop"] == ["END"]
    assert body["logprobs"] is True and body["user"] == "42"
    assert body.get("max_tokens", body.get("max_completion_tokens")) == 40
    capsys.readouterr()


def test_option_parsing() -> None:
    assert parse_option_pairs(["temperature=1", "reasoning-effort=low", "stop=[\"a\", \"b\"]", "store=yes"]) == {
        "temperature": 1, "reasoning_effort": "low", "stop": ["a", "b"], "store": True}
    with pytest.raises(UsageError, match="unknown option 'temprature' \\(did you mean 'temperature'\\?\\)"):
        parse_option_pairs(["temprature=1"])
    with pytest.raises(UsageError, match="-o temperature=hot: "):
        parse_option_pairs(["temperature=hot"])
    with pytest.raises(UsageError, match=r"-o seed=1\.5"):
        parse_option_pairs(["seed=1.5"])
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_option_pairs(["temperature"])
    with pytest.raises(UsageError, match="api_key is refused"):
        parse_option_pairs(["api_key=abc"])
    with pytest.raises(UsageError, match="tool_choice 'search' names no tool"):
        parse_option_pairs(["tool_choice=search"])


def test_unknown_option_is_a_usage_error_naming_it(emu: WireEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "hi", "-o", "temprature=0.2"]) == 2
    assert "unknown option 'temprature'" in capsys.readouterr().err
    assert emu.requests == []


def test_read_prompt() -> None:
    assert read_prompt("hi", Stdin("", tty=True)) == "hi"
    assert read_prompt(None, Stdin("", tty=True)) is None  # a terminal and no prompt: a session
    assert read_prompt(None, Stdin("piped")) == "piped"
    assert read_prompt("q", Stdin("")) == "q"
    with pytest.raises(UsageError):
        read_prompt(None, Stdin(""))


def test_json_is_the_whole_response_without_the_key(emu: WireEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu.script(Reply(text="Forty-two.", prompt_tokens=11, completion_tokens=3))
    assert main(["chat", "--json", "the answer?"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["text"] == "Forty-two." and data["provider"] == "openai" and data["finish_reason"] == "stop"
    assert data["usage"]["input_tokens"] == 11 and data["usage"]["output_tokens"] == 3
    assert data["message"]["role"] == "assistant" and data["api"] == "openai-chat"
    assert OPENAI_KEY not in out


def test_tool_calls_are_shown(emu: WireEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu.script(Reply.tool_call("get_weather", {"city": "Lisbon"}))
    tools = json.dumps([{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}])
    assert main(["chat", "weather?", "-o", f"tools={tools}"]) == 0
    assert '[tool call get_weather({"city": "Lisbon"})]' in capsys.readouterr().out


def test_provider_errors_exit_1_usage_and_configuration_errors_exit_2(
        emu: WireEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    emu.script(Fault(status=401, code="invalid_api_key"))
    assert main(["chat", "hi", "-o", "max_retries=0"]) == 1
    err = capsys.readouterr().err
    assert "AuthenticationError" in err and OPENAI_KEY not in err
    assert main(["chat", "hi", "-m", "voyage/voyage-3"]) == 2  # a known provider that is not configured
    assert "VOYAGE_API_KEY" in capsys.readouterr().err
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["chat", "hi"]) == 2
    assert "no provider configured" in capsys.readouterr().err


def test_chat_as_a_subprocess_reads_a_pipe(emu: WireEmulator, tmp_path: Path) -> None:
    done = run_cli(tmp_path, "chat", "-u", "Reply to this.", stdin="Piped context.",
                   OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=emu.openai_base_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Echo: Piped context.\n\nReply to this.\n"
    assert "usage: " in done.stderr
    again = run_cli(tmp_path, "chat", "-c", "More.", OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=emu.openai_base_url)
    assert again.returncode == 0, again.stderr
    assert len(emu.requests[-1].body["messages"]) == 3
    empty = run_cli(tmp_path, "chat", OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=emu.openai_base_url)
    assert empty.returncode == 2 and "empty prompt" in empty.stderr
    for result in (done, again, empty):
        assert OPENAI_KEY not in result.stdout + result.stderr


def test_interactive_session_on_a_terminal_streams_and_keeps_the_history(emu: WireEmulator, tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    from cli_env import subprocess_env

    env = subprocess_env(tmp_path, OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=emu.openai_base_url)
    child = pexpect.spawn(sys.executable, ["-m", "agentos_llm", "chat", "-m", "openai/gpt-4o-mini"], env=env,
                          encoding="utf-8", timeout=60)
    try:
        child.expect_exact("Chatting with openai/gpt-4o-mini")
        child.expect_exact("> ")
        child.sendline("hello session")
        child.expect_exact("Echo: hello session")
        child.expect_exact("> ")
        child.sendline("")  # a blank line sends nothing
        child.expect_exact("> ")
        child.sendline("second turn")
        child.expect_exact("Echo: second turn")
        child.expect_exact("> ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    chats = [r.body for r in emu.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2 and all(body["stream"] is True for body in chats)
    assert [m["content"] for m in chats[1]["messages"]] == ["hello session", "Echo: hello session", "second turn"]
    assert OPENAI_KEY not in str(child.before)
    assert len(list(_conversations(tmp_path).glob("*.json"))) == 1


def test_session_reports_a_failed_turn_and_leaves_it_out(emu: WireEmulator, capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    from agentos_llm.cli_chat import Session
    from agentos_llm.cli_common import configured_manager
    from agentos_llm.cli_conversations import ConversationStore

    lines = iter(["first", "broken", "exit", "never read"])
    store = ConversationStore(tmp_path / "conv")
    manager = configured_manager()
    session = Session(manager, store.new("openai/gpt-4o-mini"), {"max_retries": 0}, store,
                      read=lambda _prompt: next(lines))
    emu.script(Reply(text="fine"), Fault(status=400, code="invalid_request_error"))
    assert session.run() == 0
    manager.close()
    captured = capsys.readouterr()
    assert "fine" in captured.out and "InvalidRequestError" in captured.err
    assert [m.role for m in store.latest().messages] == ["user", "assistant"]  # type: ignore[union-attr]
    assert next(lines) == "never read"
