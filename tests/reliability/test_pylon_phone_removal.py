"""A phone a user removes elsewhere leaves Pylon too, also when it was the contact's
last number: the update sends ``phone_numbers: []`` (the spec allows an empty list)
instead of leaving the number alive in Pylon, where no later sync would remove it."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import sandbox
from tests.reliability.test_faults import _user_adapter
from tests.reliability.test_pylon_job_title import record, records_by_person

pytestmark = pytest.mark.slow


def test_the_last_phone_removed_in_grow_crm_is_removed_in_pylon(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=40, seed=5)) as box:
        engine = engine_for(box)
        try:
            assert engine.run("backfill").summary.status == "ok"
            assert engine.run("sync").summary.status == "ok"
            lone = [
                ids
                for _, ids in sorted(records_by_person(engine).items())
                if {"pylon", "growcrm"} <= set(ids)
                and len(record(box, "pylon", ids["pylon"]).get("phone_numbers") or []) == 1
                and record(box, "growcrm", ids["growcrm"]).get("phone")
            ]
            assert lone, "nobody has one phone in Pylon and a phone in Grow CRM"
            ids = lone[0]
            grow = record(box, "growcrm", ids["growcrm"])
            with closing(_user_adapter(box, "growcrm")) as grow_user:
                grow_user.update(ids["growcrm"], {"phone": ""}, current=grow)
            assert not record(box, "growcrm", ids["growcrm"]).get("phone")
            assert engine.run("sync").summary.status == "ok"
            assert record(box, "pylon", ids["pylon"]).get("phone_numbers") in (None, [])
            quiet = engine.run("sync")
            assert quiet.summary.status == "ok"
            assert quiet.summary.systems["pylon"].updated == 0
        finally:
            engine.close()
