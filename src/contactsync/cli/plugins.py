"""Commands other distributions add to ``contactsync``, found through entry points.

The sandbox (``contactsync-sandbox``, a separate distribution) adds ``contactsync demo``
and ``contactsync sandbox`` this way: contactsync itself never imports it, so syncing
real systems needs no web server installed (ARCHITECTURE.md, "The sandbox").
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import structlog
import typer

GROUP = "contactsync.commands"

log = structlog.get_logger(__name__)


def plugin_commands() -> list[EntryPoint]:
    """The entry points of :data:`GROUP`, by name (an installed plugin's commands)."""
    return sorted(entry_points(group=GROUP), key=lambda point: point.name)


def mount_plugin_commands(app: typer.Typer) -> None:
    """Mount each plugin command; one that cannot be loaded is skipped and logged."""
    for point in plugin_commands():
        try:
            command: Callable[..., Any] = point.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            log.warning("plugin_command_unavailable", name=point.name, error=str(exc))
            continue
        app.command(point.name, help=(command.__doc__ or "").strip().split("\n")[0])(command)
