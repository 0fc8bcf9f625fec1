"""``plan`` beside passes that write the state: a backfill under the lease, and the
scheduler's own passes (``contactsync run``). Neither side fails: ``plan`` takes no lease
and works on a private copy of the state, so it neither waits on a pass's write
transactions nor holds one, and it leaves no trace in the state."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contactsync.state.sqlite.store import StateStore
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import contactsync, sandbox

pytestmark = pytest.mark.slow

PASS_LOG = "pass finished"  # what `contactsync run` logs after each pass
FIRST_PASSES = 5  # `run` starts with one pass per system


@pytest.mark.parametrize("beside", ["backfill", "run"])
def test_plans_run_beside_a_writing_pass_and_neither_fails(tmp_path: Path, beside: str) -> None:
    # the scheduler's first pass must outlast a plan: more people, vendor-shaped limits
    people = 80 if beside == "backfill" else 300
    options = SandboxOptions(people=people, seed=9, rate_limits="fast")
    with sandbox(tmp_path, options) as box:
        command = [sys.executable, "-m", "contactsync", "--config", str(box.config)]
        log = tmp_path / f"{beside}.log"
        with log.open("w") as err:
            passing = subprocess.Popen(
                [*command, beside, *(["--json"] if beside == "backfill" else [])],
                env=box.env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
            plans = []  # each started while a pass was writing the state (loop guard)
            while passing.poll() is None and len(plans) < 20:
                text = log.read_text()
                if beside == "run" and "scheduler started" not in text:
                    time.sleep(0.05)  # not passing yet
                    continue
                if beside == "run" and text.count(PASS_LOG) >= FIRST_PASSES:
                    break  # the scheduler's first pass of every system is over
                plan = contactsync("plan", "--json", config=box.config, env=box.env)
                plans.append(plan)
            if beside == "run":
                passing.send_signal(signal.SIGTERM)
            out, _ = passing.communicate(timeout=240)
        assert passing.returncode == 0, log.read_text()[-2000:]
        if beside == "backfill":
            assert json.loads(out)["status"] == "ok"
        else:
            assert PASS_LOG in log.read_text()
        assert "database is locked" not in log.read_text()
        assert plans, "no plan ran while a pass did: the test proves nothing"
        with StateStore.open(box.state_path) as state:  # plan changed nothing here
            assert "plan" not in {run.kind.value for run in state.list_runs(100)}
        for plan in plans:
            assert plan.returncode == 0, plan.stderr[-2000:]
            assert "database is locked" not in plan.stderr
            json.loads(plan.stdout)
