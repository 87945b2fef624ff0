"""The Gemini dialect of the wire emulator: `generateContent`, streaming, embeddings and models.

Speaks the REST wire of the Gemini API (and the Vertex AI paths of the same methods) as the
google-genai SDK sends it: ``POST /{version}/models/{model}:generateContent``,
``:streamGenerateContent?alt=sse``, ``:countTokens``, ``:embedContent``, ``:batchEmbedContents`` (and Vertex
``:predict``), ``GET /{version}/models`` (paged) and one model. Errors come in Google's shape,
``{"error": {"code", "message", "status", "details"}}``.

Scripted :class:`Reply` items become candidates: reasoning as a ``thought`` part, text, and
``functionCall`` parts; a thought signature goes on the first function call, or (when there is
reasoning) on the last text part, as Gemini's thinking models do. ``Reply.finish_reason`` takes
Gemini's values (``"SAFETY"``, ``"MAX_TOKENS"``...) or OpenAI's (mapped). :class:`Fault.code` takes
a Google status string (``"FAILED_PRECONDITION"``) or one of ``"daily_quota"``, ``"free_tier_zero"``,
``"api_key_invalid"``, ``"wrapped_429"``, ``"context_length_exceeded"``. Standard library only.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from agentos_llm.testing.emulator import (
    Fault,
    Reply,
    Route,
    WireRequest,
    WireResponse,
    sse_event,
    text_pieces,
    word_count,
)
from agentos_llm.testing.openai_wire import embedding_vector, schema_instance
from agentos_llm.testing.schema_instances import minimal_call

__all__ = [
    "DEFAULT_EMBEDDING_DIMS",
    "EMBED_BATCH_LIMIT",
    "GOOGLE_STATUS",
    "MODEL_PAGE_LIMIT",
    "batch_embed_contents",
    "count_input_tokens",
    "count_tokens",
    "default_reply",
    "embed_content",
    "error_body",
    "fault_response",
    "generate_content",
    "get_model",
    "list_models",
    "model_object",
    "predict",
    "render_candidate_parts",
    "render_response",
    "render_stream_chunks",
    "render_usage",
    "routes",
    "signature",
]

DEFAULT_EMBEDDING_DIMS = 8
#: `batchEmbedContents` rejects more requests than this, as the real API does.
EMBED_BATCH_LIMIT = 100
#: The largest page `GET models` serves, whatever `pageSize` asks (so paging can be tested).
MODEL_PAGE_LIMIT = 50

GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}
_OPENAI_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}
_TYPE = "type.googleapis.com/google.rpc."



def signature(n: int) -> str:
    """The emulator's ``n``-th thought signature (opaque base64, like the real ones)."""
    return base64.b64encode(f"emulator-thought-signature-{n}".encode()).decode("ascii")


def _parts_text(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    return "".join(str(p.get("text", "")) for p in content.get("parts") or () if isinstance(p, dict)
                   and not p.get("thought"))


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """A rough prompt token count: the words of every text part sent (min 1)."""
    total = word_count(_parts_text(body.get("systemInstruction")))
    for content in body.get("contents") or ():
        total += word_count(_parts_text(content))
    return max(1, total)


def count_input_tokens(body: dict[str, Any]) -> int:
    """What `countTokens` answers for a request shaped as `generateContent`: `count_prompt_tokens` plus the
    words of the tool declarations (their compact JSON); 0 when there is nothing to count."""
    tools = body.get("tools")
    words = sum(word_count(json.dumps(t, separators=(",", ":"))) for t in tools) if isinstance(tools, list) else 0
    if not body.get("contents") and not body.get("systemInstruction") and not words:
        return 0
    return count_prompt_tokens(body) + words


def _lower_types(schema: Any) -> Any:
    """A Gemini (OpenAPI-subset) schema with JSON-schema type names, for `schema_instance`."""
    if isinstance(schema, list):
        return [_lower_types(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _lower_types(v) for k, v in schema.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    return out


def _forced_declaration(body: dict[str, Any]) -> dict[str, Any] | None:
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if not isinstance(config, dict) or config.get("mode") != "ANY":
        return None
    declared = [d for tool in body.get("tools") or () if isinstance(tool, dict)
                for d in tool.get("functionDeclarations") or () if isinstance(d, dict)]
    allowed = config.get("allowedFunctionNames") or [d.get("name") for d in declared]
    if len(allowed) != 1:
        return None
    return next((d for d in declared if d.get("name") == allowed[0]), None)


def default_reply(body: dict[str, Any]) -> Reply:
    """The answer when nothing is scripted: for JSON output a minimal valid document, for a forced function
    (mode ANY with one function allowed or declared) a call with minimal valid arguments, else an echo of the
    last user turn's text."""
    declaration = _forced_declaration(body)
    if declaration is not None:
        return minimal_call(declaration.get("name"), declaration.get("parametersJsonSchema")
                            or _lower_types(declaration.get("parameters") or {}))
    found = body.get("generationConfig")
    config: dict[str, Any] = found if isinstance(found, dict) else {}
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if isinstance(schema, dict):
            return Reply(text=json.dumps(schema_instance(_lower_types(schema))))
        return Reply(text="{}")
    last = ""
    for content in reversed(body.get("contents") or ()):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            last = _parts_text(content)
            if not last:
                responses = [p["functionResponse"] for p in content.get("parts") or ()
                             if isinstance(p, dict) and "functionResponse" in p]
                last = json.dumps(responses, separators=(",", ":")) if responses else ""
            break
    return Reply(text=f"Echo: {last}")


# --------------------------------------------------------------------------------------------
# Rendering (pure)
# --------------------------------------------------------------------------------------------


def _finish(reply: Reply) -> str:
    raw = reply.finish_reason
    if raw is None:
        return "STOP"
    return _OPENAI_FINISH.get(raw, raw)


def render_usage(reply: Reply, prompt_tokens: int) -> dict[str, Any]:
    """``usageMetadata``: thoughts apart from candidates, as Gemini reports them."""
    candidates = reply.completion_tokens
    if candidates is None:
        words = word_count(reply.text) + sum(word_count(json.dumps(args)) for _, args in reply.tool_calls)
        candidates = max(1, words)
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt_tokens + candidates + reply.reasoning_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
    }
    if reply.reasoning_tokens:
        usage["thoughtsTokenCount"] = reply.reasoning_tokens
    if reply.cached_tokens:
        usage["cachedContentTokenCount"] = reply.cached_tokens
    return usage


def render_candidate_parts(reply: Reply, signature_number: int) -> list[dict[str, Any]]:
    """The parts of a reply's candidate: thought, text, function calls, with one thought signature."""
    parts: list[dict[str, Any]] = []
    if reply.reasoning:
        parts.append({"text": reply.reasoning, "thought": True})
    if reply.text:
        parts.append({"text": reply.text})
    calls: list[dict[str, Any]] = [{"functionCall": {"name": name, "args": args}} for name, args in reply.tool_calls]
    if calls:
        calls[0]["thoughtSignature"] = signature(signature_number)
    elif reply.reasoning and reply.text:
        parts[-1]["thoughtSignature"] = signature(signature_number)
    return parts + calls


def render_response(reply: Reply, *, model: str, response_id: str, prompt_tokens: int,
                    signature_number: int) -> dict[str, Any]:
    """A whole ``GenerateContentResponse``."""
    parts = render_candidate_parts(reply, signature_number)
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "finishReason": _finish(reply),
                                 "index": 0}
    if not parts:
        candidate["content"] = {"role": "model"}
    return {"candidates": [candidate], "usageMetadata": render_usage(reply, prompt_tokens),
            "modelVersion": model, "responseId": response_id}


def _chunk(parts: list[dict[str, Any]], *, model: str, response_id: str, usage: dict[str, Any],
           finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": response_id}


def render_stream_chunks(reply: Reply, *, model: str, response_id: str, prompt_tokens: int,
                         signature_number: int) -> list[dict[str, Any]]:
    """The chunks of a streamed reply: one per word of thought and text, one per function call; the
    last carries the finish reason and the whole usage (earlier ones only the prompt's)."""
    partial = {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}
    pieces: list[dict[str, Any]] = []
    if reply.reasoning:
        pieces.extend({"text": p, "thought": True} for p in text_pieces(reply.reasoning))
    pieces.extend({"text": p} for p in text_pieces(reply.text))
    calls: list[dict[str, Any]] = [{"functionCall": {"name": name, "args": args}} for name, args in reply.tool_calls]
    if calls:
        calls[0]["thoughtSignature"] = signature(signature_number)
    pieces.extend(calls)
    if reply.reasoning and reply.text and not calls:
        # Thinking models sign a streamed answer in a last, empty text part.
        pieces.append({"text": "", "thoughtSignature": signature(signature_number)})
    chunks = [_chunk([p], model=model, response_id=response_id, usage=partial) for p in pieces]
    if not chunks:
        chunks.append(_chunk([{"text": ""}], model=model, response_id=response_id, usage=partial))
    last = chunks[-1]
    last["candidates"][0]["finishReason"] = _finish(reply)
    last["usageMetadata"] = render_usage(reply, prompt_tokens)
    return chunks


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def error_body(status: int, code: str | None = None, message: str | None = None,
               retry_after: str | None = None) -> dict[str, Any]:
    """A Google ``{"error": {...}}`` body for ``status`` (``code``: see the module docstring)."""
    gstatus = GOOGLE_STATUS.get(status, "UNKNOWN")
    details: list[dict[str, Any]] = []
    if code is not None and code.isupper():
        gstatus = code
    if code == "api_key_invalid":
        message = message or "API key not valid. Please pass a valid API key."
        details.append({"@type": _TYPE + "ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}})
    elif code == "context_length_exceeded":
        message = message or ("The input token count (1200000) exceeds the maximum number of tokens allowed "
                              "(1048576).")
    elif code == "wrapped_429":
        inner = error_body(429, message=message)
        return {"error": {"code": 500, "message": json.dumps(inner, indent=2), "status": "INTERNAL"}}
    elif status == 429 or code in ("daily_quota", "free_tier_zero"):
        per = "PerDay" if code == "daily_quota" else "PerMinute"
        limit = "0" if code == "free_tier_zero" else "10"
        metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
        message = message or (
            "You exceeded your current quota, please check your plan and billing details. For more "
            f"information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n"
            f"* Quota exceeded for metric: {metric}, limit: {limit}, model: gemini-2.5-flash")
        details.append({"@type": _TYPE + "QuotaFailure", "violations": [
            {"quotaMetric": metric, "quotaId": f"GenerateRequests{per}PerProjectPerModel-FreeTier",
             "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"}, "quotaValue": limit}]})
        details.append({"@type": _TYPE + "Help", "links": [
            {"description": "Learn more about Gemini API quotas",
             "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]})
        if retry_after is not None:
            details.append({"@type": _TYPE + "RetryInfo", "retryDelay": f"{retry_after}s"})
    error: dict[str, Any] = {"code": status, "message": message or f"Emulated {status} error ({gstatus})",
                             "status": gstatus}
    if details:
        error["details"] = details
    return {"error": error}


def _custom_body(body: str | dict[str, Any], status: int) -> WireResponse:
    if isinstance(body, dict):
        return WireResponse.json(body, status)
    stripped = body.lstrip()
    content_type = "text/html; charset=utf-8" if stripped.startswith("<") else "application/json; charset=UTF-8"
    return WireResponse(status=status, headers={"content-type": content_type}, body=body.encode())


def fault_response(fault: Fault, *, stream: bool, first_chunk: dict[str, Any] | None = None) -> WireResponse:
    """Render ``fault`` (malformed, an error inside the stream, or a status error) for Gemini clients."""
    if fault.malformed:
        if stream:
            events = [sse_event(first_chunk)] if first_chunk is not None else []
            return WireResponse.stream([*events, b"data: {not json\r\n\r\n"])
        return WireResponse(status=200, headers={"content-type": "application/json; charset=UTF-8"},
                            body=b'{"candidates": [')
    if fault.stream_error is not None:
        if stream:
            events = [sse_event(first_chunk)] if first_chunk is not None else []
            return WireResponse.stream([*events, sse_event({"error": fault.stream_error})])
        return WireResponse.json({"error": fault.stream_error}, fault.status)
    if fault.body is not None:
        if stream and fault.status == 200 and isinstance(fault.body, dict):
            # A 200 answer to a stream request travels as an event stream (a blocked prompt's one chunk).
            return WireResponse.stream([sse_event(fault.body).replace(b"\n\n", b"\r\n\r\n")])
        return _custom_body(fault.body, fault.status)
    body = error_body(fault.status, fault.code, retry_after=fault.retry_after)
    status = 500 if fault.code == "wrapped_429" else fault.status
    return WireResponse.json(body, status)


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def _body(request: WireRequest) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}


def _authorized(request: WireRequest) -> bool:
    return bool(request.headers.get("x-goog-api-key") or request.headers.get("authorization")
                or re.search(r"(^|&)key=", request.query))


def _unauthorized() -> WireResponse:
    message = ("Method doesn't allow unregistered callers (callers without established identity). Please use "
               "API Key or other form of API consumer identity to call this API.")
    return WireResponse.json(error_body(403, message=message), 403)


def _model_id(request: WireRequest) -> str:
    return request.params.get("model", "unknown")


def generate_content(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../models/{model}:generateContent`` or ``:streamGenerateContent``."""
    if not _authorized(request):
        return _unauthorized()
    stream = request.params.get("method") == "streamGenerateContent"
    body = _body(request)
    model = _model_id(request)
    number = request.emulator.next_id("gemini-response")
    response_id = f"emu-gemini-{number}"
    if isinstance(item, Fault):
        partial = {"promptTokenCount": 1, "totalTokenCount": 1}
        first = _chunk([{"text": "Partial"}], model=model, response_id=response_id, usage=partial)
        return fault_response(item, stream=stream, first_chunk=first)
    if not isinstance(body.get("contents"), list) or not body["contents"]:
        message = "* GenerateContentRequest.contents: contents is not specified"
        return WireResponse.json(error_body(400, message=message), 400)
    reply = item if isinstance(item, Reply) else default_reply(body)
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else count_prompt_tokens(body)
    served = reply.model or model
    sig = request.emulator.next_id("gemini-signature")
    if not stream:
        return WireResponse.json(render_response(reply, model=served, response_id=response_id,
                                                 prompt_tokens=prompt, signature_number=sig))
    chunks = render_stream_chunks(reply, model=served, response_id=response_id, prompt_tokens=prompt,
                                  signature_number=sig)
    # Google frames SSE with CRLF; the last event is a real one (no [DONE] marker).
    return WireResponse.stream([sse_event(c).replace(b"\n\n", b"\r\n\r\n") for c in chunks])


def count_tokens(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../models/{model}:countTokens``: the Gemini API's body wraps a whole
    ``generateContentRequest``, Vertex AI's carries contents, system instruction and tools at the top
    level. A scripted ``Reply.prompt_tokens`` sets the count; an empty request's ``totalTokens`` is left
    out, as the API does."""
    if not _authorized(request):
        return _unauthorized()
    if isinstance(item, Fault):
        return fault_response(item, stream=False)
    body = _body(request)
    wrapped = body.get("generateContentRequest")
    counted = count_input_tokens(wrapped if isinstance(wrapped, dict) else body)
    total = item.prompt_tokens if isinstance(item, Reply) and item.prompt_tokens is not None else counted
    if not total:
        return WireResponse.json({})
    out: dict[str, Any] = {"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}
    if "/publishers/" in request.path:
        out["totalBillableCharacters"] = total * 5
    return WireResponse.json(out)


def _embed_texts(contents: list[Any]) -> list[str]:
    return [_parts_text(c) for c in contents]


def _dims(*configs: Any) -> int:
    for config in configs:
        if isinstance(config, dict):
            value = config.get("outputDimensionality")
            if isinstance(value, int) and value > 0:
                return value
    return DEFAULT_EMBEDDING_DIMS


def _embed_error(item: Reply | Fault | None) -> WireResponse | None:
    return fault_response(item, stream=False) if isinstance(item, Fault) else None


def batch_embed_contents(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../models/{model}:batchEmbedContents``: deterministic vectors, in request order."""
    if not _authorized(request):
        return _unauthorized()
    failed = _embed_error(item)
    if failed is not None:
        return failed
    requests = _body(request).get("requests")
    if not isinstance(requests, list) or not requests:
        return WireResponse.json(error_body(400, message="* BatchEmbedContentsRequest.requests: required"), 400)
    if len(requests) > EMBED_BATCH_LIMIT:
        message = f"* BatchEmbedContentsRequest.requests: at most {EMBED_BATCH_LIMIT} requests can be in one batch"
        return WireResponse.json(error_body(400, message=message), 400)
    texts = _embed_texts([r.get("content") for r in requests])
    embeddings = [{"values": embedding_vector(t, _dims(r, r.get("embedContentConfig")))}
                  for t, r in zip(texts, requests, strict=True)]
    tokens = sum(max(1, word_count(t)) for t in texts)
    return WireResponse.json({"embeddings": embeddings, "usageMetadata": {
        "promptTokenCount": tokens, "promptTokenDetails": [{"modality": "TEXT", "tokenCount": tokens}]}})


def embed_content(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../models/{model}:embedContent``: one vector."""
    if not _authorized(request):
        return _unauthorized()
    failed = _embed_error(item)
    if failed is not None:
        return failed
    body = _body(request)
    text = _parts_text(body.get("content"))
    tokens = max(1, word_count(text))
    return WireResponse.json({"embedding": {"values": embedding_vector(text, _dims(body, body.get(
        "embedContentConfig")))}, "usageMetadata": {"promptTokenCount": tokens, "totalTokenCount": tokens}})


def predict(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """Vertex AI ``POST .../models/{model}:predict`` for text-embedding models."""
    if not _authorized(request):
        return _unauthorized()
    failed = _embed_error(item)
    if failed is not None:
        return failed
    body = _body(request)
    dims = _dims(body.get("parameters"))
    predictions = []
    for instance in body.get("instances") or ():
        text = str(instance.get("content", "")) if isinstance(instance, dict) else ""
        predictions.append({"embeddings": {"values": embedding_vector(text, dims), "statistics": {
            "token_count": max(1, word_count(text)), "truncated": False}}})
    return WireResponse.json({"predictions": predictions, "metadata": {"billableCharacterCount": 1}})


def model_object(model_id: str) -> dict[str, Any]:
    """A Gemini API ``Model`` for an emulated model id."""
    embedding = "embedding" in model_id
    methods = (["embedContent", "batchEmbedContents", "countTokens"] if embedding else
               ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"])
    out: dict[str, Any] = {
        "name": f"models/{model_id}", "version": "001", "displayName": model_id.replace("-", " ").title(),
        "description": f"Emulated {model_id}", "inputTokenLimit": 2048 if embedding else 1048576,
        "outputTokenLimit": 1 if embedding else 65536, "supportedGenerationMethods": methods,
    }
    if not embedding:
        out.update(temperature=1, topP=0.95, topK=64, maxTemperature=2)
        if not model_id.startswith(("gemini-1", "gemini-2.0", "gemma")):
            out["thinking"] = True
    return out


def _query(request: WireRequest) -> dict[str, str]:
    pairs = (p.split("=", 1) for p in request.query.split("&") if "=" in p)
    return {k: v for k, v in pairs}


def list_models(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET /{version}/models`` (pages of at most :data:`MODEL_PAGE_LIMIT`), or Vertex's publisher models."""
    if not _authorized(request):
        return _unauthorized()
    query = _query(request)
    size = min(int(query.get("pageSize") or MODEL_PAGE_LIMIT), MODEL_PAGE_LIMIT)
    start = int(query.get("pageToken") or 0)
    ids = request.emulator.models
    page = ids[start:start + size]
    if "/publishers/" in request.path:
        out: dict[str, Any] = {"publisherModels": [
            {"name": f"publishers/google/models/{m}", "versionId": "001", "launchStage": "GA"} for m in page]}
    else:
        out = {"models": [model_object(m) for m in page]}
    if start + size < len(ids):
        out["nextPageToken"] = str(start + size)
    return WireResponse.json(out)


def get_model(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET /{version}/models/{model}``: one model or Google's 404."""
    if not _authorized(request):
        return _unauthorized()
    model_id = _model_id(request)
    if model_id in request.emulator.models:
        return WireResponse.json(model_object(model_id))
    return WireResponse.json(error_body(404, message=f"models/{model_id} is not found for API version v1beta, "
                                                     "or is not supported for generateContent."), 404)


def _is_google(request: WireRequest) -> bool:
    return any(k.startswith("x-goog-") for k in request.headers) or bool(re.search(r"(^|&)key=", request.query))


_VERSION = r"/v1(?:alpha|beta\d?)?\d?/"


def routes() -> list[Route]:
    """The Gemini routes (Gemini API paths, and Vertex AI's `projects/.../publishers/google/models/...`)."""
    model = r"(?:.*/)?models/(?P<model>[^/:]+)"
    generate = re.compile(_VERSION + model + r":(?P<method>generateContent|streamGenerateContent)$")
    return [
        Route("POST", generate, generate_content),
        Route("POST", re.compile(_VERSION + model + r":countTokens$"), count_tokens),
        Route("POST", re.compile(_VERSION + model + r":batchEmbedContents$"), batch_embed_contents),
        Route("POST", re.compile(_VERSION + model + r":embedContent$"), embed_content),
        Route("POST", re.compile(_VERSION + model + r":predict$"), predict),
        Route("GET", re.compile(_VERSION + r"(?:publishers/google/)?models$"), list_models, scripted=False,
              accepts=_is_google),
        Route("GET", re.compile(_VERSION + r"models/(?P<model>[^/:]+)$"), get_model, scripted=False,
              accepts=_is_google),
    ]
