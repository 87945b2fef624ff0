"""The loopback mock every peer calls: OpenAI chat completions, Anthropic messages and Gemini generateContent,
whole and streamed (SSE). Standard library only; run it in its own process:

    python benchmarks/peers/mock_server.py [--port 0]     # prints its root URL, serves until stdin closes

Answers are deterministic and cheap (cached per request shape), so the server costs every peer the same:
- with tools in the request: one call of the first tool, arguments `{"city": "Paris", "unit": "celsius"}`;
- otherwise the text of the last user message, echoed (a 20 KB prompt gets a 20 KB answer);
- streamed: one content event per whitespace-separated word of that text (a 500-word prompt, 500 events),
  plus the API's framing events (role, finish, usage).
One asyncio loop, HTTP/1.1 keep-alive, no threads: hundreds of concurrent connections cost no thread each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable
from typing import Any

TOOL_ARGS = {"city": "Paris", "unit": "celsius"}
_GEMINI = re.compile(r"^/v1(?:beta|alpha)?/models/([^/:]+):(generateContent|streamGenerateContent)")


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _sse(events: list[Any], named: bool = False, done: bool = False) -> bytes:
    out = []
    for ev in events:
        head = f"event: {ev['type']}\n".encode() if named else b""
        out.append(head + b"data: " + _dump(ev) + b"\n\n")
    if done:
        out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _last_user(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            return _text_of(m.get("content"))
    return ""


def _pieces(text: str) -> list[str]:
    words = text.split()
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)] or [""]


# ---------------------------------------------------------------------- OpenAI chat completions


def openai_chat(body: dict[str, Any]) -> tuple[bytes, bool]:
    """The body of an answer and whether it is an event stream."""
    model = body.get("model", "gpt-4o-mini")
    text = _last_user(body.get("messages", []))
    tool = body["tools"][0]["function"]["name"] if body.get("tools") else None
    n_in = max(1, len(text.split()))
    head = {"id": "chatcmpl-mock", "created": 1700000000, "model": model, "system_fingerprint": "fp_mock"}
    if not body.get("stream"):
        if tool:
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_mock1", "type": "function",
                 "function": {"name": tool, "arguments": json.dumps(TOOL_ARGS)}}]}
            finish, n_out = "tool_calls", 12
        else:
            message, finish, n_out = {"role": "assistant", "content": text}, "stop", n_in
        return _dump({**head, "object": "chat.completion", "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}}), False
    chunk = {**head, "object": "chat.completion.chunk"}
    events: list[Any] = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                "finish_reason": None}]}]
    if tool:
        events.append({**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_mock1", "type": "function",
             "function": {"name": tool, "arguments": json.dumps(TOOL_ARGS)}}]}, "finish_reason": None}]})
        finish, n_out = "tool_calls", 12
    else:
        pieces = _pieces(text)
        events += [{**chunk, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                   for p in pieces]
        finish, n_out = "stop", len(pieces)
    events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**chunk, "choices": [], "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                                                           "total_tokens": n_in + n_out}})
    return _sse(events, done=True), True


# ---------------------------------------------------------------------- Anthropic messages


def anthropic_messages(body: dict[str, Any]) -> tuple[bytes, bool]:
    model = body.get("model", "claude-sonnet-4-5")
    text = _last_user(body.get("messages", []))
    tool = body["tools"][0]["name"] if body.get("tools") else None
    n_in = max(1, len(text.split()))
    if tool:
        blocks: list[dict[str, Any]] = [{"type": "tool_use", "id": "toolu_mock1", "name": tool, "input": TOOL_ARGS}]
        stop, n_out = "tool_use", 12
    else:
        blocks, stop, n_out = [{"type": "text", "text": text}], "end_turn", n_in
    msg = {"id": "msg_mock", "type": "message", "role": "assistant", "model": model, "stop_sequence": None}
    if not body.get("stream"):
        return _dump({**msg, "content": blocks, "stop_reason": stop,
                      "usage": {"input_tokens": n_in, "output_tokens": n_out}}), False
    events: list[Any] = [{"type": "message_start", "message": {**msg, "content": [], "stop_reason": None,
                                                                "usage": {"input_tokens": n_in, "output_tokens": 1}}}]
    if tool:
        events += [{"type": "content_block_start", "index": 0,
                    "content_block": {"type": "tool_use", "id": "toolu_mock1", "name": tool, "input": {}}},
                   {"type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": json.dumps(TOOL_ARGS)}}]
    else:
        events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
                   for p in _pieces(text)]
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": n_out}},
               {"type": "message_stop"}]
    return _sse(events, named=True), True


# ---------------------------------------------------------------------- Gemini generateContent


def gemini_generate(body: dict[str, Any], model: str, stream: bool) -> tuple[bytes, bool]:
    contents = body.get("contents", [])
    text = ""
    for c in reversed(contents):
        if c.get("role", "user") == "user":
            text = "".join(p.get("text", "") for p in c.get("parts", []))
            break
    decls = [d for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
    n_in = max(1, len(text.split()))
    head = {"modelVersion": model, "responseId": "mock-gemini"}

    def cand(parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
        c: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            c["finishReason"] = finish
        return c

    def usage(n_out: int) -> dict[str, Any]:
        return {"promptTokenCount": n_in, "candidatesTokenCount": n_out, "totalTokenCount": n_in + n_out}

    if decls:
        parts: list[dict[str, Any]] = [{"functionCall": {"name": decls[0]["name"], "args": TOOL_ARGS}}]
        if not stream:
            return _dump({**head, "candidates": [cand(parts, "STOP")], "usageMetadata": usage(12)}), False
        return _sse([{**head, "candidates": [cand(parts, "STOP")], "usageMetadata": usage(12)}]), True
    if not stream:
        return _dump({**head, "candidates": [cand([{"text": text}], "STOP")], "usageMetadata": usage(n_in)}), False
    pieces = _pieces(text)
    events: list[Any] = [{**head, "candidates": [cand([{"text": p}], None)]} for p in pieces[:-1]]
    events.append({**head, "candidates": [cand([{"text": pieces[-1]}], "STOP")], "usageMetadata": usage(len(pieces))})
    return _sse(events), True


# ---------------------------------------------------------------------- HTTP


def route(method: str, target: str, raw: bytes) -> tuple[int, bytes, bool]:
    """Status, body and whether the body is an event stream."""
    path = target.partition("?")[0]
    if method != "POST":
        return 404, _dump({"error": {"message": f"no route {method} {path}"}}), False
    body = json.loads(raw or b"{}")
    handler: Callable[[], tuple[bytes, bool]]
    if path.endswith("/chat/completions"):
        handler = lambda: openai_chat(body)  # noqa: E731
    elif path.endswith("/messages"):
        handler = lambda: anthropic_messages(body)  # noqa: E731
    elif m := _GEMINI.match(path):
        model, verb = m.group(1), m.group(2)
        handler = lambda: gemini_generate(body, model, verb == "streamGenerateContent")  # noqa: E731
    else:
        return 404, _dump({"error": {"message": f"no route {path}"}}), False
    out, stream = handler()
    return 200, out, stream


class Cache:
    """Answers by (target, request body): the workloads repeat the same few requests."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.data: dict[tuple[str, str, bytes], tuple[int, bytes, bool]] = {}

    def answer(self, method: str, target: str, raw: bytes) -> tuple[int, bytes, bool]:
        key = (method, target, raw)
        hit = self.data.get(key)
        if hit is None:
            hit = route(method, target, raw)
            if len(self.data) >= self.limit:
                self.data.clear()
            self.data[key] = hit
        return hit


async def _serve_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, cache: Cache) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int((await reader.readline()).split(b";")[0].strip(), 16)
                    data = await reader.readexactly(size + 2)
                    if size == 0:
                        break
                    chunks.append(data[:-2])
                raw = b"".join(chunks)
            else:
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
            status, out, stream = cache.answer(method, target, raw)
            ctype = b"text/event-stream" if stream else b"application/json"
            reason = b"OK" if status == 200 else b"Not Found"
            writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                         % (status, reason, ctype, len(out)) + out)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def serve(port: int = 0, ready: Callable[[str], None] | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Serves on 127.0.0.1 until `stop` is set (forever without one); `ready` gets the root URL."""
    cache = Cache()
    server = await asyncio.start_server(lambda r, w: _serve_conn(r, w, cache), "127.0.0.1", port, backlog=2048)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    if ready:
        ready(url)
    async with server:
        if stop is None:
            await server.serve_forever()
        else:
            await stop.wait()


async def _main(port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # Serve until the parent closes our stdin: no orphan server if the runner dies.
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.readline() else None)
    await serve(port, lambda url: print(url, flush=True), stop)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    asyncio.run(_main(ap.parse_args().port))
