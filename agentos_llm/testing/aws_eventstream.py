"""The AWS binary event-stream framing (``application/vnd.amazon.eventstream``), encoder side.

Each message is: a prelude (total length and headers length, both big-endian uint32, then the
CRC-32 of those 8 bytes), the headers, the payload, and the CRC-32 of everything before it. A
header is its name length (1 byte), the name, a type byte and the value; only string values (type
7, uint16 length then UTF-8) are written, which is all Bedrock's streams use. Standard library only.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

__all__ = [
    "CONTENT_TYPE",
    "encode_headers",
    "encode_message",
    "event_message",
    "exception_message",
]

#: The HTTP content type of an AWS event stream.
CONTENT_TYPE = "application/vnd.amazon.eventstream"

_STRING = 7
_PRELUDE = struct.Struct(">II")
_JSON = (",", ":")


def encode_headers(headers: dict[str, str]) -> bytes:
    """The headers section: every value written as a string header, in the dict's order."""
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        if len(raw_name) > 255 or len(raw_value) > 65535:
            raise ValueError(f"event-stream header {name!r} is too long")
        out += bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One complete event-stream message (prelude, headers, payload, both CRCs)."""
    raw_headers = encode_headers(headers)
    total = _PRELUDE.size + 4 + len(raw_headers) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(raw_headers))
    body = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _payload(data: Any) -> bytes:
    return data if isinstance(data, bytes) else json.dumps(data, separators=_JSON).encode()


def event_message(event_type: str, data: Any) -> bytes:
    """An ``event`` message; ``data`` is JSON-encoded unless it is already ``bytes``."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, _payload(data))


def exception_message(exception_type: str, data: Any) -> bytes:
    """An ``exception`` message (e.g. ``throttlingException``) carrying ``data`` (``{"message": ...}``)."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, _payload(data))
