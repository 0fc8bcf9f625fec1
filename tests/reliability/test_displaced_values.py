"""A user's email that contactsync's own write displaced from a one-email slot (Xurrent's
``primary_email``, Trackops' ``email``) survives a later edit of another field: the
person's golden record is rebuilt then, and the address must not be dropped and cleared
from the copies contactsync made of it elsewhere (see contactsync.engine.displaced)."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest

from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import sandbox
from tests.reliability.test_faults import _user_adapter
from tests.reliability.test_pylon_job_title import record, records_by_person

pytestmark = pytest.mark.slow


def test_a_displaced_email_survives_an_edit_of_another_field(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=21)) as box:
        engine = engine_for(box)
        try:
            assert engine.run("backfill").summary.status == "ok"
            assert engine.run("sync").summary.status == "ok"
            state = engine.state
            displaced = []  # (person's records, address): only our copies hold it now
            for person, ids in sorted(records_by_person(engine).items()):
                if "trackops" not in ids:
                    continue
                stored = {s: state.get_record(s, x) for s, x in ids.items()}
                for email in (state.get_person(person).golden or {}).get("emails", []):
                    address = email["address"]
                    theirs = [
                        s
                        for s, r in stored.items()
                        if r and address in json.dumps(r.source_payload or {})
                    ]
                    held = [s for s, r in stored.items() if r and address in json.dumps(r.payload)]
                    if theirs and not set(theirs) & set(held):
                        displaced.append((ids, address, held))  # fmt: skip
            assert displaced, "no user's email was displaced by our writes in this sandbox"
            ids, address, held = displaced[0]
            with closing(_user_adapter(box, "trackops")) as user:
                current = record(box, "trackops", ids["trackops"])
                user.update(ids["trackops"], {"title": "Chief Pilot"}, current=current)
            for _ in range(2):
                assert engine.run("sync").summary.status == "ok"
            for system in held:
                assert address in json.dumps(record(box, system, ids[system])), (system, address)
        finally:
            engine.close()
