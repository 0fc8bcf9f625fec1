"""Which records changed since they were read: one listing per page of updates, not a
``GET`` per update.

A conditional update (:mod:`contactsync.engine.conditional`) must know whether the target
record still holds what the plan was based on. Each adapter declares how its vendor lets
us know (:class:`~contactsync.adapters.base.ConflictCheck`):

* ``atomic`` (Rhythm, any adapter with ``conditional_updates``): the vendor tests the
  values inside the write; nothing is listed here (Rhythm's adapter still reads a record
  that lacks a field the write sends: a ``test`` cannot test a missing member).
* ``feed`` (Trackops ``updated_from``/``updated_to``, Xurrent ``updated_at>=``, Grow CRM
  sorted newest first): before each page of updates the adapter's own extract is run over
  the window since the last check (the extract's read time, i.e. the watermark, for the
  first page), widened at both ends by the system's overlap for clock skew (the listing's
  end is ``now``, which a vendor clock ahead of ours would pass). A record in that listing
  is checked against the copy listed (no further request); a record absent from it has
  not changed since it was read and is sent as planned. Our own earlier writes are in the
  listing too (echoes): the check compares the copy with what the plan was based on, so
  an echo of the write the plan started from passes as unchanged.
* ``snapshot`` (Pylon): no change time. The whole list is read again when that takes
  fewer requests than one ``GET`` per update on the page; otherwise each update is read.
* ``read``: one ``GET`` of the record before each update (any adapter not declaring
  another check, and every update found in flight after a crash).

The race left: a user's edit landing between the listing and the write is not seen. With
a ``GET`` per update that window was one request long; here it is at most
``MAX_LISTING_AGE``: a listing older than that is renewed (a window since the last one,
usually one request) before the next checked update, so a rate-limited vendor taking
minutes over a page of writes does not leave its late writes checked by an old listing.
Rhythm's atomic check leaves no window.

A listing that fails costs nothing but its page's savings: those updates are read one by
one as before.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from contactsync.adapters.base import Adapter, ConflictCheck, RawRecord, Window
from contactsync.engine.ports import StagingState

log = structlog.get_logger(__name__)

#: clock skew allowed between contactsync and a vendor, for an adapter without a context
#: (a stand-in): the systems' default ``overlap``
DEFAULT_OVERLAP = timedelta(minutes=5)
#: how old a listing may be and still stand for "unchanged since read": the longest a
#: user's edit can go unseen before a write (a listing costs about one request, so a load
#: writing continuously pays one extra request per this much time at most)
MAX_LISTING_AGE = timedelta(seconds=10)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def overlap_of(adapter: Adapter) -> timedelta:
    """The system's configured ``overlap`` (carried by the adapter's context)."""
    overlap = getattr(getattr(adapter, "context", None), "overlap", None)
    return overlap if isinstance(overlap, timedelta) else DEFAULT_OVERLAP


def conflict_check(adapter: Adapter) -> ConflictCheck:
    """The check the adapter declares: ``atomic`` wherever it sets ``conditional_updates``
    (its :meth:`~contactsync.adapters.base.Adapter.update_if_unchanged` is the check),
    ``read`` for a stand-in that declares nothing."""
    if getattr(type(adapter), "conditional_updates", False):
        return ConflictCheck.ATOMIC
    declared = getattr(type(adapter), "conflict_check", ConflictCheck.READ)
    return declared if isinstance(declared, ConflictCheck) else ConflictCheck.READ


def listing_page_size(adapter: Adapter) -> int:
    """Records per list request of the adapter (its clamped page size where it keeps one)."""
    for name in ("page_size", "_page_size"):
        size = getattr(adapter, name, None)
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            return size
    return max(1, adapter.context.page_size)


@dataclass
class ChangeFeed:
    """One system's record of what changed since it was read, kept for one load."""

    state: StagingState
    adapter: Adapter
    overlap: timedelta = DEFAULT_OVERLAP
    #: when the last listing started (our clock); None: not yet listed in this load
    last_check: datetime | None = None
    #: listed copies of records changed since the check before, by external id
    fresh: dict[str, RawRecord] = field(default_factory=dict)
    #: records a successful listing covers (absent from ``fresh``: unchanged since read)
    covered: set[str] = field(default_factory=set)
    #: listings made in this load (each one extract over a window: one or more pages)
    listings: int = 0
    clock: Callable[[], datetime] = _utc_now
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def check(self) -> ConflictCheck:
        return conflict_check(self.adapter)

    def prepare(self, external_ids: list[str]) -> None:
        """Before a page of updates to these records (those that need a check): list what
        changed, if the system's check is a listing and it is worth it."""
        wanted = [i for i in external_ids if i]
        if not wanted:
            return
        check = self.check
        with self._lock:
            # covered from now on only by this page's listing: a copy from an earlier one
            # is older than one page of writes (a snapshot not listed again is read)
            self.covered.difference_update(wanted)
            if check is ConflictCheck.FEED:
                self._list_changes(wanted)
            elif check is ConflictCheck.SNAPSHOT:
                self._list_snapshot(wanted)

    def renew_if_stale(self, external_id: str) -> None:
        """Before a checked update to a record covered by a feed listing older than
        :data:`MAX_LISTING_AGE`: list what changed since, so the check is recent. If the
        renewal fails, the record is no longer covered and is read on its own."""
        if self.check is not ConflictCheck.FEED:
            return
        with self._lock:
            if external_id not in self.covered or self.last_check is None:
                return
            if self.clock() - self.last_check < MAX_LISTING_AGE:
                return
            self.covered.discard(external_id)
            self._list_changes([external_id])

    def copy_of(self, external_id: str) -> RawRecord | None:
        """The listed copy of a covered record that changed; None when it did not, or
        when no listing covers it."""
        with self._lock:
            return self.fresh.get(external_id) if external_id in self.covered else None

    def covers(self, external_id: str) -> bool:
        with self._lock:
            return external_id in self.covered

    def forget(self, external_id: str) -> None:
        """The record was written (or staged again) since it was listed: the copy is
        stale, and a later update to it waits for the next listing."""
        with self._lock:
            self.fresh.pop(external_id, None)
            self.covered.discard(external_id)

    # --- listings ------------------------------------------------------------------------

    def _list_changes(self, wanted: list[str]) -> None:
        since = self.last_check or self.state.get_watermark(self.adapter.system)
        if since is None:  # never read: nothing to list against (each update is read)
            return
        started = self.clock()
        # widened both ways: a vendor clock ahead of ours dates an edit made just now
        # later than ``started``, and an extract leaves out what is dated past its end
        window = Window(since - self.overlap, started + self.overlap)
        listed = self._listed(window)
        if listed is None:
            return
        self.fresh.update(listed)
        self.covered.update(wanted)
        self.last_check = started

    def _list_snapshot(self, wanted: list[str]) -> None:
        pages = math.ceil(
            self.state.count_live_records(self.adapter.system) / listing_page_size(self.adapter)
        )
        if max(pages, 1) >= len(wanted):  # one GET per update costs no more
            return
        listed = self._listed(Window(None, self.clock()))
        if listed is None:
            return
        # A snapshot lists every record: one on the page but not listed is gone or hidden;
        # it stays uncovered and is read on its own (which tells which).
        self.fresh.update(listed)
        self.covered.update(i for i in wanted if i in listed)

    def _listed(self, window: Window) -> dict[str, RawRecord] | None:
        """The adapter's own extract over ``window``, by id; None when it failed."""
        try:
            records = {r.external_id: r for r in self.adapter.extract(window) if r.problem is None}
        except Exception as exc:  # the page's updates are read one by one instead
            log.warning(
                "listing the changed records failed; each update is read first",
                system=self.adapter.system,
                error=f"{type(exc).__name__}: {exc}",
            )
            return None
        self.listings += 1
        log.debug("changed records listed", system=self.adapter.system, changed=len(records))
        return records
