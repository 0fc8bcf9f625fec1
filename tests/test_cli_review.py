"""``review`` and ``status`` on a state file prepared by hand (no vendor involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactsync.cli import app
from contactsync.models import Contact
from contactsync.state import StateStore

runner = CliRunner()


def stage(store: StateStore, system: str, external_id: str, **fields: object) -> str:
    contact = Contact.model_validate(fields)
    person = store.create_person()
    store.upsert_record(
        system,
        external_id,
        hash=contact.content_hash(),
        payload=contact.model_dump(mode="json"),
        person_id=person,
    )
    return person


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text('[contactsync]\nstate = "state.sqlite"\n')
    with StateStore.open(tmp_path / "state.sqlite") as store:
        stage(
            store,
            "trackops",
            "7",
            first_name="Ann",
            last_name="Lee",
            emails=[{"address": "ann@example.com"}],
        )
        stage(store, "pylon", "c1", full_name="Anne Lee", emails=[{"address": "al@example.org"}])
        store.add_review("trackops", "7", "pylon", "c1", 0.81, {"name": 0.9, "email": 0.0})
        store.quarantine("growcrm", "99", "growcrm record 99: email -> emails: invalid", {"id": 99})
    return path


def test_review_list_shows_both_records_and_the_score(config: Path) -> None:
    result = runner.invoke(app, ["--config", str(config), "review", "list", "--json"])
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.output)
    assert item["score"] == pytest.approx(0.81)
    assert {item["left"], item["right"]} == {
        "trackops:7 Ann Lee ann@example.com",
        "pylon:c1 Anne Lee al@example.org",
    }


def test_review_merge_joins_the_persons_and_closes_the_item(config: Path) -> None:
    result = runner.invoke(app, ["--config", str(config), "review", "merge", "1"])
    assert result.exit_code == 0, result.output
    with StateStore.open(config.parent / "state.sqlite") as store:
        assert store.person_for("trackops", "7") == store.person_for("pylon", "c1")
        assert store.list_review() == []
    again = runner.invoke(app, ["--config", str(config), "review", "merge", "1"])
    assert again.exit_code == 2
    assert "already merged" in again.output


def test_review_dismiss_keeps_them_apart(config: Path) -> None:
    result = runner.invoke(app, ["--config", str(config), "review", "dismiss", "1"])
    assert result.exit_code == 0, result.output
    with StateStore.open(config.parent / "state.sqlite") as store:
        assert store.person_for("trackops", "7") != store.person_for("pylon", "c1")
        assert store.list_review() == []


def test_status_shows_quarantined_records_with_their_reason(config: Path) -> None:
    result = runner.invoke(app, ["--config", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["quarantine"] == [
        {
            "system": "growcrm",
            "record": "99",
            "reason": "growcrm record 99: email -> emails: invalid",
        }
    ]
    assert report["persons"]["total"] == 2
    assert report["review"]["open"] == 1


def test_a_missing_config_file_is_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--config", str(tmp_path / "nope.toml"), "status"])
    assert result.exit_code == 2
    assert "nope.toml" in result.output
