"""The ``contactsync`` command line: thin wiring over the library's modules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from contactsync import __version__
from contactsync.mapping_cli import mappings_app

app = typer.Typer(
    name="contactsync",
    help="Keep the people in Trackops, Grow CRM, Rhythm Rolodex, Pylon and Xurrent in step.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

NOT_READY_EXIT = 2


@dataclass
class GlobalOptions:
    config: Path
    log_format: str


def _version(value: bool) -> None:
    if value:
        typer.echo(f"contactsync {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="Config file (TOML).", envvar="CONTACTSYNC_CONFIG"),
    ] = Path("contactsync.toml"),
    log_format: Annotated[
        str, typer.Option("--log-format", help="console (default) or json.")
    ] = "console",
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Global options apply to every command."""
    ctx.obj = GlobalOptions(config=config, log_format=log_format)


def not_ready(command: str) -> NoReturn:
    typer.echo(f"contactsync {command}: not ready yet in this version.", err=True)
    raise typer.Exit(NOT_READY_EXIT)


@app.command()
def backfill() -> None:
    """Full history (or from --since) from every enabled system, then load."""
    not_ready("backfill")


@app.command()
def sync() -> None:
    """One incremental pass."""
    not_ready("sync")


@app.command()
def plan() -> None:
    """The same pass up to the outbox; writes nothing to any system."""
    not_ready("plan")


@app.command()
def run() -> None:
    """The scheduler: runs sync passes on each system's schedule."""
    not_ready("run")


@app.command()
def status() -> None:
    """Watermarks, counts, quarantine, outbox and review queue."""
    not_ready("status")


@app.command()
def review() -> None:
    """Work the queue of uncertain matches."""
    not_ready("review")


@app.command()
def demo() -> None:
    """Sandbox, backfill, edits, plan, incremental sync and a summary, in one process."""
    not_ready("demo")


@app.command("match-file")
def match_file() -> None:
    """Deduplicate a CSV of people with the matcher."""
    not_ready("match-file")


@app.command()
def sandbox() -> None:
    """Serve local simulators of the five vendor APIs."""
    not_ready("sandbox")


app.add_typer(mappings_app, name="mappings")
