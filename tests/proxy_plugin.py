"""A proxy.py plugin for tests/test_http_bridge.py: runs inside the proxy's processes (`--plugins`), not pytest.

Each request the proxy handles is appended to the file `AGENTOS_TEST_PROXY_LOG` names, as one line
"METHOD host:port path", before it is passed upstream; a plain-http request also gets an `X-Test-Proxy` header,
so the server behind can tell that it came through the proxy.
"""

from __future__ import annotations

import os

from proxy.http.parser import HttpParser
from proxy.http.proxy import HttpProxyBasePlugin

PROXY_HEADER = "x-test-proxy"


class RecordingPlugin(HttpProxyBasePlugin):
    """Records every request and marks the plain-http ones."""

    def handle_client_request(self, request: HttpParser) -> HttpParser | None:
        host = (request.host or b"").decode("latin-1")
        line = f"{(request.method or b'').decode('latin-1')} {host}:{request.port} " \
               f"{(request.path or b'').decode('latin-1')}\n"
        with open(os.environ["AGENTOS_TEST_PROXY_LOG"], "a", encoding="utf-8") as log:
            log.write(line)
        if not request.is_https_tunnel:
            request.add_header(PROXY_HEADER.encode(), b"seen")
        return request
