"""Read whatever a vendor put in an error body, without ever raising.

Shapes understood (detected by structure, so a vendor changing shape degrades
to "message only" rather than a crash):

- Grow CRM: ``{"message": "...", "errors": {"field": ["...", ...]}}``
- Pylon: ``{"errors": ["...", ...], "exists_id": "...", "request_id": "..."}``
- Xurrent: ``{"message": "..."}``; on 422 ``"errors": [[field, message], ...]``
- Trackops *(assumed)*: JSON with ``message`` (``error`` / ``detail`` also read)
- Rhythm: status only (an empty or arbitrary body)
- anything else: an HTML page (its ``<title>`` or text), plain text, invalid JSON
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

_MESSAGE_KEYS = ("message", "error_description", "error", "detail", "title", "Message", "msg")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SCRIPT_STYLE = re.compile(r"<(script|style)[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_TEXT_LIMIT = 300


@dataclass(frozen=True)
class VendorError:
    """What an error body says; every part optional."""

    raw: str | None = None
    message: str | None = None
    details: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    existing_id: str | None = None
    request_id: str | None = None

    def summary(self) -> str | None:
        """The message and the field-level details on one line, or None."""
        parts = [part for part in (self.message, "; ".join(self.details)) if part]
        return ": ".join(parts) if parts else None


def parse_error_body(response: httpx.Response) -> VendorError:
    """Parse ``response``'s body into a :class:`VendorError` (never raises)."""
    try:
        response.read()
        text = response.text
    except (httpx.HTTPError, UnicodeDecodeError, LookupError, RuntimeError):
        return VendorError()
    if not text.strip():
        return VendorError()
    try:
        data = json.loads(text)
    except ValueError:
        return VendorError(raw=text, message=_text_message(text))
    return _from_json(data, text)


def _from_json(data: Any, raw: str) -> VendorError:
    if isinstance(data, str):
        return VendorError(raw=raw, message=data or None)
    if isinstance(data, list):
        details, fields = _errors(data)
        return VendorError(raw=raw, details=details, fields=fields)
    if not isinstance(data, dict):
        return VendorError(raw=raw)
    details, fields = _errors(data.get("errors"))
    return VendorError(
        raw=raw,
        message=_message(data),
        details=details,
        fields=fields,
        existing_id=_scalar(data.get("exists_id") or data.get("existing_id")),
        request_id=_scalar(data.get("request_id")),
    )


def _message(data: dict[str, Any]) -> str | None:
    for key in _MESSAGE_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, dict):
            nested = _message(value)
            if nested:
                return nested
    return None


def _errors(errors: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Field-level details and field names from the usual ``errors`` shapes."""
    details: list[str] = []
    fields: list[str] = []

    def add(name: str | None, text: str) -> None:
        if name and name not in fields:
            fields.append(name)
        details.append(f"{name}: {text}" if name else text)

    if isinstance(errors, dict):
        for name, messages in errors.items():
            for text in messages if isinstance(messages, list) else [messages]:
                add(str(name), _as_text(text))
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, list | tuple) and len(item) >= 2 and isinstance(item[0], str):
                add(item[0], " ".join(_as_text(part) for part in item[1:]))
            elif isinstance(item, dict):
                name = item.get("field") or item.get("attribute") or item.get("name")
                add(_scalar(name), _message(item) or _as_text(item))
            elif item is not None:
                add(None, _as_text(item))
    elif isinstance(errors, str) and errors.strip():
        add(None, errors.strip())
    return tuple(details), tuple(fields)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _scalar(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        return str(value)
    return None


def _text_message(text: str) -> str | None:
    """A readable line from a non-JSON body: an HTML page's title or text, else the text."""
    title = _TITLE.search(text)
    if title and title.group(1).strip():
        return _shorten(html.unescape(title.group(1)))
    stripped = _TAG.sub(" ", _SCRIPT_STYLE.sub(" ", text))
    line = _shorten(html.unescape(stripped))
    return line or None


def _shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _TEXT_LIMIT else line[: _TEXT_LIMIT - 3] + "..."
