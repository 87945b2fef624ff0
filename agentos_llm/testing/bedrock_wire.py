"""The AWS Bedrock dialect of the wire emulator, as boto3's ``bedrock-runtime`` and ``bedrock`` clients speak it.

Runtime routes (the model id in the path is URL-encoded by botocore, ``us.amazon.nova-micro-v1%3A0``):
``POST /model/{id}/converse`` (a Converse answer), ``/converse-stream`` (the same answer as an AWS binary
event stream, see :mod:`agentos_llm.testing.aws_eventstream`), ``/invoke`` (embeddings and rerank, chosen by
the body's shape, see :mod:`agentos_llm.testing.bedrock_invoke`) and ``/count-tokens``. Control-plane routes:
``GET /foundation-models`` and ``GET /inference-profiles``. Standard library only.

How a :class:`Reply` maps: ``reasoning`` is a ``reasoningContent`` block (with a deterministic signature),
``text`` a text block, ``tool_calls`` are ``toolUse`` blocks; ``finish_reason`` is the raw ``stopReason``
(OpenAI names such as ``"length"`` are translated). ``prompt_tokens`` is the whole prompt, cache included, as
in the other dialects; the wire's ``inputTokens`` is what is left after ``cached_tokens`` (cache reads) and
``cache_write_tokens`` (cache writes), and ``totalTokens`` adds all four counts, as Bedrock reports them.

Errors are AWS's: a ``{"message": ...}`` body and the type in the ``x-amzn-errortype`` header, chosen by the
status (429 ``ThrottlingException``, 400 ``ValidationException``...) or named by ``Fault.code`` (e.g.
``"ServiceQuotaExceededException"``). In a stream, ``Fault.stream_error`` (``{"type": "throttlingException",
"message": ...}``; the type defaults from ``Fault.code`` or the status) is an ``exception`` message after
``messageStart``, and ``Fault.malformed`` a message whose CRC is wrong.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote

from agentos_llm.testing.anthropic_wire import count_input_tokens as anthropic_input_tokens
from agentos_llm.testing.anthropic_wire import signature_for
from agentos_llm.testing.aws_eventstream import CONTENT_TYPE, event_message, exception_message
from agentos_llm.testing.bedrock_invoke import invoke_answer
from agentos_llm.testing.emulator import (
    Fault,
    Reply,
    Route,
    WireRequest,
    WireResponse,
    argument_pieces,
    text_pieces,
    word_count,
)
from agentos_llm.testing.openai_wire import schema_instance
from agentos_llm.testing.schema_instances import minimal_call

__all__ = [
    "ERROR_TYPES",
    "FOUNDATION_MODELS",
    "INFERENCE_PROFILE_MODEL",
    "LATENCY_MS",
    "converse",
    "converse_stream",
    "count_input_tokens",
    "count_prompt_tokens",
    "count_tokens",
    "default_reply",
    "error_response",
    "error_type",
    "fault_response",
    "invoke",
    "list_foundation_models",
    "list_inference_profiles",
    "render_blocks",
    "render_converse",
    "render_usage",
    "routes",
    "stream_events",
]

#: The ``metrics.latencyMs`` every answer reports.
LATENCY_MS = 321
#: The AWS error type for a status, unless ``Fault.code`` names one.
ERROR_TYPES = {400: "ValidationException", 401: "UnrecognizedClientException", 403: "AccessDeniedException",
               404: "ResourceNotFoundException", 408: "ModelTimeoutException", 424: "ModelErrorException",
               429: "ThrottlingException", 500: "InternalServerException", 503: "ServiceUnavailableException"}
_MESSAGES = {
    "ValidationException": "Malformed input request, please reformat your input and try again.",
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
    "ResourceNotFoundException": "Model not found.",
    "ModelTimeoutException": "Model has timed out in processing the request. Try your request again.",
    "ModelErrorException": "The model returned an error. Try your request again.",
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ServiceQuotaExceededException": "Too many tokens per day, please wait before trying again.",
    "InternalServerException": "The system encountered an unexpected error during processing. Try your request again.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
    "ModelStreamErrorException": "The model stream ended with an error. Try your request again.",
}
#: The exception types a ConverseStream can carry (botocore's union members).
_STREAM_EXCEPTIONS = ("internalServerException", "modelStreamErrorException", "validationException",
                      "throttlingException", "serviceUnavailableException")
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                 "content_filter": "content_filtered"}
_JSON = (",", ":")
_PAD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_REGION = re.compile(r"Credential=[^/,]+/\d{8}/([a-z0-9-]+)/")
_ERROR_TAIL = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


# --------------------------------------------------------------------------------------------
# Prompts and default replies (pure)
# --------------------------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    out: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            out.append(block["text"])
        elif isinstance(block.get("json"), (dict, list)):
            out.append(json.dumps(block["json"], separators=_JSON))
        elif isinstance(block.get("toolResult"), dict):
            out.append(_content_text(block["toolResult"].get("content")))
    return " ".join(o for o in out if o)


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """A rough prompt token count: words of the system blocks and of every message (min 1)."""
    total = word_count(_content_text(body.get("system")))
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            total += word_count(_content_text(message.get("content")))
    return max(1, total)


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    config = body.get("toolConfig")
    tools = config.get("tools") if isinstance(config, dict) else None
    return [t["toolSpec"] for t in tools or () if isinstance(t, dict) and isinstance(t.get("toolSpec"), dict)]


def count_input_tokens(body: dict[str, Any]) -> int:
    """What `count-tokens` answers for a Converse input: the prompt plus the words of the tool specs."""
    return count_prompt_tokens(body) + sum(word_count(json.dumps(t, separators=_JSON)) for t in _tools(body))


def default_reply(body: dict[str, Any]) -> Reply:
    """The answer when nothing is scripted: for a JSON-schema ``outputConfig.textFormat`` a minimal valid
    document, for a forced tool (named, or "any" of one) a call with a minimal valid input, else an echo of the
    last user text."""
    config = body.get("outputConfig")
    fmt = config.get("textFormat") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = ((fmt.get("structure") or {}).get("jsonSchema") or {}).get("schema")
        try:
            parsed = json.loads(schema) if isinstance(schema, str) else schema
        except ValueError:
            parsed = None
        return Reply(text=json.dumps(schema_instance(parsed if isinstance(parsed, dict) else {"type": "object"})))
    choice = (body.get("toolConfig") or {}).get("toolChoice") if isinstance(body.get("toolConfig"), dict) else None
    forced = choice.get("tool") if isinstance(choice, dict) else None
    specs = _tools(body)
    if isinstance(choice, dict) and "any" in choice and len(specs) == 1:  # any tool, and there is one
        forced = {"name": specs[0].get("name")}
    if isinstance(forced, dict):
        for spec in specs:
            if spec.get("name") == forced.get("name"):
                return minimal_call(spec["name"], (spec.get("inputSchema") or {}).get("json"))
    last = ""
    for message in reversed(body.get("messages") or ()):
        if isinstance(message, dict) and message.get("role") == "user":
            last = _content_text(message.get("content"))
            break
    return Reply(text=f"Echo: {last}")


# --------------------------------------------------------------------------------------------
# Rendering (pure)
# --------------------------------------------------------------------------------------------


def _stop_reason(reply: Reply) -> str:
    if reply.finish_reason is not None:
        return _STOP_REASONS.get(reply.finish_reason, reply.finish_reason)
    return "tool_use" if reply.tool_calls else "end_turn"


def render_usage(reply: Reply, prompt_tokens: int) -> dict[str, int]:
    """The ``usage`` object: ``inputTokens`` leaves the cache out, ``totalTokens`` counts everything."""
    output = reply.completion_tokens
    if output is None:
        words = word_count(reply.text) + word_count(reply.reasoning or "")
        words += sum(word_count(json.dumps(args, separators=_JSON)) for _, args in reply.tool_calls)
        output = max(1, words + reply.reasoning_tokens)
    cached, written = reply.cached_tokens, reply.cache_write_tokens
    uncached = max(0, prompt_tokens - cached - written)
    return {"inputTokens": uncached, "outputTokens": output, "totalTokens": uncached + output + cached + written,
            "cacheReadInputTokens": cached, "cacheWriteInputTokens": written}


def render_blocks(reply: Reply, tool_ids: list[str]) -> list[dict[str, Any]]:
    """The assistant message's content blocks: reasoning, text, then the tool calls."""
    blocks: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        blocks.append({"reasoningContent": {"reasoningText": {"text": reply.reasoning,
                                                              "signature": signature_for(reply.reasoning)}}})
    if reply.text or not (reply.tool_calls or reply.reasoning is not None):
        blocks.append({"text": reply.text})
    for call_id, (name, args) in zip(tool_ids, reply.tool_calls, strict=True):
        blocks.append({"toolUse": {"toolUseId": call_id, "name": name, "input": args}})
    return blocks


def render_converse(reply: Reply, *, tool_ids: list[str], prompt_tokens: int) -> dict[str, Any]:
    """A whole Converse response."""
    return {"output": {"message": {"role": "assistant", "content": render_blocks(reply, tool_ids)}},
            "stopReason": _stop_reason(reply), "usage": render_usage(reply, prompt_tokens),
            "metrics": {"latencyMs": LATENCY_MS}}


def _padded(data: dict[str, Any], n: int) -> dict[str, Any]:
    # Bedrock pads every stream event with a junk "p" field of varying length (it hides the
    # payload sizes); clients must ignore it, so the emulator sends one too.
    return {**data, "p": _PAD[: 1 + (n * 7) % len(_PAD)]}


def stream_events(reply: Reply, *, tool_ids: list[str], prompt_tokens: int) -> list[tuple[str, dict[str, Any]]]:
    """The ``(event type, payload)`` pairs of a ConverseStream answer, ``messageStart`` to ``metadata``.

    As Bedrock sends them: a ``contentBlockStart`` only for tool calls, text and tool input split over
    several deltas, a reasoning block's text deltas then one ``signature`` delta.
    """
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    for index, block in enumerate(render_blocks(reply, tool_ids)):
        deltas: list[dict[str, Any]]
        if "reasoningContent" in block:
            whole = block["reasoningContent"]["reasoningText"]
            deltas = [{"reasoningContent": {"text": p}} for p in text_pieces(whole["text"]) or [""]]
            deltas.append({"reasoningContent": {"signature": whole["signature"]}})
        elif "text" in block:
            deltas = [{"text": p} for p in text_pieces(block["text"]) or [""]]
        else:
            use = block["toolUse"]
            events.append(("contentBlockStart", {"start": {"toolUse": {"toolUseId": use["toolUseId"],
                                                                       "name": use["name"]}},
                                                 "contentBlockIndex": index}))
            args = json.dumps(use["input"], separators=_JSON)
            deltas = [{"toolUse": {"input": p}} for p in argument_pieces(args)]
        events.extend(("contentBlockDelta", {"contentBlockIndex": index, "delta": d}) for d in deltas)
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": _stop_reason(reply)}))
    events.append(("metadata", {"usage": render_usage(reply, prompt_tokens), "metrics": {"latencyMs": LATENCY_MS}}))
    return events


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def error_type(fault: Fault) -> str:
    """The AWS error type of ``fault``: ``Fault.code`` when it names one, else by status."""
    if fault.code:
        return fault.code[0].upper() + fault.code[1:]
    if fault.status in ERROR_TYPES:
        return ERROR_TYPES[fault.status]
    return "InternalServerException" if fault.status >= 500 else "ValidationException"


def error_response(status: int, kind: str, message: str | None = None) -> WireResponse:
    """An AWS JSON error: ``{"message": ...}`` with the type in ``x-amzn-errortype``."""
    text = message or _MESSAGES.get(kind) or f"Emulated {status} error ({kind})"
    return WireResponse.json({"message": text}, status, headers={"x-amzn-errortype": kind + _ERROR_TAIL})


def _event_stream(messages: list[bytes]) -> WireResponse:
    return WireResponse(headers={"content-type": CONTENT_TYPE}, events=messages)


def _stream_exception(fault: Fault, error: dict[str, Any]) -> bytes:
    kind = str(error.get("type") or "")
    if not kind:
        http_kind = error_type(fault)
        kind = http_kind[0].lower() + http_kind[1:]
        if kind not in _STREAM_EXCEPTIONS:
            kind = "modelStreamErrorException"
    payload = {k: v for k, v in error.items() if k != "type"}
    payload.setdefault("message", _MESSAGES.get(kind[0].upper() + kind[1:], "Emulated stream error"))
    return exception_message(kind, payload)


def fault_response(fault: Fault, *, stream: bool) -> WireResponse:
    """Render ``fault`` (``malformed``, ``stream_error``, a custom ``body`` or a status error) the AWS way.

    A stream's broken or exception message follows a valid ``messageStart``; ``drop_after_events`` is
    handled by the emulator core (each event-stream message is one of its events).
    """
    start = event_message("messageStart", _padded({"role": "assistant"}, 0))
    if fault.malformed:
        if stream:
            broken = bytearray(event_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}))
            broken[-1] ^= 0xFF  # a wrong message CRC
            return _event_stream([start, bytes(broken)])
        return WireResponse(headers={"content-type": "application/json"}, body=b'{"output": {"message"')
    if fault.stream_error is not None:
        if stream:
            return _event_stream([start, _stream_exception(fault, fault.stream_error)])
        message = fault.stream_error.get("message")
        return error_response(fault.status, error_type(fault), str(message) if message else None)
    if fault.body is not None:
        if isinstance(fault.body, dict):
            response = WireResponse.json(fault.body, fault.status)
        else:
            response = WireResponse(status=fault.status, headers={"content-type": "application/json"},
                                    body=fault.body.encode())
        response.headers["x-amzn-errortype"] = error_type(fault) + _ERROR_TAIL
        return response
    return error_response(fault.status, error_type(fault))


# --------------------------------------------------------------------------------------------
# Runtime handlers
# --------------------------------------------------------------------------------------------


def _body(request: WireRequest) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}


def _request_id(request: WireRequest) -> str:
    return f"00000000-0000-4000-8000-{request.number:012d}"


def _tagged(request: WireRequest, response: WireResponse) -> WireResponse:
    response.headers.setdefault("x-amzn-requestid", _request_id(request))
    return response


def _answer(request: WireRequest, item: Reply | Fault | None, *, stream: bool) -> WireResponse:
    if isinstance(item, Fault):
        return fault_response(item, stream=stream)
    body = _body(request)
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return error_response(400, "ValidationException",
                              "A conversation must start with a user message. Try again with a conversation "
                              "that starts with a user message.")
    reply = item if isinstance(item, Reply) else default_reply(body)
    tool_ids = [f"tooluse_{request.emulator.next_id('tooluse')}" for _ in reply.tool_calls]
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else count_prompt_tokens(body)
    if not stream:
        return WireResponse.json(render_converse(reply, tool_ids=tool_ids, prompt_tokens=prompt))
    events = stream_events(reply, tool_ids=tool_ids, prompt_tokens=prompt)
    return _event_stream([event_message(name, _padded(data, n)) for n, (name, data) in enumerate(events)])


def converse(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST /model/{id}/converse``: the scripted item, or the default reply."""
    return _tagged(request, _answer(request, item, stream=False))


def converse_stream(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST /model/{id}/converse-stream``: the same answer as an event stream."""
    return _tagged(request, _answer(request, item, stream=True))


def invoke(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST /model/{id}/invoke``: embeddings (Titan, Cohere, Nova) or rerank by the body's shape; a
    popped ``Reply`` only adds its delay."""
    if isinstance(item, Fault):
        return _tagged(request, fault_response(item, stream=False))
    model = unquote(request.params.get("model", ""))
    answer, status = invoke_answer(model, _body(request))
    if status != 200:
        return _tagged(request, error_response(status, ERROR_TYPES.get(status, "ValidationException"),
                                               str(answer.get("message"))))
    return _tagged(request, WireResponse.json(answer))


def _count_invoke_body(encoded: Any) -> int:
    try:
        decoded = json.loads(base64.b64decode(str(encoded)))
    except ValueError:
        return 1
    if isinstance(decoded, dict) and isinstance(decoded.get("messages"), list):
        return anthropic_input_tokens(decoded)
    return max(1, word_count(json.dumps(decoded)))


def count_tokens(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``POST /model/{id}/count-tokens``: ``{"inputTokens": N}`` for a ``converse`` or an ``invokeModel``
    input (a scripted ``Reply.prompt_tokens`` sets N)."""
    if isinstance(item, Fault):
        return _tagged(request, fault_response(item, stream=False))
    wrapped = _body(request).get("input")
    wrapped = wrapped if isinstance(wrapped, dict) else {}
    if isinstance(wrapped.get("converse"), dict):
        counted = count_input_tokens(wrapped["converse"])
    elif isinstance(wrapped.get("invokeModel"), dict):
        counted = _count_invoke_body(wrapped["invokeModel"].get("body"))
    else:
        return _tagged(request, error_response(400, "ValidationException",
                                               "1 validation error detected: input must not be null"))
    scripted = item.prompt_tokens if isinstance(item, Reply) else None
    return _tagged(request, WireResponse.json({"inputTokens": scripted if scripted is not None else counted}))


# --------------------------------------------------------------------------------------------
# Control plane (`bedrock` client)
# --------------------------------------------------------------------------------------------

#: The foundation models ``GET /foundation-models`` lists: (id, name, provider, inputs, outputs, streaming,
#: inference types).
FOUNDATION_MODELS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...], bool, tuple[str, ...]], ...] = (
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5", "Anthropic", ("TEXT", "IMAGE"), ("TEXT",),
     True, ("INFERENCE_PROFILE",)),
    ("amazon.nova-micro-v1:0", "Nova Micro", "Amazon", ("TEXT",), ("TEXT",), True, ("ON_DEMAND",)),
    ("amazon.titan-embed-text-v2:0", "Titan Text Embeddings V2", "Amazon", ("TEXT",), ("EMBEDDING",), False,
     ("ON_DEMAND",)),
    ("cohere.embed-v4:0", "Embed v4", "Cohere", ("TEXT", "IMAGE"), ("EMBEDDING",), False, ("ON_DEMAND",)),
    ("cohere.rerank-v3-5:0", "Rerank 3.5", "Cohere", ("TEXT",), ("TEXT",), False, ("ON_DEMAND",)),
)
#: The model the ``us.`` and ``global.`` inference profiles route to.
INFERENCE_PROFILE_MODEL = FOUNDATION_MODELS[0][0]
_PROFILE_REGIONS = {"us": ("us-east-1", "us-east-2", "us-west-2"), "global": ("",)}
_CREATED = "2025-09-29T00:00:00+00:00"
_ACCOUNT = "123456789012"


def _query(request: WireRequest) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(request.query).items()}


def _region(request: WireRequest) -> str:
    match = _REGION.search(request.headers.get("authorization", ""))
    return match.group(1) if match else "us-east-1"


def _model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def list_foundation_models(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET /foundation-models``: :data:`FOUNDATION_MODELS`, filtered by ``byProvider``,
    ``byOutputModality`` and ``byInferenceType`` as the API does."""
    query, region = _query(request), _region(request)
    summaries = []
    for model_id, name, provider, inputs, outputs, streaming, inference in FOUNDATION_MODELS:
        if "byProvider" in query and query["byProvider"].lower() != provider.lower():
            continue
        if "byOutputModality" in query and query["byOutputModality"] not in outputs:
            continue
        if "byInferenceType" in query and query["byInferenceType"] not in inference:
            continue
        summary: dict[str, Any] = {
            "modelArn": _model_arn(region, model_id), "modelId": model_id, "modelName": name,
            "providerName": provider, "inputModalities": list(inputs), "outputModalities": list(outputs),
            "customizationsSupported": [], "inferenceTypesSupported": list(inference),
            "modelLifecycle": {"status": "ACTIVE"},
        }
        if "EMBEDDING" not in outputs:
            summary["responseStreamingSupported"] = streaming
        summaries.append(summary)
    return _tagged(request, WireResponse.json({"modelSummaries": summaries}))


def _profile(request: WireRequest, geo: str) -> dict[str, Any]:
    region = _region(request)
    profile_id = f"{geo}.{INFERENCE_PROFILE_MODEL}"
    label = "US" if geo == "us" else "Global"
    return {
        "inferenceProfileName": f"{label} Anthropic Claude Sonnet 4.5",
        "description": f"Routes requests to Claude Sonnet 4.5 in {'US regions' if geo == 'us' else 'all regions'}.",
        "createdAt": _CREATED, "updatedAt": _CREATED,
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{_ACCOUNT}:inference-profile/{profile_id}",
        "models": [{"modelArn": _model_arn(r, INFERENCE_PROFILE_MODEL)} for r in _PROFILE_REGIONS[geo]],
        "inferenceProfileId": profile_id, "status": "ACTIVE", "type": "SYSTEM_DEFINED",
    }


def list_inference_profiles(request: WireRequest, item: Reply | Fault | None) -> WireResponse:
    """``GET /inference-profiles``: a ``us.`` and a ``global.`` system profile, paged by ``maxResults`` and
    ``nextToken`` (an ``APPLICATION`` type filter gives none)."""
    query = _query(request)
    profiles = [] if query.get("type") == "APPLICATION" else [_profile(request, g) for g in _PROFILE_REGIONS]
    start = int(query["nextToken"]) if query.get("nextToken", "").isdigit() else 0
    size = int(query["maxResults"]) if query.get("maxResults", "").isdigit() else 1000
    out: dict[str, Any] = {"inferenceProfileSummaries": profiles[start:start + size]}
    if start + size < len(profiles):
        out["nextToken"] = str(start + size)
    return _tagged(request, WireResponse.json(out))


def routes() -> list[Route]:
    """The Bedrock routes."""
    model = r"^/model/(?P<model>[^/]+)"
    return [
        Route("POST", re.compile(model + r"/converse$"), converse),
        Route("POST", re.compile(model + r"/converse-stream$"), converse_stream),
        Route("POST", re.compile(model + r"/invoke$"), invoke),
        Route("POST", re.compile(model + r"/count-tokens$"), count_tokens),
        Route("GET", re.compile(r"^/foundation-models$"), list_foundation_models, scripted=False),
        Route("GET", re.compile(r"^/inference-profiles$"), list_inference_profiles, scripted=False),
    ]
