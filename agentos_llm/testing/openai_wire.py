"""The OpenAI dialect of the wire emulator: chat completions, embeddings and models.

The ``render_*`` / ``*_chunks`` helpers are pure functions turning a :class:`Reply` (plus the
ids the handler allocated) into OpenAI wire JSON; the handlers glue them to the
emulator core through :func:`routes`.  Standard library only.

Compatible hosts' quirks are scripted per reply with ``Reply(..., quirk=...)`` (names in
:data:`QUIRKS`), and two hosts are recognised by path: under ``/api/v1/`` the emulator answers as
OpenRouter (the ``provider`` that served the call, ``usage.cost`` when the request asks for usage
accounting, keep-alive comments, priced model listing), and ``/api/tags`` / ``/api/show`` are
Ollama's native model listing.

By concern: chat rendering in :mod:`.openai_wire_chat`, errors and rate-limit headers in
:mod:`.openai_wire_faults`, embeddings and model listings in :mod:`.openai_wire_listings`, schema instances in
:mod:`.schema_instances`; this module holds the chat handler and :func:`routes`, and re-exports every name.
"""

from __future__ import annotations

import re
import time
from typing import Any

from agentos_llm.testing.emulator import Fault, Reply, Route, WireRequest, WireResponse, sse_event
from agentos_llm.testing.openai_wire_chat import (
    _KEEPALIVE,
    OPENROUTER_PRICING,
    OPENROUTER_UPSTREAM,
    QUIRKS,
    SYSTEM_FINGERPRINT,
    _body,
    _quirks,
    chunk,
    completion_chunks,
    count_prompt_tokens,
    default_reply,
    openrouter_cost,
    render_completion,
    render_usage,
)
from agentos_llm.testing.openai_wire_faults import (
    RATE_LIMIT_REQUESTS,
    RATE_LIMIT_TOKENS,
    error_body,
    fault_response,
    rate_limit_headers,
)
from agentos_llm.testing.openai_wire_listings import (
    DEFAULT_EMBEDDING_DIMS,
    MODEL_CREATED,
    embedding_vector,
    embeddings,
    list_models,
    ollama_show,
    ollama_tags,
    openrouter_models,
    render_embeddings,
    retrieve_model,
)
from agentos_llm.testing.schema_instances import schema_instance

__all__ = [
    "DEFAULT_EMBEDDING_DIMS",
    "MODEL_CREATED",
    "OPENROUTER_PRICING",
    "OPENROUTER_UPSTREAM",
    "QUIRKS",
    "RATE_LIMIT_REQUESTS",
    "RATE_LIMIT_TOKENS",
    "SYSTEM_FINGERPRINT",
    "chat_completions",
    "chunk",
    "completion_chunks",
    "count_prompt_tokens",
    "default_reply",
    "embedding_vector",
    "embeddings",
    "error_body",
    "fault_response",
    "list_models",
    "ollama_show",
    "ollama_tags",
    "openrouter_cost",
    "openrouter_models",
    "rate_limit_headers",
    "render_completion",
    "render_embeddings",
    "render_usage",
    "retrieve_model",
    "routes",
    "schema_instance",
]


def chat_completions(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST .../chat/completions``: the scripted item, or the default reply."""
    body = _body(request)
    stream = body.get("stream") is True
    model = str(body.get("model") or "unknown")
    created = int(time.time())
    completion_id = f"chatcmpl-emu-{request.emulator.next_id('chatcmpl')}"
    if isinstance(item, Fault):
        first = chunk(completion_id, model, created, {"role": "assistant", "content": "", "refusal": None})
        return fault_response(item, stream=stream, first_chunk=first)
    reply = item if isinstance(item, Reply) else default_reply(body)
    model = reply.model or model
    n = body.get("n")
    choices = n if isinstance(n, int) and n > 1 else 1
    call_ids = [
        [f"call_emu_{request.emulator.next_id('call')}" for _ in reply.tool_calls] for _ in range(choices)
    ]
    prompt_tokens = (
        reply.prompt_tokens if reply.prompt_tokens is not None else count_prompt_tokens(body.get("messages"))
    )
    quirks = _quirks(reply, request)
    accounting = isinstance(body.get("usage"), dict) and body["usage"].get("include") is True
    if not stream:
        payload = render_completion(
            reply,
            completion_id=completion_id,
            model=model,
            created=created,
            call_ids=call_ids,
            prompt_tokens=prompt_tokens,
            quirks=quirks,
        )
        if "openrouter" in quirks:
            _as_openrouter(payload, accounting)
            return WireResponse.json(payload)
        return WireResponse.json(payload, headers=rate_limit_headers(request, prompt_tokens))
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    chunks = completion_chunks(
        reply,
        completion_id=completion_id,
        model=model,
        created=created,
        call_ids=call_ids,
        prompt_tokens=prompt_tokens,
        include_usage=include_usage or ("openrouter" in quirks and accounting),
        quirks=quirks,
    )
    if "openrouter" in quirks:
        for c in chunks:
            _as_openrouter(c, accounting)
    events = [sse_event(c) for c in chunks]
    if quirks & {"keepalive_comments", "openrouter"}:
        events = [_KEEPALIVE, *(e for event in events for e in (event, _KEEPALIVE))]
    if "no_done" not in quirks:
        events.append(b"data: [DONE]\n\n")
    response = WireResponse.stream(events)
    if "openrouter" not in quirks:
        response.headers.update(rate_limit_headers(request, prompt_tokens))
    return response


def _as_openrouter(payload: dict[str, Any], accounting: bool) -> None:
    """OpenRouter's additions: the upstream that served the call, and the cost when usage accounting is on."""
    payload["provider"] = OPENROUTER_UPSTREAM
    usage = payload.get("usage")
    if accounting and isinstance(usage, dict):
        usage["cost"] = openrouter_cost(usage["prompt_tokens"], usage["completion_tokens"])
        usage["is_byok"] = False


def routes() -> list[Route]:
    """The OpenAI routes (any path prefix, e.g. ``/v1`` or an Azure deployment path), OpenRouter's
    listing under ``/api/v1`` and Ollama's native listing."""
    return [
        Route("POST", re.compile(r"/chat/completions$"), chat_completions),
        Route("POST", re.compile(r"/embeddings$"), embeddings),
        Route("GET", re.compile(r"/api/v1/models$"), openrouter_models, scripted=False),
        Route("GET", re.compile(r"^/api/tags$"), ollama_tags, scripted=False),
        Route("POST", re.compile(r"^/api/show$"), ollama_show, scripted=False),
        Route("GET", re.compile(r"/models$"), list_models, scripted=False),
        Route("GET", re.compile(r"/models/(?P<model_id>.+)$"), retrieve_model, scripted=False),
    ]
