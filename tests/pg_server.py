"""A real PostgreSQL server for tests: a throwaway cluster on 127.0.0.1 and a free port.

`postgres_url` (session fixture) finds `initdb`, `pg_ctl` and `postgres` on PATH or in
/usr/lib/postgresql/*/bin (Debian's `postgresql` package), creates a cluster in a temporary
directory, starts it listening on 127.0.0.1 only (its socket in the same directory), and stops it
and removes the directory at the end. PostgreSQL refuses to run as root, so as root the server
runs as the `postgres` system user (which Debian's package creates), else `nobody`.

Tests skip only when no PostgreSQL binaries exist; with AGENTOS_LLM_REQUIRE_POSTGRES=1 (CI) they
fail instead. A server that is installed but does not start is a failure, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_ENV = "AGENTOS_LLM_REQUIRE_POSTGRES"
_TOOLS = ("initdb", "pg_ctl", "postgres")
_SUPERUSER = "agentos"


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) if x.isdigit() else 0
                                                                           for x in Path(p).parent.name.split(".")])
    candidates += [Path(p) for p in reversed(versions)]
    for d in candidates:
        if all(os.access(d / t, os.X_OK) for t in _TOOLS):
            return d
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


@dataclass
class PgServer:
    """A running throwaway cluster."""

    bin_dir: Path
    root: Path
    port: int
    user: pwd.struct_passwd | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user is None:
            return cmd
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", self.user.pw_name, "--", *cmd]
        return ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}", "--init-groups", *cmd]

    def run(self, *args: str, timeout: float = 60.0) -> None:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=self.root,
                              env={**os.environ, "LC_ALL": "C"})
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                               f"{tail}")

    def start(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", _SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync",
                 "--no-instructions")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=60"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w",
                 "-t", "60", "start", timeout=90.0)

    def stop(self) -> None:
        try:
            self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PgServer:
    """Starts a cluster (the caller stops it); skips (or fails, under REQUIRE_ENV) without binaries."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = ("no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or in "
                  "/usr/lib/postgresql/*/bin; install Debian's `postgresql` package")
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but {reason}")
        pytest.skip(reason)
    user = _run_as()
    # Directly under the temp dir: pytest's own tmp dirs are private to root, which the server user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="agentos-pg-"))
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    server = PgServer(bin_dir=bin_dir, root=root, port=_free_port(), user=user)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole test session."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


_tables = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: PgServer) -> str:
    """The server's URL (each test gets its own table through `pg_table`)."""
    return postgres_server.url


@pytest.fixture
def pg_table() -> str:
    """A table name no other test of this session uses."""
    return f"usage_t{os.getpid()}_{next(_tables)}"
