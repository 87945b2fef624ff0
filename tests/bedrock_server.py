"""A loopback stand-in for AWS Bedrock (`bedrock-runtime` and the `bedrock` control plane) on stdlib
`http.server`, for the Bedrock provider tests: it answers from a script of `Answer`s (else a default per
operation), frames streams in the AWS binary event-stream format, and records every request it got.
"""

from __future__ import annotations

import json
import select
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

EVENTSTREAM = "application/vnd.amazon.eventstream"


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (lengths, CRC), string headers, payload, message CRC."""
    raw = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
                   for k, v in headers.items())
    prelude = struct.pack(">II", 16 + len(raw) + len(payload), len(raw))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(kind: str, body: dict[str, Any]) -> bytes:
    """A ConverseStream event frame ({"contentBlockDelta": {...}} once botocore parses it)."""
    return frame({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                 json.dumps(body).encode())


def exception(kind: str, message: str) -> bytes:
    """An exception frame inside a 200 stream (e.g. "throttlingException")."""
    return frame({":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"},
                 json.dumps({"message": message}).encode())


def text_stream(*pieces: str, stop: str = "end_turn", usage: tuple[int, int] = (5, 3)) -> list[bytes]:
    """The frames of a plain text answer."""
    frames = [event("messageStart", {"role": "assistant"})]
    frames += [event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}}) for p in pieces]
    frames += [event("contentBlockStop", {"contentBlockIndex": 0}), event("messageStop", {"stopReason": stop}),
               event("metadata", {"usage": {"inputTokens": usage[0], "outputTokens": usage[1],
                                            "totalTokens": sum(usage)}, "metrics": {"latencyMs": 12}})]
    return frames


def converse_body(text: str = "Hello from Bedrock", stop: str = "end_turn") -> dict[str, Any]:
    """A whole Converse answer."""
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": stop,
            "usage": {"inputTokens": 11, "outputTokens": 4, "totalTokens": 15}, "metrics": {"latencyMs": 40}}


@dataclass
class Answer:
    """One scripted answer: JSON (or raw bytes) with a status and headers, or a stream of frames.

    `hang_after` keeps a stream open after that many frames until the client closes the connection;
    `delay` waits before answering.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    frames: list[bytes] | None = None
    hang_after: int | None = None
    delay: float = 0.0


@dataclass
class Seen:
    """A request as the server got it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def model(self) -> str | None:
        """The URL-decoded model id of a `/model/<id>/<op>` path."""
        if "/model/" not in self.path:
            return None
        return unquote(self.path.split("/model/", 1)[1].rsplit("/", 1)[0])


LISTING = {
    "modelSummaries": [
        {"modelId": "anthropic.claude-sonnet-4-5-20250929-v1:0", "modelArn": "arn:aws:bedrock:us-east-1::"
         "foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0", "modelName": "Claude Sonnet 4.5",
         "providerName": "Anthropic", "inputModalities": ["TEXT", "IMAGE"], "outputModalities": ["TEXT"],
         "responseStreamingSupported": True, "inferenceTypesSupported": ["INFERENCE_PROFILE"]},
        {"modelId": "amazon.titan-embed-text-v2:0", "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/"
         "amazon.titan-embed-text-v2:0", "modelName": "Titan Text Embeddings V2", "inputModalities": ["TEXT"],
         "outputModalities": ["EMBEDDING"], "responseStreamingSupported": False},
        {"modelId": "cohere.rerank-v3-5:0", "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/"
         "cohere.rerank-v3-5:0", "modelName": "Rerank 3.5", "inputModalities": ["TEXT"],
         "outputModalities": ["TEXT"], "responseStreamingSupported": False},
    ],
}
PROFILES = {
    "inferenceProfileSummaries": [
        {"inferenceProfileName": "US Claude Sonnet 4.5", "inferenceProfileId":
         "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "inferenceProfileArn": "arn:aws:bedrock:us-east-1:"
         "123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0", "status": "ACTIVE",
         "type": "SYSTEM_DEFINED", "models": [{"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/"
                                               "anthropic.claude-sonnet-4-5-20250929-v1:0"}]},
    ],
}


def _default(seen: Seen) -> Answer:
    path = seen.path.split("?", 1)[0]
    if path.endswith("/converse"):
        return Answer(body=converse_body())
    if path.endswith("/converse-stream"):
        return Answer(frames=text_stream("Hel", "lo"))
    if path.endswith("/count-tokens"):
        return Answer(body={"inputTokens": 7})
    if path == "/foundation-models":
        return Answer(body=LISTING)
    if path == "/inference-profiles":
        return Answer(body=PROFILES)
    if path.endswith("/invoke"):
        body = seen.body if isinstance(seen.body, dict) else {}
        if "documents" in body:
            scores = [0.1 + 0.8 * (i % 3) / 2 for i in range(len(body["documents"]))]
            return Answer(body={"results": [{"index": i, "relevance_score": s} for i, s in enumerate(scores)]})
        if "texts" in body:
            return Answer(body={"embeddings": {"float": [[0.5, 0.25, float(i)] for i in range(len(body["texts"]))]}},
                          headers={"x-amzn-bedrock-input-token-count": str(2 * len(body["texts"]))})
        if "singleEmbeddingParams" in body:
            return Answer(body={"embeddings": [{"embeddingType": "TEXT", "embedding": [0.1, 0.2]}]})
        return Answer(body={"embedding": [0.1, 0.2, 0.3], "inputTextTokenCount": 3})
    return Answer(404, {"message": f"no route for {path}"}, {"x-amzn-errortype": "UnknownOperationException"})


class BedrockImitation:
    """The server: `script` answers first (in order), then the defaults; `requests` is what arrived."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.script: list[Answer] = []
        self.closed = threading.Event()
        """Set when a client closed a stream the server was holding open (`Answer.hang_after`)."""
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.requests.append(seen)
                    answer = outer.script.pop(0) if outer.script else _default(seen)
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.frames is not None:
                    outer._stream(self, answer)
                else:
                    payload = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                    self.send_response(answer.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("x-amzn-requestid", "req-0001")
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def _guarded(self) -> None:
                try:
                    self._handle()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client left first (a timeout or a cancelled call)

            do_GET = do_POST = _guarded

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="bedrock-imitation", daemon=True)

    def _stream(self, handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        assert answer.frames is not None
        handler.send_response(answer.status)
        handler.send_header("content-type", EVENTSTREAM)
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        frames = answer.frames if answer.hang_after is None else answer.frames[:answer.hang_after]
        for data in frames:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()
        if answer.hang_after is None:
            handler.wfile.write(b"0\r\n\r\n")
            return
        # Hold the stream open; the client sends nothing more, so the socket turns readable only when it closes.
        sock = handler.connection
        ready, _, _ = select.select([sock], [], [], 30)
        if ready and sock.recv(1) == b"":
            self.closed.set()
        handler.close_connection = True

    @property
    def url(self) -> str:
        """The server root (what `base_url` takes)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, *answers: Answer) -> None:
        """Queues answers for the next requests."""
        with self._lock:
            self.script.extend(answers)

    def reset(self) -> None:
        """Forgets requests and script."""
        with self._lock:
            self.requests.clear()
            self.script.clear()
        self.closed.clear()

    def paths(self) -> list[str]:
        """The paths requested, in order."""
        with self._lock:
            return [r.path for r in self.requests]

    def __enter__(self) -> BedrockImitation:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def serve() -> Iterator[BedrockImitation]:
    """A running imitation (for fixtures)."""
    with BedrockImitation() as server:
        yield server
