"""``runs``, ``runs show``, ``person``, ``explain`` and ``status`` on the state the demo
leaves: a real backfill, user edits, a sync and a quiet sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactsync.cli.app import app
from contactsync_sandbox.demo import run_demo
from contactsync_sandbox.write_config import read_env_file

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_history_commands_read_the_demos_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_demo(people=20, seed=3, workdir=tmp_path) == 0
    config = tmp_path / "demo.toml"
    for name, value in read_env_file(tmp_path / "demo.toml.env").items():
        monkeypatch.setenv(name, value)

    def cli(*args: str) -> dict[str, object]:
        answer = runner.invoke(app, ["--config", str(config), *args, "--json"])
        assert answer.exit_code == 0, answer.output
        parsed: dict[str, object] = json.loads(answer.stdout)
        return parsed

    runs = cli("runs")["runs"]
    assert isinstance(runs, list)
    kinds = [run["kind"] for run in runs]
    assert kinds.count("sync") == 2
    assert {"backfill", "plan"} <= set(kinds)
    sync = next(run for run in reversed(runs) if run["kind"] == "sync")  # the one that wrote
    shown = cli("runs", "show", sync["run_id"])
    writes = shown["writes"]
    assert isinstance(writes, list)
    assert writes, "the demo's first sync wrote nothing"
    change = writes[0]["changes"][0]
    assert {"field", "before", "after"} <= set(change)
    person_id = writes[0]["person_id"]
    person = cli("person", person_id)
    assert person["person_id"] == person_id
    assert person["records"]
    explained = cli("explain", person_id, "first_name")
    assert explained["field"] == "first_name"
    assert explained["source"]["system"]
    status = cli("status")
    assert status["status"] == "ok"
    assert {s["result"] for s in status["systems"].values()} == {"ok"}
