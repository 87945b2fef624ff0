"""Pure converters for Google's Gemini REST wire (Gemini API and Vertex AI `generateContent`).

The converters speak the REST JSON itself (camelCase, as on the wire), not the SDK's typed objects:
the provider hands the body to the google-genai API client, which only authenticates and sends,
and the raw JSON that comes back is parsed here. Nothing here does I/O, so all of it is testable
without a server, and a call skips the SDK's pydantic round trip.
"""

from __future__ import annotations

import copy
import json
import mimetypes
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContentFilterError,
    ContextLengthExceededError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    describe_error_body,
    error_class_for,
    parse_retry_after,
)
from ..options import EmbedOptions
from ..request_rules import (
    check_tool_names,
    fold_system,
    limit_stop,
    plan_reasoning,
    reconcile_sampling,
    tool_choice_for,
)
from ..types import (
    AudioPart,
    CompletionResponse,
    DocumentPart,
    EmbeddingResponse,
    FinishReason,
    ImagePart,
    Message,
    ModelInfo,
    ReasoningDeltaEvent,
    StreamEvent,
    TextDeltaEvent,
    TextPart,
    ToolCall,
    ToolCallDeltaEvent,
    ToolCallEvent,
    Usage,
    UsageEvent,
    VendorBlock,
)
from .common import token_count_field

if TYPE_CHECKING:  # annotations only: the pure converters do not load the I/O policy layer
    from ..provider import Call

__all__ = [
    "EMBED_BATCH_LIMIT",
    "PROVIDER",
    "SKIP_SIGNATURE",
    "GeminiRequest",
    "GenerateStreamAssembler",
    "bare_model_name",
    "build_embed_request",
    "build_generate_request",
    "contents_from_messages",
    "decode_stream_event",
    "error_from_google",
    "finish_reason",
    "gemini_schema",
    "model_path",
    "parse_embeddings",
    "parse_generate_response",
    "parse_model_list",
    "usage_from_wire",
]

PROVIDER = "gemini"
"""The `VendorBlock.provider` of Gemini's blocks (thought signatures, function-call ids)."""
EMBED_BATCH_LIMIT = 100
"""`batchEmbedContents` takes at most this many requests."""
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented placeholder signature for function calls that no Gemini model made (a history
moved over from another vendor, or written by hand): Gemini 3 rejects unsigned calls of the current turn."""

_FINISH: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "MODEL_ARMOR": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "IMAGE_RECITATION": FinishReason.CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": FinishReason.ERROR,
    "UNEXPECTED_TOOL_CALL": FinishReason.ERROR,
    "TOO_MANY_TOOL_CALLS": FinishReason.ERROR,
    "MISSING_THOUGHT_SIGNATURE": FinishReason.ERROR,
}
_TASK_TYPES = {
    "query": "RETRIEVAL_QUERY",
    "document": "RETRIEVAL_DOCUMENT",
    "classification": "CLASSIFICATION",
    "clustering": "CLUSTERING",
    "similarity": "SEMANTIC_SIMILARITY",
}
# Token budgets for an effort, on models that take a budget (brought into each model's range).
_EFFORT_BUDGET = {"minimal": 512, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576}
_API = "the Gemini API"


@dataclass(frozen=True)
class GeminiRequest:
    """A request for the API client: the path under the API version, and the JSON body."""

    path: str
    body: dict[str, Any]


def new_tool_call_id() -> str:
    """An id for a function call the API gave none (the Gemini API usually does not)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def model_path(model: str, *, vertex: bool = False) -> str:
    """The resource path of a model: `models/x` on the Gemini API, `publishers/google/models/x` on Vertex."""
    if vertex:
        if model.startswith(("projects/", "publishers/", "models/")):
            return model
        if "/" in model:
            publisher, name = model.split("/", 1)
            return f"publishers/{publisher}/models/{name}"
        return f"publishers/google/models/{model}"
    if model.startswith(("models/", "tunedModels/")):
        return model
    return f"models/{model}"


def bare_model_name(name: str) -> str:
    """`models/gemini-2.5-flash` (or a Vertex resource name) as `gemini-2.5-flash`."""
    if "/models/" in name:
        return name.rsplit("/models/", 1)[1]
    return name[len("models/"):] if name.startswith("models/") else name


def finish_reason(raw: str | None, has_tool_calls: bool) -> FinishReason | None:
    """The normalized finish reason; STOP on a turn with function calls is `tool_calls`."""
    if not raw:
        return FinishReason.TOOL_CALLS if has_tool_calls else None
    reason = _FINISH.get(raw, FinishReason.OTHER)
    if has_tool_calls and reason is FinishReason.STOP:
        return FinishReason.TOOL_CALLS
    return reason


# ---------------------------------------------------------------------- JSON schema → Gemini schema

_SCHEMA_KEEP = ("description", "minItems", "maxItems", "minLength", "maxLength", "pattern", "minimum", "maximum",
                "minProperties", "maxProperties")
# The only `format` values the Gemini API accepts for each type; others are rejected with a 400.
_FORMATS = {"STRING": ("date-time", "enum"), "NUMBER": ("float", "double"), "INTEGER": ("int32", "int64")}
_TYPES = {"string": "STRING", "number": "NUMBER", "integer": "INTEGER", "boolean": "BOOLEAN", "array": "ARRAY",
          "object": "OBJECT", "null": "NULL"}


class _Inexpressible(Exception):
    """The schema needs more than Gemini's OpenAPI subset (recursion, free-form objects)."""


def gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """A JSON schema in the OpenAPI subset Gemini's `Schema` takes, or None when it cannot be expressed.

    `$ref`s are inlined from `$defs`, `anyOf` with null becomes `nullable`, `const` an enum, and what
    the subset lacks is dropped (`additionalProperties`, `title`, `default`, `examples`, unsupported
    formats). Recursive schemas and objects without properties (`dict[str, X]`) give None: send those
    as JSON schema (`parametersJsonSchema` / `responseJsonSchema`) instead.
    """
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = schema.get(key)
        if isinstance(found, Mapping):
            defs.update(found)
    try:
        return _schema_node(schema, defs, (), top=True)
    except _Inexpressible:
        return None


def _schema_node(node: Any, defs: Mapping[str, Any], seen: tuple[str, ...], *, top: bool = False) -> dict[str, Any]:
    if node is True or node is None or (isinstance(node, Mapping) and not node):
        raise _Inexpressible  # "anything": the subset has no such schema
    if not isinstance(node, Mapping):
        raise _Inexpressible
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen or name not in defs:
            raise _Inexpressible
        merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _schema_node(merged, defs, (*seen, name))
    out: dict[str, Any] = {}
    nullable = False
    branches = node.get("anyOf") or node.get("oneOf")
    if isinstance(branches, list):
        kept = [b for b in branches if not (isinstance(b, Mapping) and b.get("type") == "null")]
        nullable = len(kept) < len(branches)
        rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        if len(kept) == 1:
            inner = _schema_node({**kept[0], **{k: v for k, v in rest.items() if k == "description"}}, defs, seen)
            if nullable:
                inner["nullable"] = True
            return inner
        if not kept:
            return {"type": "STRING", "nullable": True}
        out["anyOf"] = [_schema_node(b, defs, seen) for b in kept]
        if nullable:
            out["nullable"] = True
        if isinstance(rest.get("description"), str):
            out["description"] = rest["description"]
        return out
    all_of = node.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged = {k: v for k, v in node.items() if k != "allOf"}
        for part in all_of:
            resolved = part
            if isinstance(part, Mapping) and isinstance(part.get("$ref"), str):
                name = part["$ref"].rsplit("/", 1)[-1]
                if name in seen or name not in defs:
                    raise _Inexpressible
                resolved = defs[name]
            if not isinstance(resolved, Mapping):
                raise _Inexpressible
            for key, value in resolved.items():
                if key == "properties" and isinstance(merged.get("properties"), Mapping):
                    merged["properties"] = {**merged["properties"], **value}
                elif key == "required" and isinstance(merged.get("required"), list):
                    merged["required"] = [*merged["required"], *value]
                else:
                    merged.setdefault(key, value)
        return _schema_node(merged, defs, seen)
    kind = node.get("type")
    if isinstance(kind, list):
        nullable = "null" in kind
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != 1:
            if not kinds:
                return {"type": "STRING", "nullable": True}
            out["anyOf"] = [_schema_node({**node, "type": k}, defs, seen) for k in kinds]
            out["nullable"] = nullable or None
            return {k: v for k, v in out.items() if v is not None}
        kind = kinds[0]
    if kind is None:
        if "properties" in node:
            kind = "object"
        elif "items" in node:
            kind = "array"
        elif "enum" in node or "const" in node:
            kind = "string"
        else:
            raise _Inexpressible
    gtype = _TYPES.get(str(kind).lower())
    if gtype is None:
        raise _Inexpressible
    out["type"] = gtype
    if nullable:
        out["nullable"] = True
    for key in _SCHEMA_KEEP:
        if key in node:
            out[key] = node[key]
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(gtype, ()):
        out["format"] = fmt
    values = [node["const"]] if "const" in node else node.get("enum")
    if isinstance(values, list) and values:
        if gtype == "STRING" and all(isinstance(v, str) for v in values):
            out["enum"] = values
        else:
            # The subset takes string enums only: name the allowed values instead.
            allowed = ", ".join(json.dumps(v) for v in values)
            out["description"] = f"{out.get('description', '')} (one of: {allowed})".strip()
    if gtype == "OBJECT":
        props = node.get("properties")
        if not isinstance(props, Mapping) or not props:
            if top:
                return out
            raise _Inexpressible  # a free-form object: the subset rejects OBJECT without properties
        out["properties"] = {name: _schema_node(sub, defs, seen) for name, sub in props.items()}
        required = [r for r in node.get("required", ()) if r in props]
        if required:
            out["required"] = required
        if len(props) > 1:
            out["propertyOrdering"] = list(props)
    elif gtype == "ARRAY":
        items = node.get("items")
        if items is None and isinstance(node.get("prefixItems"), list) and node["prefixItems"]:
            items = node["prefixItems"][0]
        if items is None:
            raise _Inexpressible
        out["items"] = _schema_node(items, defs, seen)
    return out


_JSON_SCHEMA_DROP = ("$schema", "$id", "default", "examples", "$comment")


def _json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON schema for `parametersJsonSchema` / `responseJsonSchema`: `const` as an enum, no annotations
    the endpoint rejects."""

    def clean(node: Any) -> Any:
        if isinstance(node, list):
            return [clean(n) for n in node]
        if not isinstance(node, Mapping):
            return node
        out = {k: clean(v) for k, v in node.items() if k not in _JSON_SCHEMA_DROP}
        if "const" in out:
            out["enum"] = [out.pop("const")]
        return out

    return clean(copy.deepcopy(dict(schema)))  # type: ignore[no-any-return]


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
        call: dict[str, Any] = {"name": tc.name, "args": tc.arguments}
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


def _declaration(tool: Any) -> dict[str, Any]:
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


# ---------------------------------------------------------------------- response


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_wire(u: Mapping[str, Any] | None) -> Usage:
    """Usage from `usageMetadata`: thoughts are output (Gemini reports them apart from candidates)."""
    if not u:
        return Usage()
    thoughts = _int(u.get("thoughtsTokenCount"))
    prompt = _int(u.get("promptTokenCount"))
    output = _int(u.get("candidatesTokenCount")) + thoughts
    total = _int(u.get("totalTokenCount"))
    return Usage(input_tokens=prompt, output_tokens=output, total_tokens=max(total, prompt + output),
                 cached_input_tokens=_int(u.get("cachedContentTokenCount")), reasoning_tokens=thoughts)


def error_from_google(status: int | None, body: Any, *, provider: str = PROVIDER,
                      headers: Mapping[str, str] | None = None, fallback_message: str | None = None) -> ProviderError:
    """The typed error for a Google error body (`{"error": {"code", "message", "status", "details"}}`).

    Goes by Google's status string as well as the HTTP status: RESOURCE_EXHAUSTED is a quota error when
    its details say a daily limit or a zero limit was hit, a rate limit otherwise; a 429 that Google
    wrapped in a 500 body is still a 429; an invalid API key (a 400) is an authentication error.
    """
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        error = body if isinstance(body, Mapping) else {}
    message, _, _ = describe_error_body(body)
    message = message or fallback_message
    gstatus = error.get("status") if isinstance(error.get("status"), str) else None
    code = error.get("code")
    if status is None and isinstance(code, int) and not isinstance(code, bool):
        status = code
    details = [d for d in error.get("details") or () if isinstance(d, Mapping)]
    inner = _wrapped_error(message)
    if inner is not None and (status is None or status >= 500):
        wrapped = error_from_google(None, inner, provider=provider, headers=headers)
        if isinstance(wrapped, (RateLimitError, QuotaExceededError)):
            wrapped.status_code = 429
            wrapped.body = body
            return wrapped
    cls = _google_class(status, gstatus, message or "", details)
    retry_after = parse_retry_after(headers) if headers else None
    if retry_after is None:
        retry_after = _retry_delay(details)
    request_id = None
    if headers:
        lowered = {k.lower(): v for k, v in headers.items()}
        request_id = lowered.get("x-request-id") or lowered.get("x-goog-request-id")
    text = message or (f"HTTP {status}" if status else "provider error")
    return cls(text, provider=provider, status_code=status, retry_after=retry_after, request_id=request_id,
               body=body, code=gstatus or (str(code) if code is not None else None))


_GOOGLE_STATUS: dict[str, type[ProviderError]] = {
    "INVALID_ARGUMENT": InvalidRequestError,
    "FAILED_PRECONDITION": InvalidRequestError,
    "OUT_OF_RANGE": InvalidRequestError,
    "ALREADY_EXISTS": InvalidRequestError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "UNAVAILABLE": ServerError,
    "INTERNAL": ServerError,
    "UNKNOWN": ServerError,
    "DATA_LOSS": ServerError,
    "ABORTED": ServerError,
    "CANCELLED": ServerError,
    "DEADLINE_EXCEEDED": APITimeoutError,
}
_AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "ACCESS_TOKEN_EXPIRED", "CREDENTIALS_MISSING"})


def _google_class(status: int | None, gstatus: str | None, message: str,
                  details: list[Mapping[str, Any]]) -> type[ProviderError]:
    text = message.lower()
    reasons = {d.get("reason") for d in details if isinstance(d.get("reason"), str)}
    if reasons & _AUTH_REASONS or "api key not valid" in text or "api key expired" in text:
        return AuthenticationError
    if gstatus == "RESOURCE_EXHAUSTED" or status == 429:
        return QuotaExceededError if _is_quota(text, details) else RateLimitError
    if status in (None, 400) and "token count" in text and "exceeds the maximum" in text:
        return ContextLengthExceededError
    if status == 402:
        return QuotaExceededError  # out of credit (a proxy's answer, or Google's billing): never retried
    if gstatus in _GOOGLE_STATUS and not (gstatus == "UNKNOWN" and status is not None and status < 500):
        return _GOOGLE_STATUS[gstatus]
    # No Google status (a proxy's or a load balancer's body): the HTTP status, then the message.
    return error_class_for(status, None, gstatus, message)


def _is_quota(text: str, details: list[Mapping[str, Any]]) -> bool:
    """A 429 that waiting will not fix: a daily limit, or a limit of zero (no free tier for the model)."""
    if "limit: 0" in text or ("billing" in text and "enable" in text):
        return True
    for d in details:
        if str(d.get("@type", "")).endswith("QuotaFailure"):
            for v in d.get("violations") or ():
                if not isinstance(v, Mapping):
                    continue
                ident = f"{v.get('quotaId', '')} {v.get('quotaMetric', '')}".lower()
                if "perday" in ident or "per_day" in ident or "daily" in ident:
                    return True
                if str(v.get("quotaValue", "")) == "0":
                    return True
    return False


def _retry_delay(details: list[Mapping[str, Any]]) -> float | None:
    for d in details:
        if str(d.get("@type", "")).endswith("RetryInfo"):
            delay = d.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return max(0.0, float(delay[:-1]))
                except ValueError:
                    return None
    return None


def _wrapped_error(message: str | None) -> Mapping[str, Any] | None:
    """The error object Google sometimes embeds as JSON text in a 500's message (a 429 underneath)."""
    if not message:
        return None
    start = message.find("{")
    if start < 0:
        if "resource has been exhausted" in message.lower() or "resource_exhausted" in message.lower():
            return {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": message}}
        return None
    try:
        inner = json.loads(message[start:message.rfind("}") + 1])
    except ValueError:
        if "resource_exhausted" in message.lower():
            return {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": message}}
        return None
    return inner if isinstance(inner, Mapping) and isinstance(inner.get("error"), Mapping) else None


def _raise_for_body(payload: Mapping[str, Any], provider: str) -> None:
    if payload.get("error"):
        raise error_from_google(None, payload, provider=provider)


def _blocked(payload: Mapping[str, Any], provider: str) -> None:
    feedback = payload.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
    if reason and isinstance(feedback, Mapping):
        message = feedback.get("blockReasonMessage") or f"the prompt was blocked ({reason})"
        raise ContentFilterError(str(message), provider=provider, code=str(reason), body=payload)


def _first_candidate(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    candidates = payload.get("candidates")
    if not candidates:
        return None
    for c in candidates:
        if isinstance(c, Mapping) and c.get("index", 0) == 0:
            return c
    first = candidates[0]
    return first if isinstance(first, Mapping) else None


class _Turn:
    """What one model turn is made of, part by part (whole responses and streams alike)."""

    __slots__ = ("blocks", "calls", "reasoning", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[ToolCall] = []
        self.blocks: list[VendorBlock] = []

    def add_call(self, fc: Mapping[str, Any], signature: Any) -> ToolCall:
        api_id = fc.get("id")
        args = fc.get("args")
        call = ToolCall(id=api_id if isinstance(api_id, str) and api_id else new_tool_call_id(),
                        name=str(fc.get("name") or ""), arguments=args if isinstance(args, dict) else {})
        self.calls.append(call)
        if isinstance(signature, str) or call.id == api_id:
            data: dict[str, Any] = {"tool_call_id": call.id}
            if isinstance(signature, str):
                data["signature"] = signature
            if call.id == api_id:
                data["api_id"] = True
            self.blocks.append(VendorBlock(provider=PROVIDER, type="function_call", data=data))
        return call

    def add_signature(self, signature: str, part: str) -> None:
        if part == "text":
            # One text part goes back; a later signature (streams sign the last piece) replaces an earlier.
            self.blocks = [b for b in self.blocks if not (b.type == "thought_signature" and b.data["part"] == "text")]
        self.blocks.append(VendorBlock(provider=PROVIDER, type="thought_signature",
                                       data={"signature": signature, "part": part}))

    def message(self) -> tuple[str, str | None, Message]:
        text = "".join(self.text)
        reasoning = "".join(self.reasoning) or None
        return text, reasoning, Message(role="assistant", content=text or None, tool_calls=self.calls,
                                        reasoning=reasoning, vendor_blocks=self.blocks)


def decode_stream_event(data: str, provider: str = PROVIDER) -> Any:
    """One `streamGenerateContent?alt=sse` event's data as JSON."""
    try:
        return json.loads(data)
    except ValueError:
        raise MalformedResponseError(f"a stream event is not JSON: {data[:200]!r}", provider=provider) from None


_GENERATE_KEYS = frozenset({"candidates", "promptFeedback", "usageMetadata", "modelVersion", "responseId"})


def parse_generate_response(payload: Any, *, provider: str = PROVIDER, model: str) -> CompletionResponse:
    """A whole `generateContent` response; a blocked prompt raises `ContentFilterError`."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError(f"expected a JSON object, got {type(payload).__name__}", provider=provider)
    _raise_for_body(payload, provider)
    candidate = _first_candidate(payload)
    if candidate is None:
        _blocked(payload, provider)
        if not _GENERATE_KEYS.intersection(payload):  # nothing of a generateContent answer: not an empty success
            raise MalformedResponseError("the response is not a generateContent answer", provider=provider)
    turn = _Turn()
    raw_finish = None
    if candidate is not None:
        raw_finish = candidate.get("finishReason")
        content = candidate.get("content")
        for part in (content.get("parts") or ()) if isinstance(content, Mapping) else ():
            _take_part(turn, part)
    text, reasoning, message = turn.message()
    served = payload.get("modelVersion")
    return CompletionResponse(
        id=payload.get("responseId"),
        provider=provider,
        model=bare_model_name(served) if isinstance(served, str) and served else model,
        text=text,
        reasoning=reasoning,
        tool_calls=turn.calls,
        finish_reason=finish_reason(raw_finish, bool(turn.calls)),
        raw_finish_reason=raw_finish,
        usage=usage_from_wire(payload.get("usageMetadata")),
        message=message,
        raw=payload,
    )


def _take_part(turn: _Turn, part: Any) -> list[StreamEvent]:
    """Adds one part to the turn; returns the stream events it makes."""
    if not isinstance(part, Mapping):
        return []
    signature = part.get("thoughtSignature")
    fc = part.get("functionCall")
    if isinstance(fc, Mapping):
        index = len(turn.calls)
        call = turn.add_call(fc, signature)
        args = json.dumps(call.arguments, separators=(",", ":"))
        return [ToolCallDeltaEvent(index=index, id=call.id, name=call.name, arguments_delta=args),
                ToolCallEvent(index=index, tool_call=call)]
    text = part.get("text")
    thought = part.get("thought") is True
    if isinstance(signature, str):
        turn.add_signature(signature, "thought" if thought else "text")
    if not isinstance(text, str) or not text:
        return []
    if thought:
        turn.reasoning.append(text)
        return [ReasoningDeltaEvent(delta=text)]
    turn.text.append(text)
    return [TextDeltaEvent(delta=text)]


class GenerateStreamAssembler:
    """Assembles `streamGenerateContent` chunks: parts out as events, the whole response at the end.

    Gemini sends each function call whole in one chunk, so its delta and complete events come together;
    usage is taken from the last chunk that carries it, and reported once at the end.
    """

    def __init__(self, *, provider: str = PROVIDER, model: str) -> None:
        self.provider = provider
        self.model = model
        self._turn = _Turn()
        self._id: str | None = None
        self._served: str | None = None
        self._raw_finish: str | None = None
        self._usage: Mapping[str, Any] | None = None

    def feed(self, chunk: Any) -> Sequence[StreamEvent]:
        """Events for one decoded chunk."""
        if not isinstance(chunk, Mapping):
            raise MalformedResponseError("a stream chunk is not a JSON object", provider=self.provider)
        if "error" in chunk:
            _raise_for_body(chunk, self.provider)
        if self._id is None:
            self._id = chunk.get("responseId")
        served = chunk.get("modelVersion")
        if served:
            self._served = served
        usage = chunk.get("usageMetadata")
        if usage:
            self._usage = usage
        candidate = _first_candidate(chunk)
        if candidate is None:
            _blocked(chunk, self.provider)
            return ()
        raw = candidate.get("finishReason")
        if raw:
            self._raw_finish = raw
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, Mapping) else None
        if not parts:
            return ()
        if len(parts) == 1:
            return _take_part(self._turn, parts[0])
        events: list[StreamEvent] = []
        for part in parts:
            events.extend(_take_part(self._turn, part))
        return events

    def finish(self) -> tuple[Sequence[StreamEvent], CompletionResponse]:
        """The usage event and the whole response."""
        if self._raw_finish is None:  # a cut stream must not pass for a whole answer
            raise APIConnectionError("the stream ended before its end marker (no finishReason)", provider=self.provider)
        text, reasoning, message = self._turn.message()
        calls = self._turn.calls
        usage = usage_from_wire(self._usage)
        response = CompletionResponse(
            id=self._id,
            provider=self.provider,
            model=bare_model_name(self._served) if self._served else self.model,
            text=text,
            reasoning=reasoning,
            tool_calls=calls,
            finish_reason=finish_reason(self._raw_finish, bool(calls)),
            raw_finish_reason=self._raw_finish,
            usage=usage,
            message=message,
        )
        return ([UsageEvent(usage=usage)] if self._usage else []), response


# ---------------------------------------------------------------------- embeddings and models


def build_embed_request(model: str, texts: list[str], options: EmbedOptions, *, vertex: bool = False,
                        predict: bool = False) -> GeminiRequest:
    """`batchEmbedContents` for the texts (Vertex: its `embedContentConfig` shape, or `predict` for the
    older text-embedding models)."""
    path = model_path(model, vertex=vertex)
    task = _TASK_TYPES.get(options.input_type) if options.input_type else None
    dims = options.dimensions
    if vertex and predict:
        instance: dict[str, Any] = {}
        if task:
            instance["task_type"] = task
        body: dict[str, Any] = {"instances": [{"content": t, **instance} for t in texts]}
        if dims is not None:
            body["parameters"] = {"outputDimensionality": dims}
        return GeminiRequest(path=f"{path}:predict", body=body)
    config: dict[str, Any] = {}
    if task:
        config["taskType"] = task
    if dims is not None:
        config["outputDimensionality"] = dims
    requests: list[dict[str, Any]] = []
    for text in texts:
        item: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
        if vertex:
            if config:
                item["embedContentConfig"] = config
        else:
            item["model"] = path
            item.update(config)
        requests.append(item)
    return GeminiRequest(path=f"{path}:batchEmbedContents", body={"requests": requests})


def _values(item: Any) -> list[float]:
    values = item.get("values") if isinstance(item, Mapping) else None
    if not isinstance(values, list):
        raise MalformedResponseError("an embedding has no values", provider=PROVIDER)
    return [float(v) for v in values]


def parse_embeddings(payload: Any, *, provider: str = PROVIDER, model: str, count: int) -> EmbeddingResponse:
    """Vectors in input order from `batchEmbedContents`, `embedContent` or Vertex `predict`."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_for_body(payload, provider)
    tokens = 0
    if isinstance(payload.get("embeddings"), list):
        vectors = [_values(e) for e in payload["embeddings"]]
    elif isinstance(payload.get("embedding"), Mapping):
        vectors = [_values(payload["embedding"])]
    elif isinstance(payload.get("predictions"), list):
        vectors = []
        for p in payload["predictions"]:
            emb = p.get("embeddings") if isinstance(p, Mapping) else None
            vectors.append(_values(emb))
            stats = emb.get("statistics") if isinstance(emb, Mapping) else None
            if isinstance(stats, Mapping):
                tokens += _int(stats.get("token_count")) or _int(stats.get("tokenCount"))
    else:
        raise MalformedResponseError("the embeddings response has no embeddings", provider=provider)
    if len(vectors) != count:
        raise MalformedResponseError(f"{len(vectors)} vectors for {count} inputs", provider=provider)
    meta = payload.get("usageMetadata")
    if isinstance(meta, Mapping):
        tokens = _int(meta.get("promptTokenCount")) or tokens
    return EmbeddingResponse(vectors=vectors, model=model, provider=provider, usage=Usage(input_tokens=tokens))


_METHOD_CAPABILITIES = {
    "generateContent": ("generate", "stream"),
    "streamGenerateContent": ("stream",),
    "embedContent": ("embeddings",),
    "batchEmbedContents": ("embeddings",),
}


def parse_model_list(payload: Any, *, provider: str = PROVIDER) -> list[ModelInfo]:
    """`GET models` (all pages merged under "models"), or Vertex's `publisherModels`, as ModelInfo."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_for_body(payload, provider)
    out: list[ModelInfo] = []
    for item in [*(payload.get("models") or ()), *(payload.get("publisherModels") or ())]:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        caps: set[str] = set()
        for method in item.get("supportedGenerationMethods") or item.get("supportedActions") or ():
            caps.update(_METHOD_CAPABILITIES.get(str(method), ()))
        if item.get("thinking") is True:
            caps.add("reasoning")
        limit_in, limit_out = item.get("inputTokenLimit"), item.get("outputTokenLimit")
        out.append(ModelInfo(
            id=bare_model_name(item["name"]), provider=provider, display_name=item.get("displayName"),
            context_window=limit_in if isinstance(limit_in, int) else None,
            max_output_tokens=limit_out if isinstance(limit_out, int) else None,
            capabilities=frozenset(caps)))
    return out


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


def parse_token_count(payload: Any, *, provider: str = PROVIDER) -> int:
    """`totalTokens` of a `countTokens` answer."""
    if not isinstance(payload, Mapping):
        raise MalformedResponseError("expected a JSON object", provider=provider)
    _raise_for_body(payload, provider)
    # An empty request counts 0, and the field is then left out.
    return token_count_field(payload, "totalTokens", provider=provider, default=0)
