"""Small, pure readers of HTTP details shared by errors, retries and the throttle.

Request extensions understood by contactsync's HTTP layer (pass them as
``client.post(url, json=..., extensions={...})``):

``idempotent`` (bool)
    Overrides the method's default. Set it to ``True`` on a POST that only reads
    (Rhythm and Pylon searches) so it may be retried; ``False`` on anything that
    must never be sent twice.
``operation`` (str)
    A short human name for the call (``"create contact"``), used in error messages.
``record_id`` (str)
    The record the call is about, used in error messages.
``rate_bucket`` (str)
    Forces the rate-limit bucket (the OAuth token request uses ``"oauth"``).
``contactsync.status_hints`` (mapping of status to text)
    What a bare status means at this vendor (set on every request by the client
    :func:`~contactsync.http.client.build_client` builds with ``status_hints``);
    read by :func:`~contactsync.http.errors.classify` when the body says nothing.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

EXT_IDEMPOTENT = "idempotent"
EXT_OPERATION = "operation"
EXT_RECORD_ID = "record_id"
EXT_RATE_BUCKET = "rate_bucket"
EXT_STATUS_HINTS = "contactsync.status_hints"

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
READ_ONLY: dict[str, object] = {EXT_IDEMPOTENT: True}
"""Extensions for a POST that only reads (a search): ``extensions=READ_ONLY``."""

# A reset value below this is read as "seconds from now", above it as epoch seconds.
_EPOCH_THRESHOLD = 1_000_000_000


def is_idempotent(request: httpx.Request) -> bool:
    """True when sending ``request`` twice has the same effect as sending it once."""
    flag = request.extensions.get(EXT_IDEMPOTENT)
    if isinstance(flag, bool):
        return flag
    return request.method.upper() in IDEMPOTENT_METHODS


def operation_name(request: httpx.Request) -> str:
    """The caller's name for the call, else ``"GET /path"``."""
    name = request.extensions.get(EXT_OPERATION)
    if isinstance(name, str) and name:
        return name
    return f"{request.method} {request.url.path}"


def status_hint(request: httpx.Request | None, status: int) -> str | None:
    """What the vendor's ``status`` means when its answer says nothing (None: no hint)."""
    hints = None if request is None else request.extensions.get(EXT_STATUS_HINTS)
    hint = hints.get(status) if isinstance(hints, Mapping) else None
    return hint if isinstance(hint, str) else None


def record_id_of(request: httpx.Request) -> str | None:
    value = request.extensions.get(EXT_RECORD_ID)
    return None if value is None else str(value)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date).

    Returns ``None`` when the value is missing or unreadable, never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def parse_reset(value: str | None, now: float) -> float | None:
    """Epoch time a quota window resets, from epoch seconds or seconds-from-now."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number < 0:
        return None
    return number if number >= _EPOCH_THRESHOLD else now + number


SKEW_TOLERANCE = 5.0


def clock_skew(response: httpx.Response, now: float) -> float:
    """Our clock minus the vendor's (from its ``Date`` header); 0 when within tolerance."""
    raw = response.headers.get("Date")
    if raw is None:
        return 0.0
    try:
        moment = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if moment.tzinfo is None:
        return 0.0
    skew = now - moment.timestamp()
    return skew if abs(skew) > SKEW_TOLERANCE else 0.0


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class Quota:
    """What a response says about the caller's remaining quota."""

    limit: int | None
    remaining: int
    reset_at: float | None


def read_quota(headers: Mapping[str, str], now: float, prefix: str = "X-RateLimit") -> Quota | None:
    """``X-RateLimit-Limit/Remaining/Reset`` (Xurrent, and Pylon *(assumed)*), or None."""
    remaining = _int_header(headers, f"{prefix}-Remaining")
    if remaining is None:
        return None
    return Quota(
        limit=_int_header(headers, f"{prefix}-Limit"),
        remaining=max(0, remaining),
        reset_at=parse_reset(headers.get(f"{prefix}-Reset"), now),
    )
