"""A small HTTP/1.1 client over `asyncio` streams, for the few side requests the library makes itself.

Local-server discovery (`agentos_llm.discovery`) and quota endpoints (`agentos_llm.quota_fetch`) use it
rather than a vendor SDK or an HTTP client library: nothing heavy is imported to ask one small question,
a hung server is cancelled cleanly (a thread blocked in `urllib` cannot be), the size cap applies while
reading, and redirects are never followed (a 3xx comes back as it is, for the caller to judge).

Through a proxy (`agentos_llm.http_bridge` decides which, NO_PROXY included) an http URL is asked in absolute
form and an https one through a CONNECT tunnel, TLS then running end to end with the server: the same two ways
every HTTP client uses a forward proxy, and small enough to keep here rather than bring in an HTTP library for
side requests. A proxy URL's user and password go in `Proxy-Authorization` (Basic).
"""

from __future__ import annotations

import asyncio
import base64
import errno
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = ["HttpAnswer", "HttpFailure", "request"]


class HttpFailure(Exception):
    """No usable answer: why, whether something answered at all, and whether time ran out."""

    def __init__(self, reason: str, *, answered: bool, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.answered = answered
        self.timed_out = timed_out


@dataclass(frozen=True)
class HttpAnswer:
    """A whole answer: status, lower-cased headers, and the body (at most the size cap)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _proxy_auth(proxy: SplitResult) -> list[str]:
    if proxy.username is None:
        return []
    pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
    return [f"Proxy-Authorization: Basic {base64.b64encode(pair).decode('ascii')}"]


def _request_bytes(method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                   proxy: SplitResult | None = None) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if proxy is not None:  # a plain-http request through a proxy names the whole URL (absolute form)
        target = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{target}"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}",
             "Accept: application/json", "Connection: close", *(_proxy_auth(proxy) if proxy else [])]
    for name, value in headers.items():
        # A value with a line break would smuggle a header (or a request) of its own.
        if not any(c in name + value for c in "\r\n"):
            lines.append(f"{name}: {value}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of an HTTP response head."""
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/") or not code.isdigit():
        raise HttpFailure("not an HTTP server", answered=True)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(code), headers


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError) or exc.errno == errno.ECONNREFUSED:
        return "connection refused"
    verify_message = getattr(exc, "verify_message", None)  # ssl.SSLCertVerificationError
    if verify_message is not None:
        return f"TLS certificate verification failed: {verify_message}; set ca_bundle for this provider"
    return exc.strerror or str(exc) or type(exc).__name__


def _too_large(max_bytes: int) -> HttpFailure:
    return HttpFailure(f"answer larger than {max_bytes} bytes: skipped", answered=True)


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str], max_bytes: int) -> bytes:
    """The body, never holding more than `max_bytes` of it."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        total = 0
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return b"".join(parts)
            total += size
            if total > max_bytes:
                raise _too_large(max_bytes)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)  # the CRLF after each chunk
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        if int(length) > max_bytes:
            raise _too_large(max_bytes)
        return await reader.readexactly(int(length))
    buf = bytearray()
    while chunk := await reader.read(65536):
        buf += chunk
        if len(buf) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(buf)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request_bytes: bytes,
                    max_bytes: int) -> HttpAnswer:
    writer.write(request_bytes)
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")  # bounded by the reader's 64 KiB line limit
        status, headers = _parse_head(head)
        return HttpAnswer(status, headers, await _read_body(reader, headers, max_bytes))
    except asyncio.IncompleteReadError:
        raise HttpFailure("the connection closed before a whole answer", answered=True) from None
    except (asyncio.LimitOverrunError, ValueError):
        raise HttpFailure("not a well-formed HTTP answer", answered=True) from None


async def _tunnel(proxy: SplitResult, host: str, port: int) -> socket.socket:
    """A socket to `host:port` through the proxy's CONNECT, ready for TLS with the server."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(proxy.hostname, proxy.port or 80, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(errno.EHOSTUNREACH, "the proxy's name resolves to no address")
    failure: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
            break
        except OSError as exc:
            sock.close()
            failure = exc
    else:
        assert failure is not None
        raise failure
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        head = "\r\n".join([f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", *_proxy_auth(proxy)])
        await loop.sock_sendall(sock, (head + "\r\n\r\n").encode("latin-1"))
        answer = b""
        # Byte by byte up to the blank line: the server's TLS bytes must stay in the socket for the handshake.
        while not answer.endswith(b"\r\n\r\n"):
            byte = await loop.sock_recv(sock, 1)
            if not byte or len(answer) > 16384:
                raise HttpFailure("the proxy closed the connection before answering CONNECT", answered=False)
            answer += byte
        status, _ = _parse_head(answer)
    except BaseException:
        sock.close()
        raise
    if status != 200:
        sock.close()
        raise HttpFailure(f"the proxy refused the tunnel to {authority} (HTTP {status})", answered=False)
    return sock


async def _connect(parts: SplitResult, proxy: SplitResult | None, ssl_context: Any
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    https = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)
    if proxy is None:
        return await asyncio.open_connection(host, port, ssl=ssl_context)
    if not https:
        to_proxy: Any = None
        if proxy.scheme == "https":
            import ssl

            to_proxy = ssl.create_default_context()
        return await asyncio.open_connection(proxy.hostname, proxy.port or 80, ssl=to_proxy)
    if proxy.scheme != "http":
        raise HttpFailure(f"side requests tunnel through http:// proxies only, not {proxy.scheme}://",
                          answered=False)
    sock = await _tunnel(proxy, host, port)
    try:
        return await asyncio.open_connection(sock=sock, ssl=ssl_context, server_hostname=host)
    except BaseException:
        sock.close()
        raise


async def request(method: str, url: str, *, body: bytes | None = None, headers: Mapping[str, str] | None = None,
                  timeout: float, max_bytes: int, proxy: str | None = None, ssl_context: Any = None) -> HttpAnswer:
    """One request; `timeout` bounds connecting and reading together. Raises `HttpFailure`.

    `proxy`: the forward proxy to go through (an http:// one for https URLs); `ssl_context`: whom to trust for
    https (default: the system's CAs).
    """
    parts = urlsplit(url)
    via = urlsplit(proxy) if proxy else None
    if via is not None and (via.scheme not in ("http", "https") or not via.hostname):
        raise HttpFailure("side requests go through http:// or https:// proxies only", answered=False)
    if parts.scheme == "https" and ssl_context is None:
        import ssl  # only when a server asks for it

        ssl_context = ssl.create_default_context()
    loop = asyncio.get_running_loop()
    started = loop.time()
    through = f" through the proxy {via.hostname}:{via.port or 80}" if via is not None else ""
    try:
        reader, writer = await asyncio.wait_for(_connect(parts, via, ssl_context), timeout)
    except asyncio.TimeoutError:
        raise HttpFailure(f"no connection{through} within {timeout:g} s", answered=False, timed_out=True) from None
    except OSError as exc:
        raise HttpFailure(f"unreachable{through} ({_os_reason(exc)})", answered=False) from None
    absolute = via if via is not None and parts.scheme != "https" else None
    try:
        remaining = max(0.01, timeout - (loop.time() - started))
        return await asyncio.wait_for(
            _exchange(reader, writer, _request_bytes(method, url, body, headers or {}, absolute), max_bytes),
            remaining)
    except asyncio.TimeoutError:
        raise HttpFailure(f"accepted the connection but gave no whole answer within {timeout:g} s",
                          answered=True, timed_out=True) from None
    except OSError as exc:
        raise HttpFailure(f"the connection failed ({_os_reason(exc)})", answered=True) from None
    finally:
        # Not awaiting wait_closed: a hung peer must not hold the caller past its bound.
        writer.close()
