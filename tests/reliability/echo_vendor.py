"""A badly behaved vendor for the secrets test: a proxy in front of a sandbox system that
fails chosen requests with an error body echoing the request's credentials.

Requests it does not fail are forwarded to the sandbox unchanged. An echoed body
holds the raw ``Authorization`` header and, for HTTP Basic, the decoded password:
everything a careless vendor could reflect back into contactsync's errors and logs.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

#: (method, path) -> the status to fail with, or None to forward the request
FailRule = Callable[[str, str], int | None]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def echo_body(authorization: str) -> bytes:
    scheme, _, credential = authorization.partition(" ")
    password = ""
    if scheme.lower() == "basic":
        try:
            password = base64.b64decode(credential).decode().partition(":")[2]
        except ValueError:
            password = ""
    message = f"credentials {authorization!s} refused (password {password!s})"
    return json.dumps(
        {"message": message, "errors": [["primary_email", message]], "detail": authorization}
    ).encode()


def _handler(upstream: str, fail: FailRule) -> type[BaseHTTPRequestHandler]:
    client = httpx.Client(base_url=upstream, timeout=30)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            status = fail(self.command, path)
            if status is not None:
                self._answer(
                    status,
                    {"Content-Type": "application/json"},
                    echo_body(self.headers.get("Authorization", "")),
                )
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            answer = client.request(self.command, self.path, content=body, headers=headers)
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            kept.pop("content-encoding", None)
            self._answer(answer.status_code, kept, answer.content)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


@contextmanager
def echoing_vendor(upstream: str, fail: FailRule) -> Iterator[str]:
    """Serve the proxy on a free loopback port; yields its root URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, fail))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
