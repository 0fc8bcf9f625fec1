"""``contactsync mappings ...``: a typer sub-app the main CLI mounts.

app.add_typer(mappings_app, name="mappings")
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contactsync.mapping import check_mappings

mappings_app = typer.Typer(
    help="Inspect and validate the per-system field mapping files.",
    no_args_is_help=True,
)


@mappings_app.callback()
def mappings() -> None:
    """Per-system field mappings (mappings/*.toml)."""


@mappings_app.command("check")
def check(
    directory: Annotated[
        Path, typer.Argument(help="Directory holding the *.toml mapping files.")
    ] = Path("mappings"),
) -> None:
    """Validate every *.toml mapping file; print FILE:LINE: message per problem."""
    problems = check_mappings(directory)
    if problems:
        for problem in sorted(problems, key=lambda p: (p.file, p.line)):
            typer.echo(str(problem))
        typer.echo(f"{len(problems)} problem(s) in {directory}", err=True)
        raise typer.Exit(code=1)
    count = len(list(directory.glob("*.toml")))
    typer.echo(f"OK: {count} mapping file(s) in {directory} are valid")
