"""The composition root: a config in, an engine on its state backend and adapters out.

The one module that knows both the engine and a state backend: the engine sees only
its ports (:mod:`contactsync.engine.ports`), so choosing another backend is a change
here, not in the engine (ARCHITECTURE.md, "Ports").
"""

from __future__ import annotations

from pathlib import Path

from contactsync.config.settings import Settings
from contactsync.engine.pass_outcome import build_adapters
from contactsync.engine.sync import Engine
from contactsync.mapping.mapper import load_mappings
from contactsync.state.sqlite.store import StateStore

__all__ = ["open_engine"]


def open_engine(
    settings: Settings,
    env: dict[str, str] | None = None,
    *,
    state_path: Path | None = None,
) -> Engine[StateStore]:
    """The engine for ``settings``; ``state_path`` opens another state file than the
    configured one (``plan`` works on a copy). Credentials are checked first, so a
    missing secret fails before any file is opened."""
    settings.check_credentials(env)
    mappings = load_mappings(settings.mappings_dir)
    adapters = build_adapters(settings, env)
    state = StateStore.open(state_path or settings.state_path)
    return Engine(settings, state, adapters, mappings)
