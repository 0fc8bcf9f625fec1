"""The ``contactsync`` command line: thin wiring over the library's modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from contactsync import __version__
from contactsync.cli.mappings import mappings_app
from contactsync.cli.plugins import mount_plugin_commands

app = typer.Typer(
    name="contactsync",
    help="Keep the people in Trackops, Grow CRM, Rhythm Rolodex, Pylon and Xurrent in step.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


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
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="debug, info, warning or error (default: the config's log_level, else info).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logging (same as --log-level debug).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Global options apply to every command."""
    from contactsync.cli.run import set_log_level

    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(
            f"{log_format!r}; expected one of {', '.join(LOG_FORMATS)}", param_hint="--log-format"
        )
    level = "debug" if verbose else log_level
    if level is not None and level.lower() not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{level!r}; expected one of {', '.join(LOG_LEVELS)}", param_hint="--log-level"
        )
    set_log_level(level.lower() if level else None)
    ctx.obj = GlobalOptions(config=config, log_format=log_format)


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SystemsOption = Annotated[
    str | None, typer.Option("--systems", help="Comma-separated subset, e.g. trackops,pylon.")
]


def _systems(value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="If another run holds the state's lease, wait for it instead of refusing.",
    ),
]


def _pass(
    ctx: typer.Context,
    kind: Literal["backfill", "sync", "plan"],
    as_json: bool,
    since: datetime | None = None,
    systems: str | None = None,
    force_deletes: bool = False,
    wait: bool = False,
) -> None:
    from contactsync.cli import run as commands

    options: GlobalOptions = ctx.obj
    settings = commands.load(options.config, options.log_format, as_json=as_json)
    outcome = commands.run_pass(
        settings,
        kind,
        as_json=as_json,
        since=since,
        systems=_systems(systems),
        force_deletes=force_deletes,
        wait=wait,
    )
    commands.report(outcome, kind, as_json=as_json)
    raise typer.Exit(outcome.summary.exit_code)


@app.command()
def backfill(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Only records changed since DATE (UTC).")
    ] = None,
    systems: SystemsOption = None,
    force_deletes: Annotated[
        bool, typer.Option("--force-deletes", help="Apply deletes past max_delete_share.")
    ] = False,
    as_json: JsonOption = False,
    wait: WaitOption = False,
) -> None:
    """Full history (or from --since) from every enabled system, then load."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    _pass(ctx, "backfill", as_json, since, systems, force_deletes, wait)


@app.command()
def sync(
    ctx: typer.Context,
    systems: SystemsOption = None,
    force_deletes: Annotated[
        bool, typer.Option("--force-deletes", help="Apply deletes past max_delete_share.")
    ] = False,
    as_json: JsonOption = False,
    wait: WaitOption = False,
) -> None:
    """One incremental pass."""
    _pass(ctx, "sync", as_json, None, systems, force_deletes, wait)


@app.command()
def plan(ctx: typer.Context, systems: SystemsOption = None, as_json: JsonOption = False) -> None:
    """The same pass up to the outbox, on a copy of the state; writes nothing anywhere."""
    _pass(ctx, "plan", as_json, None, systems)


@app.command()
def rebuild(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show the writes and new persons a rebuild plans; writes nothing."
        ),
    ] = False,
    wait: WaitOption = False,
) -> None:
    """A lost state rebuilt from the systems: stamped person ids kept, the rest matched."""
    from contactsync.cli import run as commands
    from contactsync.cli.rebuild import run_rebuild

    options: GlobalOptions = ctx.obj
    run_rebuild(commands.load(options.config, options.log_format), dry_run=dry_run, wait=wait)


@app.command()
def revert(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run whose writes to undo (see `runs`).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the writes; queue nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Queue the writes that restore what a run changed; `plan` shows them, `sync` sends them."""
    from contactsync.cli import run as commands
    from contactsync.cli.revert import run_revert

    options: GlobalOptions = ctx.obj
    settings = commands.load(options.config, options.log_format)
    run_revert(settings, run_id, dry_run=dry_run, as_json=as_json)


@app.command()
def run(
    ctx: typer.Context,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="If another run holds the state, stand by and take over when it stops."
        ),
    ] = False,
) -> None:
    """The scheduler: runs sync passes on each system's schedule (one instance per state)."""
    from contactsync.cli import run as commands

    options: GlobalOptions = ctx.obj
    settings = commands.load(options.config, options.log_format)
    commands.serve_scheduler(settings, wait=wait)


@app.command()
def status(
    ctx: typer.Context,
    system: Annotated[
        str | None, typer.Argument(help="One system's lines only (all of them listed).")
    ] = None,
    as_json: JsonOption = False,
    details: Annotated[
        bool, typer.Option("--details", help="Also list the persons a system cannot hold.")
    ] = False,
) -> None:
    """Each system's last pass, counts, quarantine, outbox, lease and review queue."""
    from contactsync.cli import run as commands

    options: GlobalOptions = ctx.obj
    settings = commands.load(options.config, options.log_format, as_json=as_json)
    commands.show_status(settings, as_json=as_json, details=details, system=system)


def _mount_match_file() -> None:
    from contactsync.cli.match_file import match_file_command

    app.command("match-file", help="Deduplicate a CSV of people with the matcher.")(
        match_file_command
    )


_mount_match_file()


mount_plugin_commands(app)
app.add_typer(mappings_app, name="mappings")


def _mount_review() -> None:
    from contactsync.cli.persons import persons_app
    from contactsync.cli.review import review_app

    app.add_typer(review_app, name="review")
    app.add_typer(persons_app, name="persons")


_mount_review()


def _mount_state_backup() -> None:
    from contactsync.cli.state_backup import state_app

    app.add_typer(state_app, name="state")


_mount_state_backup()


def _mount_history() -> None:
    from contactsync.cli.history import runs_app

    app.add_typer(runs_app, name="runs")


_mount_history()


def _mount_person() -> None:
    from contactsync.cli.person import person_command

    app.command("person", help="One person: records per system, golden record, events.")(
        person_command
    )


_mount_person()


def _mount_explain() -> None:
    from contactsync.cli.explain import explain_command

    app.command("explain", help="Where a person's field value came from, what it overrode.")(
        explain_command
    )


_mount_explain()


def _mount_doctor() -> None:
    from contactsync.cli.doctor import doctor_command

    app.command("doctor", help="Check each system: reachable, credentials, mapped fields.")(
        doctor_command
    )


_mount_doctor()
