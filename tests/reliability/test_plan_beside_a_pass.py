"""``plan`` beside a pass that writes the state (a backfill under the lease, as a
scheduled pass is): neither fails. ``plan`` takes no lease and works on a private copy
of the state, so it neither waits on the pass's write transactions nor holds one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from contactsync.sandbox.common import SandboxOptions
from tests.reliability.helpers import contactsync, sandbox

pytestmark = pytest.mark.slow


def test_plans_run_beside_a_backfill_and_neither_fails(tmp_path: Path) -> None:
    options = SandboxOptions(people=80, seed=9, rate_limits="fast")
    with sandbox(tmp_path, options) as box:
        command = [sys.executable, "-m", "contactsync", "--config", str(box.config)]
        backfill = subprocess.Popen(
            [*command, "backfill", "--json"],
            env=box.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        beside = 0
        plans = []
        while backfill.poll() is None and len(plans) < 20:
            plan = contactsync("plan", "--json", config=box.config, env=box.env)
            plans.append(plan)
            beside += backfill.poll() is None  # still running when the plan ended
        out, err = backfill.communicate(timeout=240)
        assert backfill.returncode == 0, err[-2000:]
        assert json.loads(out)["status"] == "ok"
        assert beside >= 1, "no plan ran while the backfill did: the test proves nothing"
        for plan in plans:
            assert plan.returncode == 0, plan.stderr[-2000:]
            assert "database is locked" not in plan.stderr
            json.loads(plan.stdout)
