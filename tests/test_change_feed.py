"""Conditional writes checked by the system's change feed: one listing of the records
changed since the last check per page of updates, instead of a ``GET`` per update.

Against the sandbox: a page of updates to unchanged Trackops records costs the writes and
at most one list request. Against stand-in vendors: a record the listing shows changed is
staged again and planned anew, never written; one it does not show is sent as planned;
a snapshot is listed again only where that is cheaper than reading each record.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from contactsync.adapters.base import ChangeStrategy, ConflictCheck, RawRecord, Window, WriteResult
from contactsync.config.settings import DEFAULT_MAPPINGS_DIR, load_settings
from contactsync.engine.change_feed import ChangeFeed
from contactsync.engine.load import Loader
from contactsync.engine.stage import stage_records
from contactsync.mapping.mapper import load_mappings
from contactsync.model.contact import Action, ActionKind, FieldChange
from contactsync.model.run_summary import SystemCounts
from contactsync.state.sqlite.store import StateStore
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config
from tests.fake_adapter import FakeAdapter

EDITED_PEOPLE = 6


def sandbox_requests(server: SandboxServer, system: str) -> int:
    """Requests the sandbox counted for ``system`` so far (its own count, not ours)."""
    stats = httpx.get(f"{server.admin_urls[system]}/_sandbox/stats").json()
    return int(stats["total"])


def test_a_page_of_updates_to_unchanged_records_costs_at_most_one_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = SandboxOptions(people=40, seed=5, rate_limits="off")
    with SandboxServer(options, port_base=0) as server:
        config = tmp_path / "feed.toml"
        env = read_env_file(
            write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        )
        engine = open_engine(load_settings(config, env=env), env)
        try:
            assert engine.run("backfill").summary.status == "ok"
            engine.run("sync")
            # Users change the title of people Trackops holds, in Xurrent: the next sync
            # updates those Trackops records, which nobody changed there.
            held = {
                engine.state.resolve_person(r.person_id): r.external_id
                for r in engine.state.iter_records()
                if r.system == "trackops" and r.person_id and not r.deleted
            }
            xurrent = engine.adapters["xurrent"]
            edited = 0
            for record in engine.state.iter_records():
                if record.system != "xurrent" or not record.person_id or record.deleted:
                    continue
                if engine.state.resolve_person(record.person_id) not in held:
                    continue
                current = xurrent.read_record(record.external_id).payload
                xurrent.update(
                    record.external_id, {"job_title": f"Feed Tester {edited}"}, current=current
                )
                edited += 1
                if edited == EDITED_PEOPLE:
                    break
            assert edited == EDITED_PEOPLE

            measured: dict[str, int] = {}
            real_load = engine._load

            def measured_load(*args: Any, **kwargs: Any) -> None:
                before = sandbox_requests(server, "trackops")
                real_load(*args, **kwargs)
                measured["load"] = sandbox_requests(server, "trackops") - before

            monkeypatch.setattr(engine, "_load", measured_load)
            outcome = engine.run("sync")
            taken_for_changed = [
                entry.action.system
                for entry in engine.state.list_actions("skipped")
                if "changed since it was read" in (entry.last_error or "")
            ]
        finally:
            engine.close()
    updated = outcome.summary.systems["trackops"].updated
    assert updated >= EDITED_PEOPLE
    assert updated <= measured["load"] <= updated + 1  # the writes, and one listing at most
    assert taken_for_changed == []  # nobody edited a target: no record taken for changed


# --- stand-in vendors ----------------------------------------------------------------------

MAPPINGS = load_mappings(DEFAULT_MAPPINGS_DIR)
RECORD_ID = "7"


def grow_record(title: str, updated: str = "2026-06-15T09:30:00.000000Z") -> dict[str, Any]:
    return {
        "id": 7,
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@x.io",
        "job_position": title,
        "dates": {"updated": updated},
    }


class FeedVendor(FakeAdapter):
    """A Grow CRM stand-in checked by its change feed: ``extract`` lists ``listed`` (the
    records changed in the window); reading one record is a test failure."""

    system: ClassVar[str] = "growcrm"
    unique_fields: ClassVar[tuple[str, ...]] = ("email",)
    can_read_record: ClassVar[bool] = True
    stamp_fields: ClassVar[tuple[str, ...]] = ()
    conflict_check: ClassVar[ConflictCheck] = ConflictCheck.FEED

    def __init__(self, listed: list[dict[str, Any]]) -> None:
        super().__init__()
        self.listed = listed
        self.windows: list[Window] = []
        self.sent: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    def extract(self, window: Window) -> Iterator[RawRecord]:
        self.windows.append(window)
        return iter([RawRecord(str(item["id"]), item) for item in self.listed])

    def read_record(self, external_id: str) -> RawRecord:
        raise AssertionError("read one record although the listing covers it")

    def update(
        self, external_id: str, payload: dict[str, Any], *, current: dict[str, Any] | None = None
    ) -> WriteResult:
        self.sent.append((payload, current))
        return WriteResult(external_id, (current or {}) | {"job_position": payload["position"]})


@pytest.fixture
def planned(tmp_path: Path) -> Iterator[tuple[StateStore, int]]:
    """A state holding the record as read at the last extract (title "Clerk") and a
    queued update of its title to "Manager" planned against that read."""
    with StateStore.open(tmp_path / "state.sqlite") as state:
        person = state.create_person()
        stage_records(
            state,
            "growcrm",
            [RawRecord(RECORD_ID, grow_record("Clerk"))],
            MAPPINGS["growcrm"],
            "US",
        )
        state.link("growcrm", RECORD_ID, person)
        state.set_watermark("growcrm", datetime.now(UTC) - timedelta(minutes=1))
        action = Action(
            kind=ActionKind.UPDATE,
            system="growcrm",
            person_id=person,
            external_id=RECORD_ID,
            changes=[FieldChange(field="position", before="Clerk", after="Manager")],
            payload={"position": "Manager"},
        )
        state.enqueue([action], state.start_run("sync"))
        yield state, state.pending_actions("growcrm")[0].id


def run_loader(state: StateStore, vendor: FeedVendor) -> list[list[str]]:
    replans: list[list[str]] = []
    loader = Loader(
        state,
        vendor,
        MAPPINGS["growcrm"],
        "US",
        SystemCounts(),
        replan=lambda persons: replans.append(list(persons)),
    )
    loader.run(concurrency=1)
    return replans


def test_a_record_the_feed_shows_changed_is_staged_again_not_written(
    planned: tuple[StateStore, int],
) -> None:
    state, action_id = planned
    # a user's edit since the extract, listed by the feed with its vendor time
    vendor = FeedVendor([grow_record("Owner", "2026-06-15T10:00:00.000000Z")])
    replans = run_loader(state, vendor)
    assert vendor.sent == []
    entry = state.get_action(action_id)
    assert entry is not None
    assert entry.status == "skipped"
    assert "changed since it was read" in (entry.last_error or "")
    stored = state.get_record("growcrm", RECORD_ID)
    assert stored is not None
    assert stored.payload["job_title"] == "Owner"  # staged as a change of its own
    assert replans == [[state.resolve_person(entry.action.person_id)]]
    assert len(vendor.windows) == 1  # one listing, since the watermark less the overlap
    watermark = state.get_watermark("growcrm")
    assert watermark is not None
    assert vendor.windows[0].start == watermark - timedelta(minutes=5)
    assert vendor.windows[0].end > datetime.now(UTC) + timedelta(minutes=4)  # clock skew


class FailingFeedVendor(FeedVendor):
    """Its listing fails; reading one record works."""

    def __init__(self, held: dict[str, Any]) -> None:
        super().__init__([])
        self.held = held
        self.reads: list[str] = []

    def extract(self, window: Window) -> Iterator[RawRecord]:
        raise RuntimeError("listing answer unreadable")

    def read_record(self, external_id: str) -> RawRecord:
        self.reads.append(external_id)
        return RawRecord(external_id, dict(self.held))


def test_a_failed_listing_costs_its_savings_only_each_update_is_read(
    planned: tuple[StateStore, int],
) -> None:
    state, action_id = planned
    vendor = FailingFeedVendor(grow_record("Owner"))  # changed: the read must tell
    replans = run_loader(state, vendor)
    assert vendor.reads == [RECORD_ID]
    assert vendor.sent == []
    entry = state.get_action(action_id)
    assert entry is not None
    assert entry.status == "skipped"
    assert replans == [[state.resolve_person(entry.action.person_id)]]


@pytest.mark.parametrize(
    "listed",
    [[], [grow_record("Clerk")]],
    ids=["not listed", "listed as read (our own echo)"],
)
def test_a_record_the_feed_shows_unchanged_is_sent_as_planned(
    planned: tuple[StateStore, int], listed: list[dict[str, Any]]
) -> None:
    state, action_id = planned
    vendor = FeedVendor(listed)
    assert run_loader(state, vendor) == []
    assert [payload for payload, _current in vendor.sent] == [{"position": "Manager"}]
    assert vendor.sent[0][1] == grow_record("Clerk")
    assert state.get_action(action_id).status == "done"  # type: ignore[union-attr]
    assert len(vendor.windows) == 1


class SnapshotVendor(FakeAdapter):
    """A vendor without change times, listing ``size`` records a page."""

    system: ClassVar[str] = "pylon"
    strategy: ClassVar[ChangeStrategy] = ChangeStrategy.SNAPSHOT
    conflict_check: ClassVar[ConflictCheck] = ConflictCheck.SNAPSHOT

    def __init__(self, page_size: int) -> None:
        super().__init__()
        self.page_size = page_size
        self.listings = 0

    def extract(self, window: Window) -> Iterator[RawRecord]:
        self.listings += 1
        return iter([RawRecord(str(n), {"id": n}) for n in range(1, 5)])


@pytest.mark.parametrize(
    ("page_size", "updates", "lists"),
    [(999, 2, True), (999, 1, False), (2, 2, False), (2, 3, True)],
)
def test_a_snapshot_is_listed_again_only_when_cheaper_than_a_read_per_update(
    tmp_path: Path, page_size: int, updates: int, lists: bool
) -> None:
    with StateStore.open(tmp_path / "state.sqlite") as state:
        for n in range(1, 5):
            state.upsert_record("pylon", str(n), hash=f"h{n}", payload={})
        vendor = SnapshotVendor(page_size)
        feed = ChangeFeed(state, vendor)
        wanted = [str(n) for n in range(1, updates + 1)]
        feed.prepare(wanted)
        assert vendor.listings == int(lists)  # 4 records: 1 page of 999, 2 pages of 2
        assert all(feed.covers(i) for i in wanted) is lists
        if lists:
            assert feed.copy_of("1") == RawRecord("1", {"id": 1})
            feed.prepare(["1"])  # a later page of one update: read, not the older copy
            assert vendor.listings == 1
            assert not feed.covers("1")
            assert feed.copy_of("1") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_listing_older_than_its_allowed_age_is_renewed_before_the_next_check(
    planned: tuple[StateStore, int],
) -> None:
    # A rate-limited vendor can take minutes over one page of writes: a late write of the
    # page must not be checked against a listing made before a user's edit.
    from contactsync.engine.change_feed import MAX_LISTING_AGE

    state, _action_id = planned
    clock = FakeClock()
    vendor = FeedVendor([])
    feed = ChangeFeed(state, vendor, clock=clock)
    feed.prepare([RECORD_ID])
    assert len(vendor.windows) == 1
    assert feed.covers(RECORD_ID)
    assert feed.copy_of(RECORD_ID) is None

    clock.now += MAX_LISTING_AGE / 2
    feed.renew_if_stale(RECORD_ID)
    assert len(vendor.windows) == 1  # recent enough: no request

    vendor.listed = [grow_record("Owner", "2026-06-15T10:00:00.000000Z")]  # a user's edit
    first_check = clock.now - MAX_LISTING_AGE / 2
    clock.now += MAX_LISTING_AGE
    feed.renew_if_stale(RECORD_ID)
    assert len(vendor.windows) == 2
    assert vendor.windows[1].start == first_check - timedelta(minutes=5)  # since the last
    copy = feed.copy_of(RECORD_ID)
    assert copy is not None
    assert copy.payload["job_position"] == "Owner"


def test_a_failed_renewal_leaves_the_record_to_be_read_on_its_own(
    planned: tuple[StateStore, int],
) -> None:
    from contactsync.engine.change_feed import MAX_LISTING_AGE

    state, _action_id = planned
    clock = FakeClock()
    vendor = FeedVendor([])
    feed = ChangeFeed(state, vendor, clock=clock)
    feed.prepare([RECORD_ID])
    vendor.extract = lambda window: (_ for _ in ()).throw(RuntimeError("cut"))  # type: ignore[method-assign]
    clock.now += MAX_LISTING_AGE * 2
    feed.renew_if_stale(RECORD_ID)
    assert not feed.covers(RECORD_ID)
