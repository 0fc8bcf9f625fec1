"""How contactsync talks to Trackops: HTTP Basic with ``{username}/token``.

Trackops documents no rate limit and sends no rate headers: the throttle learns
the limit from the first 429 (or a configured ``rate_limit`` sets it).
"""

from __future__ import annotations

import base64
from collections.abc import Generator

import httpx

from contactsync.adapters._common import pooled_client
from contactsync.adapters.base import AdapterContext
from contactsync.http.client import UNDOCUMENTED, SystemClient, VendorHttp
from contactsync.http.errors import MASK, FatalError

SYSTEM = "trackops"
HTTP: VendorHttp = UNDOCUMENTED


class TrackopsBasicAuth(httpx.Auth):
    """HTTP Basic with user ``"{username}/token"`` and the company API token as password."""

    def __init__(self, username: str, token: str) -> None:
        self.username = username
        credentials = f"{username}/token:{token}".encode()
        self._header = "Basic " + base64.b64encode(credentials).decode("ascii")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"TrackopsBasicAuth(username={self.username!r}, token={MASK})"


def build_client(context: AdapterContext) -> SystemClient:
    """The Trackops client: Basic auth with ``{username}/token`` and the API token."""
    missing = [key for key in ("username", "token") if not context.credentials.get(key)]
    if missing:
        raise FatalError(
            f"configuration: missing credential(s) {', '.join(missing)}",
            system=SYSTEM,
            operation="connect",
        )
    auth = TrackopsBasicAuth(context.credentials["username"], context.credentials["token"])
    return pooled_client(SYSTEM, context, auth, HTTP)
