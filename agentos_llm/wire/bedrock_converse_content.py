"""Bedrock Converse content blocks: our messages as Converse `messages` and `system` (pure).

Used by `agentos_llm.wire.bedrock_converse`, which builds the whole request (kept apart so each module stays one
concern). Blobs are raw `bytes`, as boto3 takes them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..model_traits import ModelTraits
from ..types import AudioPart, DocumentPart, ImagePart, Message, TextPart
from .bedrock_converse_response import MADE_BY, PROVIDER
from .common import arguments_object

__all__ = ["cache_point", "document_name", "messages_to_wire", "same_model", "tool_use_id"]

_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                  "image/webp": "webp"}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html", "text/plain": "txt", "text/markdown": "md",
}
_EXTENSIONS = {"jpg": "jpeg", "htm": "html", "markdown": "md", "text": "txt"}
# toolUseId: botocore's bedrock-runtime service model (`ToolUseId`: [a-zA-Z0-9_.:-]+, 1 to 64 characters). Claude
# checks its own rule behind Converse (Anthropic's tool_use id: ^[a-zA-Z0-9_-]+$), so ids sent to it keep to that.
_TOOL_ID = re.compile(r"^[a-zA-Z0-9_.:-]{1,64}$")
_NOT_ID_CHARS = re.compile(r"[^a-zA-Z0-9_.:-]")
_CLAUDE_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NOT_CLAUDE_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
# A cross-region inference profile serves the model of the same id: "us.anthropic.x" and "anthropic.x" are one.
_GEO_PREFIX = re.compile(r"^(?:us|eu|apac|au|ca|jp|us-gov|global)\.(?=[a-z0-9-]+\.)")
# Document names: "alphanumeric characters, whitespace characters (no more than one in a row), hyphens,
# parentheses, square brackets", 1 to 200 characters (DocumentBlock.name in the service model).
_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9\s\-()\[\]]+")
# A tool result must have content, and Bedrock refuses blank text: an empty result says so in words.
_EMPTY_RESULT = "(no output)"


def cache_point(spec: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A `cachePoint` content block; a `cache_control` with `ttl` "5m" or "1h" keeps its TTL."""
    point: dict[str, Any] = {"type": "default"}
    ttl = spec.get("ttl") if spec else None
    if ttl in ("5m", "1h"):
        point["ttl"] = ttl
    return {"cachePoint": point}


def tool_use_id(raw: str | None, traits: ModelTraits | None = None) -> str:
    """A `toolUseId` Bedrock accepts (`[a-zA-Z0-9_.:-]+`, at most 64; Claude: `[a-zA-Z0-9_-]+`), stable for the
    same input and model family.

    Ids made elsewhere pass unchanged when already valid; others get their invalid characters replaced plus a
    short hash, so two ids never collide.
    """
    claude = traits is not None and traits.request_dialect == "anthropic"
    valid, invalid = (_CLAUDE_TOOL_ID, _NOT_CLAUDE_ID_CHARS) if claude else (_TOOL_ID, _NOT_ID_CHARS)
    if raw and valid.match(raw):
        return raw
    digest = hashlib.sha256((raw or "").encode()).hexdigest()[:10]
    cleaned = invalid.sub("_", raw or "")[:48]
    return f"{cleaned}_{digest}" if cleaned else f"tooluse_{digest}"


def same_model(a: str, b: str) -> bool:
    """Whether two Bedrock model ids name one model (a geo inference profile serves the model of the same id)."""
    return _GEO_PREFIX.sub("", a) == _GEO_PREFIX.sub("", b)


def _base64(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{what} data is not valid base64", provider=PROVIDER) from None


def _extension(name: str | None) -> str | None:
    if not name or "." not in name.rsplit("/", 1)[-1]:
        return None
    ext = name.rsplit(".", 1)[-1].lower()
    return _EXTENSIONS.get(ext, ext)


# ---------------------------------------------------------------------- content blocks


def _image_block(part: ImagePart) -> dict[str, Any]:
    url = part.url or ""
    mime = part.media_type
    source: dict[str, Any]
    if part.data is not None:
        source = {"bytes": _base64(part.data, "image")}
    elif url.startswith("data:") and ";base64," in url:
        mime, data = url[5:].split(";base64,", 1)
        source = {"bytes": _base64(data, "image")}
    elif url.startswith("s3://"):
        source = {"s3Location": {"uri": url}}
    else:
        raise UnsupportedCapabilityError(PROVIDER, "image URLs", "Bedrock takes images as data or s3:// locations; "
                                         "download the image and pass its bytes as ImagePart(data=..., media_type=...)")
    fmt = _IMAGE_FORMATS.get((mime or "").lower()) or _extension(url if url.startswith("s3://") else None)
    if fmt not in _IMAGE_FORMATS.values():
        raise UnsupportedCapabilityError(PROVIDER, "images", f"Bedrock takes png, jpeg, gif and webp images, "
                                         f"not {mime or url[:40]!r}")
    return {"image": {"format": fmt, "source": source}}


def document_name(raw: str | None, fallback: str) -> str:
    """A document name as Bedrock requires: letters, digits, single spaces, hyphens, parentheses and square
    brackets, at most 200 characters (`fallback` when nothing is left)."""
    cleaned = " ".join(_NOT_NAME_CHARS.sub(" ", raw or "").split())[:200].strip()
    return cleaned or fallback


def _document_block(part: DocumentPart) -> dict[str, Any]:
    source: dict[str, Any]
    fmt: str | None
    if part.text is not None:
        # As bytes of a txt document: every model that reads documents takes those (a `text` source is newer).
        source, fmt = {"bytes": part.text.encode("utf-8")}, "txt"
    elif part.data is not None:
        source, fmt = {"bytes": _base64(part.data, "document")}, _DOCUMENT_FORMATS.get(part.mime.lower())
    elif part.url is not None and part.url.startswith("s3://"):
        source = {"s3Location": {"uri": part.url}}
        fmt = _DOCUMENT_FORMATS.get((part.media_type or "").lower()) or _extension(part.url)
    else:
        raise UnsupportedCapabilityError(PROVIDER, "documents", "Bedrock takes documents as data, text or s3:// "
                                         "locations, not web URLs or file ids")
    fmt = fmt or _extension(part.filename)
    if fmt not in _DOCUMENT_FORMATS.values():
        raise UnsupportedCapabilityError(PROVIDER, "documents", "Bedrock takes pdf, csv, doc, docx, xls, xlsx, html, "
                                         f"txt and md documents, not {part.mime!r}")
    stem = part.filename.rsplit(".", 1)[0] if part.filename and "." in part.filename else part.filename
    block: dict[str, Any] = {"format": fmt, "name": document_name(part.title or stem, "Document"), "source": source}
    if part.context:
        block["context"] = part.context
    if part.citations is not None:
        block["citations"] = {"enabled": part.citations}
    return {"document": block}


def _part_block(part: Any, traits: ModelTraits) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"text": part.text} if part.text.strip() else None  # Bedrock refuses blank text blocks
    if isinstance(part, ImagePart):
        return _image_block(part)
    if isinstance(part, DocumentPart):
        return _document_block(part)
    if isinstance(part, AudioPart):
        if not traits.audio:
            raise UnsupportedCapabilityError(PROVIDER, "audio", "this model takes no audio over Converse")
        return {"audio": {"format": part.format, "source": {"bytes": _base64(part.data, "audio")}}}
    return None


def _content_blocks(content: str | list[Any] | None, traits: ModelTraits, field: str) -> list[dict[str, Any]]:
    """Content blocks of a message; a part's `cache_control` adds a checkpoint after it where the model caches."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        block = _part_block(part, traits)
        if block is not None:
            blocks.append(block)
        spec = getattr(part, "cache_control", None)
        if spec and field in traits.cache_fields and blocks and "cachePoint" not in blocks[-1]:
            blocks.append(cache_point(spec))
    return blocks


def _restored(block: Mapping[str, Any]) -> dict[str, Any]:
    """A kept block as the request carries it: `redactedContent` back to bytes, our note of its model left out."""
    out = {k: v for k, v in block.items() if k != MADE_BY}
    reasoning = out.get("reasoningContent")
    if isinstance(reasoning, Mapping) and isinstance(reasoning.get("redactedContent"), str):
        out["reasoningContent"] = {**reasoning, "redactedContent": base64.b64decode(reasoning["redactedContent"])}
    return out


def _replayable(block: Mapping[str, Any], model: str | None) -> bool:
    """Whether a kept reasoning block may go back to `model` (a Claude model: only Claude checks reasoning).

    A signature is bound to the model that made it ("thinking blocks are tied to the model that produced them",
    Anthropic's extended-thinking guide): a block noted with another model is dropped, so Claude thinks afresh
    rather than refusing the request. A block without that note (kept before it existed, or made by hand) goes
    back only when signed or redacted: Claude refuses unsigned reasoning (DeepSeek's, gpt-oss's, Nova's).
    """
    made_by = block.get(MADE_BY)
    if isinstance(made_by, str) and model is not None:
        return same_model(made_by, model)
    reasoning = block.get("reasoningContent")
    if not isinstance(reasoning, Mapping):
        return False
    readable = reasoning.get("reasoningText")
    return bool(reasoning.get("redactedContent")) or (isinstance(readable, Mapping) and bool(readable.get("signature")))


def _assistant_blocks(msg: Message, traits: ModelTraits, model: str | None) -> list[dict[str, Any]]:
    # Our own kept blocks go back verbatim, reasoning first. Signed reasoning is sent back only to the Claude model
    # that made it (Claude checks it, in a tool loop); other vendors' blocks, and reasoning text without a block,
    # are dropped.
    own = [b.data for b in msg.vendor_blocks if b.provider == PROVIDER and b.data]
    blocks: list[dict[str, Any]] = []
    if traits.request_dialect == "anthropic":
        blocks += [_restored(b) for b in own if "reasoningContent" in b and _replayable(b, model)]
    blocks += [_restored(b) for b in own if "reasoningContent" not in b]
    blocks += _content_blocks(msg.content, traits, "messages")
    for call in msg.tool_calls:
        blocks.append({"toolUse": {"toolUseId": tool_use_id(call.id, traits), "name": call.name,
                                   "input": arguments_object(call, provider=PROVIDER)}})
    return blocks


def _tool_result_blocks(msg: Message, traits: ModelTraits) -> list[dict[str, Any]]:
    content = msg.content
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        parts = [b for b in (_part_block(p, traits) for p in content) if b is not None and "audio" not in b]
    elif content and content.strip():
        parts = [{"text": content}]
    # Our types carry no error flag for a tool result, so `status` is left out (Bedrock's default).
    result = {"toolUseId": tool_use_id(msg.tool_call_id, traits), "content": parts or [{"text": _EMPTY_RESULT}]}
    blocks: list[dict[str, Any]] = [{"toolResult": result}]
    # A toolResult cannot hold a checkpoint: a part's cache_control puts one right after it.
    specs = [getattr(p, "cache_control", None) for p in content] if isinstance(content, list) else []
    spec = next((c for c in specs if c), None)
    if spec and "messages" in traits.cache_fields:
        blocks.append(cache_point(spec))
    return blocks


def messages_to_wire(messages: Sequence[Message], traits: ModelTraits, model: str | None = None
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, messages) in Converse shape, for `model` (whose own signed reasoning goes back to it).

    System messages (wherever they are) go to `system`; tool results become `toolResult` blocks of a user turn;
    consecutive turns of one role merge into one (Bedrock needs user and assistant turns to alternate), tool
    results first within a user turn.
    """
    system: list[dict[str, Any]] = []
    turns: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = []  # role, tool results, other blocks
    for msg in messages:
        if msg.role == "system":
            system.extend(b for b in _content_blocks(msg.content, traits, "system") if "text" in b or "cachePoint" in b)
            continue
        results: list[dict[str, Any]] = []
        blocks: list[dict[str, Any]] = []
        if msg.role == "tool":
            role, results = "user", _tool_result_blocks(msg, traits)
        elif msg.role == "assistant":
            role, blocks = "assistant", _assistant_blocks(msg, traits, model)
        else:
            role, blocks = "user", _content_blocks(msg.content, traits, "messages")
        if not results and not [b for b in blocks if "cachePoint" not in b]:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(results)
            turns[-1][2].extend(blocks)
        else:
            turns.append((role, results, blocks))
    wired = [{"role": role, "content": results + blocks} for role, results, blocks in turns]
    _distinct_document_names(wired)
    return system, wired


def _distinct_document_names(turns: Sequence[Mapping[str, Any]]) -> None:
    """Numbers documents that share a name ("Report", "Report (2)"): the model tells them apart by name."""
    seen: set[str] = set()
    for turn in turns:
        for block in turn["content"]:
            result = block.get("toolResult")
            inner = result.get("content", []) if isinstance(result, Mapping) else [block]
            for item in inner:
                document = item.get("document") if isinstance(item, Mapping) else None
                if not isinstance(document, dict):
                    continue
                name, n = document["name"], 1
                while name in seen:
                    n += 1
                    name = f"{document['name'][:190]} ({n})"
                document["name"] = name
                seen.add(name)
