"""Bad input: malformed vendor records and pages never crash a run.

Real adapters read the sandbox over HTTP through :class:`CorruptingTransport`, which
breaks the first list page (see ``corrupt.py``). Hypothesis generates the damage:

* one record of the page broken (fields missing or of the wrong type, huge strings,
  control characters, lone surrogates, impossible dates, an item that is no object):
  staging it quarantines it with a reason naming the system and the record, and
  every other record of the system is staged as usual;
* the whole page broken (truncated JSON, an HTML page with a 200, another envelope,
  bytes that are not UTF-8): the extract stops with a one-line retriable or fatal
  error naming the system, never with anything else.

A full engine run with damage in every system shows the rest of the run completing.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contactsync.adapters.base import Adapter, Window
from contactsync.adapters.registry import adapter_class
from contactsync.cli import run as commands
from contactsync.config.settings import Settings, load_settings
from contactsync.engine.stage import stage_records
from contactsync.engine.sync import Engine, adapter_context
from contactsync.http.errors import FatalError, RetriableError
from contactsync.mapping.mapper import Mapping, load_mappings
from contactsync.state.sqlite.store import StateStore
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.corrupt import (
    RECORDS_KEY,
    CorruptingTransport,
    PageCorruption,
    RecordCorruption,
    page_corruptions,
    record_corruptions,
)
from tests.reliability.helpers import SYSTEMS, Sandbox, sandbox

pytestmark = pytest.mark.slow

#: Mapped text fields and mapped date fields of each system's records.
TEXT_KEYS: dict[str, list[str]] = {
    "trackops": ["first_name", "last_name", "email", "title", "city"],
    "growcrm": ["first_name", "last_name", "email", "job_position", "phone"],
    "rhythm": ["first_name", "last_name", "email_address", "job_title"],
    "pylon": ["name", "email"],
    "xurrent": ["name", "primary_email", "job_title"],
}
DATE_KEYS: dict[str, list[str]] = {
    "trackops": ["birthday", "updated"],
    "growcrm": [],
    "rhythm": ["date_of_birth", "sys_last_modified_at"],
    "pylon": [],
    "xurrent": ["updated_at"],
}
BIRTHDAYS = {"birthday", "date_of_birth"}
HARMLESS_WHITESPACE = set("\t\n\r")
EXAMPLES = 30
#: each example reads a system over HTTP, some with megabytes of text: shrinking a
#: failure would take minutes, and the derandomized example replays as it is
NO_SHRINKING = (Phase.explicit, Phase.generate)
#: both properties: seeded, no deadline (HTTP), the fixture shared by the examples
SEEDED_EXAMPLES = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=NO_SHRINKING,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Served:
    """The module's sandbox, its adapters behind corrupting transports, and what a clean
    extract of each system gives (a plain class: hypothesis prints it in a failure)."""

    def __init__(
        self,
        box: Sandbox,
        settings_: Settings,
        transports: dict[str, CorruptingTransport],
        adapters: dict[str, Adapter],
        clean_ids: dict[str, set[str]],
        clean_quarantined: dict[str, dict[str, str]],
        first_page: dict[str, bytes],
    ) -> None:
        self.box = box
        self.settings = settings_
        self.mappings: dict[str, Mapping] = load_mappings(settings_.mappings_dir)
        self.transports = transports
        self.adapters = adapters
        self.clean_ids = clean_ids
        self.clean_quarantined = clean_quarantined
        self.first_page = first_page

    def __repr__(self) -> str:
        return f"Served({self.box.config})"

    def damaged_id(self, system: str, corruption: RecordCorruption) -> str:
        """The id (in the clean first page) of the record a corruption damages."""
        data = json.loads(self.first_page[system])
        key = RECORDS_KEY[system]
        records = data if key is None else data[key]
        return str(records[corruption.index % len(records)]["id"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    options = SandboxOptions(people=40, seed=21)
    with sandbox(tmp_path_factory.mktemp("bad-input"), options) as box:
        settings_ = load_settings(box.config, env=box.credentials)
        transports = {name: CorruptingTransport(name) for name in SYSTEMS}
        adapters = {name: corrupted_adapter(settings_, name, transports[name]) for name in SYSTEMS}
        first_page: dict[str, bytes] = {}
        clean_ids: dict[str, set[str]] = {}
        clean_quarantined: dict[str, dict[str, str]] = {}
        mappings = load_mappings(settings_.mappings_dir)
        for name in SYSTEMS:
            transports[name].on_page = lambda body, name=name: first_page.setdefault(name, body)
            clean_ids[name], clean_quarantined[name] = stage_once(
                adapters[name], name, mappings[name]
            )
            transports[name].on_page = None
        yield Served(box, settings_, transports, adapters, clean_ids, clean_quarantined, first_page)
        for adapter in adapters.values():
            adapter.close()


@pytest.fixture(autouse=True)
def seeded(served: Served) -> None:
    """Each test reads the sandbox as seeded (the full run writes to it) with no damage
    armed, whichever tests ran before it."""
    served.box.reset()
    for transport in served.transports.values():
        transport.arm(None)


def stage_once(adapter: Adapter, system: str, mapping: Mapping) -> tuple[set[str], dict[str, str]]:
    """Extract and stage one system into a fresh state: the staged ids, and the
    quarantined ids with their reasons."""
    with tempfile.TemporaryDirectory() as folder, StateStore.open(Path(folder) / "s.db") as state:
        result = stage_records(state, system, adapter.extract(window()), mapping, "US")
        quarantined = {q.external_id: q.reason for q in state.list_quarantine(system)}
        assert result.counts.extracted == len(result.staged) + len(quarantined)
    return {item.external_id for item in result.staged}, quarantined


def corrupted_adapter(settings_: Settings, system: str, transport: CorruptingTransport) -> Adapter:
    context = adapter_context(system, settings_.systems[system], settings_.credentials(system))
    return adapter_class(system)(dataclasses.replace(context, transport=transport))


def window() -> Window:
    return Window(None, datetime.now(UTC))


def must_be_quarantined(corruption: RecordCorruption) -> bool:
    """Damage no record can be staged with (other damage may leave a usable record).

    A bad value (huge, control characters, an impossible date) costs that value only:
    the record is staged without it (issue 14), so only a record that is no object or
    has no usable id is refused whole."""
    value = corruption.value
    if corruption.how == "not_an_object":
        return True
    if corruption.key == "id":
        usable = isinstance(value, int | str) and not isinstance(value, bool) and str(value)
        return corruption.how == "drop" or not usable
    return False


@pytest.mark.parametrize("system", SYSTEMS)
@SEEDED_EXAMPLES
@given(data=st.data())
def test_a_broken_record_is_quarantined_with_its_reason_and_the_rest_staged(
    system: str, served: Served, data: st.DataObject
) -> None:
    corruption = data.draw(record_corruptions(TEXT_KEYS[system], DATE_KEYS[system]))
    assert isinstance(corruption, RecordCorruption)
    served.transports[system].arm(corruption)
    adapter, mapping = served.adapters[system], served.mappings[system]
    if corruption.how == "not_an_object":  # the list itself is broken: a page error
        with pytest.raises(FatalError, match=rf"^{system} .*not an object"):
            stage_once(adapter, system, mapping)
        return
    staged, quarantined = stage_once(adapter, system, mapping)  # (every record accounted for)
    assert served.transports[system].applied, "the corruption never reached the adapter"
    for record, reason in quarantined.items():
        assert reason.startswith(f"{system} record {record}: "), reason
        assert "\n" not in reason
    damaged = served.damaged_id(system, corruption)
    assert served.clean_ids[system] - staged <= {damaged}, "an undamaged record was not staged"
    if must_be_quarantined(corruption):
        stand_in = any(record.startswith("?") for record in quarantined)
        assert damaged not in staged, f"{corruption.how} {corruption.key}: {damaged} staged"
        assert damaged in quarantined or stand_in, f"{corruption.how}: {damaged} not quarantined"


@pytest.mark.parametrize("system", SYSTEMS)
@SEEDED_EXAMPLES
@given(data=st.data())
def test_a_broken_page_is_a_clear_retriable_or_fatal_error(
    system: str, served: Served, data: st.DataObject
) -> None:
    corruption = data.draw(page_corruptions(served.first_page[system]))
    served.transports[system].arm(corruption)
    try:
        records = list(served.adapters[system].extract(window()))
    except (RetriableError, FatalError) as exc:
        message = str(exc)
        assert message.startswith(system), message
        assert "\n" not in message
        return
    # Only another envelope may still read as a list page, of records to be staged or
    # quarantined one by one; a page that is not JSON never passes silently.
    assert corruption.how == "envelope", f"{corruption.how}: read as {len(records)} records"


def test_a_run_with_damage_everywhere_quarantines_the_records_and_completes(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damage = {
        "trackops": RecordCorruption(0, "set", "birthday", "2026-02-30"),
        "growcrm": RecordCorruption(1, "drop", "id"),
        "rhythm": RecordCorruption(2, "splice", "first_name", "\udc80\x00"),
        "pylon": RecordCorruption(3, "set", "name", "Ж" * 200_000),
        "xurrent": PageCorruption("html", b"<html><body>Sign in</body></html>", "text/html"),
    }
    state_path = tmp_path / "damaged.sqlite"
    run_settings = served.settings.model_copy(update={"state_path": state_path})
    adapters = {
        name: corrupted_adapter(run_settings, name, served.transports[name]) for name in SYSTEMS
    }
    engine = Engine(run_settings, StateStore.open(state_path), adapters, served.mappings)
    try:
        for name, corruption in damage.items():
            served.transports[name].arm(corruption)
        outcome = engine.run("sync")
        for name in SYSTEMS:
            served.transports[name].arm(None)
        report_settings = run_settings
        capsys.readouterr()
        commands.show_status(report_settings, as_json=True)
        report = json.loads(capsys.readouterr().out)
        again = engine.run("sync")
    finally:
        engine.close()

    assert outcome.summary.status == "partial"
    assert len(outcome.errors) == 1, outcome.errors
    assert outcome.errors[0].startswith("xurrent list people")
    assert "malformed envelope" in outcome.errors[0]
    listed = {(q["system"], q["record"]): q["reason"] for q in report["quarantine"]}
    # (the damage is in transit only: a record read again before a write, as conditional
    # updates do, is clean, so its left-out values need not still be listed here)
    assert isinstance(report["value_problems"], list)
    for name in ("trackops", "growcrm", "rhythm", "pylon"):
        counts = outcome.summary.systems[name]
        natural = served.clean_quarantined[name]
        # a bad value costs that value: staged without it (Grow CRM's record lost its id;
        # Pylon's had nothing but the damaged name to identify anyone by)
        value_only = name in ("trackops", "rhythm")
        assert counts.quarantined == len(natural) + (0 if value_only else 1)
        assert counts.staged == counts.extracted - counts.quarantined
        assert counts.failed == 0
        damaged = [r for (system, r), _ in listed.items() if system == name and r not in natural]
        if value_only:
            assert damaged == [], f"{name}: {damaged}"
            continue
        assert len(damaged) == 1, f"{name}: {damaged}"
        assert listed[(name, damaged[0])].startswith(f"{name} record {damaged[0]}: ")
    assert again.summary.status == "ok", again.errors
    assert again.summary.systems["xurrent"].extracted > 0
