"""A real Redis server for tests: `redis-server` on 127.0.0.1 and a free port, nothing written to disk.

`start_redis()` starts one (the caller stops it) with `--save "" --appendonly no`; `redis_server`
(session fixture) shares one across the session, and `redis_prefix` gives each test its own key prefix,
so tests never see each other's keys. Tests that kill or pause a server start their own with
`start_redis()`.

Tests skip only when the `redis-server` binary is absent (Debian's `redis-server` package); with
AGENTOS_LLM_REQUIRE_REDIS=1 (CI) they fail instead. A server that is installed but does not start is a
failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import pytest

REQUIRE_ENV = "AGENTOS_LLM_REQUIRE_REDIS"


def find_redis_server() -> str | None:
    """The `redis-server` binary, or None."""
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """A running throwaway server."""

    binary: str
    port: int
    root: Path
    proc: subprocess.Popen[bytes] | None = None
    paused: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - the server writes to it until stopped
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        stop_at = time.monotonic() + timeout
        while not _answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > stop_at:
                tail = (self.root / "redis.log").read_text(errors="replace")[-2000:]
                self.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{tail}")
            time.sleep(0.02)

    def kill(self) -> None:
        """Kills the server at once (SIGKILL): what a crash looks like to its clients."""
        if self.proc is not None and self.proc.poll() is None:
            if self.paused:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        """Stops the process (SIGSTOP): connections stay open and nothing answers (a hung server)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                if self.paused:
                    self.resume()
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_redis(port: int | None = None) -> RedisServer:
    """Starts a server (the caller stops it); skips (or fails, under REQUIRE_ENV) without the binary."""
    binary = find_redis_server()
    if binary is None:
        reason = "no redis-server binary on PATH; install Debian's `redis-server` package"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}")
        pytest.skip(reason)
    server = RedisServer(binary=binary, port=port or _free_port(), root=Path(tempfile.mkdtemp(prefix="agentos-redis-")))
    try:
        server.start()
    except BaseException:
        shutil.rmtree(server.root, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis server for the whole test session."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


_prefixes = count(1)


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test of this session uses."""
    return f"t{os.getpid()}-{next(_prefixes)}:"


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The shared server's URL (use `redis_prefix` for the keys)."""
    return redis_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of this test's own, to kill or pause."""
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()
