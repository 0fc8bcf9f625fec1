"""Issue 14, item 4: a user's edit made while a sync is writing that very record.

The sync plans an update of Grow CRM's record from a Trackops edit; just before the
write is sent, a Grow CRM user edits the same field there. The Grow CRM edit is the
newer one: after the syncs settle every system must hold it, not the planned value.
Writes conditional on the record being unchanged since it was read (helper H6's
part of the issue) are what make this pass.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contactsync.config import load_settings
from contactsync.sandbox.common import SandboxOptions
from contactsync.sync import Engine
from tests.reliability.edit_rounds import EditRounds
from tests.reliability.helpers import sandbox

EDITED_DURING_SYNC = "Edited While Syncing"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="issue 14 item 4: writes are not yet conditional on the record being unchanged",
)
def test_an_edit_made_while_the_sync_writes_that_record_survives(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=12, seed=3)) as box:
        engine = Engine.from_settings(
            load_settings(box.config, env=box.credentials), box.credentials
        )
        try:
            assert engine.run("backfill").summary.status == "ok"
            rounds = EditRounds(box, engine, random.Random(3))
            rounds.settle()
            person, trackops_id, grow_id = _person_in_both(rounds)
            _edit_title(rounds, "trackops", trackops_id)
            grow = box.server.simulators["growcrm"]
            adapter = engine.adapters["growcrm"]

            def user_edits_first(write: Callable[..., Any]) -> Callable[..., Any]:
                def wrapped(external_id: str, *args: Any, **kwargs: Any) -> Any:
                    if external_id == grow_id and not edited:
                        with grow.store.lock:
                            keys = {str(key): key for key in grow.store.records}
                            record = grow.store.records[keys[external_id]]
                            record["job_position"] = EDITED_DURING_SYNC
                            grow._touch(record)  # the vendor moves its change time
                        edited.append(external_id)
                    return write(external_id, *args, **kwargs)

                return wrapped

            edited: list[str] = []
            for name in ("update", "update_if_unchanged"):
                setattr(adapter, name, user_edits_first(getattr(adapter, name)))
            rounds.settle()
            assert edited == [grow_id]
            titles = {
                system: values.get("job_title")
                for system, external_id, owner in rounds.linked()
                if owner == person
                for values in [rounds.canonical(system, external_id)[0]]
            }
            assert set(titles.values()) == {EDITED_DURING_SYNC}, titles
        finally:
            engine.close()


def _person_in_both(rounds: EditRounds) -> tuple[str, str, str]:
    by_person: dict[str, dict[str, str]] = {}
    for system, external_id, person in rounds.linked():
        by_person.setdefault(person, {}).setdefault(system, external_id)
    for person, records in sorted(by_person.items()):
        if {"trackops", "growcrm"} <= records.keys():
            return person, records["trackops"], records["growcrm"]
    raise AssertionError("no person in both Trackops and Grow CRM")


def _edit_title(rounds: EditRounds, system: str, external_id: str) -> None:
    """Users' edits of the record until its job title changed."""
    simulator = rounds.box.server.simulators[system]
    before = rounds.canonical(system, external_id)[0].get("job_title")
    for _ in range(30):
        with simulator.store.lock:
            keys = {str(key): key for key in simulator.store.records}
            simulator.mutate_record(keys[external_id], rounds.rng)
        if rounds.canonical(system, external_id)[0].get("job_title") != before:
            return
    raise AssertionError("the job title never changed")
