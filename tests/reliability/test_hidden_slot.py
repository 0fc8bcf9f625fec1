"""Issue 14 (no edit lost): a copy of an address hidden in a vendor slot does not come
back once a user has removed the address.

The sequence found by ``bench/edits.py`` (seed 41): Rhythm held ``[N, E]`` (our write),
then a Rhythm user typed E over N in the first slot. Rhythm's two slots now hold the
same address, which reads as one email, ``[E]``. A Trackops user then replaced E with a
new address, N. The plan sent Rhythm N for its first slot, the only one it could see;
the answer showed ``[N, E]``: the hidden copy came out, and E, whose newest edit
removed it, stayed in Rhythm for good, since nothing planned the person again.
"""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import pytest

from contactsync_sandbox.common import SandboxOptions
from tests.reliability.convergence import engine_for
from tests.reliability.helpers import sandbox
from tests.reliability.test_faults import _user_adapter
from tests.reliability.test_pylon_job_title import record
from tests.reliability.test_stale_replan import one_email_person

pytestmark = pytest.mark.slow


def test_a_copy_in_a_hidden_slot_of_a_removed_address_is_cleared(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=20, seed=5, rate_limits="off")) as box:
        engine = engine_for(box)
        try:
            assert engine.run("backfill").summary.status == "ok"
            for _ in range(2):
                assert engine.run("sync").summary.status == "ok"
            person, ids, old = one_email_person(box, engine)
            with closing(_user_adapter(box, "rhythm")) as user:
                current = record(box, "rhythm", ids["rhythm"])
                user.update(ids["rhythm"], {"email_address2": old}, current=current)
            assert engine.run("sync").summary.status == "ok"
            stored = engine.state.get_record("rhythm", ids["rhythm"])
            assert stored is not None
            assert [e["address"] for e in stored.payload["emails"]] == [old]  # one email
            time.sleep(1.1)  # Trackops keeps whole seconds: its edit is then the newer one
            new = "new." + old
            with closing(_user_adapter(box, "trackops")) as user:
                current = record(box, "trackops", ids["trackops"])
                user.update(ids["trackops"], {"email": new}, current=current)
            for _ in range(3):
                assert engine.run("sync").summary.status == "ok"

            golden = engine.state.get_person(person)
            assert golden is not None
            assert [e["address"] for e in golden.golden["emails"]] == [new]
            held = record(box, "rhythm", ids["rhythm"])
            slots = [held.get(f"email_address{n}") or None for n in ("", "2", "3")]
            assert slots == [new, None, None], slots  # E's newest edit removed it
        finally:
            engine.close()
