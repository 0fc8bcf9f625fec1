"""What the throttle knows about each vendor before the first request: budgets and buckets.

A :class:`Budget` is a client-side limit (``requests`` per ``per_seconds``). A
*bucket chooser* maps ``(method, path)`` to the name of the quota a request counts
against. The tables below hold the documented facts (api-notes.md) and the
*(assumed)* ones, per system:

- Pylon: per organization, per endpoint, per minute (its OpenAPI descriptions);
- Xurrent: a burst limit of 20 requests per 2 s (its hourly quota of 3600 is read
  from the ``X-RateLimit-*`` headers);
- Grow CRM: undocumented; its answers carry Laravel's ``X-RateLimit-Limit`` and
  ``X-RateLimit-Remaining`` without a reset, so the window is *(assumed)* to be
  Laravel's default of 60 s (:func:`default_quota_window`);
- Trackops and Rhythm: undocumented and without headers; the throttle learns
  their limit from the first 429 (see :mod:`contactsync.http.ratelimit`), or a
  configured ``rate_limit`` sets it.
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


def pylon_bucket(method: str, path: str) -> str:
    """Pylon's per-endpoint buckets; a contact id becomes ``{id}`` whatever it looks like."""
    parts = [part for part in path.split("/") if part]
    if parts and parts[0] == "contacts" and len(parts) == 2 and parts[1] != "search":
        return f"{method.upper()} /contacts/{{id}}"
    return endpoint_bucket(method, path)


PYLON_BUDGETS: dict[str, Budget] = {
    "GET /contacts": Budget(60, 60.0),
    "POST /contacts": Budget(60, 60.0),
    "GET /contacts/{id}": Budget(60, 60.0),
    "PATCH /contacts/{id}": Budget(60, 60.0),
    "POST /contacts/search": Budget(20, 60.0),
    "DELETE /contacts/{id}": Budget(10, 60.0),
}
XURRENT_BUDGETS: dict[str, Budget] = {ANY_BUCKET: Budget(20, 2.0)}
BUCKETS_BY_SYSTEM: dict[str, BucketChooser] = {"pylon": pylon_bucket}
#: Length of the quota window of vendors that send Limit and Remaining but no reset.
QUOTA_WINDOWS: dict[str, float] = {"growcrm": 60.0}  # (assumed) Laravel's throttle default


def default_budgets(system: str, scale: float = 1.0) -> dict[str, Budget]:
    """The documented client-side budgets of ``system`` (none for undocumented ones).

    ``scale`` multiplies the requests allowed, e.g. for a sandbox with faster limits.
    """
    table = {"pylon": PYLON_BUDGETS, "xurrent": XURRENT_BUDGETS}.get(system, {})
    return {name: budget.scaled(scale) for name, budget in table.items()}


def default_bucket_for(system: str) -> BucketChooser:
    """Per-endpoint buckets for Pylon, one account-wide bucket elsewhere."""
    return BUCKETS_BY_SYSTEM.get(system, single_bucket)


def default_quota_window(system: str) -> float | None:
    """Seconds a quota window lasts when the vendor's headers do not say (None: unknown)."""
    return QUOTA_WINDOWS.get(system)
