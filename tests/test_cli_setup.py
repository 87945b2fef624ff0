"""`agentos-llm setup`: non-interactive flags, self-hosted servers, and the interactive flow in a pseudo-terminal.

Servers are the built-in wire emulator and the loopback imitations of tests/local_servers.py; nothing leaves
127.0.0.1. The pseudo-terminal runs through pexpect when installed, and through the stdlib `pty` module always.
"""

from __future__ import annotations

import importlib.util
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_servers import Imitation, ollama_routes, vllm_routes

from agentos_llm.credentials import load_settings
from agentos_llm.defaults import ORDER_ENV_VAR, PROVIDERS
from agentos_llm.testing import WireEmulator

SECRET = "sk-setuptest-0123456789abcdefSECRET"
KEY_VARS = {v for spec in PROVIDERS.values() for v in (*spec.key_env, *spec.detect_env, spec.base_url_env) if v}


def clean_env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS and k != ORDER_ENV_VAR}
    return {**env, "AGENTOS_LLM_CONFIG": str(config), **extra}


def cli(config: Path, *args: str, stdin: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    # No inherited stdin: `chat` reads a piped stdin before its prompt, as `llm` does.
    return subprocess.run([sys.executable, "-m", "agentos_llm.cli", *args], capture_output=True, text=True,
                          input=stdin if stdin is not None else "", env=clean_env(config, **extra), timeout=120)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "cfg" / "config.toml"


@pytest.fixture
def emulator() -> Iterator[WireEmulator]:
    with WireEmulator() as emu:
        yield emu


# ====================================================================== non-interactive


def test_non_interactive_writes_a_key_command_profile_and_providers_shows_it(config: Path) -> None:
    command = f"{sys.executable} -c \"print('{SECRET}')\""
    done = cli(config, "setup", "--non-interactive", "--provider", "openai", "--key-command", command,
               "--default-model", "gpt-4.1-mini", "--profile", "work", "--base-url", "http://127.0.0.1:9/v1")
    assert done.returncode == 0, done.stderr
    assert "Wrote [providers.openai.profiles.work]" in done.stdout and "a key_command" in done.stdout
    openai = load_settings(config).providers["openai"]
    assert openai.profile == "work"
    assert openai.profiles["work"].key_command == command
    assert load_settings(config).default_model == "openai/gpt-4.1-mini"  # none was set: this one
    shown = cli(config, "providers")
    assert shown.returncode == 0, shown.stderr
    assert "openai (default): configured in" in shown.stdout
    assert "key from key_command:providers.openai#profiles.work" in shown.stdout
    assert "default model: openai/gpt-4.1-mini" in shown.stdout
    assert SECRET not in done.stdout + done.stderr + shown.stdout + shown.stderr


def test_non_interactive_reads_the_key_from_stdin_and_never_prints_it(config: Path) -> None:
    done = cli(config, "setup", "--non-interactive", "--provider", "groq", "--api-key", "-", stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    key = load_settings(config).providers["groq"].api_key
    assert key is not None and key.get_secret_value() == SECRET
    assert (config.stat().st_mode & 0o777) == 0o600


def test_a_second_provider_does_not_take_the_default_unless_asked(config: Path) -> None:
    cli(config, "setup", "--non-interactive", "--provider", "groq", "--key-env", "GROQ_K", "--model", "a")
    cli(config, "setup", "--non-interactive", "--provider", "mistral", "--key-env", "MISTRAL_K", "--model", "b")
    assert load_settings(config).default_model == "groq/a"
    cli(config, "setup", "--non-interactive", "--provider", "mistral", "--key-env", "MISTRAL_K", "--model", "c",
        "--make-default")
    assert load_settings(config).default_model == "mistral/c"


@pytest.mark.parametrize(("args", "expected"), [
    (["--non-interactive"], "--non-interactive needs --provider ID"),
    (["--non-interactive", "--provider", "openai"], "openai needs a key"),
    (["--non-interactive", "--provider", "opnai", "--key-env", "K"], "unknown provider 'opnai'"),
    (["--non-interactive", "--provider", "openai", "--keyring"], "--keyring keeps the key given with --api-key"),
    (["openai-compatible", "--non-interactive"], "openai-compatible has no default address: give --base-url URL"),
])
def test_non_interactive_mistakes_say_what_is_missing(config: Path, args: list[str], expected: str) -> None:
    done = cli(config, "setup", *args)
    assert done.returncode == 2
    assert expected in done.stderr
    assert not config.exists()


def test_closed_stdin_without_flags_is_an_error_not_a_hang(config: Path) -> None:
    done = cli(config, "setup", stdin="")
    assert done.returncode == 2
    assert "stdin closed (use --non-interactive with flags)" in done.stderr


# ====================================================================== self-hosted servers


def test_setup_ollama_finds_the_server_and_writes_the_model(config: Path) -> None:
    server = Imitation(ollama_routes())
    try:
        done = cli(config, "setup", "ollama", "--base-url", server.url + "/v1", "--model", "llama3.2:latest",
                   "--non-interactive")
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert f"Found Ollama at {server.url}/v1, serving 2 model(s)." in done.stdout
    ollama = load_settings(config).providers["ollama"]
    assert (ollama.base_url, ollama.default_model) == (server.url + "/v1", "llama3.2:latest")
    assert load_settings(config).default_model == "ollama/llama3.2:latest"
    shown = cli(config, "providers")  # from the config alone: no OLLAMA_BASE_URL
    assert f"ollama (default): configured in {config}" in shown.stdout


def test_setup_vllm_sends_the_given_key_and_suggests_its_model(config: Path) -> None:
    server = Imitation(vllm_routes(require_key=SECRET))
    try:
        done = cli(config, "setup", "vllm", "--base-url", server.url + "/v1", "--api-key", "-", "--non-interactive",
                   stdin=SECRET + "\n")
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    vllm = load_settings(config).providers["vllm"]
    assert vllm.default_model == "meta-llama/Llama-3.1-8B-Instruct"
    assert vllm.api_key is not None and vllm.api_key.get_secret_value() == SECRET


def test_setup_refuses_a_model_the_server_does_not_serve(config: Path) -> None:
    server = Imitation(ollama_routes())
    try:
        done = cli(config, "setup", "ollama", "--base-url", server.url + "/v1", "--model", "qwen3",
                   "--non-interactive")
    finally:
        server.close()
    assert done.returncode == 2
    assert "does not serve 'qwen3'; it serves: nomic-embed-text:latest, llama3.2:latest" in done.stderr
    assert not config.exists()


def test_setup_says_when_no_server_answers(config: Path) -> None:
    done = cli(config, "setup", "llamacpp", "--base-url", "http://127.0.0.1:9/v1", "--non-interactive")
    assert done.returncode == 1
    assert "llama.cpp server did not answer (http://127.0.0.1:9/v1: unreachable" in done.stderr
    assert "agentos-llm setup llamacpp --base-url URL" in done.stderr


# ====================================================================== interactive, in a pseudo-terminal


class Terminal:
    """A child process on a pseudo-terminal: pexpect's, or one made with the stdlib `pty` module."""

    def __init__(self, backend: str, args: list[str], env: dict[str, str]) -> None:
        self.backend = backend
        self.transcript = ""
        argv = [sys.executable, "-m", "agentos_llm.cli", *args]
        if backend == "pexpect":
            import pexpect

            self.child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=60)
            return
        import pty

        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child
            os.execve(argv[0], argv, env)
        self.pid, self.fd, self.pending = pid, fd, ""

    def expect(self, text: str) -> str:
        """Reads until `text` appears (a safety timeout of 60 s ends a hung child); returns what came before."""
        if self.backend == "pexpect":
            self.child.expect_exact(text)
            before = str(self.child.before) + text
            self.transcript += before
            return before
        deadline = time.monotonic() + 60
        while text not in self.pending:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"{text!r} never came; got: {self.pending[-2000:]!r}")
            try:
                chunk = os.read(self.fd, 4096).decode("utf-8", "replace")
            except OSError:  # EIO: the child closed the terminal
                chunk = ""
            if not chunk:
                raise AssertionError(f"the child ended before {text!r}; got: {self.pending[-2000:]!r}")
            self.pending += chunk
        end = self.pending.index(text) + len(text)
        before, self.pending = self.pending[:end], self.pending[end:]
        self.transcript += before
        return before

    def send(self, line: str) -> None:
        if self.backend == "pexpect":
            self.child.sendline(line)
        else:
            os.write(self.fd, (line + "\r").encode())

    def finish(self) -> int:
        """Reads to the end; the exit status."""
        if self.backend == "pexpect":
            import pexpect

            self.child.expect(pexpect.EOF)
            self.transcript += str(self.child.before)
            self.child.close()
            return int(self.child.exitstatus or 0)
        while True:
            try:
                chunk = os.read(self.fd, 4096).decode("utf-8", "replace")
            except OSError:
                break
            if not chunk:
                break
            self.transcript += chunk
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


BACKENDS = ["pty", pytest.param("pexpect", marks=pytest.mark.skipif(
    importlib.util.find_spec("pexpect") is None, reason="pexpect is not installed"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_interactive_setup_pastes_a_hidden_key_and_picks_from_the_live_listing(
        backend: str, config: Path, emulator: WireEmulator) -> None:
    term = Terminal(backend, ["setup"], clean_env(config))
    term.expect("Provider (number or id)")
    term.send("openai")
    term.expect("How should agentos-llm find the key?")
    term.send("1")
    term.expect("OpenAI API key (not shown): ")
    term.send(SECRET)
    term.expect("Base URL [https://api.openai.com/v1]: ")
    term.send(emulator.openai_base_url)
    listing = term.expect("Default model (number or id)")
    assert "gpt-4o-mini" in listing and "text-embedding-3-small" not in listing
    term.send("gpt-4o")
    term.expect("Check it with: agentos-llm providers")
    assert term.finish() == 0
    assert SECRET not in term.transcript  # getpass turned the echo off
    assert "Wrote [providers.openai]" in term.transcript and "the key, in the file" in term.transcript
    settings = load_settings(config)
    openai = settings.providers["openai"]
    assert openai.api_key is not None and openai.api_key.get_secret_value() == SECRET
    assert (openai.base_url, openai.default_model) == (emulator.openai_base_url, "gpt-4o")
    assert settings.default_model == "openai/gpt-4o"
    listed = [r for r in emulator.requests if r.path.endswith("/models")]
    assert listed and listed[0].headers.get("authorization") == f"Bearer {SECRET}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_interactive_server_setup_lists_the_models_to_pick_from(backend: str, config: Path) -> None:
    server = Imitation(ollama_routes())
    try:
        term = Terminal(backend, ["setup", "ollama", "--base-url", server.url + "/v1"], clean_env(config))
        listing = term.expect("Model (number or id) [llama3.2:latest]: ")
        assert "1. nomic-embed-text:latest" in listing and "2. llama3.2:latest" in listing
        term.send("")  # the suggestion
        term.expect("Check it with")
        assert term.finish() == 0
    finally:
        server.close()
    assert load_settings(config).providers["ollama"].default_model == "llama3.2:latest"


def test_interactive_setup_then_chat_uses_the_written_default(config: Path, emulator: WireEmulator) -> None:
    done = cli(config, "setup", "--non-interactive", "--provider", "openai", "--api-key", "-", "--base-url",
               emulator.openai_base_url, "--default-model", "gpt-4o-mini", stdin=SECRET + "\n")
    assert done.returncode == 0, done.stderr
    chat = cli(config, "chat", "-v", "hello from the config")
    assert chat.returncode == 0, chat.stderr
    assert "[openai/gpt-4o-mini: no model given: the default model openai/gpt-4o-mini" in chat.stderr
    assert "hello from the config" in chat.stdout  # the emulator echoes
    assert SECRET not in chat.stdout + chat.stderr


def test_keyring_setup_stores_the_key_there_and_writes_only_keyring_true(
        config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    from agentos_llm.cli import main
    from agentos_llm.registry import create_provider

    class MemoryKeyring(KeyringBackend):
        priority = 1

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.store.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.store[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            self.store.pop((service, username), None)

    before = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        assert main(["setup", "--non-interactive", "--provider", "mistral", "--api-key", SECRET, "--keyring",
                     "--profile", "lab", "--config", str(config)]) == 0
        assert backend.store == {("agentos-llm", "mistral:lab"): SECRET}
        assert SECRET not in config.read_text()
        assert load_settings(config).providers["mistral"].profiles["lab"].keyring is True
        p = create_provider("mistral", base_url="http://127.0.0.1:9/v1", env={"AGENTOS_LLM_CONFIG": str(config)})
        assert p.credential_source == "keyring:agentos-llm#profiles.lab"
    finally:
        keyring.set_keyring(before)
    out = capsys.readouterr()
    assert "the OS keyring" in out.out and SECRET not in out.out + out.err
