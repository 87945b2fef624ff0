"""Loopback servers for tests/test_http_bridge.py: a real forward proxy (proxy.py, from PyPI) that records what
passes through it, and a TLS front for any loopback HTTP server, with a certificate of a throwaway CA (trustme).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_START_WITHIN = 60.0  # seconds proxy.py may take to start on a loaded machine (a bound, not an assertion)


class ForwardProxy:
    """`python -m proxy` on 127.0.0.1 with `proxy_plugin.RecordingPlugin`: `lines()` is what it handled."""

    def __init__(self, workdir: Path) -> None:
        self.log = workdir / "proxy-requests.log"
        self.log.touch()
        port_file = workdir / "proxy.port"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
               "AGENTOS_TEST_PROXY_LOG": str(self.log)}
        for name in [n for n in env if n.lower().endswith("_proxy")]:
            del env[name]  # the proxy itself connects directly
        self._stderr = (workdir / "proxy.stderr").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
             "--plugins", "proxy_plugin.RecordingPlugin", "--num-workers", "1", "--num-acceptors", "1",
             "--log-level", "WARNING", "--timeout", "30"],
            env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self.port = self._wait_for_port(port_file, workdir)
        self.url = f"http://127.0.0.1:{self.port}"

    def _wait_for_port(self, port_file: Path, workdir: Path) -> int:
        deadline = time.monotonic() + _START_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            text = port_file.read_text().strip() if port_file.exists() else ""
            if text.isdigit():
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", int(text)), timeout=1):
                    return int(text)
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"proxy.py did not start: {(workdir / 'proxy.stderr').read_text()[-2000:]}")

    def lines(self) -> list[str]:
        """One line per request handled: "METHOD host:port path" (CONNECT for a tunnel)."""
        return self.log.read_text(encoding="utf-8").splitlines()

    def clear(self) -> None:
        self.log.write_text("", encoding="utf-8")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()


class TLSFront:
    """Accepts TLS on 127.0.0.1 with `context` and relays the plain bytes to `target_port` (a loopback HTTP
    server), so that server is reached over https; a client that refuses the certificate just gets closed."""

    def __init__(self, target_port: int, context: ssl.SSLContext) -> None:
        outer = self
        self.handshakes_failed = 0

        class Relay(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    tls = context.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError):
                    outer.handshakes_failed += 1
                    return
                with tls, socket.create_connection(("127.0.0.1", target_port)) as upstream:
                    _pump(tls, upstream)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Relay)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pump(tls: ssl.SSLSocket, upstream: socket.socket) -> None:
    with selectors.DefaultSelector() as selector:
        selector.register(tls, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, tls)
        while True:
            for key, _ in selector.select(timeout=30):
                source: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = source.recv(65536)
                    # Decrypted bytes already read off the socket do not wake the selector: drain them now.
                    while isinstance(source, ssl.SSLSocket) and source.pending():
                        data += source.recv(source.pending())
                except (ssl.SSLError, OSError):
                    return
                if not data:
                    return
                try:
                    key.data.sendall(data)
                except OSError:
                    return
