"""Values a target cannot hold (issue 14, item 5), against the sandbox.

One module-scoped sandbox server; each test resets it to its seed and backfills a
state of its own, then takes the steps it needs (fixtures and helpers below): a
record with one invalid phone syncs its other fields; a 5,000-character name is cut
to 255 characters where the mapping says so (Trackops, Grow CRM, Xurrent) and lands
whole where the vendor takes it (Pylon); a 5,000-character job title, which those
vendors refuse with a 422 naming the field and no mapping fits, is left out of that
write while the rest lands; later syncs end "ok" and write nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contactsync.cli import run as commands
from contactsync.config.settings import Settings, load_settings
from contactsync.engine.sync import Engine, RunOutcome
from contactsync.mapping.fit import FieldFit
from contactsync.mapping.mapper import Mapping
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config

LONG_NAME = "Wolfeschlegelsteinhausenbergerdorff" * 143  # 5,005 characters
LONG_TITLE = "Head of " + "Very " * 1000 + "Long Titles"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: endings of the Rhythm fields that identify a person (names, emails, phones, ids)
IDENTIFYING = (
    "name",
    "email_address",
    "email_address2",
    "phone_number",
    "external_id",
    "record_id",
)


class World:
    def __init__(
        self, server: SandboxServer, settings: Settings, env: dict[str, str], engine: Engine
    ) -> None:
        self.server = server
        self.settings = settings
        self.env = env
        self.engine = engine

    def vendor_record(self, system: str, external_id: str) -> dict[str, Any]:
        store = self.server.simulators[system].store  # type: ignore[attr-defined]
        record: dict[str, Any] = store.records[external_id]
        return record

    def linked(self, system: str, person_id: str) -> str:
        for record in self.engine.state.iter_records(system):
            if record.person_id and self.engine.state.resolve_person(
                record.person_id
            ) == self.engine.state.resolve_person(person_id):
                return record.external_id
        raise AssertionError(f"{person_id} has no {system} record")

    def person_of(self, system: str, external_id: str) -> str:
        person = self.engine.state.person_for(system, external_id)
        assert person is not None
        return person

    def status(self, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
        capsys.readouterr()
        commands.show_status(self.settings, as_json=True)
        report: dict[str, Any] = json.loads(capsys.readouterr().out)
        return report

    def writes(self, status: int | None = None) -> int:
        """Write requests the vendors answered so far (with ``status`` only, if given)."""
        total = 0
        for system in self.server.admin_urls:
            stats = self.server.simulators[system].stats_payload()["requests"]
            total += sum(
                r["count"]
                for r in stats
                if r["method"] in WRITE_METHODS
                and not r["path"].endswith("/search")
                and "oauth" not in r["path"]
                and (status is None or r["status"] == status)
            )
        return total


class Served:
    """The module's sandbox server and the config written for it."""

    def __init__(self, server: SandboxServer, settings: Settings, env: dict[str, str]) -> None:
        self.server = server
        self.settings = settings
        self.env = env

    def reset(self) -> None:
        """Every simulator back to its seeded records (``/_sandbox/reset``)."""
        with httpx.Client(timeout=30) as http:
            for system in self.server.admin_urls:
                http.post(self.server.admin_url(system, "reset")).raise_for_status()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("fit")
    options = SandboxOptions(people=12, seed=11, rate_limits="off")
    with SandboxServer(options, port_base=0) as server:
        config = folder / "fit.toml"
        env = read_env_file(
            write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        )
        yield Served(server, load_settings(config, env=env), env)


@pytest.fixture
def world(served: Served, tmp_path: Path) -> Iterator[World]:
    """The seeded sandbox, backfilled into a state of this test's own."""
    served.reset()
    settings = served.settings.model_copy(update={"state_path": tmp_path / "fit.sqlite"})
    engine = open_engine(settings, served.env)
    try:
        outcome = engine.run("backfill")
        assert outcome.summary.status == "ok", outcome.errors
        yield World(served.server, settings, served.env, engine)
    finally:
        engine.close()


def add_invalid_phone_record(world: World) -> tuple[str, RunOutcome]:
    """A new Rhythm contact whose mobile phone is '12', and the sync that follows."""
    created = (
        world.engine.adapters["rhythm"]
        .create(
            {
                "first_name": "Imogen",
                "last_name": "Badphone",
                "email_address": "imogen.badphone@example.com",
                "mobile_phone_number": "12",
                "job_title": "Buyer",
            }
        )
        .external_id
    )
    return created, world.engine.run("sync")


def give_a_person_a_5000_character_name(world: World) -> tuple[str, RunOutcome]:
    """A Rhythm person held everywhere gets a 5,000-character last name and job title;
    the person's id and the sync that follows."""
    state = world.engine.state
    everywhere = ("trackops", "growcrm", "pylon", "xurrent")
    rhythm_id, person = next(
        (r.external_id, r.person_id)
        for r in state.iter_records("rhythm")
        if r.person_id
        and set(everywhere) <= {h.system for h in state.records_for_person(r.person_id)}
    )
    raw = state.record_raw("rhythm", rhythm_id)
    assert isinstance(raw, dict)
    edit = {"last_name": LONG_NAME, "job_title": LONG_TITLE, "nickname": "Wolfie"}
    world.engine.adapters["rhythm"].update(rhythm_id, edit, current=raw)
    assert person is not None
    return person, world.engine.run("sync")


@pytest.fixture
def fitted(world: World) -> World:
    """``world`` after the 5,000-character name and title were synced (titles refused)."""
    _, outcome = give_a_person_a_5000_character_name(world)
    assert outcome.summary.status == "ok", outcome.errors
    assert world.engine.state.list_field_refusals(), "the long title was refused somewhere"
    return world


def test_a_new_record_with_an_invalid_phone_reaches_every_system_without_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    created, outcome = add_invalid_phone_record(world)
    assert outcome.summary.status == "ok", outcome.errors
    person = world.person_of("rhythm", created)
    for system in ("trackops", "growcrm", "pylon", "xurrent"):
        assert outcome.summary.systems[system].created == 1, system
        record = world.engine.state.get_record(system, world.linked(system, person))
        assert record is not None
        assert record.payload["emails"][0]["address"] == "imogen.badphone@example.com"
        assert record.payload["phones"] == [], system
    listed = world.status(capsys)["value_problems"]
    assert {
        "system": "rhythm",
        "record": created,
        "field": "mobile_phone_number -> phones",
        "value": "'12'",
        "reason": "invalid phone '12': not a possible number",
        "moved_to": None,
    } in listed
    again = world.engine.run("sync")
    assert again.summary.status == "ok", again.errors
    assert sum(c.created + c.updated for c in again.summary.systems.values()) == 0


def test_a_record_nothing_identifies_is_quarantined_and_listed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Rhythm's API refuses a contact without a name: one arrives by another route (an
    # import), so it is put in the simulator's store directly
    store = world.server.simulators["rhythm"].store  # type: ignore[attr-defined]
    some_id = next(iter(store.records))
    nobody = "00000000-0000-4000-8000-000000000001"
    blank = {k: None for k, v in store.records[some_id].items() if k.endswith(IDENTIFYING)}
    store.records[nobody] = {**store.records[some_id], **blank, "id": nobody}
    store.records[nobody]["mobile_phone_number"] = "12"
    outcome = world.engine.run("sync")
    assert outcome.summary.systems["rhythm"].quarantined == 1
    report = world.status(capsys)
    [entry] = [q for q in report["quarantine"] if q["record"] == nobody]
    assert "needs a name" in entry["reason"]
    assert world.engine.state.get_record("rhythm", nobody) is None


def test_a_record_with_an_email_but_no_name_is_staged_and_not_created_elsewhere(
    world: World,
) -> None:
    store = world.server.simulators["rhythm"].store  # type: ignore[attr-defined]
    some_id = next(k for k in store.records if not k.startswith("00000000"))
    nameless = "00000000-0000-4000-8000-000000000002"
    blank = {k: None for k, v in store.records[some_id].items() if k.endswith(IDENTIFYING)}
    store.records[nameless] = {**store.records[some_id], **blank, "id": nameless}
    store.records[nameless]["email_address"] = "no.name@example.com"
    for _ in range(2):
        outcome = world.engine.run("sync")
        assert outcome.summary.status == "ok", outcome.errors
        assert sum(c.failed + c.created for c in outcome.summary.systems.values()) == 0
    assert world.engine.state.person_for("rhythm", nameless) is not None  # staged, matched


def test_a_5000_character_name_is_fitted_per_target_and_the_rest_lands(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    person, outcome = give_a_person_a_5000_character_name(world)
    assert outcome.summary.status == "ok", outcome.errors
    cut = LONG_NAME[:254] + "…"
    trackops = world.vendor_record("trackops", world.linked("trackops", person))
    assert trackops["last_name"] == cut
    assert len(trackops["last_name"]) == 255
    growcrm = world.vendor_record("growcrm", world.linked("growcrm", person))
    assert growcrm["last_name"] == cut
    xurrent = world.vendor_record("xurrent", world.linked("xurrent", person))
    assert len(xurrent["name"]) == 255
    assert xurrent["name"].endswith("…")
    pylon = world.vendor_record("pylon", world.linked("pylon", person))
    assert pylon["name"].endswith(LONG_NAME)  # Pylon takes it whole
    # the title: refused with a 422 naming the field, left out of that write only
    assert trackops["title"] != LONG_TITLE
    assert xurrent["job_title"] != LONG_TITLE
    refused = {(r["system"], r["field"]) for r in world.status(capsys)["field_refusals"]}
    assert {("trackops", "title"), ("growcrm", "position"), ("xurrent", "job_title")} <= refused


def test_later_syncs_end_ok_and_write_nothing_for_it(fitted: World) -> None:
    world = fitted
    before = world.writes()
    for _ in range(2):
        outcome = world.engine.run("sync")
        assert outcome.summary.status == "ok", outcome.errors
        assert sum(c.failed for c in outcome.summary.systems.values()) == 0
    assert world.writes() == before


def test_a_later_edit_of_the_person_does_not_send_the_refused_value_again(
    fitted: World,
) -> None:
    world = fitted
    state = world.engine.state
    refusal = next(r for r in state.list_field_refusals() if r.system == "trackops")
    rhythm_id = world.linked("rhythm", refusal.person_id)
    raw = state.record_raw("rhythm", rhythm_id)
    assert isinstance(raw, dict)
    world.engine.adapters["rhythm"].update(rhythm_id, {"middle_name": "Quill"}, current=raw)
    refused_before = world.writes(status=422)
    # a new process: what was refused is read back from the state
    fresh = open_engine(world.settings, world.env)
    try:
        outcome = fresh.run("sync")
    finally:
        fresh.close()
    assert outcome.summary.status == "ok", outcome.errors
    assert outcome.summary.systems["trackops"].updated == 1  # the middle name
    assert world.writes(status=422) == refused_before  # the refused title is not sent


def test_status_lists_left_out_values_and_refused_fields_as_tables(
    fitted: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = fitted
    _, outcome = add_invalid_phone_record(world)
    assert outcome.summary.status == "ok", outcome.errors
    capsys.readouterr()
    commands.show_status(world.settings, as_json=False)
    shown = capsys.readouterr().out
    assert "values left out of staged records" in shown
    assert "'12'" in shown  # the left-out value
    assert "fields left out of writes" in shown


def test_a_refusal_is_forgotten_once_the_person_holds_another_value(
    fitted: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = fitted
    state = world.engine.state
    refusal = next(r for r in state.list_field_refusals() if r.system == "trackops")
    rhythm_id = world.linked("rhythm", refusal.person_id)
    raw = state.record_raw("rhythm", rhythm_id)
    assert isinstance(raw, dict)
    world.engine.adapters["rhythm"].update(rhythm_id, {"job_title": "Chief Wolf"}, current=raw)
    outcome = world.engine.run("sync")
    assert outcome.summary.status == "ok", outcome.errors
    trackops = world.vendor_record("trackops", world.linked("trackops", refusal.person_id))
    assert trackops["title"] == "Chief Wolf"
    fresh = open_engine(world.settings, world.env)  # the next run reads them back
    fresh.close()
    assert world.status(capsys)["field_refusals"] == []


def test_fit_truncates_with_the_marker_or_drops() -> None:
    assert FieldFit(5, "truncate").apply("abcdefgh") == "abcd…"
    assert FieldFit(7, "truncate", marker="...").apply("abc defgh") == "abc..."
    assert FieldFit(5, "truncate").apply("abcde") == "abcde"
    assert FieldFit(5, "drop").apply("abcdefgh") is None
    assert FieldFit(5, "drop").apply(["abc", "abcdefgh"]) == ["abc"]
    assert FieldFit(5, "truncate").apply(12345678) == 12345678


@pytest.mark.parametrize(
    ("keys", "line", "message"),
    [
        ('max_length = 0\nfit = "truncate"\n', 6, "max_length must be a whole number >= 1"),
        ('max_length = 9\nfit = "squeeze"\n', 7, "fit is 'squeeze'; expected one of"),
        ("max_length = 9\n", 6, "fit is missing"),
        ('max_length = 9\nfit = "drop"\nmarker = "~"\n', 8, "marker is only used by"),
        ('max_length = 2\nfit = "truncate"\nmarker = "..."\n', 8, "shorter than max_length"),
    ],
)
def test_mappings_check_names_the_line_of_a_bad_fit_key(keys: str, line: int, message: str) -> None:
    text = 'system = "pylon"\nversion = 1\n[[outbound]]\nfrom = "full_name"\nto = "name"\n' + keys
    with pytest.raises(ValueError, match=message) as info:
        Mapping.from_text(text, "pylon.toml")
    assert str(info.value).startswith(f"pylon.toml:{line}: outbound rule 1: ")


def test_a_fitted_value_is_what_the_outbound_mapping_writes() -> None:
    mapping = Mapping.from_text(
        'system = "pylon"\nversion = 1\n'
        '[[outbound]]\nfrom = "full_name"\nto = "name"\nmax_length = 8\nfit = "truncate"\n'
        '[[outbound]]\nfrom = "job_title"\nto = "title"\nmax_length = 4\nfit = "drop"\n'
    )
    from contactsync.model.contact import Contact

    payload = mapping.outbound(Contact(full_name="Augusta Ada King", job_title="Countess"))
    assert payload == {"name": "Augusta…"}
