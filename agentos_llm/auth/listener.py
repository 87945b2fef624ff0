"""The loopback redirect listener of a browser sign-in (RFC 8252 section 7.3).

It binds 127.0.0.1 only, answers exactly one request on the redirect path (other paths, such as the
browser's favicon request, get a 404 and do not count), checks `state` in constant time, shows a short
page telling the person they can close the tab, and gives up after a timeout. It never logs a request:
the query string holds the authorization code.
"""

from __future__ import annotations

import contextlib
import hmac
import html
import http.server
import socketserver
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import AuthenticationError, ConfigurationError

__all__ = ["LoopbackListener"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentos-llm</title></head>
<body style="font-family: sans-serif; margin: 3em;"><h1>{title}</h1><p>{text}</p></body></html>
"""


class _Server(http.server.HTTPServer):
    # The first request on the redirect path, parsed; None until it comes.
    outcome: dict[str, str] | None = None
    expected_path: str = "/callback"
    expected_state: str | None = None
    check_state: bool = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, a DNS query this listener has no use for.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a browser closing its connection early is not news.
        return


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a connection that sends nothing cannot hold the listener
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request line carries the code

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.expected_path or self.server.outcome is not None:
            self._answer(404, "Not found", "This address is only for the agentos-llm sign-in.")
            return
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if self.server.check_state:
            state = query.get("state", "")
            expected = self.server.expected_state or ""
            if not expected or not hmac.compare_digest(state.encode(), expected.encode()):
                self.server.outcome = {"_rejected": "state_mismatch"}
                self._answer(400, "Sign-in rejected",
                             "This answer does not belong to the sign-in agentos-llm started. "
                             "Return to the terminal and run the login again.")
                return
        self.server.outcome = query
        if "error" in query:
            self._answer(200, "Sign-in not completed",
                         "The sign-in was refused or failed. You can close this tab and return to the terminal.")
        elif "code" not in query:
            self._answer(400, "Sign-in incomplete", "The answer has no authorization code. Return to the terminal.")
        else:
            self._answer(200, "Signed in", "agentos-llm received the sign-in. You can close this tab.")

    def _answer(self, status: int, title: str, text: str) -> None:
        body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")  # the URL holds the code
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class LoopbackListener:
    """Waits for one browser redirect on http://127.0.0.1:<port><path>; a context manager that closes it."""

    def __init__(self, *, port: int = 0, path: str = "/callback", timeout: float = 300.0,
                 check_state: bool = True) -> None:
        try:
            self._server = _Server(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on 127.0.0.1:{port} for the sign-in redirect ({exc.strerror}); "
                "set redirect_port to a free port, or 0 for any") from None
        self._server.expected_path = path
        self._server.check_state = check_state
        self.timeout = timeout
        self.path = path

    @property
    def port(self) -> int:
        """The port the listener is bound to."""
        return int(self._server.server_address[1])

    def redirect_uri(self, host: str = "127.0.0.1") -> str:
        """The redirect URI to register with the authorization request."""
        return f"http://{host}:{self.port}{self.path}"

    def expect_state(self, state: str) -> None:
        """The `state` the answer must carry."""
        self._server.expected_state = state

    def wait(self) -> dict[str, str]:
        """The redirect's query parameters; `AuthenticationError` on a wrong state, an error answer or timeout."""
        deadline = time.monotonic() + self.timeout
        try:
            while self._server.outcome is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AuthenticationError(
                        f"no sign-in arrived within {self.timeout:g} s (the browser redirect to "
                        f"{self.redirect_uri()} never came); run the login again", code="login_timeout")
                self._server.timeout = min(remaining, 1.0)
                self._server.handle_request()
        finally:
            self.close()
        outcome = self._server.outcome
        if outcome.get("_rejected") == "state_mismatch":
            raise AuthenticationError("the sign-in answer carried a wrong `state` (not the request this login "
                                      "started): rejected; run the login again", code="state_mismatch")
        if "error" in outcome:
            error = outcome["error"]
            description = outcome.get("error_description", "")
            raise AuthenticationError(f"the sign-in was refused: {error}{': ' + description if description else ''}",
                                      code=error)
        if not outcome.get("code"):
            raise AuthenticationError("the sign-in answer had no authorization code", code="invalid_request")
        return outcome

    def close(self) -> None:
        """Stops listening (idempotent)."""
        with contextlib.suppress(OSError):
            self._server.socket.close()

    def __enter__(self) -> LoopbackListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

