"""Budgets and buckets: the words the throttle is told a vendor's limits in.

A :class:`Budget` is a client-side limit (``requests`` per ``per_seconds``). A
*bucket chooser* maps ``(method, path)`` to the name of the quota a request counts
against: :func:`single_bucket` (one account-wide quota) or :func:`endpoint_bucket`
(one per endpoint). What each vendor documents (its budgets, its chooser, the
window of quota headers without a reset) is declared by its adapter
(``contactsync.adapters.<vendor>.client``) and handed to
:func:`contactsync.http.client.build_client`; this module names no vendor. A
vendor that documents nothing gets its limit learned from the first 429 (see
:mod:`contactsync.http.ratelimit`), or a configured ``rate_limit`` sets it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

BucketChooser = Callable[[str, str], str]
DEFAULT_BUCKET = "default"
ANY_BUCKET = "*"


@dataclass(frozen=True)
class Budget:
    """At most ``requests`` sends in any window of ``per_seconds`` seconds."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError(f"a budget needs requests >= 1 and a positive period: {self}")

    def scaled(self, factor: float) -> Budget:
        """The same period with ``factor`` times the requests (at least one)."""
        return Budget(max(1, int(self.requests * factor)), self.per_seconds)


def single_bucket(method: str, path: str) -> str:
    """Every request in one bucket (one account-wide quota)."""
    return DEFAULT_BUCKET


def path_template(path: str) -> str:
    """``/contacts/123`` -> ``/contacts/{id}``: segments holding a digit become ``{id}``.

    Version segments such as ``v1`` are kept.
    """
    segments = []
    for segment in path.strip("/").split("/"):
        is_version = len(segment) <= 3 and segment[:1] == "v" and segment[1:].isdigit()
        has_digit = any(char.isdigit() for char in segment)
        segments.append("{id}" if has_digit and not is_version else segment)
    return "/" + "/".join(segment for segment in segments if segment)


def endpoint_bucket(method: str, path: str) -> str:
    """One bucket per endpoint: ``"GET /contacts/{id}"``."""
    return f"{method.upper()} {path_template(path)}"
