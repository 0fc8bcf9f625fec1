"""Issue 14, item 4: a user's edit made while a sync is writing that very record.

The sync plans an update of the target's record from an edit in another system; then a
user edits the same field in the target. The user's edit is the newer one: after the
syncs settle every system must hold it, not the planned value.

(a) edit after the plan, before the loader's check: caught in every system (listing,
    read, or Rhythm's atomic ``test`` ops);
(b) edit after the check, just before the write: only Rhythm can refuse it; the others
    are strict xfails naming the one-round-trip window.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contactsync.config.settings import load_settings
from contactsync.engine.conditional import ConditionalWrites
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.edit_rounds import EditRounds
from tests.reliability.helpers import sandbox

SYSTEMS = ("trackops", "growcrm", "rhythm", "pylon", "xurrent")
#: the one-round-trip window: an edit landing after the check and before the write
ONE_ROUND_TRIP = pytest.mark.xfail(
    strict=True,
    reason="no atomic conditional write in this vendor's API: an edit landing between "
    "the check (listing or GET) and the write is overwritten (README Reliability)",
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "target",
    [pytest.param(s, marks=() if s == "rhythm" else ONE_ROUND_TRIP) for s in SYSTEMS],
)
def test_an_edit_made_between_the_check_and_the_write_survives(tmp_path: Path, target: str) -> None:
    """(b) The user's edit lands after the check, just before the write is sent (the
    adapter's write is wrapped): only Rhythm's RFC 6902 ``test`` ops can refuse it."""
    with sandbox(tmp_path, SandboxOptions(people=12, seed=3)) as box:
        engine = open_engine(load_settings(box.config, env=box.credentials), box.credentials)
        try:
            assert engine.run("backfill").summary.status == "ok"
            rounds = EditRounds(box, engine, random.Random(3))
            rounds.settle()
            person, source, source_id, target_id = _person_in(rounds, target)
            _edit_title(rounds, source, source_id)
            planned_title = rounds.canonical(source, source_id)[0]["job_title"]
            _let_a_second_pass()
            adapter = engine.adapters[target]
            users_title: list[Any] = []

            def user_edits_first(write: Callable[..., Any]) -> Callable[..., Any]:
                def wrapped(external_id: str, payload: Any, *args: Any, **kwargs: Any) -> Any:
                    sends_title = planned_title in repr(payload)
                    if external_id == target_id and sends_title and not users_title:
                        _edit_title(rounds, target, target_id, avoid=planned_title)
                        users_title.append(rounds.canonical(target, target_id)[0]["job_title"])
                    return write(external_id, payload, *args, **kwargs)

                return wrapped

            for name in ("update", "update_if_unchanged"):
                setattr(adapter, name, user_edits_first(getattr(adapter, name)))
            rounds.settle()
            assert users_title, f"no write of the title to {target} {target_id}"
            titles = {
                system: rounds.canonical(system, external_id)[0].get("job_title")
                for system, external_id, owner in rounds.linked()
                if owner == person
            }
            assert set(titles.values()) == set(users_title), titles
        finally:
            engine.close()


@pytest.mark.slow
@pytest.mark.parametrize("target", SYSTEMS)
def test_an_edit_made_after_the_plan_and_before_the_check_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    """(a) The user's edit lands after the plan was made and before the loader checks
    the page (injected at ``ConditionalWrites.prepare_page``, no sleeps): every system's
    check must see it, re-stage the record and let the newer edit win everywhere."""
    with sandbox(tmp_path, SandboxOptions(people=12, seed=3)) as box:
        engine = open_engine(load_settings(box.config, env=box.credentials), box.credentials)
        try:
            assert engine.run("backfill").summary.status == "ok"
            rounds = EditRounds(box, engine, random.Random(3))
            rounds.settle()
            person, source, source_id, target_id = _person_in(rounds, target)
            _edit_title(rounds, source, source_id)
            planned_title = rounds.canonical(source, source_id)[0]["job_title"]
            _let_a_second_pass()  # whole-second vendor clocks: the order is then a fact
            users_title: list[Any] = []
            prepare_page = ConditionalWrites.prepare_page

            def user_edits_first(checks: ConditionalWrites, page: Any) -> None:
                writes_it = any(
                    entry.action.external_id == target_id
                    and any(planned_title in repr(c.after) for c in entry.action.changes)
                    for entry in page
                )  # the page sends the source's title to the target (Pylon: in a custom field)
                if checks.system == target and writes_it and not users_title:
                    _edit_title(rounds, target, target_id, avoid=planned_title)
                    users_title.append(rounds.canonical(target, target_id)[0]["job_title"])
                prepare_page(checks, page)

            monkeypatch.setattr(ConditionalWrites, "prepare_page", user_edits_first)
            rounds.settle()
            assert users_title, f"no page of updates to {target} {target_id}"
            titles = {
                system: rounds.canonical(system, external_id)[0].get("job_title")
                for system, external_id, owner in rounds.linked()
                if owner == person
            }
            assert set(titles.values()) == set(users_title), titles
        finally:
            engine.close()


def _let_a_second_pass() -> None:
    # A real wait: Trackops and Xurrent date an edit to the whole second, so an edit in
    # the same second as the sync's read would not be later than it (see
    # EditRounds._let_the_second_pass); the sandbox's clock is the wall clock.
    time.sleep(1.05)


def _person_in(rounds: EditRounds, target: str) -> tuple[str, str, str, str]:
    """A person with a record in ``target`` and one elsewhere: (person, other system,
    its record, the target's record)."""
    by_person: dict[str, dict[str, str]] = {}
    for system, external_id, person in rounds.linked():
        by_person.setdefault(person, {}).setdefault(system, external_id)
    for person, records in sorted(by_person.items()):
        others = sorted(s for s in records if s not in (target, "pylon"))
        if target in records and others:
            return person, others[0], records[others[0]], records[target]
    raise AssertionError(f"no person in {target} and another system")


def _edit_title(
    rounds: EditRounds, system: str, external_id: str, avoid: str | None = None
) -> None:
    """Users' edits of the record until its job title changed (and is not ``avoid``)."""
    simulator = rounds.box.server.simulators[system]
    before = rounds.canonical(system, external_id)[0].get("job_title")
    for _ in range(30):
        with simulator.store.lock:
            keys = {str(key): key for key in simulator.store.records}
            simulator.mutate_record(keys[external_id], rounds.rng)
        if rounds.canonical(system, external_id)[0].get("job_title") not in (before, avoid):
            return
    raise AssertionError("the job title never changed")
