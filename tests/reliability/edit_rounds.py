"""Rounds of random user edits against a sandbox, syncs between, and what must follow.

Used by ``test_random_edits.py`` (a fixed seed, in CI) and ``bench/edits.py`` (longer).

Each edit is one of the simulator's own ``mutate_record`` edits (a new job title, a
new email, a changed phone, a tidied name: what users do), made on a record picked
at random among every system's records. What the edit changed is read back the way
contactsync reads it (the adapter, then the mapping) and kept, per person and per
field key (:func:`contactsync.model.field_changes.field_values`), with its time:

* a system with timestamps: the record's own change time after the edit;
* Pylon (none): the round it was made in. With ``untimed_conflicts =
  "timestamped_wins"`` it is newer than every timestamped edit of earlier rounds and
  older than every timestamped edit of its own round.

After the rounds every system must hold, for every field key, the value of its
newest edit: the same scalar value, the newest primary email or phone (first among
emails; held among phones), and no email or phone whose newest edit removed it.
Two timestamped edits of one key at the same instant (Trackops keeps seconds) are
a tie: either value is accepted, as long as every system agrees.
"""

from __future__ import annotations

import random
import signal
import time
from collections import defaultdict
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contactsync.adapters.base import Window
from contactsync.engine.stage import map_record
from contactsync.engine.sync import Engine
from contactsync.model.contact import Contact
from contactsync.model.field_changes import field_values
from contactsync.wiring import open_engine
from tests.reliability.helpers import SYSTEMS, Sandbox, contactsync
from tests.reliability.sync_edits import EditsWhileWriting

#: a killed run's lease lapses this fast here (the next crash pass may take it)
SHORT_LEASE = {"CONTACTSYNC_LEASE_TTL": "1.0"}

_NEVER = datetime.min.replace(tzinfo=UTC)
#: the keys an edit can change that are checked in every system holding them
CHECKED_SCALARS = ("first_name", "last_name", "job_title")


@dataclass(frozen=True)
class Edit:
    system: str
    external_id: str
    person_id: str
    key: str
    value: Any  # None: removed (an email or phone), or emptied
    round: float  # a sync's sub-round (round + pass / 10) for an edit made while it wrote
    at: datetime | None  # the vendor's change time; None for Pylon (dated by its round)
    sequence: int

    def order(self, record_times: dict[tuple[str, str, float], datetime]) -> tuple[Any, ...]:
        """Newer edits sort later. A timestamped edit is dated by its record's last change
        in the round (all a sync can see), Pylon's by its round alone."""
        if self.at is None:
            return (self.round, 0, _NEVER)
        return (self.round, 1, record_times[(self.system, self.external_id, self.round)])


@dataclass
class Outcome:
    """What the check found: keys checked, and each lost edit described."""

    checked: int = 0
    lost: list[str] = field(default_factory=list)
    #: lost edits made while a sync wrote, between its check of the record and its write
    #: to it: the window no vendor without an atomic conditional write can close
    window: list[str] = field(default_factory=list)
    crashes: int = 0  # syncs killed at a fault point
    ties: int = 0
    refused: int = 0  # persons left out: a vendor refused a unique value for them


@dataclass
class EditRounds:
    box: Sandbox
    engine: Engine
    rng: random.Random
    edits: list[Edit] = field(default_factory=list)
    round: int = 0
    #: each edited record's own change time at the end of each round (an edit that
    #: changed nothing contactsync reads still moves it, and dates the record's change)
    record_times: dict[tuple[str, str, float], datetime] = field(default_factory=dict)
    #: edits made while a sync writes (None: none are made)
    during: EditsWhileWriting | None = None
    crashes: int = 0

    # --- reading records the way contactsync does --------------------------------------

    def canonical(self, system: str, external_id: str) -> tuple[dict[str, Any], datetime | None]:
        adapter = self.engine.adapters[system]
        with self._quietly():
            raw = adapter.read_record(external_id)
        contact, reason = map_record(
            raw, self.engine.mappings[system], system, self.engine.settings.default_region
        )
        assert contact is not None, reason
        return field_values(contact.model_dump(mode="json")), contact.updated_at

    def linked(self) -> list[tuple[str, str, str]]:
        """(system, external id, person) of every live linked record."""
        return sorted(
            (r.system, r.external_id, self.engine.state.resolve_person(r.person_id))
            for r in self.engine.state.iter_records()
            if r.person_id is not None
        )

    def _quietly(self) -> AbstractContextManager[None]:
        return self.during.quietly() if self.during is not None else nullcontext()

    # --- edits and syncs ----------------------------------------------------------------

    def edit_one(
        self, system: str, external_id: str, person_id: str, round: float, rng: random.Random
    ) -> list[Edit]:
        """One user edit of one record, kept as made (each field it changed)."""
        before, _ = self.canonical(system, external_id)
        simulator = self.box.server.simulators[system]
        with simulator.store.lock:
            keys = {str(key): key for key in simulator.store.records}
            simulator.mutate_record(keys[external_id], rng)
        after, at = self.canonical(system, external_id)
        timed = at is not None and system != "pylon"
        if timed:
            assert at is not None
            self.record_times[(system, external_id, round)] = at
        made = [
            Edit(system, external_id, person_id, key, after.get(key), round,
                 at if timed else None, len(self.edits) + n)
            for n, key in enumerate(k for k in sorted(set(before) | set(after))
                                    if before.get(k) != after.get(k))
        ]  # fmt: skip
        self.edits.extend(made)
        return made

    def edits_after_a_crash(self, count: int) -> int:
        """``count`` edits right after a killed sync, before the next one (in-flight
        writes of the killed run, if any, are still unresolved). Timestamped systems
        only: a Pylon edit is dated by the snapshots around it, and which of those the
        killed run completed depends on where it died."""
        round = self.round + 0.05
        records = [r for r in self.linked() if r[0] != "pylon"]
        for _ in range(count):
            self.edit_one(*self.rng.choice(records), round, self.rng)
        self._let_the_second_pass(round)
        return count

    def crash_spec(self) -> str:
        """A seeded kill point for the next sync: where, and on which pass through it."""
        point = self.rng.choice(["extract", "plan", "load", "after_vendor_answer"])
        upper = {"extract": 120, "plan": 20, "load": 8, "after_vendor_answer": 8}[point]
        return f"{point}:{self.rng.randint(1, upper)}"

    def crash_pass(self, spec: str) -> int:
        """One ``contactsync sync`` in a subprocess killed at ``spec`` (see
        ``contactsync.engine.faultpoints``); then a new engine on the state it left. Returns the
        subprocess's exit status (-SIGKILL, or 0 when the point was never reached)."""
        settings = self.engine.settings
        self.engine.close()
        run = contactsync(
            "sync", config=self.box.config, env={**self.box.env, **SHORT_LEASE}, crash_at=spec
        )
        assert run.returncode in (0, -signal.SIGKILL), run.stderr[-2000:]
        self.crashes += run.returncode == -signal.SIGKILL
        self.engine = open_engine(settings, self.box.credentials)
        if self.during is not None:
            self.during.install()
        return run.returncode

    def edit_round(self, count: int) -> int:
        """``count`` random edits; returns how many changed what contactsync reads.

        What counts of a record edited several times in the round is its net change
        (what a sync sees): a value changed and changed back is no edit."""
        self.round += 1
        records = self.linked()
        changed = 0
        start: dict[tuple[str, str, str], dict[str, Any]] = {}
        final: dict[tuple[str, str, str], tuple[dict[str, Any], datetime | None]] = {}
        for _ in range(count):
            system, external_id, person_id = self.rng.choice(records)
            before, _ = self.canonical(system, external_id)
            simulator = self.box.server.simulators[system]
            with simulator.store.lock:
                keys = {str(key): key for key in simulator.store.records}
                simulator.mutate_record(keys[external_id], self.rng)
            after, at = self.canonical(system, external_id)
            if at is not None and system != "pylon":
                self.record_times[(system, external_id, self.round)] = at
            changed += before != after
            start.setdefault((system, external_id, person_id), before)
            final[(system, external_id, person_id)] = (after, at)
        for record, before in start.items():
            after, at = final[record]
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    self.edits.append(
                        Edit(*record, key, after.get(key), self.round,
                             at if record[0] != "pylon" else None, len(self.edits))
                    )  # fmt: skip
        self._let_the_second_pass(self.round)
        return changed

    def _let_the_second_pass(self, round: float) -> None:
        """Wait, if need be, until the round's last timestamped edit is a whole second old.

        A vendor that keeps whole seconds (Trackops) dates an edit made at 12.9 s as
        12 s, which merge reads as "sometime in second 12"; a sync starting within
        that second would begin a Pylon interval that overlaps it, and the order of
        the two edits would be a conflict, not a fact. Users do not edit a field in
        two systems within the same second; the vendors' clocks are real ones."""
        times = [at for (_, _, r), at in self.record_times.items() if r == round]
        if times:
            wait = (max(times) + timedelta(seconds=1.05) - datetime.now(UTC)).total_seconds()
            time.sleep(max(0.0, min(wait, 2.0)))

    def settle(self, passes: int = 4, edit_passes: int = 2) -> list[int]:
        """Sync until a pass writes nothing; the writes of each pass. While the first
        ``edit_passes`` passes write, users edit (when :attr:`during` is set)."""
        writes: list[int] = []
        for number in range(passes):
            before = self.box.write_requests()
            editing = self.during is not None and number < edit_passes
            if self.during is not None:
                self.during.begin_pass(self.round + (number + 1) / 10 if editing else None)
            outcome = self.engine.run("sync")
            if editing:
                self._let_the_second_pass(self.round + (number + 1) / 10)
            assert outcome.summary.status == "ok", outcome.errors
            writes.append(self.box.write_requests() - before)
            if writes[-1] == 0:
                break
        return writes

    # --- the check ----------------------------------------------------------------------

    def can_remove(self, system: str, contact: Contact, key: str) -> bool:
        """Whether contactsync can take the email or phone ``key`` out of this record:
        some field it writes there holds it (Pylon writes only the primary email;
        Xurrent's channels are read only)."""
        if not key.startswith(("emails:", "phones:")):
            return True
        item = key.split(":", 1)[1]
        without = contact.model_copy(
            update={
                "emails": [e for e in contact.emails if e.address != item],
                "phones": [p for p in contact.phones if p.number != item],
            }
        )
        outbound = self.engine.mappings[system].outbound
        return bool(outbound(contact) != outbound(without))

    def expected(self) -> dict[tuple[str, str], list[Edit]]:
        """Per (person, key): the newest edits (more than one only for a tie)."""
        by_key: dict[tuple[str, str], list[Edit]] = defaultdict(list)
        for edit in self.edits:
            by_key[(edit.person_id, edit.key)].append(edit)
        record_times = self.record_times
        newest: dict[tuple[str, str], list[Edit]] = {}
        for key, edits in by_key.items():
            # the same record edited twice: only its last state was ever read
            last_per_record: dict[tuple[str, str], Edit] = {}
            for edit in sorted(edits, key=lambda e: e.sequence):
                last_per_record[(edit.system, edit.external_id)] = edit
            candidates = sorted(last_per_record.values(), key=lambda e: e.order(record_times))
            top = candidates[-1].order(record_times)
            newest[key] = [e for e in candidates if e.order(record_times) == top]
        return newest

    def refused(self) -> set[str]:
        """Persons a vendor refused a write of, for a unique value another person's
        record holds (two people given the same new address by the edits): not
        this check's concern (see issue 14, "field-level failure")."""
        return {
            self.engine.state.resolve_person(entry.action.person_id)
            for entry in self.engine.state.list_actions("skipped")
            if "unique value" in (entry.last_error or "")
        }

    def check(self) -> Outcome:
        outcome = Outcome()
        refused = self.refused()
        outcome.refused = len(refused)
        holders: dict[str, list[tuple[str, dict[str, Any], Contact]]] = defaultdict(list)
        written: dict[tuple[str, str], str] = {}
        outcome.crashes = self.crashes
        for system in SYSTEMS:
            with self._quietly():
                listed = list(self.engine.adapters[system].extract(Window(None, datetime.now(UTC))))
            for raw in listed:
                person = self.engine.state.person_for(system, raw.external_id)
                contact, _ = map_record(
                    raw, self.engine.mappings[system], system, self.engine.settings.default_region
                )
                if person is None or contact is None:
                    continue
                person = self.engine.state.resolve_person(person)
                # a person with two records in one system (a seeded duplicate): the
                # planner keeps the first in step (records_for_person order)
                if (person, system) in written and written[(person, system)] < raw.external_id:
                    continue
                written[(person, system)] = raw.external_id
                holders[person] = [h for h in holders[person] if h[0] != system]
                values = field_values(contact.model_dump(mode="json"))
                holders[person].append((system, values, contact))
        for (person_id, key), newest in sorted(self.expected().items()):
            if person_id in refused:
                continue
            accepted = {_text(e.value) for e in newest}
            outcome.ties += len(accepted) > 1
            outcome.checked += 1
            removed = all(e.value is None for e in newest)
            seen = {
                system: _held(values, key, removed)
                for system, values, contact in holders.get(person_id, [])
                if not removed or self.can_remove(system, contact, key)
            }
            wrong = {
                system: held
                for system, held in seen.items()
                if held is not _SKIP and _text(held) not in accepted
            }
            if len(accepted) > 1 and len({_text(h) for h in seen.values() if h is not _SKIP}) > 1:
                wrong = {s: h for s, h in seen.items() if h is not _SKIP}
            if wrong:
                edits = ", ".join(f"{e.system} r{e.round} {e.value!r}" for e in newest)
                line = f"{person_id} {key}: newest {edits}; held {wrong}"
                during = self.during
                if during is not None and all(
                    during.in_window(e.sequence, e.system, e.external_id) for e in newest
                ):
                    outcome.window.append(line)
                else:
                    if during is not None:  # the calls on the record since a during-sync edit
                        line += "".join(
                            f"; after {e.system} r{e.round}: {story}"
                            for e in newest
                            if (story := during.story(e.sequence, e.system, e.external_id))
                        )
                    outcome.lost.append(line)
        return outcome


_SKIP = object()


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return repr(value.get("address") or value.get("number"))
    return repr(value)


def _held(values: dict[str, Any], key: str, removed: bool) -> Any:
    """What a system holds for ``key``, in the edit's terms, or _SKIP when it cannot
    say: it holds no such field, or (for an email or phone added) fewer items than
    the golden record, so only a removal is checked item by item."""
    if key in CHECKED_SCALARS:
        return values.get(key, _SKIP)
    if key == "emails.primary":
        return values.get(key, _SKIP)
    if key.startswith(("emails:", "phones:")) and removed:
        return values.get(key)  # None: not there, as expected
    return _SKIP
