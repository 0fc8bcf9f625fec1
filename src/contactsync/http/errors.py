"""Typed errors for every call to a vendor API, and the one reader of vendor error bodies.

::

    SyncError
    ├── RetriableError        connection failures, timeouts, 408, 429, 5xx
    │   └── RateLimitedError  429, with ``retry_after`` seconds when the vendor says
    ├── FatalError            401/403, 404 on a list endpoint, malformed envelope, bad config
    └── RecordError           one record refused (400/409/422 on a write), names the fields
        ├── DuplicateError    the vendor says the record already exists (``existing_id``)
        └── NotFoundError     404/410 on a record endpoint (a ``record_id`` was given)

A ``RetriableError`` with ``maybe_applied=True`` means a write may have reached the
vendor (read timeout or 5xx on a non-idempotent request): look the record up before
any second attempt.

Every vendor text that ends up in an error (its message, its body) goes through a
redactor first: the one passed in, else the one registered with
:func:`set_default_redactor` (the lead wires ``contactsync.logs.redact`` there), else
identity. Bodies are trimmed to ``BODY_LIMIT`` characters after redaction.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from contactsync.http.error_body import VendorError, parse_error_body
from contactsync.http.headers import (
    EXT_IDEMPOTENT,
    is_idempotent,
    operation_name,
    parse_retry_after,
    record_id_of,
    status_hint,
)

Redactor = Callable[[str], str]

BODY_LIMIT = 500
MASK = "***"
MESSAGE_LIMIT = 300


def _identity(text: str) -> str:
    return text


_default_redactor: Redactor = _identity


def set_default_redactor(redact: Redactor | None) -> None:
    """Register the redactor used when none is passed (``None`` restores identity)."""
    global _default_redactor
    _default_redactor = redact or _identity


def default_redactor() -> Redactor:
    """The redactor registered with :func:`set_default_redactor` (identity by default)."""
    return _default_redactor


def masking_redactor(secrets: Sequence[str], redact: Redactor | None = None) -> Redactor:
    """A redactor that masks each of ``secrets`` and then applies ``redact`` (or the default)."""
    masked = tuple(sorted({secret for secret in secrets if secret}, key=len, reverse=True))

    def scrub(text: str) -> str:
        for secret in masked:
            text = text.replace(secret, MASK)
        return (redact or default_redactor())(text)

    return scrub


def request_secrets(request: httpx.Request | None) -> tuple[str, ...]:
    """The credentials a request carried (bearer token; Basic blob and password)."""
    if request is None:
        return ()
    scheme, _, credential = request.headers.get("Authorization", "").strip().partition(" ")
    found = [credential.strip()]
    if scheme.lower() == "basic" and credential:
        try:
            decoded = base64.b64decode(credential.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        found.append(decoded.partition(":")[2])
    return tuple(secret for secret in found if len(secret) >= 4)


def clean_text(text: str | None, limit: int, redact: Redactor | None = None) -> str | None:
    """Redact, collapse whitespace to one line and trim ``text`` (None stays None)."""
    if text is None:
        return None
    redacted = (redact or _default_redactor)(text)
    one_line = " ".join(redacted.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


class SyncError(Exception):
    """A call to ``system`` failed; ``str()`` is one line naming what, where and why."""

    def __init__(
        self,
        message: str,
        *,
        system: str,
        operation: str,
        record_id: str | None = None,
        status: int | None = None,
        vendor_message: str | None = None,
        body: str | None = None,
        fields: Sequence[str] = (),
        request_id: str | None = None,
        redact: Redactor | None = None,
    ) -> None:
        self.message = message
        self.system = system
        self.operation = operation
        self.record_id = record_id
        self.status = status
        self.vendor_message = clean_text(vendor_message, MESSAGE_LIMIT, redact)
        self.body = clean_text(body, BODY_LIMIT, redact)
        self.fields: tuple[str, ...] = tuple(fields)
        self.request_id = request_id
        super().__init__(self._line())

    def _line(self) -> str:
        parts = [f"{self.system} {self.operation}"]
        if self.record_id is not None:
            parts[0] += f" [record {self.record_id}]"
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        parts.append(self.message)
        if self.vendor_message and self.vendor_message not in self.message:
            parts.append(self.vendor_message)
        line = ": ".join(parts)
        if self.fields:
            line += f" (fields: {', '.join(self.fields)})"
        line += self._suffix()
        return " ".join(line.split())

    def _suffix(self) -> str:
        return ""

    def __str__(self) -> str:
        return self._line()


class RetriableError(SyncError):
    """Worth trying again later; ``maybe_applied`` says a write may already have landed."""

    def __init__(self, message: str, *, maybe_applied: bool = False, **kwargs: Any) -> None:
        self.maybe_applied = maybe_applied
        super().__init__(message, **kwargs)

    def _suffix(self) -> str:
        return " (may have been applied: look the record up before retrying)" * self.maybe_applied


class RateLimitedError(RetriableError):
    """The vendor said 429; ``retry_after`` is in seconds when it said how long."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)

    def _suffix(self) -> str:
        return "" if self.retry_after is None else f" (retry after {self.retry_after:g}s)"


class FatalError(SyncError):
    """Retrying will not help: credentials, configuration or our reading of the API is wrong."""


class RecordError(SyncError):
    """The vendor refused this one record; the run goes on."""


class DuplicateError(RecordError):
    """The record already exists there; ``existing_id`` is the vendor's id when it gave one."""

    def __init__(self, message: str, *, existing_id: str | None = None, **kwargs: Any) -> None:
        self.existing_id = existing_id
        super().__init__(message, **kwargs)

    def _suffix(self) -> str:
        return "" if self.existing_id is None else f" (existing id {self.existing_id})"


class NotFoundError(RecordError):
    """The record addressed by id does not exist (or no longer exists) there."""


_DUPLICATE_WORDS = re.compile(
    r"already (been )?(taken|exists?|in use|registered)|duplicate", re.IGNORECASE
)
_RECORD_STATUSES = frozenset({400, 409, 422})
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_write(request: httpx.Request) -> bool:
    return request.method.upper() in _WRITE_METHODS and not request.extensions.get(EXT_IDEMPOTENT)


def _looks_duplicate(parsed: VendorError) -> bool:
    if parsed.existing_id:
        return True
    texts = [parsed.message or "", *parsed.details]
    return any(_DUPLICATE_WORDS.search(text) for text in texts)


def classify(
    system: str,
    operation: str,
    response: httpx.Response,
    record_id: str | None = None,
    *,
    redact: Redactor | None = None,
    now: float | None = None,
    hints: Mapping[int, str] | None = None,
) -> SyncError:
    """Turn an error response from ``system`` into the matching :class:`SyncError`.

    Never raises on an odd body (HTML, empty, truncated JSON): the body is kept,
    trimmed and redacted, and the status decides the class. When the body says
    nothing, the vendor's hint for the status is the message: ``hints``, else the
    ones its client put on the request (``EXT_STATUS_HINTS``; the vendor's adapter
    declares them, e.g. Rhythm, which sends status codes only).
    """
    status = response.status_code
    request = response.request if _has_request(response) else None
    redact = masking_redactor(request_secrets(request), redact)
    parsed = parse_error_body(response)
    hint = hints.get(status) if hints is not None else status_hint(request, status)
    vendor_message = parsed.summary() or hint
    common: dict[str, Any] = {
        "system": system,
        "operation": operation,
        "record_id": record_id,
        "status": status,
        "vendor_message": vendor_message,
        "body": parsed.raw,
        "fields": parsed.fields,
        "request_id": parsed.request_id,
        "redact": redact,
    }
    if status == 429:
        when = time.time() if now is None else now
        retry_after = parse_retry_after(response.headers.get("Retry-After"), when)
        return RateLimitedError("rate limited", retry_after=retry_after, **common)
    if status == 408 or status >= 500:
        maybe_applied = request is not None and not is_idempotent(request)
        label = "request timeout" if status == 408 else "server error"
        return RetriableError(label, maybe_applied=maybe_applied, **common)
    if status in (401, 403):
        label = "authentication failed" if status == 401 else "access forbidden"
        return FatalError(label, **common)
    if status in (404, 410):
        if record_id is None:
            return FatalError("endpoint not found (check the base URL and path)", **common)
        return NotFoundError("record not found", **common)
    if status in _RECORD_STATUSES and (
        record_id is not None or request is None or _is_write(request)
    ):
        if _looks_duplicate(parsed):
            return DuplicateError("duplicate record", existing_id=parsed.existing_id, **common)
        return RecordError("record rejected", **common)
    if 400 <= status < 500:
        return FatalError("request refused", **common)
    return FatalError(f"unexpected HTTP status {status}", **common)


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - raises RuntimeError when the response has no request
    except RuntimeError:
        return False
    return True


def raise_for_status(
    response: httpx.Response,
    system: str,
    operation: str,
    record_id: str | None = None,
    *,
    redact: Redactor | None = None,
) -> httpx.Response:
    """Return ``response`` when it is a success, else raise its :func:`classify` error."""
    if response.is_success:
        return response
    raise classify(system, operation, response, record_id, redact=redact)


def expect_json(
    response: httpx.Response,
    system: str,
    operation: str,
    record_id: str | None = None,
    *,
    shape: type[dict[str, Any]] | type[list[Any]] | None = None,
    redact: Redactor | None = None,
) -> Any:
    """The JSON body of a successful response, or a clear :class:`SyncError`.

    An error status raises its :func:`classify` error. A success whose body is
    empty, not JSON (an HTML login page behind a proxy) or not of ``shape``
    raises :class:`FatalError` ("malformed envelope") with the body's start.
    """
    raise_for_status(response, system, operation, record_id, redact=redact)
    redact = masking_redactor(request_secrets(response.request), redact)
    content_type = response.headers.get("Content-Type", "unknown content type")
    snippet = response.text if response.content else None
    common: dict[str, Any] = {
        "system": system,
        "operation": operation,
        "record_id": record_id,
        "status": response.status_code,
        "body": snippet,
        "redact": redact,
    }
    if not response.content.strip():
        raise FatalError("malformed envelope: expected JSON, got an empty body", **common)
    try:
        data = response.json()
    except ValueError:
        raise FatalError(
            f"malformed envelope: expected JSON, got {content_type}", **common
        ) from None
    if shape is not None and not isinstance(data, shape):
        wanted = "an object" if shape is dict else "an array"
        raise FatalError(
            f"malformed envelope: expected {wanted}, got {type(data).__name__}", **common
        )
    return data


def expect_object(
    response: httpx.Response,
    system: str,
    operation: str,
    record_id: str | None = None,
    *,
    redact: Redactor | None = None,
) -> dict[str, Any]:
    """:func:`expect_json` for a JSON object body."""
    data: dict[str, Any] = expect_json(
        response, system, operation, record_id, shape=dict, redact=redact
    )
    return data


def expect_array(
    response: httpx.Response,
    system: str,
    operation: str,
    record_id: str | None = None,
    *,
    redact: Redactor | None = None,
) -> list[Any]:
    """:func:`expect_json` for a bare JSON array body (Trackops, Xurrent lists)."""
    data: list[Any] = expect_json(response, system, operation, record_id, shape=list, redact=redact)
    return data


def transport_failure(
    system: str,
    request: httpx.Request,
    exc: httpx.TransportError,
    *,
    maybe_applied: bool,
    operation: str | None = None,
    record_id: str | None = None,
    redact: Redactor | None = None,
) -> RetriableError:
    """A :class:`RetriableError` for a call that got no response (connect error, timeout)."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    return RetriableError(
        f"{kind} ({type(exc).__name__})",
        maybe_applied=maybe_applied,
        system=system,
        operation=operation or operation_name(request),
        record_id=record_id or record_id_of(request),
        vendor_message=str(exc) or None,
        redact=masking_redactor(request_secrets(request), redact),
    )
