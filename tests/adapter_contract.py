"""The contract every adapter's tests inherit (vdirsyncer style).

A system's test module subclasses :class:`AdapterContract`, sets ``system`` and
implements :meth:`new_payload` / :meth:`changed_payload` / :meth:`invalid_payload`.
The ``harness`` fixture (tests/adapters/conftest.py) runs each test twice: live
against a sandbox on loopback, and replayed from a vcrpy cassette recorded from
the same test (``record_mode="none"``; ``make cassettes`` re-records). Both modes
run the very same code: the sandbox's admin endpoints used for the assertions are
HTTP calls too, so they are recorded and replayed like the vendor calls.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from contactsync.adapters.base import Adapter, ChangeStrategy, RawRecord, Window
from contactsync.http.errors import FatalError, RecordError

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
PERSON_ID = "p_01CONTRACT0000000000000001"


class SandboxAdmin:
    """The sandbox's admin endpoints for one system (recorded in cassettes too)."""

    def __init__(self, client: Any, admin_url: str) -> None:
        self.client = client
        self.admin_url = admin_url.rstrip("/")

    def live_records(self) -> list[dict[str, Any]]:
        response = self.client.get(f"{self.admin_url}/_sandbox/records")
        response.raise_for_status()
        return [r for r in response.json()["records"] if not r.get("_deleted")]

    def list_requests(self, method: str = "GET") -> int:
        """Requests of ``method`` to non-admin list paths (not an OAuth token request),
        as the sandbox counted them."""
        response = self.client.get(f"{self.admin_url}/_sandbox/stats")
        response.raise_for_status()
        return sum(
            row["count"]
            for row in response.json()["requests"]
            if row["method"] == method
            and "{" not in row["path"].rsplit("/", 1)[-1]
            and "oauth" not in row["path"]
        )

    def writes(self) -> int:
        response = self.client.get(f"{self.admin_url}/_sandbox/stats")
        response.raise_for_status()
        return sum(
            row["count"]
            for row in response.json()["requests"]
            if row["method"] in {"POST", "PUT", "PATCH", "DELETE"}
            and not row["path"].endswith("/search")
            and "oauth" not in row["path"]
        )


class Harness:
    """What each contract test gets: an adapter and the sandbox's admin view."""

    def __init__(self, adapter: Adapter, admin: SandboxAdmin, bad_adapter: Adapter) -> None:
        self.adapter = adapter
        self.admin = admin
        self.bad_adapter = bad_adapter


class AdapterContract:
    system: ClassVar[str]
    #: the record's id field in the vendor payload as /_sandbox/records shows it
    id_field: ClassVar[str] = "id"
    #: the record's own last-changed field for window tests (None: the system has none)
    updated_field: ClassVar[str | None] = None

    # --- what each system's test class supplies --------------------------------------

    def new_payload(self, n: int) -> dict[str, Any]:
        """A valid create payload (vendor-shaped), unique per ``n``, stamped with PERSON_ID."""
        raise NotImplementedError

    def changed_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` with one mapped field changed (the update to send)."""
        raise NotImplementedError

    def invalid_payload(self) -> dict[str, Any]:
        """A create payload the vendor rejects as invalid (a record-level error)."""
        raise NotImplementedError

    # --- the contract -----------------------------------------------------------------

    def _extract_all(self, adapter: Adapter) -> list[RawRecord]:
        return list(adapter.extract(Window(None, FAR_FUTURE)))

    def test_extract_pages_to_the_end(self, harness: Harness) -> None:
        live = harness.admin.live_records()
        records = self._extract_all(harness.adapter)
        assert sorted(r.external_id for r in records) == sorted(str(r[self.id_field]) for r in live)
        assert len({r.external_id for r in records}) == len(records), "duplicates in extract"

    def test_extract_makes_only_the_requests_paging_needs(self, harness: Harness) -> None:
        live = harness.admin.live_records()
        self._extract_all(harness.adapter)
        method = "POST" if self.system == "rhythm" else "GET"
        size = self.server_page_size(harness)
        expected = max(1, math.ceil(len(live) / size))
        made = harness.admin.list_requests(method)
        assert expected <= made <= expected + self.extra_list_requests(len(live), size)

    def server_page_size(self, harness: Harness) -> int:
        return harness.adapter.context.page_size

    def extra_list_requests(self, n: int, size: int) -> int:
        """Requests beyond ceil(n/size) the API needs to signal the end (default: exact
        multiples need one more)."""
        return 1 if n % size == 0 else 0

    def test_window_edges_are_inclusive(self, harness: Harness) -> None:
        strategy = type(harness.adapter).strategy
        if strategy is ChangeStrategy.SNAPSHOT:
            pytest.skip(f"{self.system} has no server-side change filter (snapshot diff)")
        records = self._extract_all(harness.adapter)
        stamped = sorted((r for r in records if r.updated_at), key=lambda r: r.updated_at or 0)
        assert len(stamped) >= 3
        middle = stamped[len(stamped) // 2]
        assert middle.updated_at is not None
        window = Window(middle.updated_at, FAR_FUTURE)
        got = {r.external_id for r in harness.adapter.extract(window)}
        assert middle.external_id in got, "the window's start must be inclusive"
        expected = {r.external_id for r in stamped if r.updated_at >= middle.updated_at}
        assert expected <= got
        older = {r.external_id for r in stamped if r.updated_at < middle.updated_at}
        assert not (older & got), "records older than the window leaked in"

    def test_create_update_delete_round_trip(self, harness: Harness) -> None:
        payload = self.new_payload(1)
        created = harness.adapter.create(payload)
        assert created.external_id
        ids = {str(r[self.id_field]) for r in harness.admin.live_records()}
        assert created.external_id in ids
        changed = self.changed_payload(payload)
        harness.adapter.update(created.external_id, changed, current=created.record)
        after = {str(r[self.id_field]): r for r in harness.admin.live_records()}
        self.assert_updated(after[created.external_id], changed)
        harness.adapter.delete(created.external_id)
        remaining = {str(r[self.id_field]) for r in harness.admin.live_records()}
        assert created.external_id not in remaining

    def assert_updated(self, record: dict[str, Any], changed: dict[str, Any]) -> None:
        raise NotImplementedError

    def test_foreign_id_is_stamped_and_found(self, harness: Harness) -> None:
        payload = self.new_payload(2)
        created = harness.adapter.create(payload)
        assert harness.adapter.find_existing(payload, PERSON_ID) == created.external_id

    def test_find_existing_returns_none_for_a_never_created_record(self, harness: Harness) -> None:
        payload = self.new_payload(3)
        assert harness.adapter.find_existing(payload, "p_01NEVERCREATED000000000000") is None

    def test_invalid_record_is_a_record_error_naming_the_system(self, harness: Harness) -> None:
        with pytest.raises(RecordError) as info:
            harness.adapter.create(self.invalid_payload())
        assert self.system in str(info.value)

    def test_bad_credentials_are_fatal_and_secret_free(self, harness: Harness) -> None:
        with pytest.raises(FatalError) as info:
            list(harness.bad_adapter.extract(Window(None, FAR_FUTURE)))
        assert "wrong-secret" not in str(info.value)
