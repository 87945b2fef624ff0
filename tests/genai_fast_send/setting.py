"""What the tests of `agentos_llm.providers.genai_fast_send` share besides their fixtures (conftest.py): request
bodies, the answers and errors the recording server gives, a spy on an API client's `_request_once`, and the
two ways of sending (the SDK's and the fast send's)."""

from __future__ import annotations

import copy
import json
from typing import Any

from google import genai
from recording_server import Record, Route

from agentos_llm.providers import genai_fast_send
from agentos_llm.providers.genai_fast_send import GenaiFastSend

KEY = "AIzaSyFastSendTestKey-0123456789abcdef"
MODEL = "gemini-2.5-flash"
GEN = f"models/{MODEL}:generateContent"
STREAM = f"models/{MODEL}:streamGenerateContent?alt=sse"
BODY: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}],
                        "generationConfig": {"maxOutputTokens": 16}}
UNICODE_BODY: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "héllo ✓ 日本語 🙂 \u2028 \"quoted\" back\\slash\n"}]}],
    "systemInstruction": {"parts": [{"text": "Ünïcödé \u2029 \U0001f600"}]},
    "generationConfig": {"temperature": 0.7, "stopSequences": ["\"", "\\", "\u2028"]},
}
LARGE_BODY: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "lorem ipsum é " * 14_500}]}]}
PROBE_MARK = b"fast_send_probe"
GEMINI_JSON = (b'{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"finishReason":"STOP"}],'
               b'"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":1,"totalTokenCount":2},'
               b'"modelVersion":"gemini-2.5-flash"}')
SSE_BODY = b"data: " + GEMINI_JSON + b"\r\n\r\n"

# ---------------------------------------------------------------------- the setting


class Spy:
    """Counts the calls of an API client's `_request_once` (set on the instance) and delegates each to the SDK's
    own; `probes` are the calls `GenaiFastSend` made to learn a shape (caught before anything was sent)."""

    def __init__(self, api: Any) -> None:
        self.real = api._request_once
        self.calls = 0
        self.probes = 0
        api._request_once = self

    @property
    def sent(self) -> int:
        return self.calls - self.probes

    def __call__(self, request: Any, stream: bool = False) -> Any:
        self.calls += 1
        try:
            return self.real(request, stream)
        except genai_fast_send._Caught:
            self.probes += 1
            raise


def sdk_send(api: Any, method: str, path: str, body: dict[str, Any], options: Any = None) -> Any:
    """One attempt through the SDK, as the provider sends without `GenaiFastSend` (`_build_request` edits the
    body it is given, so it gets a copy)."""
    return api._request_once(api._build_request(method, path, copy.deepcopy(body), options), True)


def fast_send(fs: GenaiFastSend, method: str, path: str, body: dict[str, Any], options: Any = None) -> Any:
    return fs.send(method, path, copy.deepcopy(body), options)


def read(response: Any) -> bytes:
    """The body of an SDK `HttpResponse` over an open `httpx2.Response`, read and closed."""
    stream = response.response_stream
    try:
        return stream.read()  # type: ignore[no-any-return]
    finally:
        stream.close()


def without_date(headers: Any) -> dict[str, str]:
    """Response headers as the SDK keeps them, without `date` (a second may pass between two calls)."""
    return {k: v for k, v in dict(headers).items() if k.lower() != "date"}


def fast_for(client: genai.Client) -> GenaiFastSend:
    fs = GenaiFastSend.for_api(client._api_client)
    assert fs is not None
    return fs


def bodies(records: list[Record]) -> list[bytes]:
    return [r.body for r in records]


def google_error(code: int, status: str, message: str, details: list[Any] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return json.dumps({"error": error}).encode()


ERROR_ROUTES = {
    "e400": Route(400, google_error(400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "foo"',
                                    [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                      "fieldViolations": [{"description": "Unknown name \"foo\""}]}])),
    "e401": Route(401, google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")),
    "e403": Route(403, google_error(403, "PERMISSION_DENIED", "API key not valid. Please pass a valid API key.",
                                    [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                      "domain": "googleapis.com", "metadata": {"service": "generativelanguage"}}])),
    "e404": Route(404, google_error(404, "NOT_FOUND", "models/nope is not found for API version v1beta")),
    "e429": Route(429, google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
                                    [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]),
                  {"Retry-After": "7"}),
    "e500": Route(500, google_error(500, "INTERNAL", "An internal error has occurred.")),
    "e503": Route(503, google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")),
    "e502html": Route(502, b"<html><body>Bad Gateway</body></html>", content_type="text/html"),
    "e500empty": Route(500, b""),
}
