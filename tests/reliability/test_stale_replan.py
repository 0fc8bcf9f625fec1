"""Issue 14 (no edit lost): a person planned again while a write to one of their records
is in flight must not leave that write's now-unwanted values behind.

The sequence found by ``bench/edits.py`` (seed 42): a Pylon user gives a person a new
primary address I (Pylon keeps the old one, E, second), and a Trackops user changes
their title. The plan sends Rhythm, which has three email slots, ``[I, E]`` and the
title; the one-email systems get I. While Rhythm's write is in flight, a Xurrent user
replaces E with I too (their new address, typed in Xurrent): Xurrent's loader finds its
record changed, stages it (E removed, newer than anything that holds E) and plans the
person again, against Rhythm's copy as last stored, from before the write. That new
Rhythm update (title and I in slot 1) is already there once the first write lands: it
was closed as written, and nothing planned the person again. Rhythm kept E in slot 2,
a value whose newest edit removed it, for good.

The order of the two loads is forced with events (no sleeps): Xurrent's load waits
until Rhythm's write is about to be sent, and that write waits until Xurrent's load has
planned the person again.
"""

from __future__ import annotations

import random
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from contactsync.engine.conditional import ConditionalWrites
from contactsync.engine.sync import Engine
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import Sandbox, sandbox
from tests.reliability.test_faults import _user_adapter
from tests.reliability.test_pylon_job_title import record, records_by_person

pytestmark = pytest.mark.slow
WAIT = 60.0  # seconds an event may take: only a broken sequence waits that long


class PicksEmail(random.Random):
    """The simulator's own user edit, made to pick an email edit (the first new domain)."""

    def choice(self, seq: Any) -> Any:
        return "email" if "email" in seq else seq[0]


def one_email_person(box: Sandbox, engine: Engine) -> tuple[str, dict[str, str], str]:
    """A person in all five systems with one email, E, that every system holds as is."""
    for person, ids in sorted(records_by_person(engine).items()):
        if len(ids) < 5:
            continue
        golden = engine.state.get_person(person)
        emails = [e["address"] for e in (golden.golden if golden else {}).get("emails", [])]
        rhythm = record(box, "rhythm", ids["rhythm"])
        held = (
            rhythm.get("email_address"),
            record(box, "pylon", ids["pylon"]).get("emails"),
            record(box, "xurrent", ids["xurrent"]).get("primary_email"),
        )
        spare = rhythm.get("email_address2") or rhythm.get("email_address3")
        if len(emails) == 1 and held == (emails[0], emails, emails[0]) and not spare:
            return person, ids, emails[0]
    raise AssertionError("no person with one email held in every system")


def test_a_replan_during_a_write_leaves_no_removed_email_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sandbox(tmp_path, SandboxOptions(people=20, seed=5, rate_limits="off")) as box:
        engine = engine_for(box)
        try:
            assert engine.run("backfill").summary.status == "ok"
            for _ in range(2):
                assert engine.run("sync").summary.status == "ok"
            person, ids, old = one_email_person(box, engine)
            pylon = box.server.simulators["pylon"]
            with pylon.store.lock:  # a Pylon user adds a new primary address
                pylon.mutate_record(ids["pylon"], PicksEmail())
            new = record(box, "pylon", ids["pylon"])["email"]
            assert new != old
            assert record(box, "pylon", ids["pylon"])["emails"] == [new, old]
            with closing(_user_adapter(box, "trackops")) as user:
                current = record(box, "trackops", ids["trackops"])
                user.update(ids["trackops"], {"title": "Chief Pilot"}, current=current)

            rhythm_in_flight, replanned = threading.Event(), threading.Event()
            rhythm = engine.adapters["rhythm"]
            rhythm_write = rhythm.update_if_unchanged

            def xurrent_user_edits_first(
                external_id: str, payload: dict[str, Any], current: dict[str, Any]
            ) -> Any:
                if external_id == ids["rhythm"] and payload.get("email_address2") == old:
                    with closing(_user_adapter(box, "xurrent")) as user:
                        xurrent = record(box, "xurrent", ids["xurrent"])
                        user.update(ids["xurrent"], {"primary_email": new}, current=xurrent)
                    rhythm_in_flight.set()
                    assert replanned.wait(WAIT), "Xurrent's load never planned the person again"
                return rhythm_write(external_id, payload, current)

            prepare_page = ConditionalWrites.prepare_page

            def xurrent_waits(checks: ConditionalWrites, page: Any) -> None:
                if checks.system == "xurrent" and not rhythm_in_flight.is_set():
                    rhythm_in_flight.wait(WAIT)
                prepare_page(checks, page)

            replan = engine.replan

            def replan_then_go_on(person_ids: Any) -> Any:
                planned = replan(person_ids)
                replanned.set()
                return planned

            monkeypatch.setattr(rhythm, "update_if_unchanged", xurrent_user_edits_first)
            monkeypatch.setattr(ConditionalWrites, "prepare_page", xurrent_waits)
            monkeypatch.setattr(engine, "replan", replan_then_go_on)
            assert engine.run("sync").summary.status == "ok"
            assert rhythm_in_flight.is_set(), "no write of E to Rhythm's second slot"
            assert replanned.is_set(), "Xurrent's load did not plan the person again"
            monkeypatch.undo()
            for _ in range(3):
                assert engine.run("sync").summary.status == "ok"

            golden = engine.state.get_person(person)
            assert golden is not None
            assert [e["address"] for e in golden.golden["emails"]] == [new]
            held = record(box, "rhythm", ids["rhythm"])
            slots = [held.get(f"email_address{n}") or None for n in ("", "2", "3")]
            assert slots == [new, None, None], slots  # E's newest edit removed it
            assert held.get("job_title") == "Chief Pilot"
        finally:
            engine.close()
