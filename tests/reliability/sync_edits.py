"""User edits made while a sync is writing, and the one window no check can close.

:class:`EditsWhileWriting` wraps the writes of an engine's adapters: before a write is
sent to a system, with a seeded probability, a user edits a random linked record *of
that system* (the user works in the vendor's UI while contactsync writes to it). The
edit is kept as an :class:`~tests.reliability.edit_rounds.Edit` of the pass's own
sub-round, so the check after the rounds expects it everywhere like any other edit.

Why edits go to the system being written (not any system): a system's checks and
writes happen in its own load, so the order of "check, edit, write" for one record
is the order in which this harness sees the calls, with no thread of another system
in between to blur it.

What no vendor without an atomic conditional write lets a tool guarantee: an edit
landing after the check of a record (the ``GET``, or the listing standing for it, see
``contactsync.engine.change_feed``) and before the write to that record is overwritten.
The harness logs every check (a read, or the records a listing covers for the loader,
stamped when it starts, so an edit made during it counts as after it) and every write
(stamped when it returns), so a lost
edit can be told apart: lost *in that window* (the next call on its record after the
edit was a write to it, no check between) or lost for any other reason, which is a
defect. The check reports the two separately.

Pylon (no change times) is not edited while a pass recovers the writes a killed run
left in flight, before the pass has read Pylon: the edit's time is then only known to
lie after the killed run's snapshot, and the edits made right after the kill lie in
that interval too, which merge settles by its documented rule for such a conflict
(``untimed_conflicts``, the timestamped edit wins), not by the order the harness saw.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from contactsync.adapters.base import RawRecord, Window
from contactsync.engine.change_feed import ChangeFeed

if TYPE_CHECKING:
    from tests.reliability.edit_rounds import EditRounds

#: the adapter calls that write a record (create has no prior version to lose)
WRITES = ("update", "update_if_unchanged")
#: the calls that read what a record holds now (a listing stands for all it covers)
CHECKS = ("read_record", "extract")


@dataclass
class CallLog:
    """Every check, write and user edit, each stamped with when it happened."""

    events: list[tuple[int, str, str, str]] = field(default_factory=list)  # (at, what, system, id)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: Iterator[int] = field(default_factory=itertools.count)

    def stamp(self) -> int:
        with self.lock:
            return next(self._clock)

    def add(self, what: str, system: str, external_id: str, at: int | None = None) -> int:
        """Log an event; ``at``: a stamp taken earlier (a listing's start)."""
        with self.lock:
            when = next(self._clock) if at is None else at
            self.events.append((when, what, system, external_id))
            return when

    def story(self, system: str, external_id: str, after: int, limit: int = 8) -> str:
        """The calls on the record from the edit stamped ``after`` on (a failure's why)."""
        with self.lock:
            later = sorted(
                e
                for e in self.events
                if e[0] >= after and e[2] == system and e[3] in ("*", external_id)
            )
        return " ".join(
            f"{what}{'*' if record == '*' else ''}@{at}" for at, what, _, record in later[:limit]
        )

    def in_window(self, system: str, external_id: str, after: int) -> bool:
        """Whether the first call on the record after the edit stamped ``after`` was a
        write to it: it had been checked before the edit, and was written blind after."""
        with self.lock:
            later = sorted(e for e in self.events if e[0] > after and e[2] == system)
        for _, what, _, record in later:
            if what == "check" and record in ("*", external_id):
                return False
            if what == "write" and record == external_id:
                return True
        return False


@dataclass
class EditsWhileWriting:
    """Edits made by the harness while a sync writes (see the module docstring)."""

    rounds: EditRounds
    seed: int
    probability: float = 0.15
    log: CallLog = field(default_factory=CallLog)
    #: event index of each during-sync edit, by Edit.sequence
    edit_events: dict[int, int] = field(default_factory=dict)
    sub_round: float = 0.0
    _rngs: dict[str, random.Random] = field(default_factory=dict)
    _candidates: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _harness: threading.local = field(default_factory=threading.local)
    _edit_lock: threading.Lock = field(default_factory=threading.Lock)
    _read_this_pass: set[str] = field(default_factory=set)  # systems this pass extracted

    def watch_listings(self) -> ExitStack:
        """Log the records each change-feed listing covers, stamped when it started (the
        listing the loader checks a page of updates against). Undone on exit."""
        stack = ExitStack()
        for name in ("_list_changes", "_list_snapshot"):
            original = getattr(ChangeFeed, name)
            stack.enter_context(patch.object(ChangeFeed, name, self._covering(original)))
        return stack

    def _covering(
        self, listing: Callable[[ChangeFeed, list[str]], None]
    ) -> Callable[[ChangeFeed, list[str]], None]:
        log, harness = self.log, self._harness

        def wrapped(feed: ChangeFeed, wanted: list[str]) -> None:
            started = log.stamp()
            harness.listing = True  # the extract it runs is this listing, not an extract
            try:
                listing(feed, wanted)
            finally:
                harness.listing = False
            for external_id in wanted:  # (called under the feed's lock: no feed.covers)
                if external_id in feed.covered:
                    log.add("check", feed.adapter.system, external_id, at=started)

        return wrapped

    def install(self) -> None:
        """Wrap the writes and checks of every adapter of the rounds' (current) engine."""
        for system, adapter in self.rounds.engine.adapters.items():
            self._rngs.setdefault(system, random.Random(f"{self.seed}:{system}"))
            for name in WRITES:
                if hasattr(adapter, name):
                    setattr(adapter, name, self._write(system, getattr(adapter, name)))
            adapter.read_record = self._read(system, adapter.read_record)  # type: ignore[method-assign]
            adapter.extract = self._listing(system, adapter.extract)  # type: ignore[method-assign]

    def begin_pass(self, sub_round: float | None) -> None:
        """Before a sync: the records a user may edit, and the sub-round to date edits by
        (None: no edits in this pass; its checks and writes are still logged)."""
        self._candidates = {}
        self._read_this_pass = set()
        if sub_round is None:
            return
        self.sub_round = sub_round
        for system, external_id, person_id in self.rounds.linked():
            self._candidates.setdefault(system, []).append((external_id, person_id))

    def quietly(self) -> _Quiet:
        """The harness's own reads: not checks of the sync."""
        return _Quiet(self._harness)

    # --- wrappers -----------------------------------------------------------------------

    def _write(self, system: str, write: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(external_id: str, *args: Any, **kwargs: Any) -> Any:
            self._maybe_edit(system)
            try:
                return write(external_id, *args, **kwargs)
            finally:
                self.log.add("write", system, external_id)

        return wrapped

    def _read(self, system: str, read: Callable[[str], RawRecord]) -> Callable[[str], RawRecord]:
        def wrapped(external_id: str) -> RawRecord:
            if not getattr(self._harness, "quiet", False):
                self.log.add("check", system, external_id)
            return read(external_id)

        return wrapped

    def _listing(
        self, system: str, extract: Callable[[Window], Iterator[RawRecord]]
    ) -> Callable[[Window], Iterator[RawRecord]]:
        def wrapped(window: Window) -> Iterator[RawRecord]:
            quiet = getattr(self._harness, "quiet", False)
            if not quiet and not getattr(self._harness, "listing", False):
                self.log.add("check", system, "*")  # a pass's extract reads every record
                self._read_this_pass.add(system)
            yield from extract(window)

        return wrapped

    def _maybe_edit(self, system: str) -> None:
        candidates = self._candidates.get(system)
        if not candidates or getattr(self._harness, "quiet", False):
            return
        if system == "pylon" and system not in self._read_this_pass:
            return  # recovering in-flight writes: see the module docstring
        with self._edit_lock:
            rng = self._rngs[system]
            if rng.random() >= self.probability:
                return
            external_id, person_id = rng.choice(candidates)
            with self.quietly():
                made = self.rounds.edit_one(system, external_id, person_id, self.sub_round, rng)
            event = self.log.add("edit", system, external_id)
            for edit in made:
                self.edit_events[edit.sequence] = event

    def story(self, sequence: int, system: str, external_id: str) -> str:
        """What happened to the record after the during-sync edit ``sequence``."""
        event = self.edit_events.get(sequence)
        return "" if event is None else self.log.story(system, external_id, event)

    def in_window(self, sequence: int, system: str, external_id: str) -> bool:
        """Whether the during-sync edit ``sequence`` landed between a check and a write."""
        event = self.edit_events.get(sequence)
        return event is not None and self.log.in_window(system, external_id, event)


class _Quiet:
    def __init__(self, local: threading.local) -> None:
        self.local = local

    def __enter__(self) -> None:
        self.previous = getattr(self.local, "quiet", False)
        self.local.quiet = True

    def __exit__(self, *_: object) -> None:
        self.local.quiet = self.previous
