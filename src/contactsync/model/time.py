"""The one place that says what a moment is: an aware datetime in UTC.

Vendors send naive times (Trackops, Grow CRM) that their documentation says are UTC;
every reader of a time turns it into an aware UTC datetime here, so comparisons
between systems' change times never mix naive and aware values.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "opt_as_utc", "utc_now"]


def utc_now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def opt_as_utc(moment: datetime | None) -> datetime | None:
    """:func:`as_utc`, passing None through."""
    return None if moment is None else as_utc(moment)
