"""A one-shot ``sync`` reuses the Rhythm OAuth token the previous one fetched (Rhythm
caps machine tokens per month), from a 0600 file beside the state; the token is in no
output and not in the SQLite file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from contactsync.http.token_file import token_file_for
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import contactsync, sandbox

pytestmark = pytest.mark.slow


def test_two_one_shot_syncs_take_one_rhythm_token_between_them(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=10, seed=5, rate_limits="off")) as box:
        issued_before = box.admin("rhythm", "stats")["tokens_issued"]
        runs = [contactsync(kind, config=box.config, env=box.env) for kind in ("sync", "sync")]
        for run in runs:
            assert run.returncode == 0, run.stderr[-2000:]
        assert box.admin("rhythm", "stats")["tokens_issued"] - issued_before == 1

        tokens = token_file_for(box.state_path)
        assert tokens.exists()
        assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
        [entry] = json.loads(tokens.read_text()).values()
        token = entry["value"]
        assert len(token) > 8
        for run in runs:
            assert token not in run.stdout
            assert token not in run.stderr
        assert token.encode() not in box.state_path.read_bytes()


def test_a_damaged_token_file_costs_a_new_token_not_the_run(tmp_path: Path) -> None:
    with sandbox(tmp_path, SandboxOptions(people=10, seed=5, rate_limits="off")) as box:
        tokens = token_file_for(box.state_path)
        tokens.write_text("{not json")
        run = contactsync("sync", config=box.config, env=box.env)
        assert run.returncode == 0, run.stderr[-2000:]
        assert json.loads(tokens.read_text())  # rewritten with the new token
