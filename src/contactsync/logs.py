"""Structured logging (structlog) with every known secret scrubbed from every event.

Call :func:`configure_logging` once at start-up with the secrets from
``Settings.secret_values()``; call :func:`register_secret` for values learned at
run time (an OAuth access token, say). The :data:`redact_secrets` processor runs
after exceptions are formatted and before rendering, so a secret is replaced by
``***`` wherever it sits: in the event text, a nested value, an object's repr or
an exception's message and traceback. :func:`redact` scrubs any other text (an
error message about to be stored) with the same registry.

Standard-library loggers (httpx, uvicorn, apscheduler) are routed through the same
processors, so their records are redacted and rendered alike.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TextIO, cast
from urllib.parse import quote, quote_plus

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "LogFormat",
    "SecretRedactor",
    "configure_logging",
    "redact",
    "redact_secrets",
    "register_secret",
]

LogFormat = Literal["console", "json"]
MASK = "***"
MIN_SECRET_LENGTH = 4
_MAX_DEPTH = 20
_PLAIN = (int, float, bool, type(None))
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_STRUCTLOG_META = ("_record", "_from_structlog")


class SecretRedactor:
    """A structlog processor replacing every registered secret with ``***``.

    Values shorter than four characters are ignored (they would mask ordinary
    words). Each secret is also matched in its URL-encoded forms. Safe to extend
    from several threads while others log.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._bytes_pattern: re.Pattern[bytes] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Redact ``secret`` from now on (no-op for short or non-string values)."""
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            return
        variants = {secret, quote(secret, safe=""), quote_plus(secret)}
        with self._lock:
            if variants <= self._secrets:
                return
            self._secrets |= variants
            self._compile()

    def clear(self) -> None:
        """Forget every secret (for tests)."""
        with self._lock:
            self._secrets.clear()
            self._compile()

    def _compile(self) -> None:
        ordered = sorted(self._secrets, key=len, reverse=True)  # longest first
        if not ordered:
            self._pattern, self._bytes_pattern = None, None
            return
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
        self._bytes_pattern = re.compile(b"|".join(re.escape(s.encode()) for s in ordered))

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def redact_value(self, value: Any, _depth: int = 0) -> Any:
        """A copy of ``value`` with secrets masked in strings, containers and reprs.

        Containers are rebuilt; an object whose repr holds a secret is replaced by
        its redacted repr; anything else is returned as it is.
        """
        if self._pattern is None or isinstance(value, _PLAIN):
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bytes | bytearray):
            assert self._bytes_pattern is not None
            return self._bytes_pattern.sub(MASK.encode(), bytes(value))
        if _depth < _MAX_DEPTH:
            if isinstance(value, Mapping):
                return {
                    self.redact_value(k, _depth + 1): self.redact_value(v, _depth + 1)
                    for k, v in value.items()
                }
            if type(value) in (list, tuple, set, frozenset):
                return type(value)(self.redact_value(item, _depth + 1) for item in value)
        text = _safe_repr(value)
        scrubbed = self.redact(text)
        return scrubbed if scrubbed != text else value

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        if self._pattern is None:
            return event_dict
        return {
            key: value if key in _STRUCTLOG_META else self.redact_value(value)
            for key, value in event_dict.items()
        }


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not break logging
        return f"<{type(value).__name__} with unprintable repr>"


redact_secrets = SecretRedactor()
"""The process-wide redactor: the processor :func:`configure_logging` installs."""


def register_secret(value: str) -> None:
    """Redact ``value`` from all logs and :func:`redact` output from now on."""
    redact_secrets.add(value)


def redact(text: str) -> str:
    """Scrub every registered secret from ``text`` (e.g. before storing an error)."""
    return redact_secrets.redact(text)


def configure_logging(
    fmt: LogFormat = "console",
    secrets: Iterable[str] = (),
    level: str = "info",
    *,
    stream: TextIO | None = None,
) -> None:
    """Set up structlog (and the stdlib root logger) to write to ``stream`` (stderr).

    ``console`` renders readable lines, ``json`` one JSON object per line with
    structured tracebacks. ``secrets`` are added to the redactor. Can be called
    again to reconfigure; registered secrets are kept.
    """
    numeric_level = _LEVELS.get(level.lower())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(_LEVELS)}")
    if fmt not in ("console", "json"):
        raise ValueError(f"unknown log format {fmt!r}; expected console or json")
    for secret in secrets:
        register_secret(secret)
    out = stream if stream is not None else cast(TextIO, _CurrentStderr())

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    exceptions: Processor
    if fmt == "json":
        exceptions = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        exceptions = structlog.processors.format_exc_info
        colors = bool(getattr(out, "isatty", lambda: False)())
        renderer = structlog.dev.ConsoleRenderer(colors=colors)
    tail: list[Processor] = [exceptions, redact_secrets, renderer]

    structlog.configure(
        processors=[*shared, *tail],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        # One write per event (line and newline together): events from threads and from
        # standard-library loggers sharing the stream never run into each other's line.
        logger_factory=structlog.WriteLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib_logging(out, numeric_level, shared, tail)


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when an event is written, not when logging was set up
    (a caller that swaps stderr for a while, then closes its stand-in, leaves logging
    working)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class _ContactsyncHandler(logging.StreamHandler[TextIO]):
    """Marks the handler we install, so reconfiguring replaces it."""


def _route_stdlib_logging(
    out: TextIO, level: int, shared: list[Processor], tail: list[Processor]
) -> None:
    handler = _ContactsyncHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ContactsyncHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO, APScheduler every job it adds, starts and ends
    # (most of a scheduler's log); keep those for debug runs only. Their warnings
    # (a missed or skipped run) still show.
    quiet = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    for name in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(quiet)
