"""Pure converters for Google's Gemini REST wire (Gemini API and Vertex AI `generateContent`).

The converters speak the REST JSON itself (camelCase, as on the wire), not the SDK's typed objects:
the provider hands the body to the google-genai API client, which only authenticates and sends,
and the raw JSON that comes back is parsed here. Nothing here does I/O, so all of it is testable
without a server, and a call skips the SDK's pydantic round trip.

This module builds `generateContent` requests and is the API's converter module (`apis.py`): it re-exports
the rest, split by concern into `gemini_common` (ids, finish reasons), `gemini_schema` (JSON schema to
Gemini's schema), `gemini_response` (responses, stream chunks, errors) and `gemini_endpoints` (embeddings,
model listings, token counts).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError
from ..request_rules import (
    check_tool_names,
    fold_system,
    limit_stop,
    plan_reasoning,
    reconcile_sampling,
    tool_choice_for,
)
from ..types import AudioPart, DocumentPart, ImagePart, Message, TextPart
from .common import arguments_object
from .gemini_common import (
    _API,
    _EFFORT_BUDGET,
    EMBED_BATCH_LIMIT,
    PROVIDER,
    SKIP_SIGNATURE,
    GeminiRequest,
    bare_model_name,
    finish_reason,
    model_path,
    new_tool_call_id,
)
from .gemini_endpoints import build_embed_request, parse_embeddings, parse_model_list, parse_token_count
from .gemini_response import (
    GenerateStreamAssembler,
    decode_stream_event,
    error_from_google,
    parse_generate_response,
    usage_from_wire,
)
from .gemini_schema import _json_schema, gemini_schema

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call


__all__ = [
    "EMBED_BATCH_LIMIT",
    "PROVIDER",
    "SKIP_SIGNATURE",
    "GeminiRequest",
    "GenerateStreamAssembler",
    "bare_model_name",
    "build_count_request",
    "build_embed_request",
    "build_generate_request",
    "contents_from_messages",
    "decode_stream_event",
    "error_from_google",
    "finish_reason",
    "gemini_schema",
    "model_path",
    "new_tool_call_id",
    "parse_embeddings",
    "parse_generate_response",
    "parse_model_list",
    "parse_token_count",
    "usage_from_wire",
]

# ---------------------------------------------------------------------- request


def _image_part(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type, "data": part.data}}
    url = part.url or ""
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return {"inlineData": {"mimeType": head or "application/octet-stream", "data": data}}
    mime = part.media_type or mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
    # The API fetches the URL itself (Files API and gs:// URIs, public http(s) URLs on current models).
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _document_part(part: DocumentPart) -> dict[str, Any]:
    if part.text is not None:
        return {"text": f"{part.title}\n\n{part.text}" if part.title else part.text}
    if part.data is not None:
        return {"inlineData": {"mimeType": part.mime, "data": part.data}}
    # A Files API or gs:// URI, or a public URL the API fetches itself.
    uri = part.file_id or part.url or ""
    mime = part.media_type or mimetypes.guess_type(uri.split("?", 1)[0])[0] or part.mime
    return {"fileData": {"mimeType": mime, "fileUri": uri}}


def _user_parts(msg: Message) -> list[dict[str, Any]]:
    content = msg.content
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for p in content:
        if isinstance(p, TextPart):
            if p.text:
                parts.append({"text": p.text})
        elif isinstance(p, DocumentPart):
            parts.append(_document_part(p))
        elif isinstance(p, AudioPart):
            # Gemini names MP3 audio/mp3 (its documented list), not the IANA audio/mpeg.
            parts.append({"inlineData": {"mimeType": f"audio/{p.format}", "data": p.data}})
        else:
            parts.append(_image_part(p))
    return parts


def _tool_response(text: str) -> dict[str, Any]:
    """A tool result as the `response` object: a JSON object as is, anything else under "result"."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"result": text}
    return value if isinstance(value, dict) else {"result": value}


def _model_parts(msg: Message, sign_calls: bool) -> list[dict[str, Any]]:
    thought_sigs: list[str] = []
    text_sig: str | None = None
    calls: dict[str, Mapping[str, Any]] = {}
    for block in msg.vendor_blocks:
        if block.provider != PROVIDER:
            continue  # other vendors' blocks mean nothing to Gemini
        data = block.data
        if block.type == "thought_signature" and isinstance(data.get("signature"), str):
            if data.get("part") == "thought":
                thought_sigs.append(data["signature"])
            else:
                text_sig = data["signature"]
        elif block.type == "function_call" and isinstance(data.get("tool_call_id"), str):
            calls[data["tool_call_id"]] = data
    parts: list[dict[str, Any]] = []
    for i, sig in enumerate(thought_sigs):
        parts.append({"text": (msg.reasoning or "") if i == 0 else "", "thought": True, "thoughtSignature": sig})
    text = msg.text
    if text or (text_sig and not msg.tool_calls):
        part: dict[str, Any] = {"text": text}
        if text_sig:
            part["thoughtSignature"] = text_sig
        parts.append(part)
    signed = bool(thought_sigs)
    for tc in msg.tool_calls:
        call: dict[str, Any] = {"name": tc.name, "args": arguments_object(tc, provider=PROVIDER)}
        meta = calls.get(tc.id, {})
        if meta.get("api_id"):
            call["id"] = tc.id
        fc_part: dict[str, Any] = {"functionCall": call}
        call_sig = meta.get("signature")
        if isinstance(call_sig, str):
            fc_part["thoughtSignature"] = call_sig
            signed = True
        elif sign_calls and not signed:
            fc_part["thoughtSignature"] = SKIP_SIGNATURE
            signed = True
        parts.append(fc_part)
    if text_sig and msg.tool_calls and not text:
        # The signature came on a text-less part; keep it on the first call that has none.
        for p in parts:
            if "functionCall" in p and "thoughtSignature" not in p:
                p["thoughtSignature"] = text_sig
                break
    return parts


def contents_from_messages(messages: Sequence[Message], *, sign_calls: bool = False
                           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(contents, system instruction parts) for a history from any vendor.

    System messages go to the system instruction; tool results become `functionResponse` parts named
    after the assistant's call with that id; consecutive turns of one role are merged, as Gemini wants
    parallel function responses in one turn. `sign_calls` puts Google's placeholder signature on
    unsigned function calls (Gemini 3 validates them).
    """
    names: dict[str, str] = {}
    api_ids: set[str] = set()
    for m in messages:
        if m.role == "assistant":
            for tc in m.tool_calls:
                names[tc.id] = tc.name
            for block in m.vendor_blocks:
                if block.provider == PROVIDER and block.type == "function_call" and block.data.get("api_id"):
                    api_ids.add(str(block.data.get("tool_call_id")))
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            if m.text:
                system.append({"text": m.text})
            continue
        if m.role == "assistant":
            role, parts = "model", _model_parts(m, sign_calls)
        elif m.role == "tool":
            call_id = m.tool_call_id or ""
            name = names.get(call_id) or m.name
            if not name:
                raise InvalidRequestError(
                    f"the tool result for call {call_id!r} has no function name: Gemini needs it, and no "
                    "assistant turn in the history made that call (pass name=... to tool_result)",
                    provider=PROVIDER)
            response: dict[str, Any] = {"name": name, "response": _tool_response(m.text)}
            if call_id in api_ids:
                response["id"] = call_id
            role, parts = "user", [{"functionResponse": response}]
        else:
            role, parts = "user", _user_parts(m)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents, system


def _thinking_config(call: Call) -> dict[str, Any] | None:
    """`thinkingConfig` within the model's rules (`request_rules.plan_reasoning`): a budget, or a level
    on Gemini 3 (which still takes the caller's own budget), never both (the API refuses that)."""
    plan = plan_reasoning(call.options, call.traits, model=call.model, effort_budgets=_EFFORT_BUDGET)
    if plan is None:
        return None
    if plan.off:
        return {"thinkingBudget": 0}
    if plan.level is not None:
        return {"thinkingLevel": plan.level.upper(), "includeThoughts": True}
    return {"thinkingBudget": plan.budget, "includeThoughts": True}


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


# Declarations made, per tool object: converting a schema is most of a tool call's request cost, and agents send
# the same tools every turn. A hit needs the same object with the same name, description and parameters object
# (the entry holds the tool, so its id is not reused); a schema changed in place is not seen. Kept as JSON and
# decoded for each request, so no request shares (or can change) another's objects.
_DECLARED: dict[int, tuple[Any, str, str | None, Any, str]] = {}


def _declaration(tool: Any) -> dict[str, Any]:
    found = _DECLARED.get(id(tool))
    if (found is not None and found[0] is tool and found[1] == tool.name and found[2] == tool.description
            and found[3] is tool.parameters):
        decl: dict[str, Any] = json.loads(found[4])
        return decl
    decl = _declare(tool)
    try:
        text = json.dumps(decl)
    except (TypeError, ValueError):
        return decl  # e.g. a schema default JSON cannot carry: converted every time
    if len(_DECLARED) >= 1024:
        _DECLARED.clear()
    _DECLARED[id(tool)] = (tool, tool.name, tool.description, tool.parameters, text)
    return decl


def _declare(tool: Any) -> dict[str, Any]:
    # `description` is REQUIRED in the Gemini API's FunctionDeclaration (v1beta proto), even when empty.
    decl: dict[str, Any] = {"name": tool.name, "description": tool.description or ""}
    params = tool.parameters or {}
    if params.get("properties") or params.get("$ref") or params.get("anyOf") or params.get("allOf"):
        converted = gemini_schema(params)
        if converted is not None:
            decl["parameters"] = converted
        else:
            decl["parametersJsonSchema"] = _json_schema(params)
    return decl


def build_generate_request(call: Call, *, vertex: bool = False) -> GeminiRequest:
    """The `generateContent` (or, for a streaming call, `streamGenerateContent`) request for a `Call`."""
    opts = call.options
    traits = call.traits
    check_tool_names(opts.tools, traits.tool_name, _API, provider=PROVIDER)
    contents, system = contents_from_messages(
        fold_system(call.messages, traits, model=call.model),
        sign_calls=traits.reasoning and traits.reasoning_control == "level")
    body: dict[str, Any] = {"contents": contents}
    config: dict[str, Any] = {}
    sampling = reconcile_sampling(traits, model=call.model, temperature=opts.temperature, top_p=opts.top_p,
                                  top_k=opts.top_k)
    if sampling.temperature is not None:
        config["temperature"] = sampling.temperature
    if sampling.top_p is not None:
        config["topP"] = sampling.top_p
    if sampling.top_k is not None:
        config["topK"] = sampling.top_k
    if opts.max_tokens is not None:
        config["maxOutputTokens"] = opts.max_tokens
    stop = limit_stop(opts.stop, traits.max_stop, model=call.model, api=_API, provider=PROVIDER)
    if stop:
        config["stopSequences"] = stop
    if opts.seed is not None:
        config["seed"] = opts.seed
    thinking = _thinking_config(call)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    plan = call.structured
    if plan is not None:
        fmt = plan.format
        if call.structured_mode == "json_schema":
            config["responseMimeType"] = "application/json"
            converted = gemini_schema(fmt.schema)
            if converted is not None:
                config["responseSchema"] = converted
            else:
                config["responseJsonSchema"] = _json_schema(fmt.schema)
        else:
            if call.structured_mode == "json_object":
                config["responseMimeType"] = "application/json"
            system.insert(0, {"text": fmt.instructions()})
    if opts.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in opts.tools]}]
    choice = tool_choice_for(opts.tool_choice, bool(opts.tools), _API)
    if choice is not None:
        if choice == "auto":
            fcc: dict[str, Any] = {"mode": "AUTO"}
        elif choice == "none":
            fcc = {"mode": "NONE"}
        elif choice == "required":
            fcc = {"mode": "ANY"}
        else:
            fcc = {"mode": "ANY", "allowedFunctionNames": [choice]}
        body["toolConfig"] = {"functionCallingConfig": fcc}
    if system:
        if contents and traits.system_prompt:
            body["systemInstruction"] = {"parts": system}
        elif contents and contents[0]["role"] == "user":  # a model without system instructions (Gemma)
            contents[0]["parts"][:0] = system
        else:  # nothing but system text: Gemini wants at least one content
            contents.insert(0, {"role": "user", "parts": system})
    if config:
        body["generationConfig"] = config
    if opts.extra:
        _merge(body, opts.extra)
    path = model_path(call.model, vertex=vertex)
    path += ":streamGenerateContent?alt=sse" if call.stream else ":generateContent"
    return GeminiRequest(path=path, body=body)


# ---------------------------------------------------------------------- token counting


def build_count_request(call: Call, *, vertex: bool = False) -> GeminiRequest:
    """`countTokens` for a `Call`, shaped as `generateContent` would be, so system and tools count.

    The Gemini API counts a whole `generateContentRequest`; Vertex AI takes contents, system
    instruction, tools and generation config at the top level.
    """
    request = build_generate_request(replace(call, stream=False), vertex=vertex)
    path = request.path.rsplit(":", 1)[0] + ":countTokens"
    if vertex:
        body = {k: v for k, v in request.body.items() if k in ("contents", "systemInstruction", "tools",
                                                                "generationConfig")}
        return GeminiRequest(path=path, body=body)
    return GeminiRequest(path=path, body={"generateContentRequest": {
        "model": model_path(call.model), **request.body}})


