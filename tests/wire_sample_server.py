"""The recorded vendor responses (tests/data/wire-samples) and the loopback server that serves them as recorded.

The samples are real HTTP answers of the vendors' APIs, recorded by pydantic-ai's test suite (MIT; see
`tests/data/wire-samples/README.md` and `LICENSE`). They live in the repository, so a clone runs every
real-wire test; `SHARED_SAMPLES_FILE` is where the corpus was taken from, when this checkout sits beside it.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["SAMPLES_DIR", "SAMPLES_FILE", "SHARED_SAMPLES_FILE", "SampleSlot", "load_samples", "sample_payload",
           "serve_samples"]

TESTS = Path(__file__).resolve().parent
SAMPLES_DIR = TESTS / "data" / "wire-samples"
SAMPLES_FILE = SAMPLES_DIR / "samples.jsonl"
#: The corpus this copy was taken from: a sibling folder of the checkout, on the machines that have it.
SHARED_SAMPLES_FILE = TESTS.parent.parent / "shared" / "wire-samples" / "samples.jsonl"


def load_samples() -> list[dict[str, Any]]:
    """Every recorded sample, in file order."""
    with SAMPLES_FILE.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sample_payload(sample: dict[str, Any]) -> bytes:
    """The response body exactly as recorded: the binary AWS event stream byte for byte, else the text."""
    binary = sample.get("body_b64")
    return base64.b64decode(binary) if binary else (sample.get("body") or "").encode()


class SampleSlot:
    """The sample being served, and the requests that reached the server since (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sample: dict[str, Any] | None = None
        self._requests: list[tuple[str, str, Any]] = []

    def serve(self, sample: dict[str, Any] | None) -> None:
        """Answer every request with `sample` from now on (None: a 500 saying nothing is served)."""
        with self._lock:
            self._sample = sample
            self._requests = []

    def current(self) -> dict[str, Any] | None:
        """The sample being served."""
        with self._lock:
            return self._sample

    def record(self, method: str, path: str, body: Any) -> None:
        """Note a request (its JSON body parsed, else the raw bytes)."""
        with self._lock:
            self._requests.append((method, path, body))

    def requests(self) -> list[tuple[str, str, Any]]:
        """The requests received since the sample was set: (method, path with query, body)."""
        with self._lock:
            return list(self._requests)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    slot: SampleSlot  # set on the subclass made for each server

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.slot.record(self.command, self.path, body)
        sample = self.slot.current()
        if sample is None:
            payload = b'{"error": {"message": "no sample is being served"}}'
            self.send_response(500)
            self.send_header("content-type", "application/json")
        else:
            payload = sample_payload(sample)
            self.send_response(int(sample["status"]))
            self.send_header("content-type", sample.get("content_type") or "application/json")
            if sample.get("retry_after"):
                self.send_header("retry-after", str(sample["retry_after"]))
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests say what went wrong."""


@contextmanager
def serve_samples() -> Iterator[tuple[int, SampleSlot]]:
    """A loopback server on a free port answering every request with the slot's sample; yields (port, slot)."""
    slot = SampleSlot()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"slot": slot}))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="wire-samples", daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], slot
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
