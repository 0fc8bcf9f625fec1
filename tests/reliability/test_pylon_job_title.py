"""Pylon's job title (the custom field ``job_title``) leaves and reaches Pylon: a title
set in Trackops arrives in Pylon's ``custom_fields``, and one edited in Pylon arrives
in Trackops and Rhythm, with Pylon's other custom fields left alone.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from contactsync.engine.sync import Engine
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import Sandbox, sandbox
from tests.reliability.test_faults import _user_adapter

pytestmark = pytest.mark.slow


def record(box: Sandbox, system: str, external_id: str) -> dict[str, Any]:
    return next(r for r in box.records(system) if str(r["id"]) == external_id)


def records_by_person(engine: Engine) -> dict[str, dict[str, str]]:
    """Each person's linked record ids, by system."""
    held: dict[str, dict[str, str]] = {}
    for stored in engine.state.iter_records():
        if stored.person_id:
            person = engine.state.resolve_person(stored.person_id)
            held.setdefault(person, {})[stored.system] = stored.external_id
    return held


def pylon_title(box: Sandbox, external_id: str) -> str | None:
    entry = record(box, "pylon", external_id)["custom_fields"].get("job_title")
    return None if entry is None else entry.get("value")


def test_the_job_title_round_trips_through_pylon(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=30, seed=21)) as box:
        engine = engine_for(box)
        try:
            assert engine.run("backfill").summary.status == "ok"
            held = records_by_person(engine)
            people = [ids for _, ids in sorted(held.items()) if {"pylon", "trackops"} <= set(ids)]
            assert people, "nobody is held in both Pylon and Trackops"
            titled = [
                ids for ids in people if record(box, "trackops", ids["trackops"]).get("title")
            ]
            assert titled, "no Trackops record of them has a title"
            for ids in titled:  # Trackops' titles reached Pylon on the backfill
                assert (
                    pylon_title(box, ids["pylon"])
                    == record(box, "trackops", ids["trackops"])["title"]
                )

            ids = next(ids for ids in people if "rhythm" in ids)
            with closing(_user_adapter(box, "pylon")) as pylon_user:
                pylon_user.update(
                    ids["pylon"],
                    {
                        "custom_fields": [
                            {"slug": "job_title", "value": "Chief Pilot"},
                            {"slug": "language", "value": "de"},
                        ]
                    },
                    current=record(box, "pylon", ids["pylon"]),
                )
            assert engine.run("sync").summary.status == "ok"
            assert record(box, "trackops", ids["trackops"])["title"] == "Chief Pilot"
            assert record(box, "rhythm", ids["rhythm"])["job_title"] == "Chief Pilot"
            fields = record(box, "pylon", ids["pylon"])["custom_fields"]
            assert fields["job_title"]["value"] == "Chief Pilot"
            assert fields["language"]["value"] == "de", "another custom field was changed"
            quiet = engine.run("sync")
            assert quiet.summary.status == "ok"
            assert quiet.summary.systems["pylon"].updated == 0, "the title ping-pongs"
        finally:
            engine.close()
