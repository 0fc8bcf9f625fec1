"""``contactsync runs`` / ``runs show``: the run log and each run's writes, read-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactsync.cli.app import app
from contactsync.model.contact import Action, ActionKind, FieldChange
from contactsync.state.sqlite.store import StateStore
from contactsync.state.types import RunKind, RunStatus
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    state_path = tmp_path / "state.sqlite"
    config_path = tmp_path / "sandbox.toml"
    env_file = write_sandbox_config(config_path, {}, SandboxOptions(people=5), state_path)
    for name, value in read_env_file(env_file).items():
        monkeypatch.setenv(name, value)
    with StateStore.open(state_path) as store:
        first = store.start_run(RunKind.BACKFILL)
        store.finish_run(first, RunStatus.OK)
        second = store.start_run(RunKind.SYNC, ["pylon"])
        person = store.create_person(
            {"first_name": "[i]Ann", "emails": [{"address": "ann@x.test", "type": "work"}]},
            {
                "first_name": {
                    "system": "pylon",
                    "external_id": "pyl-7",
                    "at": "2026-01-02T03:04:05+00:00",
                    "how": "vendor",
                }
            },
        )
        store.upsert_record(
            "growcrm", "g-1", hash="h2", payload={"first_name": "Anne"}, person_id=person
        )
        store.upsert_record(
            "pylon", "pyl-7", hash="h1", payload={"first_name": "[i]Ann"}, person_id=person
        )
        change = FieldChange(field="email", before="old@x.test", after="[b]new@x.test")
        action = Action(
            kind=ActionKind.UPDATE,
            system="pylon",
            person_id=person,
            external_id="pyl-7",
            changes=[change],
            payload={"email": "[b]new@x.test"},
        )
        store.enqueue([action], second)
        store.finish_run(second, RunStatus.PARTIAL)
    (tmp_path / "person_id").write_text(person)
    return config_path, first, second


def invoke(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_runs_lists_newest_first_and_limit(config: tuple[Path, str, str]) -> None:
    path, first, second = config
    code, output = invoke(path, "runs", "--json")
    assert code == 0, output
    runs = json.loads(output)["runs"]
    assert [r["run_id"] for r in runs] == [second, first]
    assert runs[0]["kind"] == "sync"
    assert runs[0]["status"] == "partial"
    assert runs[0]["systems"] == ["pylon"]
    assert runs[1]["systems"] is None
    code, output = invoke(path, "runs", "--limit", "1", "--json")
    assert [r["run_id"] for r in json.loads(output)["runs"]] == [second]
    code, output = invoke(path, "runs")
    assert code == 0
    assert second in output
    assert "partial" in output


def test_runs_show_gives_before_and_after_per_field(config: tuple[Path, str, str]) -> None:
    path, first, second = config
    code, output = invoke(path, "runs", "show", second, "--json")
    assert code == 0, output
    payload = json.loads(output)
    assert payload["run"]["run_id"] == second
    [write] = payload["writes"]
    assert write["system"] == "pylon"
    assert write["external_id"] == "pyl-7"
    assert write["changes"] == [
        {"field": "email", "before": "old@x.test", "after": "[b]new@x.test"}
    ]
    code, output = invoke(path, "runs", "show", first, "--json")
    assert json.loads(output)["writes"] == []
    # markup-safe: the literal "[b]" survives in the table
    code, output = invoke(path, "runs", "show", second)
    assert code == 0
    assert "[b]new@x.test" in output
    assert "old@x.test" in output


def test_runs_show_unknown_run_fails_naming_it(config: tuple[Path, str, str]) -> None:
    path, _, _ = config
    code, output = invoke(path, "runs", "show", "r_nope")
    assert code != 0
    assert "r_nope" in output


def test_runs_never_changes_the_state(config: tuple[Path, str, str]) -> None:
    path, _, _ = config
    state = path.parent / "state.sqlite"
    before = state.read_bytes()
    invoke(path, "runs")
    assert state.read_bytes() == before


def test_person_by_id_and_by_email(config: tuple[Path, str, str]) -> None:
    path, _, _ = config
    person_id = (path.parent / "person_id").read_text()
    code, output = invoke(path, "person", person_id, "--json")
    assert code == 0, output
    payload = json.loads(output)
    assert payload["person_id"] == person_id
    assert payload["golden"]["first_name"] == "[i]Ann"
    assert [(r["system"], r["external_id"]) for r in payload["records"]] == [
        ("growcrm", "g-1"),
        ("pylon", "pyl-7"),
    ]
    assert [e["kind"] for e in payload["events"]] == ["create"]
    code, output = invoke(path, "person", "ANN@x.test", "--json")
    assert code == 0, output
    assert json.loads(output)["person_id"] == person_id
    code, output = invoke(path, "person", person_id)
    assert code == 0
    # markup-safe: the golden row keeps the literal "[i]" (not read as italics)
    [golden_row] = [ln for ln in output.splitlines() if "first_name" in ln and "{" not in ln]
    assert "[i]Ann" in golden_row
    assert "pyl-7" in output


def test_person_unknown_fails_naming_it(config: tuple[Path, str, str]) -> None:
    path, _, _ = config
    code, output = invoke(path, "person", "nobody@x.test")
    assert code != 0
    assert "nobody@x.test" in output


def test_explain_names_the_winning_system_and_what_it_overrode(
    config: tuple[Path, str, str],
) -> None:
    path, _, _ = config
    person_id = (path.parent / "person_id").read_text()
    code, output = invoke(path, "explain", person_id, "first_name", "--json")
    assert code == 0, output
    payload = json.loads(output)
    assert payload["value"] == "[i]Ann"
    assert payload["source"]["system"] == "pylon"
    assert payload["source"]["at"] == "2026-01-02T03:04:05+00:00"
    assert payload["source"]["how"] == "vendor"
    assert [(o["system"], o["value"]) for o in payload["others"]] == [("growcrm", "Anne")]
    assert payload["others"][0]["at"] is not None
    code, output = invoke(path, "explain", person_id, "first_name")
    assert code == 0
    assert "from pylon record pyl-7" in output
    assert "Anne" in output
