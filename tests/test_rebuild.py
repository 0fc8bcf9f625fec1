"""A lost state file is rebuilt from the person ids stamped in the systems (issue 15).

Backfill the sandbox, delete the state, sync again: the new state adopts every
stamped id, so no stamp changes and every stamped record is linked to the person
it had before. One module-scoped sandbox; the tests read one rebuild's figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from contactsync.cli.app import app
from contactsync.config.settings import load_settings
from contactsync.engine.foreign_state import (
    ForeignStateError,
    refuse_foreign_state,
    stamp_disagreements,
)
from contactsync.engine.rebuild import LinkCounts, is_person_id, link_counts
from contactsync.engine.resolve import ResolveResult, _match
from contactsync.engine.stage import StagedRecord
from contactsync.engine.sync import Engine
from contactsync.matching.matcher import MatchConfig, PersonIndex
from contactsync.model.contact import Action, ActionKind, Contact, Email, Phone
from contactsync.state.sqlite.store import StateStore
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config
from tests.test_sync_e2e import Sandbox, writes_between

PEOPLE = 120
SEED = 11

Key = tuple[str, str]


@dataclass
class Rebuild:
    links_before: dict[Key, str]
    links_after: dict[Key, str]
    stamps_before: dict[Key, str]
    stamps_after: dict[Key, str]
    records_before: dict[str, set[str]]
    records_after: dict[str, set[str]]
    done: list[Action]
    writes: int
    new_persons: int
    links: LinkCounts
    sandbox: Sandbox
    config: Path


def crosswalk(engine: Engine) -> dict[Key, str]:
    """Each live linked record's (system, id) and its live person."""
    return {
        (r.system, r.external_id): engine.state.resolve_person(r.person_id)
        for r in engine.state.iter_records()
        if r.person_id and not r.deleted
    }


def stamps(engine: Engine) -> dict[Key, str]:
    """The person id each stored record carries in its system (stamped ones only)."""
    found: dict[Key, str] = {}
    for record in engine.state.iter_records():
        stamp = (record.payload or {}).get("sync_id")
        if isinstance(stamp, str) and not record.deleted:
            found[(record.system, record.external_id)] = stamp
    return found


def record_ids(sandbox: Sandbox) -> dict[str, set[str]]:
    return {
        system: {str(r["id"]) for r in sandbox.live_records(system)}
        for system in sandbox.server.admin_urls
    }


def delete_state(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def rebuild(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rebuild]:
    folder: Path = tmp_path_factory.mktemp("rebuild")
    options = SandboxOptions(people=PEOPLE, seed=SEED, rate_limits="off")
    with SandboxServer(options, port_base=0) as server:
        config = folder / "rebuild.toml"
        env = read_env_file(
            write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        )
        sandbox = Sandbox(server, load_settings(config, env=env), env)
        engine = open_engine(sandbox.settings, sandbox.env)
        try:
            assert engine.run("backfill").summary.status == "ok"
            engine.run("sync")  # reads back the backfill's own writes
            links_before, stamps_before = crosswalk(engine), stamps(engine)
        finally:
            engine.close()
        records_before = record_ids(sandbox)
        delete_state(sandbox.settings.state_path)
        stats_before = sandbox.stats()
        engine = open_engine(sandbox.settings, sandbox.env)
        try:
            outcome = engine.run("sync")
            assert outcome.summary.status == "ok", outcome.errors
            found = Rebuild(
                links_before=links_before,
                links_after=crosswalk(engine),
                stamps_before=stamps_before,
                stamps_after=stamps(engine),
                records_before=records_before,
                records_after=record_ids(sandbox),
                done=[e.action for e in engine.state.list_actions("done")],
                writes=sum(writes_between(stats_before, sandbox.stats()).values()),
                new_persons=outcome.summary.persons.new,
                links=link_counts(engine.state),
                sandbox=sandbox,
                config=config,
            )
        finally:
            # closed before the tests run: the CLI tests open the state (or move it
            # aside) themselves, which an open connection's write-ahead log would spoil
            engine.close()
        yield found


def test_the_backfill_stamped_records(rebuild: Rebuild) -> None:
    assert len(rebuild.stamps_before) > len(rebuild.links_before) / 2


def test_no_stamp_changes(rebuild: Rebuild) -> None:
    changed = {k for k, v in rebuild.stamps_before.items() if rebuild.stamps_after.get(k) != v}
    assert not changed, sorted(changed)[:5]


def test_every_stamped_record_keeps_its_person(rebuild: Rebuild) -> None:
    stamped = rebuild.stamps_before
    assert {k: rebuild.links_after.get(k) for k in stamped} == {
        k: rebuild.links_before[k] for k in stamped
    }


def test_no_person_is_minted_for_a_stamped_record(rebuild: Rebuild) -> None:
    # the unstamped records (Grow CRM holds no stamp) that the matcher cannot place
    # are the only new persons; before adoption, every stamped person was new
    unstamped = set(rebuild.links_before) - set(rebuild.stamps_before)
    assert rebuild.new_persons <= len(unstamped) // 20


def test_a_rebuild_writes_at_most_one_percent_of_the_records(rebuild: Rebuild) -> None:
    # the sync just before the state was lost wrote nothing: on first sight of each
    # person, what the systems already agree on is kept (merge_agreement), so what is
    # left to write is what they really differ on (and the creates of the test below)
    total = sum(len(ids) for ids in rebuild.records_before.values())
    assert rebuild.writes <= total // 100, f"{rebuild.writes} writes for {total} records"


def test_a_rebuild_writes_no_placeholder_organization_and_no_name_again(rebuild: Rebuild) -> None:
    # what the rebuild wrote before the systems' agreement was kept: Grow CRM's default
    # client as the organization elsewhere, a full name over the same name in parts
    updates = [a for a in rebuild.done if a.kind is ActionKind.UPDATE]
    written = {(a.system, c.field) for a in updates for c in a.changes}
    assert not written & {("rhythm", "organization_name"), ("pylon", "name"), ("xurrent", "name")}


def test_a_rebuild_creates_nothing_and_keeps_every_link(rebuild: Rebuild) -> None:
    # an unstamped Grow CRM record whose role mailbox three namesakes share is judged
    # against every system's stamped records (linked first), and the one stamped
    # person without a Grow CRM record it may be is its person (sync_rebuild)
    assert rebuild.records_after == rebuild.records_before
    assert not [a for a in rebuild.done if a.kind is ActionKind.CREATE]
    assert rebuild.links_after == rebuild.links_before


def test_the_link_counts_say_how_records_were_linked(rebuild: Rebuild) -> None:
    assert rebuild.links.stamped == len(rebuild.stamps_after)
    total = rebuild.links.stamped + rebuild.links.matched + rebuild.links.new
    assert total == len(rebuild.links_after)
    assert rebuild.links.matched > 0  # Grow CRM holds no stamp: its records are matched


def test_rebuild_refuses_a_state_that_holds_persons(rebuild: Rebuild) -> None:
    answer = CliRunner().invoke(
        app, ["--config", str(rebuild.config), "rebuild"], env=rebuild.sandbox.env
    )
    assert answer.exit_code == 2
    assert str(rebuild.sandbox.settings.state_path) in answer.output
    assert "holds" in answer.output


def test_rebuild_dry_run_on_a_lost_state_writes_nothing(rebuild: Rebuild) -> None:
    answer, writes, state_made = _rebuild_on_a_lost_state(rebuild, "--dry-run")
    assert answer.exit_code == 0, answer.output
    assert writes == 0
    assert not state_made
    assert "persons:" in answer.output


def test_rebuild_on_a_lost_state_links_by_stamp_and_reports_it(rebuild: Rebuild) -> None:
    answer, _, state_made = _rebuild_on_a_lost_state(rebuild)
    assert answer.exit_code == 0, answer.output
    assert state_made
    said = re.search(
        r"records linked: (\d+) by their stamped person id", " ".join(answer.output.split())
    )
    assert said is not None, answer.output
    # every record stamped before, and those its creates stamped (see the xfail above)
    assert int(said.group(1)) >= rebuild.links.stamped


def _rebuild_on_a_lost_state(rebuild: Rebuild, *options: str) -> tuple[Result, int, bool]:
    """``contactsync rebuild`` with the state moved aside (put back afterwards)."""
    state_path = rebuild.sandbox.settings.state_path
    # the file with its -wal and -shm: a log left behind belongs to the state moved away
    moved = [
        (state_path.with_name(state_path.name + suffix), state_path.with_name(f"aside{suffix}"))
        for suffix in ("", "-wal", "-shm")
    ]
    for path, aside in moved:
        if path.exists():
            path.rename(aside)
    try:
        before = rebuild.sandbox.stats()
        answer = CliRunner().invoke(
            app, ["--config", str(rebuild.config), "rebuild", *options], env=rebuild.sandbox.env
        )
        writes = sum(writes_between(before, rebuild.sandbox.stats()).values())
        state_made = state_path.exists()
    finally:
        delete_state(state_path)
        for path, aside in moved:
            if aside.exists():
                aside.rename(path)
    return answer, writes, state_made


def test_person_ids_of_another_shape_are_not_adopted() -> None:
    assert is_person_id("p_01JBQ8ZK2M3N4P5Q6R7S8T9VWX")
    assert not is_person_id("p_01JBQ8ZK2M3N4P5Q6R7S8T9VWI")  # I is not Crockford base32
    assert not is_person_id("ACME-42")
    assert not is_person_id("p_01JBQ8ZK2M3N4P5Q6R7S8T9VW")


# --- linking on a new state, one record at a time ----------------------------------

STAMP_A = "p_01JBQ8ZK2M3N4P5Q6R7S8T9VWX"
STAMP_B = "p_01JBQ8ZK2M3N4P5Q6R7S8T9VWY"


def _ann(sync_id: str | None = None) -> Contact:
    return Contact(
        first_name="Ann",
        last_name="Lindqvist",
        emails=[Email(address="ann.lindqvist@example.org")],
        phones=[Phone(number="+46701234567")],
        sync_id=sync_id,
    )


@pytest.fixture
def new_state(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.sqlite") as store:
        yield store


def _link(
    state: StateStore, index: PersonIndex, key: Key, contact: Contact, result: ResolveResult
) -> str:
    person_id = _match(state, index, key, contact, result)
    index.add(key, contact, person_id)
    return person_id


def test_records_of_one_stamp_join_its_adopted_person(new_state: StateStore) -> None:
    index, result = PersonIndex(MatchConfig()), ResolveResult()
    first = _link(new_state, index, ("trackops", "1"), _ann(STAMP_A), result)
    second = _link(new_state, index, ("rhythm", "2"), _ann(STAMP_A), result)
    assert first == second == STAMP_A
    assert (result.adopted_persons, result.stamped_links, result.new_persons) == (1, 2, 0)


def test_a_malformed_stamp_is_matched_like_an_unstamped_record(new_state: StateStore) -> None:
    index, result = PersonIndex(MatchConfig()), ResolveResult()
    person = _link(new_state, index, ("trackops", "1"), _ann("ACME-42"), result)
    assert person != "ACME-42"
    assert new_state.get_person("ACME-42") is None
    assert result.new_persons == 1


def test_two_stamped_persons_an_unstamped_record_bridges_stay_apart(
    new_state: StateStore,
) -> None:
    # the matcher holds two different stamps for a conflict: a bridge never merges them
    index, result = PersonIndex(MatchConfig()), ResolveResult()
    _link(new_state, index, ("trackops", "1"), _ann(STAMP_A), result)
    _link(new_state, index, ("rhythm", "2"), _ann(STAMP_B), result)
    bridge = _link(new_state, index, ("growcrm", "3"), _ann(), result)
    assert bridge in (STAMP_A, STAMP_B)
    assert (result.merged_persons, result.matched_links, result.adopted_persons) == (0, 1, 2)
    assert new_state.resolve_person(STAMP_A) == STAMP_A
    assert new_state.resolve_person(STAMP_B) == STAMP_B


# --- a state file from another installation (issue 15) -------------------------------


def test_a_sync_on_a_foreign_state_is_refused_before_anything_is_written(
    rebuild: Rebuild, tmp_path: Path
) -> None:
    # a state that holds persons, none of those the systems' stamps name
    foreign = tmp_path / "foreign.sqlite"
    with StateStore.open(foreign) as store:
        store.create_person()
    before = rebuild.sandbox.stats()
    engine = open_engine(rebuild.sandbox.settings, rebuild.sandbox.env, state_path=foreign)
    try:
        outcome = engine.run("sync")
        refused_system_watermark = engine.state.get_watermark("trackops")
    finally:
        engine.close()
    assert outcome.summary.status == "failed"
    message = " ".join(outcome.errors)
    assert "another installation" in message
    assert "contactsync rebuild" in message
    assert "trackops/" in message  # an example record
    assert refused_system_watermark is None  # the next pass reads it all again
    assert sum(writes_between(before, rebuild.sandbox.stats()).values()) == 0


def _staged_with_stamp(
    state: StateStore, external_id: str, stamp: str, person: str | None
) -> StagedRecord:
    state.upsert_record(
        "trackops", external_id, hash=external_id, payload=_ann(stamp), person_id=person
    )
    return StagedRecord("trackops", external_id)


def test_stamps_unknown_or_of_another_person_count_as_disagreements(new_state: StateStore) -> None:
    own = new_state.create_person(person_id=STAMP_A)
    other = new_state.create_person(person_id=STAMP_B)
    staged = [
        _staged_with_stamp(new_state, "agrees", own, own),
        _staged_with_stamp(new_state, "elsewhere", other, own),
        _staged_with_stamp(new_state, "unknown", "p_01JBQ8ZK2M3N4P5Q6R7S8T9VWZ", None),
        _staged_with_stamp(new_state, "not-ours", "ACME-42", own),
    ]
    found = stamp_disagreements(new_state, "trackops", staged)
    assert (found.unknown, found.elsewhere) == (1, 1)
    assert len(found.examples) == 2
    refuse_foreign_state(new_state, "trackops", staged, limit=3)  # under the limit: goes on
    with pytest.raises(ForeignStateError, match="2 trackops records"):
        refuse_foreign_state(new_state, "trackops", staged, limit=2)


def test_a_state_without_persons_adopts_stamps_instead_of_refusing(new_state: StateStore) -> None:
    staged = [_staged_with_stamp(new_state, str(n), STAMP_A, None) for n in range(3)]
    refuse_foreign_state(new_state, "trackops", staged, limit=1)


def test_the_sync_command_on_a_foreign_state_is_a_usage_error(rebuild: Rebuild) -> None:
    folder = rebuild.config.parent
    foreign = folder / "foreign-cli.sqlite"
    with StateStore.open(foreign) as store:
        store.create_person()
    text = rebuild.config.read_text()
    config = folder / "foreign-cli.toml"
    config.write_text(text.replace('state = "rebuild.sqlite"', f'state = "{foreign.name}"'))
    assert config.read_text() != text
    answer = CliRunner().invoke(app, ["--config", str(config), "sync"], env=rebuild.sandbox.env)
    assert answer.exit_code == 2, answer.output
    assert "another installation" in answer.output
