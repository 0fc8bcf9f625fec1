"""Rhythm's OAuth2 client-credentials token endpoint and bearer-token check.

``POST /oauth2/token`` *(assumed path, Cognito style)* takes
``grant_type=client_credentials`` with the client id and secret in HTTP Basic or in
the form, and answers ``{"access_token": <JWT>, "token_type": "Bearer",
"expires_in": 86400}``. The vendor caps the tokens a client may get per month, so
the simulator counts every token it issues. Token endpoint errors use the OAuth2
error body (RFC 6749 section 5.2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

TOKEN_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class IssuedToken:
    subject: str
    expires_at: datetime


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _oauth_error(status: int, error: str) -> Response:
    return JSONResponse({"error": error}, status_code=status, headers={"Cache-Control": "no-store"})


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


class TokenIssuer:
    """Issues JWT-looking bearer tokens to one client and recognises them until they expire."""

    def __init__(
        self, client_id: str, client_secret: str, tenant_id: str, now: Callable[[], datetime]
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant_id = tenant_id
        self._now = now
        self._signing_key = hashlib.sha256(f"rhythm-sandbox:{client_secret}".encode()).digest()
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def _credentials_ok(self, client_id: str, secret: str) -> bool:
        return hmac.compare_digest(client_id, self._client_id) and hmac.compare_digest(
            secret, self._client_secret
        )

    async def token_endpoint(self, request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", errors="replace")
        form = {key: values[0] for key, values in parse_qs(raw).items()}
        credentials = _basic_credentials(request.headers.get("authorization", ""))
        if credentials is None and "client_id" in form:
            credentials = (form["client_id"], form.get("client_secret", ""))
        if credentials is None or not self._credentials_ok(*credentials):
            return _oauth_error(401, "invalid_client")
        grant = form.get("grant_type")
        if grant is None:
            return _oauth_error(400, "invalid_request")
        if grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type")
        token = self._issue(credentials[0])
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            },
            headers={"Cache-Control": "no-store"},
        )

    def _issue(self, subject: str) -> str:
        now = self._now()
        expires = now + TOKEN_LIFETIME
        with self._lock:
            self.issued += 1
            serial = self.issued
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {
            "iss": "https://rolodex.sandbox.rhythm.local",
            "sub": subject,
            "tenant": self._tenant_id,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": f"rhythm-token-{serial}",
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64url(signature)}"
        with self._lock:
            self._tokens[token] = IssuedToken(subject, expires)
        return token

    def subject(self, authorization: str) -> str | None:
        """The client a valid, unexpired ``Bearer`` token was issued to, else None."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        with self._lock:
            issued = self._tokens.get(token.strip())
        if issued is None or self._now() >= issued.expires_at:
            return None
        return issued.subject
