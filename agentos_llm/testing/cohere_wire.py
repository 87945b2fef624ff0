"""The Cohere dialect of the wire emulator: `POST /v2/chat` (whole and SSE), `POST /v2/embed`, `POST /v2/rerank`,
`POST /v1/tokenize` and `GET /v1/models`.

The ``render_*`` / ``chat_events`` helpers are pure functions turning a :class:`Reply` (plus the ids the
handler allocated) into Cohere JSON; the handlers glue them to the emulator core through :func:`routes`.
Standard library only.

How a :class:`Reply` maps: ``text`` is a text content part, ``reasoning`` a thinking part (first),
``tool_calls`` are ``tool_calls`` with ids ``<name>_emu<N>`` and a ``tool_plan``; ``finish_reason`` is the
raw value (OpenAI names such as ``"stop"`` are translated). ``prompt_tokens`` is ``usage.tokens.input_tokens``
(cache included), ``cached_tokens`` is ``usage.cached_tokens``. When the request carries ``documents``, the
answer's first word cites the first document.

Errors are Cohere's top-level ``{"message": ...}``; a 429 scripted with ``Fault(429, code="monthly")`` names
the monthly limit of trial keys. Every route wants an ``Authorization: Bearer`` header (401 otherwise).

``GET /v1/models`` is shared with the OpenAI dialect: requests from the Cohere SDK (its
``X-Fern-SDK-Name: cohere`` header) get Cohere's shape.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from agentos_llm.testing.emulator import (
    Fault,
    Reply,
    Route,
    WireRequest,
    WireResponse,
    argument_pieces,
    sse_event,
    text_pieces,
    word_count,
)
from agentos_llm.testing.openai_wire import embedding_vector, schema_instance
from agentos_llm.testing.schema_instances import minimal_call

__all__ = [
    "DEFAULT_EMBEDDING_DIMS",
    "chat",
    "chat_events",
    "default_reply",
    "embed",
    "error_body",
    "fault_response",
    "list_models",
    "render_chat",
    "render_usage",
    "rerank",
    "routes",
    "tokenize",
]

DEFAULT_EMBEDDING_DIMS = 8
EMBED_BATCH_LIMIT = 96
TOKENIZE_LIMIT = 65536
_JSON = (",", ":")
_Handler = Callable[[WireRequest, "Reply | Fault | None"], WireResponse]
_FINISH = {"stop": "COMPLETE", "length": "MAX_TOKENS", "tool_calls": "TOOL_CALL", "content_filter": "ERROR_TOXIC",
           "error": "ERROR"}
_MESSAGES = {
    400: "invalid request: the request is not valid",
    401: "invalid api token",
    402: "Please add a payment method to continue using the API.",
    403: "You do not have access to this model.",
    404: "model not found, make sure the correct model ID was used and that you have access to the model.",
    422: "invalid request: unprocessable entity",
    429: "You are using a Trial key, which is limited to 20 API calls / minute. You can continue to use the Trial "
         "key for free or upgrade to a Production key with higher rate limits at 'https://dashboard.cohere.com/"
         "api-keys'.",
    500: "internal server error, this has been reported to our developers.",
    503: "service unavailable",
}
_MONTHLY = ("You are using a Trial key, which is limited to 1000 API calls / month. You can continue to use the "
            "Trial key for free or upgrade to a Production key with higher rate limits at "
            "'https://dashboard.cohere.com/api-keys'.")


# --------------------------------------------------------------------------------------------
# Default replies (pure)
# --------------------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """A rough prompt token count: words of every message (min 1)."""
    total = 0
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            total += word_count(_text_of(message.get("content")))
    return max(1, total)


def default_reply(body: dict[str, Any]) -> Reply:
    """The answer when nothing is scripted: for `response_format` a minimal valid JSON document (`{}` without
    a schema), for a required call of a single tool a call with minimal valid arguments, else an echo of the
    last user message's text."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        schema = response_format.get("json_schema")
        return Reply(text=json.dumps(schema_instance(schema)) if isinstance(schema, dict) else "{}")
    tools = body.get("tools")
    if body.get("tool_choice") == "REQUIRED" and isinstance(tools, list) and len(tools) == 1:
        function = (tools[0].get("function") if isinstance(tools[0], dict) else None) or {}
        return minimal_call(function.get("name"), function.get("parameters"))
    last = ""
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            last = _text_of(message.get("content"))
            break
    return Reply(text=f"Echo: {last}")


# --------------------------------------------------------------------------------------------
# Rendering (pure)
# --------------------------------------------------------------------------------------------


def _finish(reply: Reply) -> str:
    if reply.finish_reason is not None:
        return _FINISH.get(reply.finish_reason, reply.finish_reason)
    return "TOOL_CALL" if reply.tool_calls else "COMPLETE"


def render_usage(reply: Reply, prompt_tokens: int) -> dict[str, Any]:
    """The `usage` object: `tokens` (cache included) and `billed_units` (without the cache)."""
    completion = reply.completion_tokens
    if completion is None:
        words = word_count(reply.text) + word_count(reply.reasoning or "")
        words += sum(word_count(json.dumps(args, separators=_JSON)) for _, args in reply.tool_calls)
        completion = max(1, words + reply.reasoning_tokens)
    usage: dict[str, Any] = {
        "billed_units": {"input_tokens": max(0, prompt_tokens - reply.cached_tokens), "output_tokens": completion},
        "tokens": {"input_tokens": prompt_tokens, "output_tokens": completion},
    }
    if reply.cached_tokens:
        usage["cached_tokens"] = reply.cached_tokens
    return usage


def _tool_plan(reply: Reply) -> str:
    return f"I will call {', '.join(name for name, _ in reply.tool_calls)} to answer."


def _citations(reply: Reply, documents: Any) -> list[dict[str, Any]]:
    if not reply.text or not isinstance(documents, list) or not documents:
        return []
    first = documents[0]
    doc = first if isinstance(first, dict) else {"data": {"text": str(first)}}
    doc_id = str(doc.get("id") or "doc:0")
    word = reply.text.split()[0]
    return [{"start": 0, "end": len(word), "text": word, "type": "TEXT_CONTENT",
             "sources": [{"type": "document", "id": doc_id, "document": {"id": doc_id, **(doc.get("data") or {})}}]}]


def render_chat(reply: Reply, *, response_id: str, tool_ids: list[str], prompt_tokens: int,
                documents: Any = None) -> dict[str, Any]:
    """A whole v2 chat response."""
    message: dict[str, Any] = {"role": "assistant"}
    content: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        content.append({"type": "thinking", "thinking": reply.reasoning})
    if reply.text or not (reply.tool_calls or reply.reasoning is not None):
        content.append({"type": "text", "text": reply.text})
    if reply.tool_calls:
        message["tool_plan"] = _tool_plan(reply)
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for call_id, (name, args) in zip(tool_ids, reply.tool_calls, strict=True)]
    if content:
        message["content"] = content
    citations = _citations(reply, documents)
    if citations:
        message["citations"] = citations
    return {"id": response_id, "finish_reason": _finish(reply), "message": message,
            "usage": render_usage(reply, prompt_tokens)}


def _message_start(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "type": "message-start", "delta": {"message": {
        "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}


def chat_events(reply: Reply, *, response_id: str, tool_ids: list[str], prompt_tokens: int,
                documents: Any = None) -> list[tuple[str, dict[str, Any]]]:
    """The `(event name, data)` pairs of a streamed `reply`, `message-start` to `message-end`."""
    whole = render_chat(reply, response_id=response_id, tool_ids=tool_ids, prompt_tokens=prompt_tokens,
                        documents=documents)
    message = whole["message"]
    events: list[tuple[str, dict[str, Any]]] = [("message-start", _message_start(response_id))]

    def add(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, **fields}))

    for index, part in enumerate(message.get("content") or ()):
        kind = part["type"]
        add("content-start", index=index, delta={"message": {"content": {"type": kind, kind: ""}}})
        for piece in text_pieces(part[kind]):
            add("content-delta", index=index, delta={"message": {"content": {kind: piece}}})
        add("content-end", index=index)
    if message.get("tool_plan"):
        for piece in text_pieces(message["tool_plan"]):
            add("tool-plan-delta", delta={"message": {"tool_plan": piece}})
    for index, call in enumerate(message.get("tool_calls") or ()):
        start = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        add("tool-call-start", index=index, delta={"message": {"tool_calls": start}})
        for piece in argument_pieces(call["function"]["arguments"]):
            add("tool-call-delta", index=index, delta={"message": {"tool_calls": {"function": {"arguments": piece}}}})
        add("tool-call-end", index=index)
    for index, citation in enumerate(message.get("citations") or ()):
        add("citation-start", index=index, delta={"message": {"citations": citation}})
        add("citation-end", index=index)
    add("message-end", delta={"finish_reason": whole["finish_reason"], "usage": whole["usage"]})
    return events


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def error_body(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    """Cohere's `{"message": ...}` for `status`; `code="monthly"` on a 429 names the trial key's monthly limit."""
    if message is None:
        if status == 429 and code == "monthly":
            message = _MONTHLY
        else:
            message = _MESSAGES.get(status) or f"Emulated {status} error"
            if code is not None:
                message = f"{message} ({code})"
    return {"message": message}


def fault_response(fault: Fault, *, stream: bool, first_event: dict[str, Any] | None = None) -> WireResponse:
    """Render `fault` (`malformed`, `stream_error` or a status error) for Cohere clients.

    In a stream, `stream_error` is a `message-end` event carrying `error` (its `message`) after
    `first_event`. `drop_after_events` is handled by the emulator core.
    """
    started = [sse_event(first_event, "message-start")] if first_event is not None else []
    if fault.malformed:
        if stream:
            return WireResponse.stream([*started, b"event: content-start\ndata: {not json\n\n"])
        return WireResponse(status=200, headers={"content-type": "application/json"}, body=b'{"id": "broken')
    if fault.stream_error is not None:
        text = str(fault.stream_error.get("message") or fault.stream_error)
        if stream:
            end = {"type": "message-end", "delta": {"error": text, "finish_reason": "ERROR"}}
            return WireResponse.stream([*started, sse_event(end, "message-end")])
        return WireResponse.json({"message": text}, fault.status)
    if fault.body is not None:
        if isinstance(fault.body, dict):
            return WireResponse.json(fault.body, fault.status)
        return WireResponse(status=fault.status, headers={"content-type": "text/plain; charset=utf-8"},
                            body=fault.body.encode())
    return WireResponse.json(error_body(fault.status, fault.code), fault.status)


def _invalid(message: str) -> WireResponse:
    return WireResponse.json({"message": f"invalid request: {message}"}, 400)


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def _body(request: WireRequest) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}


def _authorized(request: WireRequest) -> bool:
    return request.headers.get("authorization", "").startswith("Bearer ") and len(
        request.headers["authorization"]) > len("Bearer ")


def chat(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`POST /v2/chat`: the scripted item, or the default reply; whole or SSE as asked."""
    body = _body(request)
    stream = body.get("stream") is True
    response_id = f"emu-chat-{request.emulator.next_id('cohere-chat')}"
    if isinstance(item, Fault):
        return fault_response(item, stream=stream, first_event=_message_start(response_id))
    if not isinstance(body.get("model"), str) or not body["model"]:
        return _invalid("model must be a non-empty string")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return _invalid("messages must be a non-empty list")
    reply = item if isinstance(item, Reply) else default_reply(body)
    tool_ids = [f"{name}_emu{request.emulator.next_id('cohere-call')}" for name, _ in reply.tool_calls]
    prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else count_prompt_tokens(body)
    documents = body.get("documents")
    if not stream:
        return WireResponse.json(render_chat(reply, response_id=response_id, tool_ids=tool_ids,
                                             prompt_tokens=prompt_tokens, documents=documents))
    events = chat_events(reply, response_id=response_id, tool_ids=tool_ids, prompt_tokens=prompt_tokens,
                         documents=documents)
    return WireResponse.stream([sse_event(data, name) for name, data in events])


def embed(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`POST /v2/embed`: deterministic float vectors (`output_dimension` long, else 8); `input_type` is required
    and at most 96 texts are taken, as on the real API. A popped `Reply` only adds its delay."""
    if isinstance(item, Fault):
        return fault_response(item, stream=False)
    body = _body(request)
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return _invalid("texts must be a non-empty list of strings")
    if len(texts) > EMBED_BATCH_LIMIT:
        return _invalid(f"too many texts - max number of texts is {EMBED_BATCH_LIMIT}, received {len(texts)}")
    if not body.get("input_type"):
        return _invalid("valid input_type must be provided with the provided model")
    dims = body.get("output_dimension")
    dims = dims if isinstance(dims, int) and dims > 0 else DEFAULT_EMBEDDING_DIMS
    return WireResponse.json({
        "id": f"emu-embed-{request.emulator.next_id('cohere-embed')}",
        "embeddings": {"float": [embedding_vector(t, dims) for t in texts]},
        "texts": texts,
        "meta": {"api_version": {"version": "2"},
                 "billed_units": {"input_tokens": sum(max(1, word_count(t)) for t in texts)}},
        "response_type": "embeddings_by_type",
    })


def _relevance(query: str, document: str) -> float:
    words = set(query.lower().split())
    found = set(document.lower().split())
    return round(len(words & found) / len(words), 6) if words else 0.0


def rerank(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`POST /v2/rerank`: documents scored by the share of the query's words they contain, best first
    (ties in input order), cut to `top_n`; one search unit per 100 documents."""
    if isinstance(item, Fault):
        return fault_response(item, stream=False)
    body = _body(request)
    query, documents = body.get("query"), body.get("documents")
    if not isinstance(query, str) or not query:
        return _invalid("query must be a non-empty string")
    if not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
        return _invalid("documents must be a non-empty list of strings")
    scored = sorted(((i, _relevance(query, d)) for i, d in enumerate(documents)), key=lambda s: (-s[1], s[0]))
    top_n = body.get("top_n")
    if isinstance(top_n, int) and top_n > 0:
        scored = scored[:top_n]
    return WireResponse.json({
        "id": f"emu-rerank-{request.emulator.next_id('cohere-rerank')}",
        "results": [{"index": i, "relevance_score": s} for i, s in scored],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": -(-len(documents) // 100)}},
    })


def _token_id(word: str) -> int:
    return int.from_bytes(hashlib.sha256(word.encode()).digest()[:3], "big")


def tokenize(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`POST /v1/tokenize`: one token per word (a scripted `Reply.prompt_tokens` sets the count); `text` must be
    1 to 65536 characters, as on the real API."""
    if isinstance(item, Fault):
        return fault_response(item, stream=False)
    body = _body(request)
    text = body.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= TOKENIZE_LIMIT:
        return _invalid(f"text must be between 1 and {TOKENIZE_LIMIT} characters")
    if not isinstance(body.get("model"), str):
        return _invalid("model must be a string")
    words = text.split()
    scripted = item.prompt_tokens if isinstance(item, Reply) else None
    if scripted is not None:
        words = [f"t{i}" for i in range(scripted)]
    return WireResponse.json({"tokens": [_token_id(w) for w in words], "token_strings": words,
                              "meta": {"api_version": {"version": "1"}}})


def _model_object(name: str) -> dict[str, Any]:
    features: list[str]
    if "rerank" in name:
        endpoints, features, window = ["rerank"], [], 4096
    elif "embed" in name:
        endpoints, features, window = ["embed"], [], 512 if "v3" in name else 128000
    else:
        endpoints, window = ["chat"], 256000
        features = ["vision", "json_schema"] if "vision" in name else ["tools", "strict_tools", "json_schema"]
        if "reasoning" in name:
            features.append("reasoning")
    return {"name": name, "endpoints": endpoints, "finetuned": False, "context_length": float(window),
            "tokenizer_url": f"https://storage.googleapis.com/cohere-public/tokenizers/{name}.json",
            "default_endpoints": [], "features": features, "is_deprecated": False}


def _query(request: WireRequest) -> dict[str, str]:
    out = {}
    for pair in request.query.split("&"):
        key, _, value = pair.partition("=")
        if key:
            out[key] = value
    return out


def list_models(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """`GET /v1/models`: the emulator's `models`, paged by `page_size` and `page_token` as Cohere does."""
    query = _query(request)
    start = int(query["page_token"]) if query.get("page_token", "").isdigit() else 0
    size = int(float(query["page_size"])) if re.fullmatch(r"\d+(\.0+)?", query.get("page_size", "")) else 20
    ids = list(request.emulator.models)
    page = ids[start:start + max(1, size)]
    payload: dict[str, Any] = {"models": [_model_object(m) for m in page]}
    if start + len(page) < len(ids):
        payload["next_page_token"] = str(start + len(page))
    return WireResponse.json(payload)


def _is_cohere(request: WireRequest) -> bool:
    return request.headers.get("x-fern-sdk-name") == "cohere"


def _guarded(handler: _Handler) -> _Handler:
    def handle(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
        if not _authorized(request):
            return WireResponse.json({"message": "no api key supplied"}, 401)
        return handler(request, item)

    handle.__doc__ = handler.__doc__
    return handle


def routes() -> list[Route]:
    """The Cohere routes."""
    return [
        Route("POST", re.compile(r"^/v2/chat$"), _guarded(chat)),
        Route("POST", re.compile(r"^/v2/embed$"), _guarded(embed)),
        Route("POST", re.compile(r"^/v2/rerank$"), _guarded(rerank)),
        Route("POST", re.compile(r"^/v1/tokenize$"), _guarded(tokenize)),
        Route("GET", re.compile(r"^/v1/models$"), _guarded(list_models), scripted=False, accepts=_is_cohere),
    ]
