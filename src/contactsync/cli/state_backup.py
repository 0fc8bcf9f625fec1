"""``contactsync state export FILE`` and ``contactsync state import FILE``."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from contactsync.cli.run import console, fail, load
from contactsync.state.sqlite.backup import export_state, import_state
from contactsync.state.types import StateError

state_app = typer.Typer(
    help="Back up the state as JSON lines, or make a new state from such a backup.",
    no_args_is_help=True,
)

FileArgument = Annotated[Path, typer.Argument(help="The JSON lines file ('-' for stdout).")]


@state_app.command("export")
def export_command(ctx: typer.Context, file: FileArgument) -> None:
    """Write the config's state to FILE (read-only: safe while `run` holds the lease)."""
    settings = load(ctx.obj.config, ctx.obj.log_format)
    try:
        if str(file) == "-":
            counts = export_state(settings.state_path, sys.stdout)
        else:
            # written beside FILE, then renamed: a reader never sees half a backup
            fd, partial = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent or Path())
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    counts = export_state(settings.state_path, out)
                os.replace(partial, file)
            except BaseException:
                Path(partial).unlink(missing_ok=True)
                raise
    except (StateError, OSError) as exc:
        raise fail(str(exc)) from None
    if str(file) != "-":
        console.print(f"exported {counts.rows} rows of {counts.tables} tables to {file}")


@state_app.command("import")
def import_command(ctx: typer.Context, file: FileArgument) -> None:
    """Make the config's state file (which must not exist yet) from an export."""
    settings = load(ctx.obj.config, ctx.obj.log_format)
    try:
        counts = import_state(file, settings.state_path)
    except (StateError, OSError) as exc:
        raise fail(str(exc)) from None
    console.print(
        f"imported {counts.rows} rows of {counts.tables} tables into {settings.state_path}"
    )
