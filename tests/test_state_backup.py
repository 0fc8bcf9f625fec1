"""`contactsync state export|import`: a JSON lines backup of the state (issue 15)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from contactsync.config.settings import load_settings
from contactsync.state.sqlite.backup import export_state, import_state
from contactsync.state.sqlite.lease import held
from contactsync.state.sqlite.store import StateStore
from contactsync.state.types import StateError
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.helpers import sandbox


def _export(path: Path) -> str:
    out = io.StringIO()
    export_state(path, out)
    return out.getvalue()


def test_an_exported_state_imports_to_the_same_state_and_the_next_sync_writes_nothing(
    tmp_path: Path,
) -> None:
    with sandbox(tmp_path, SandboxOptions(people=20, seed=8)) as box:
        settings = load_settings(box.config, env=box.credentials)
        engine = open_engine(settings, box.credentials)
        try:
            assert engine.run("backfill").summary.status == "ok"
        finally:
            engine.close()
        with held(settings.state_path, timedelta(minutes=1)):  # as a running scheduler does
            exported = _export(settings.state_path)
        backup = tmp_path / "backup.jsonl"
        backup.write_text(exported, encoding="utf-8")
        restored = tmp_path / "restored.sqlite"
        counts = import_state(backup, restored)
        assert counts.rows == len(exported.splitlines()) - 1
        assert _export(restored) == exported  # the same rows, value for value
        with StateStore.open(restored) as state:
            assert state.status_counts().persons_total > 0
        again = open_engine(settings, box.credentials, state_path=restored)
        try:
            summary = again.run("sync").summary
        finally:
            again.close()
    assert summary.status == "ok"
    writes = {s: (c.created, c.updated, c.deleted) for s, c in summary.systems.items()}
    assert set(writes.values()) == {(0, 0, 0)}, writes


def test_import_makes_only_a_new_state_and_names_the_line_it_cannot_read(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.sqlite"
    with StateStore.open(state):
        pass
    backup = tmp_path / "backup.jsonl"
    backup.write_text(_export(state), encoding="utf-8")
    with pytest.raises(StateError, match="exists; import only creates a new state"):
        import_state(backup, state)

    target = tmp_path / "new.sqlite"
    not_ours = tmp_path / "other.jsonl"
    not_ours.write_text('{"hello": "world"}\n', encoding="utf-8")
    with pytest.raises(StateError, match=r"other\.jsonl:1: not a contactsync state export"):
        import_state(not_ours, target)

    damaged = tmp_path / "damaged.jsonl"
    header = backup.read_text(encoding="utf-8").splitlines()[0]
    row = json.dumps({"table": "persons", "row": {"no_such_column": 1}})
    damaged.write_text(f"{header}\n{row}\n{{broken\n", encoding="utf-8")
    with pytest.raises(StateError, match=r"damaged\.jsonl:2: persons: "):
        import_state(damaged, target)
    assert not target.exists()  # no half-imported state left to pass for a real one

    other_schema = tmp_path / "older.jsonl"
    older = json.loads(header) | {"migrations": ["0001_initial"]}
    other_schema.write_text(json.dumps(older) + "\n", encoding="utf-8")
    with pytest.raises(StateError, match="another schema"):
        import_state(other_schema, target)
    assert not target.exists()
