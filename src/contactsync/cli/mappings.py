"""``contactsync mappings ...``: a typer sub-app the main CLI mounts.

app.add_typer(mappings_app, name="mappings")
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import typer

from contactsync.config.settings import DEFAULT_MAPPINGS_DIR
from contactsync.mapping.mapper import check_mappings

mappings_app = typer.Typer(
    help="Inspect and validate the per-system field mapping files.",
    no_args_is_help=True,
)


@mappings_app.callback()
def mappings() -> None:
    """Per-system field mappings (mappings/*.toml)."""


def _config_path(ctx: typer.Context) -> Path | None:
    """The --config the main CLI parsed (None when this sub-app runs on its own)."""
    options = ctx.find_root().obj
    config = getattr(options, "config", None)
    return config if isinstance(config, Path) else None


def configured_mappings_dir(config_path: Path | None) -> Path:
    """The mappings folder a run with this config would use.

    Reads only ``[contactsync] mappings_dir`` (relative to the config file), not the whole
    config: checking mappings must not need the systems' tokens in the environment.
    Without a config file, ``./mappings`` as before.
    """
    if config_path is None or not config_path.is_file():
        return Path("mappings")
    try:
        document = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        # The run itself reports a broken config with FILE:LINE; here fall back.
        return DEFAULT_MAPPINGS_DIR
    general = document.get("contactsync")
    value = general.get("mappings_dir") if isinstance(general, dict) else None
    if not isinstance(value, str) or not value:
        return DEFAULT_MAPPINGS_DIR
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else config_path.parent.resolve() / candidate


@mappings_app.command("check")
def check(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Directory holding the *.toml mapping files "
            "(default: the config's mappings_dir, else ./mappings)."
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Also read a few records from each enabled system (the config's, with "
            "its credentials) and check every inbound vendor path against them.",
        ),
    ] = False,
) -> None:
    """Validate every *.toml mapping file; print FILE:LINE: message per problem."""
    if directory is None:
        directory = configured_mappings_dir(_config_path(ctx))
    problems = check_mappings(directory)
    if problems:
        for problem in sorted(problems, key=lambda p: (p.file, p.line)):
            typer.echo(str(problem))
        typer.echo(f"{len(problems)} problem(s) in {directory}", err=True)
        raise typer.Exit(code=1)
    count = len(list(directory.glob("*.toml")))
    typer.echo(f"OK: {count} mapping file(s) in {directory} are valid")
    if live:
        _check_live(ctx, directory)


def _check_live(ctx: typer.Context, directory: Path) -> None:
    """``doctor``'s credentials and fields checks, with these mapping files: a vendor
    path no sampled record holds fails (or warns, see :mod:`contactsync.cli.doctor`)."""
    import os

    from contactsync.cli.doctor import field_checks, sample_records
    from contactsync.config.settings import ConfigError, load_settings
    from contactsync.mapping.mapper import load_mappings

    config = _config_path(ctx)
    try:
        settings = load_settings(config or Path("contactsync.toml"), env=dict(os.environ))
    except ConfigError as exc:
        typer.echo(f"--live needs a working config: {exc}", err=True)
        raise typer.Exit(code=2) from None
    mappings = load_mappings(directory)
    failed = False
    for name in settings.enabled_systems():
        if name not in mappings:
            continue
        reading, samples = sample_records(settings, name, dict(os.environ))
        checks = [reading] if not reading.ok else field_checks(name, mappings[name], samples)
        for found in checks:
            if found.ok and not found.warning:
                continue
            failed = failed or not found.ok
            where = f"{found.file}:{found.line}: " if found.file else f"{name}: "
            label = "warning: " if found.ok else ""
            typer.echo(f"{where}{label}{found.result}")
    if failed:
        raise typer.Exit(code=1)
    typer.echo("OK: every mapped vendor field is in the systems' sample records")
