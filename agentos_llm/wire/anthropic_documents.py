"""Anthropic documents and citations: `document` blocks out, the citations Claude makes back in.

Pure functions used by `anthropic_messages` (kept apart so each module stays one concern).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidRequestError, UnsupportedCapabilityError
from ..types import Citation, DocumentPart, Message

__all__ = ["FILES_BETA", "citation_from_wire", "document_block", "needs_files_beta"]

PROVIDER = "anthropic"
FILES_BETA = "files-api-2025-04-14"
"""The `anthropic-beta` header value a document given by `file_id` needs (see `needs_files_beta`)."""

# Where each citation kind says the cited span starts and ends: characters of a plain-text document,
# pages of a PDF, blocks of a custom-content document or search result.
_SPANS = (("start_char_index", "end_char_index"), ("start_page_number", "end_page_number"),
          ("start_block_index", "end_block_index"))


def _text_document(data: str) -> str:
    try:
        return base64.b64decode(data).decode("utf-8")
    except ValueError:
        raise InvalidRequestError("a text/* document's data is not base64-encoded UTF-8 text",
                                  provider=PROVIDER) from None


def _source(part: DocumentPart) -> dict[str, Any]:
    if part.file_id is not None:
        return {"type": "file", "file_id": part.file_id}
    if part.url is not None:
        return {"type": "url", "url": part.url}
    if part.text is not None:
        return {"type": "text", "media_type": "text/plain", "data": part.text}
    mime = part.mime
    if mime == "application/pdf":
        return {"type": "base64", "media_type": mime, "data": part.data}
    if mime.startswith("text/"):
        # Claude reads text documents from a plain-text source only, never from base64.
        return {"type": "text", "media_type": "text/plain", "data": _text_document(part.data or "")}
    raise UnsupportedCapabilityError(PROVIDER, "documents", f"Claude takes PDF and plain-text documents, not {mime!r}")


def document_block(part: DocumentPart) -> dict[str, Any]:
    """A `document` content block: PDF (base64 or URL), plain text, or an uploaded file."""
    block: dict[str, Any] = {"type": "document", "source": _source(part)}
    title = part.title or part.filename  # the API takes no file name; the title is what citations name
    if title:
        block["title"] = title
    if part.context:
        block["context"] = part.context
    if part.citations is not None:
        block["citations"] = {"enabled": part.citations}
    if part.cache_control:
        block["cache_control"] = part.cache_control
    return block


def needs_files_beta(messages: Sequence[Message]) -> bool:
    """Whether a request with these messages needs `anthropic-beta: FILES_BETA` (a document by file id)."""
    return any(isinstance(p, DocumentPart) and p.file_id is not None
               for m in messages if isinstance(m.content, list) for p in m.content)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _index(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def citation_from_wire(raw: Mapping[str, Any]) -> Citation:
    """One entry of a text block's `citations` list (char, page or content-block location in a document,
    a web search result, a search result) as our `Citation`."""
    start = end = None
    for start_key, end_key in _SPANS:
        if start_key in raw:
            start, end = _index(raw.get(start_key)), _index(raw.get(end_key))
            break
    index = raw.get("document_index")
    if index is None:
        index = raw.get("search_result_index")
    return Citation(
        type=_str(raw.get("type")) or "unknown",
        cited_text=_str(raw.get("cited_text")),
        url=_str(raw.get("url")) or _str(raw.get("source")),  # a search result names its source there
        title=_str(raw.get("document_title")) or _str(raw.get("title")),
        file_id=_str(raw.get("file_id")),
        document_index=_index(index),
        start=start,
        end=end,
    )
