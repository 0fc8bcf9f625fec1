"""The transport quirk of Rhythm's rate limit: a 429 without a ``Retry-After``."""

from __future__ import annotations

import httpx


class RetryAfterDefault(httpx.BaseTransport):
    """Adds ``Retry-After: <seconds>`` to a 429 that has none, so the throttle pauses the
    whole tenant once (Rhythm documents the 429 but no header)."""

    def __init__(self, inner: httpx.BaseTransport, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = f"{self.seconds:g}"
        return response

    def close(self) -> None:
        self.inner.close()
