"""Loopback imitations of local model servers (Ollama, llama.cpp, vLLM, ...) on stdlib `http.server`,
shared by the discovery, manager and CLI tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentos_llm.discovery import MAX_RESPONSE_BYTES

Route = Callable[[BaseHTTPRequestHandler, Any], None]


def send_json(handler: BaseHTTPRequestHandler, payload: Any, *, framing: str = "length", status: int = 200) -> None:
    """Answers JSON with a Content-Length, chunked, or delimited by closing the connection."""
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    if framing == "length":
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    elif framing == "chunked":
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for i in range(0, len(body), 40):
            piece = body[i:i + 40]
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")
    else:
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
        handler.close_connection = True


class Imitation:
    """A loopback HTTP server answering `routes[(method, path)]`; records (method, path, Authorization)."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                outer.requests.append((method, self.path, self.headers.get("Authorization")))
                route = routes.get((method, self.path))
                if route is None:
                    send_json(self, {"error": "not found"}, status=404)
                else:
                    route(self, body)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


OLLAMA_SHOW = {
    "llama3.2:latest": {"model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                        "capabilities": ["completion", "tools"]},
    "nomic-embed-text:latest": {"model_info": {"general.architecture": "nomic-bert",
                                               "nomic-bert.context_length": 2048},
                                "capabilities": ["embedding"]},
}


def ollama_routes() -> dict[tuple[str, str], Route]:
    def tags(h: BaseHTTPRequestHandler, _: Any) -> None:
        # The embedding model first: the default must still be the chat model the row names.
        send_json(h, {"models": [{"name": n, "model": n, "size": 1} for n in
                                 ("nomic-embed-text:latest", "llama3.2:latest")]})

    def show(h: BaseHTTPRequestHandler, body: Any) -> None:
        send_json(h, OLLAMA_SHOW[body["model"]])

    return {("GET", "/api/tags"): tags, ("POST", "/api/show"): show}


def llamacpp_routes() -> dict[tuple[str, str], Route]:
    model = {"id": "qwen2.5-7b-instruct-q4_k_m.gguf", "object": "model", "owned_by": "llamacpp",
             "meta": {"n_ctx_train": 32768, "n_params": 7_000_000_000}}
    return {
        # llama.cpp frames by closing the connection here; /props says the context actually served.
        ("GET", "/v1/models"): lambda h, _: send_json(h, {"object": "list", "data": [model]}, framing="close"),
        ("GET", "/props"): lambda h, _: send_json(h, {"default_generation_settings": {"n_ctx": 8192},
                                                      "total_slots": 1}),
    }


def vllm_routes(require_key: str | None = None) -> dict[tuple[str, str], Route]:
    def models(h: BaseHTTPRequestHandler, _: Any) -> None:
        if require_key and h.headers.get("Authorization") != f"Bearer {require_key}":
            send_json(h, {"error": "unauthorized"}, status=401)
            return
        send_json(h, {"object": "list", "data": [
            {"id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model", "owned_by": "vllm", "max_model_len": 32768},
        ]}, framing="chunked")

    return {("GET", "/v1/models"): models}


BLOCK = b"x" * 65536


def oversized_routes(declared: bool) -> dict[tuple[str, str], Route]:
    """/v1/models answers 2 MiB: with a Content-Length saying so, or streamed without one."""

    def models(h: BaseHTTPRequestHandler, _: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if declared:
            h.send_header("Content-Length", str(2 * MAX_RESPONSE_BYTES))
        h.end_headers()
        h.close_connection = True
        try:
            for _ in range(2 * MAX_RESPONSE_BYTES // len(BLOCK)):
                h.wfile.write(BLOCK)
        except OSError:
            pass  # the prober hung up once it had enough: the point of the test

    return {("GET", "/v1/models"): models}
