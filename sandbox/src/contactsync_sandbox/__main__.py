"""``python -m contactsync_sandbox [OPTIONS]``: the ``contactsync sandbox`` command alone."""

from __future__ import annotations

import typer

from contactsync_sandbox.cli import sandbox_command


def main() -> None:
    typer.run(sandbox_command)


if __name__ == "__main__":
    main()
