"""``review`` and ``status`` on a state file prepared by hand (no vendor involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactsync.cli.app import app
from contactsync.model.contact import Contact
from contactsync.state.sqlite.store import StateStore
from tests.state_contract import stage_person

runner = CliRunner()


def stage(store: StateStore, system: str, external_id: str, **fields: object) -> str:
    return stage_person(store, system, external_id, Contact.model_validate(fields))


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


def test_a_merge_closes_the_other_items_whose_records_became_one_person(config: Path) -> None:
    with StateStore.open(config.parent / "state.sqlite") as store:
        stage(store, "rhythm", "r9", full_name="Ann Lee", emails=[{"address": "ann@example.com"}])
        second = store.add_review("pylon", "c1", "rhythm", "r9", 0.77, {"name": 0.9})
        third = store.add_review("rhythm", "r9", "trackops", "7", 0.75, {"name": 0.9})
    for decided in (1, second.id):  # trackops:7 + pylon:c1, then pylon:c1 + rhythm:r9
        merged = runner.invoke(app, ["--config", str(config), "review", "merge", str(decided)])
        assert merged.exit_code == 0, merged.output
    # all three records are one person now: the third item's question went away
    assert f"review item {third.id} closed: both records are now person p_" in merged.stderr
    with StateStore.open(config.parent / "state.sqlite") as store:
        assert store.list_review() == []
        closed = store.get_review(third.id)
        assert closed is not None
        assert closed.status.value == "closed"
        assert closed.note == f"both records are now person {store.person_for('rhythm', 'r9')}"
    listed = runner.invoke(app, ["--config", str(config), "review", "list", "--json"])
    assert json.loads(listed.stdout) == []
    again = runner.invoke(app, ["--config", str(config), "review", "split", str(third.id)])
    assert again.exit_code == 2
    assert "already closed (both records are now person" in again.output


def test_an_item_whose_record_was_deleted_closes_itself(config: Path) -> None:
    with StateStore.open(config.parent / "state.sqlite") as store:
        store.mark_deleted("pylon", "c1")
    listed = runner.invoke(app, ["--config", str(config), "review", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []
    assert "review item 1 closed: pylon record c1 was deleted" in listed.stderr


def test_undo_takes_a_decision_back_and_reopens_the_item(config: Path) -> None:
    state_path = config.parent / "state.sqlite"
    with StateStore.open(state_path) as store:
        apart = (store.person_for("trackops", "7"), store.person_for("pylon", "c1"))
    assert runner.invoke(app, ["--config", str(config), "review", "merge", "1"]).exit_code == 0
    undone = runner.invoke(app, ["--config", str(config), "review", "undo", "1"])
    assert undone.exit_code == 0, undone.output
    assert "review item 1 is open again" in undone.output
    with StateStore.open(state_path) as store:
        assert (store.person_for("trackops", "7"), store.person_for("pylon", "c1")) == apart
        assert [i.id for i in store.list_review()] == [1]
    # a split of two persons apart separates nothing: its undo only reopens the item
    assert runner.invoke(app, ["--config", str(config), "review", "split", "1"]).exit_code == 0
    undone = runner.invoke(app, ["--config", str(config), "review", "undo", "1"])
    assert undone.exit_code == 0, undone.output
    with StateStore.open(state_path) as store:
        assert (store.person_for("trackops", "7"), store.person_for("pylon", "c1")) == apart
        assert [i.id for i in store.list_review()] == [1]


def test_only_a_merge_or_a_split_can_be_undone(config: Path) -> None:
    assert runner.invoke(app, ["--config", str(config), "review", "dismiss", "1"]).exit_code == 0
    undone = runner.invoke(app, ["--config", str(config), "review", "undo", "1"])
    assert undone.exit_code == 2
    assert "only a merge or a split can be undone" in undone.output


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


def test_persons_split_moves_named_records_and_refuses_foreign_or_all(config: Path) -> None:
    state_path = config.parent / "state.sqlite"
    with StateStore.open(state_path) as store:
        ann = stage(store, "rhythm", "r9", full_name="Ann Lee")
        store.link("trackops", "7", ann)
        other = store.person_for("pylon", "c1")
    base = ["--config", str(config), "persons", "split", ann]
    foreign = runner.invoke(app, [*base, "--records", "pylon:c1"])
    assert foreign.exit_code == 2
    assert "not records of person" in foreign.output
    every = runner.invoke(app, [*base, "--records", "trackops:7", "--records", "rhythm:r9"])
    assert every.exit_code == 2
    assert "not none or all" in every.output
    assert runner.invoke(app, [*base, "--records", "trackops"]).exit_code == 2  # no :ID
    done = runner.invoke(app, [*base, "--records", "trackops:7"])
    assert done.exit_code == 0, done.output
    assert "no merge in the history" in " ".join(done.output.split())
    with StateStore.open(state_path) as store:
        moved = store.person_for("trackops", "7")
        assert moved not in (ann, other)
        assert store.person_for("rhythm", "r9") == ann
