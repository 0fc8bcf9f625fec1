"""The contract every system adapter implements.

An adapter speaks one vendor's API in the vendor's own shapes: it pages through
records, honours the vendor's write rules and envelopes, and turns every
failure into a typed :mod:`contactsync.http.errors` exception. It does not map fields
(``mapping.py`` does, on both sides of it), match people or touch state.

Change detection is declared, not improvised (see ARCHITECTURE.md, "The pipeline"):

* ``WINDOW``: the server filters on a closed window ``[start, end]``.
* ``SORTED_SCAN``: the server sorts newest first; stop once past ``start``.
* ``SNAPSHOT``: every record every time; the engine diffs content hashes.

Whatever the strategy, :meth:`Adapter.extract` yields :class:`RawRecord` s and the
engine drops boundary duplicates by (id, hash).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import httpx

from contactsync.http.budgets import Budget
from contactsync.model.contact import OrgChannel, content_hash


class ChangeStrategy(StrEnum):
    WINDOW = "window"
    SORTED_SCAN = "sorted_scan"
    SNAPSHOT = "snapshot"


class ConflictCheck(StrEnum):
    """How an update is checked against a user's edit made since the record was read
    (carried out by :mod:`contactsync.engine.change_feed` and the loader)."""

    #: the vendor tests the values inside the write itself (Rhythm's RFC 6902 ``test``)
    ATOMIC = "atomic"
    #: one listing of the records changed since the last check before each page of updates
    FEED = "feed"
    #: the whole list read again when cheaper than a read per update (no change times)
    SNAPSHOT = "snapshot"
    #: one ``GET`` of the record before each update
    READ = "read"


@dataclass(frozen=True)
class Window:
    """A closed extract window. ``start`` None means full history."""

    start: datetime | None
    end: datetime


@dataclass(frozen=True)
class RawRecord:
    """One vendor record as extracted: its id, its vendor-shaped payload, its timestamp."""

    external_id: str
    payload: dict[str, Any]
    updated_at: datetime | None = None
    stream: str = "people"
    #: why this listed item cannot be a record (e.g. it has no usable id): the engine
    #: quarantines it with this reason instead of staging it
    problem: str | None = None


def unusable_record(item: dict[str, Any], problem: str) -> RawRecord:
    """A listed item that cannot be a record, under a stand-in id (``?`` and the start of
    its content hash), for the engine to quarantine with ``problem`` as the reason."""
    return RawRecord(
        external_id="?" + content_hash(item)[:16], payload=item, updated_at=None, problem=problem
    )


@dataclass(frozen=True)
class WriteResult:
    """What a write left in the system: the record's id and, when answered, its new state."""

    external_id: str
    record: dict[str, Any] = field(default_factory=dict)


class RecordChanged(Exception):
    """A conditional update was refused: the record no longer holds what the update was
    planned against (someone changed it since it was read). Nothing was written;
    ``record`` is the record as the vendor holds it now, read back after the refusal."""

    def __init__(self, external_id: str, record: RawRecord) -> None:
        super().__init__(f"record {external_id} changed since it was read")
        self.external_id = external_id
        self.record = record


@dataclass(frozen=True)
class AdapterContext:
    """Everything an adapter needs from the config, resolved (credentials included)."""

    system: str
    base_url: str
    page_size: int = 100
    timeout: float = 30.0
    concurrency: int = 4
    #: clock skew allowed between contactsync and the vendor (``[systems.<name>] overlap``):
    #: a listing of the records changed since a moment starts this much earlier
    overlap: timedelta = timedelta(minutes=5)
    #: multiplies the vendor's documented rate limits the client paces itself to
    #: (1.0 for the real vendors; a sandbox in ``fast`` mode allows 100x)
    rate_scale: float = 1.0
    #: a configured client budget for all the system's requests (``[systems.<name>]
    #: rate_limit``), for vendors whose limits are undocumented; None: learn them
    rate_limit: Budget | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None
    #: what to check when the credentials are refused: the environment variables'
    #: names (never their values)
    credentials_hint: str | None = None
    #: where OAuth tokens outlive the process (beside the state; None: memory only)
    token_file: Path | None = None

    def __repr__(self) -> str:  # never show credentials
        return f"AdapterContext(system={self.system!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class OrgChannelRecord:
    """An organization's own contact channel (Xurrent organization contacts)."""

    organization_id: str
    external_id: str
    payload: dict[str, Any]


class Adapter(ABC):
    """One system. Subclasses set ``system`` and ``strategy`` and implement the methods."""

    system: ClassVar[str]
    strategy: ClassVar[ChangeStrategy]
    #: vendor field (dotted) that holds contactsync's person id, or None
    foreign_id_field: ClassVar[str | None] = None
    #: canonical fields a record must have to be created there, e.g. ("emails",)
    required_for_create: ClassVar[tuple[str, ...]] = ()
    #: the ``defaults`` key naming the organization a create that names none is filed
    #: under (a placeholder the system fills in, not a user's word), or None
    default_org_setting: ClassVar[str | None] = None
    #: whether the vendor offers any way to delete or archive a record
    supports_delete: ClassVar[bool] = True
    #: top-level vendor payload fields whose values the vendor lets only one record
    #: hold (compared stripped and casefolded; all the fields share one namespace, and a
    #: list field holds each of its items): a create sending one that another person's
    #: record holds is refused, so the planner does not send it (:func:`unique_values`)
    unique_fields: ClassVar[tuple[str, ...]] = ()
    #: whether :meth:`read_record` reads one record (the loader then checks an update
    #: against the record as it is just before sending it)
    can_read_record: ClassVar[bool] = False
    #: whether :meth:`update` itself refuses, atomically at the vendor, to change a record
    #: that no longer holds ``current`` in the fields it writes (raising
    #: :class:`RecordChanged`); the loader then sends it without reading the record first
    conditional_updates: ClassVar[bool] = False
    #: top-level vendor fields only contactsync writes (its person id stamp): an update
    #: changing nothing else cannot undo a user's edit, so it is sent without a check
    stamp_fields: ClassVar[tuple[str, ...]] = ()
    #: how an update is checked for an edit made since the record was read (see
    #: :class:`ConflictCheck`); ``read`` needs ``can_read_record``
    conflict_check: ClassVar[ConflictCheck] = ConflictCheck.READ

    def __init__(self, context: AdapterContext) -> None:
        self.context = context

    @property
    @abstractmethod
    def client(self) -> httpx.Client:
        """The adapter's HTTP client (built with :func:`contactsync.http.client.build_client`)."""

    @property
    def request_count(self) -> int:
        """Requests made so far (for run summaries)."""
        return 0

    @abstractmethod
    def extract(self, window: Window) -> Iterator[RawRecord]:
        """Records changed in ``window`` (all of them for ``SNAPSHOT``), fully paged."""

    @abstractmethod
    def create(self, payload: dict[str, Any], *, allow_duplicates: bool = False) -> WriteResult:
        """Create a record from a vendor-shaped payload (already carrying the stamped id)."""

    @abstractmethod
    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        """Change the mapped fields of a record; ``current`` is its last extracted state."""

    def update_if_unchanged(
        self, external_id: str, payload: dict[str, Any], current: dict[str, Any]
    ) -> WriteResult:
        """:meth:`update`, refused by the vendor itself (:class:`RecordChanged`, nothing
        written) when the record no longer holds ``current``'s values in the fields
        ``payload`` writes. Only called when ``conditional_updates`` is set."""
        raise NotImplementedError(f"{self.system}: conditional updates are not supported")

    def read_record(self, external_id: str) -> RawRecord:
        """The record as the system holds it now, shaped as :meth:`extract` yields it
        (same payload fields, same timestamp); a :class:`~contactsync.http.errors.NotFoundError`
        when it is gone. Only called when ``can_read_record`` is set."""
        raise NotImplementedError(f"{self.system}: reading one record is not supported")

    @abstractmethod
    def delete(self, external_id: str) -> None:
        """Delete the record, or archive it where the vendor archives instead."""

    @abstractmethod
    def find_existing(self, payload: dict[str, Any], person_id: str) -> str | None:
        """Reconcile a create whose answer was lost: look the record up by our stamped id
        or by email and return its id, or None when it was never created."""

    def cannot_hold(self, payload: dict[str, Any]) -> str | None:
        """Why this system cannot hold a record with this payload (None when it can)."""
        return None

    def organization_channels(self) -> Iterator[OrgChannelRecord]:
        """Organizations' own channels, for systems that have them (default: none)."""
        return iter(())

    def canonical_channels(self) -> dict[str, list[OrgChannel]]:
        """Organization id -> its channels in canonical form (default: none)."""
        return {}

    def close(self) -> None:
        self.client.close()


def unique_values(fields: Iterable[str], payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, value as sent) of each value in ``payload`` that ``fields`` (an adapter's
    ``unique_fields``) keep unique: the one definition the planner and the loader use."""
    found: list[tuple[str, str]] = []
    for name in fields:
        value = payload.get(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.strip():
                found.append((name, item))
    return found


def unique_key(value: str) -> str:
    """How a vendor compares unique values: stripped and casefolded."""
    return value.strip().casefold()
