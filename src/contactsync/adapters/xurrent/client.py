"""How contactsync talks to Xurrent: a bearer token plus the account header, a burst limit.

Xurrent limits bursts to 20 requests per 2 s (:data:`XURRENT_BUDGETS`; the http
layer adds its margin for jitter); its hourly quota of 3600 is read from the
``X-RateLimit-*`` headers.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from contactsync.http.budgets import ANY_BUCKET
from contactsync.http.client import BearerAuth, Budget, VendorHttp
from contactsync.http.errors import MASK

XURRENT_BUDGETS: dict[str, Budget] = {ANY_BUCKET: Budget(20, 2.0)}
HTTP = VendorHttp(budgets=XURRENT_BUDGETS)


class XurrentAuth(BearerAuth):
    """Bearer token plus the ``X-Xurrent-Account`` header naming the account."""

    def __init__(self, token: str, account_id: str) -> None:
        super().__init__(token)
        self.account_id = account_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Xurrent-Account"] = self.account_id
        yield from super().auth_flow(request)

    def __repr__(self) -> str:
        return f"XurrentAuth(token={MASK}, account_id={self.account_id!r})"
