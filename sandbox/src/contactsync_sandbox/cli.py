"""``contactsync-sandbox serve`` (also ``contactsync sandbox``): the five simulators.

``contactsync-sandbox demo`` runs the whole product against them in one process. Both
commands are also mounted into the ``contactsync`` CLI through the entry-point group
``contactsync.commands`` (see sandbox/pyproject.toml); ``python -m contactsync_sandbox``
runs ``serve`` alone (same options) for tests and benchmarks. With
``--write-config FILE`` the config is written once every port accepts connections,
so a caller that waits for FILE to appear knows the sandbox is ready.
"""

from __future__ import annotations

import copy
import ipaddress
import time
from pathlib import Path
from typing import Annotated

import typer
import uvicorn.config
from rich.console import Console
from rich.table import Table

from contactsync_sandbox.common import RateMode, SandboxOptions
from contactsync_sandbox.server import (
    DEFAULT_PORT_BASE,
    SIMULATORS,
    SandboxError,
    SandboxServer,
    build_simulators,
    record_counts,
)
from contactsync_sandbox.write_config import env_path_for, write_sandbox_config

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_systems(text: str | None) -> list[str] | None:
    """``"trackops,pylon"`` -> ``["trackops", "pylon"]``; unknown names are an error."""
    if text is None or not text.strip():
        return None
    chosen = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [name for name in chosen if name not in SIMULATORS]
    if unknown:
        raise typer.BadParameter(
            f"unknown system(s) {', '.join(unknown)}; expected some of {', '.join(SIMULATORS)}",
            param_hint="--systems",
        )
    return chosen


def summary_table(server: SandboxServer, startup_seconds: float) -> Table:
    """One row per system: its API base URL and how many records and persons it holds."""
    options = server.options
    table = Table(
        title=f"contactsync sandbox (ready in {startup_seconds:.2f}s)",
        caption=(
            f"{options.people} people, seed {options.seed}, rate limits {options.rate_limits}, "
            f"faults {options.faults:g}; admin: <port root>/_sandbox/"
            "{records,truth,stats,mutate,reset}"
        ),
    )
    table.add_column("system")
    table.add_column("API base URL", no_wrap=True)
    table.add_column("records", justify="right")
    table.add_column("persons", justify="right")
    counts = record_counts(server.simulators)
    urls = server.urls
    for name, sim in server.simulators.items():
        persons = len(set(sim.store.truth.values()))
        table.add_row(name, urls[name], str(counts[name]), str(persons))
    return table


def sandbox_command(
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (loopback unless --allow-remote).")
    ] = "127.0.0.1",
    port_base: Annotated[
        int,
        typer.Option(
            "--port-base",
            min=0,
            max=65530,
            help="First port: trackops +0, growcrm +1, rhythm +2, pylon +3, xurrent +4; "
            "0 picks five free ports.",
        ),
    ] = DEFAULT_PORT_BASE,
    people: Annotated[
        int, typer.Option("--people", min=0, help="How many true persons to seed.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same data.")] = 1,
    rate_limits: Annotated[
        RateMode,
        typer.Option(
            "--rate-limits",
            help="vendor: the documented limits; fast: 100 times higher; off: none.",
        ),
    ] = "off",
    faults: Annotated[
        float,
        typer.Option(
            "--faults",
            min=0.0,
            max=1.0,
            help="Share of API requests that fail (500, 503, dropped connection, slow).",
        ),
    ] = 0.0,
    write_config: Annotated[
        Path | None,
        typer.Option(
            "--write-config",
            help="Write a contactsync config for this sandbox here, credentials to FILE.env.",
        ),
    ] = None,
    systems: Annotated[
        str | None,
        typer.Option("--systems", help="Serve only these systems (comma-separated)."),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow a non-loopback --host (the /_sandbox admin endpoints have no auth).",
        ),
    ] = False,
) -> None:
    """Serve local simulators of the five vendor APIs until Ctrl-C."""
    console = Console()
    if not is_loopback(host) and not allow_remote:
        console.print(
            f"[red]refusing to listen on {host}[/red]: the /_sandbox admin endpoints have no "
            "auth and anyone who reaches them can read or reset the data. "
            "Use a loopback host, or pass --allow-remote."
        )
        raise typer.Exit(2)
    chosen = parse_systems(systems)
    options = SandboxOptions(people=people, seed=seed, rate_limits=rate_limits, faults=faults)
    began = time.perf_counter()
    try:
        simulators = build_simulators(options, chosen)
        server = SandboxServer(
            options,
            host=host,
            port_base=port_base,
            simulators=simulators,
            log_config=copy.deepcopy(uvicorn.config.LOGGING_CONFIG),
        )
    except SandboxError as exc:
        console.print(f"[red]sandbox: {exc}[/red]")
        raise typer.Exit(1) from None

    def ready(running: SandboxServer) -> None:
        console.print(summary_table(running, time.perf_counter() - began))
        if write_config is not None:
            env_path = write_sandbox_config(
                write_config, running.urls, options, simulators=running.simulators
            )
            console.print(f"config: {write_config}  credentials: {env_path}")
            console.print(
                f"  set -a; . {env_path_for(write_config)}; set +a; "
                f"contactsync --config {write_config} backfill"
            )
        console.print("Serving; press Ctrl-C to stop.")

    if not is_loopback(host):
        console.print(f"[yellow]warning: serving on {host}; /_sandbox has no auth[/yellow]")
    try:
        server.serve_forever(on_ready=ready)
    except SandboxError as exc:
        console.print(f"[red]sandbox: {exc}[/red]")
        raise typer.Exit(1) from None
    except OSError as exc:  # the config or its .env could not be written
        console.print(f"[red]sandbox: cannot write {exc.filename}: {exc.strerror}[/red]")
        raise typer.Exit(1) from None
    console.print("sandbox stopped.")


def demo_command(
    people: Annotated[int, typer.Option("--people", help="Seeded people in the sandbox.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Sandbox seed.")] = 1,
) -> None:
    """Sandbox, backfill, edits, plan, incremental sync and a summary, in one process."""
    from contactsync_sandbox.demo import run_demo

    raise typer.Exit(run_demo(people=people, seed=seed))


app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Loopback simulators of the five vendor APIs."
)
app.command("serve")(sandbox_command)
app.command("demo")(demo_command)
