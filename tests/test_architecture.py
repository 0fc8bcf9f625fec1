"""The tree's own rules (ARCHITECTURE.md), checked: no import cycle, modules under
400 lines. The layers are checked by ``lint-imports`` (make lint)."""

from __future__ import annotations

from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")  # installed with import-linter (the dev extra)

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "src" / "contactsync", ROOT / "sandbox" / "src" / "contactsync_sandbox"]
MAX_LINES = 400


def test_no_module_imports_itself_round_about() -> None:
    graph = grimp.build_graph("contactsync", exclude_type_checking_imports=False)
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == []


def test_every_module_is_under_400_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for source in SOURCES
        for path in source.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) >= MAX_LINES
    }
    assert too_long == {}
