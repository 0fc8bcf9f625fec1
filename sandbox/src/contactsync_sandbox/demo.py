"""``contactsync demo``: the whole product in one process, against the sandbox.

Starts the five simulators on free loopback ports, writes a config for them,
runs a backfill, edits some records the way users would, shows the ``plan`` of
what the next sync will do, runs that sync, and closes with the matcher's
pairwise precision and recall against the sandbox's ground truth.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.panel import Panel

from contactsync.cli import render
from contactsync.config.settings import load_settings
from contactsync.logs import configure_logging
from contactsync.state.sqlite.store import StateStore
from contactsync.wiring import open_engine
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config

MUTATE = {"trackops": 4, "pylon": 3, "xurrent": 3}


@dataclass(frozen=True)
class PairScore:
    precision: float
    recall: float
    true_pairs: int
    found_pairs: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 0.0 if total == 0 else 2 * self.precision * self.recall / total


def pair_score(truth: dict[tuple[str, str], str], found: dict[tuple[str, str], str]) -> PairScore:
    """Pairwise precision/recall of ``found`` clusters against ``truth`` (same keys only)."""
    keys = [k for k in truth if k in found]
    true_pairs = _pairs(keys, truth)
    found_pairs = _pairs(keys, found)
    hits = len(true_pairs & found_pairs)
    precision = hits / len(found_pairs) if found_pairs else 1.0
    recall = hits / len(true_pairs) if true_pairs else 1.0
    return PairScore(precision, recall, len(true_pairs), len(found_pairs))


def _pairs(
    keys: Iterable[tuple[str, str]], label: dict[tuple[str, str], str]
) -> set[frozenset[tuple[str, str]]]:
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key in keys:
        groups[label[key]].append(key)
    return {
        frozenset(pair)
        for members in groups.values()
        for pair in itertools.combinations(members, 2)
    }


def ground_truth(server: SandboxServer) -> dict[tuple[str, str], str]:
    truth: dict[tuple[str, str], str] = {}
    with httpx.Client(timeout=30) as client:
        for system, admin in server.admin_urls.items():
            answer = client.get(f"{admin}/_sandbox/truth")
            answer.raise_for_status()
            truth.update({(system, str(rid)): key for rid, key in answer.json().items()})
    return truth


def crosswalk(state: StateStore) -> dict[tuple[str, str], str]:
    return {
        (r.system, r.external_id): state.resolve_person(r.person_id)
        for r in state.iter_records(include_deleted=True)
        if r.person_id is not None
    }


def run_demo(people: int = 300, seed: int = 1, workdir: Path | None = None) -> int:
    console = Console(width=None if Console().is_terminal else 132)
    configure_logging("console", level="warning")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="contactsync-demo-") as tmp:
        folder = workdir or Path(tmp)
        options = SandboxOptions(people=people, seed=seed, rate_limits="fast")
        with SandboxServer(options, port_base=0) as server:
            config = folder / "demo.toml"
            env_file = write_sandbox_config(
                config, server.urls, options, simulators=server.simulators
            )
            env = read_env_file(env_file)
            settings = load_settings(config, env=env)
            console.print(
                Panel.fit(
                    f"sandbox: {people} seeded people over 5 systems, seed {seed}\n"
                    f"config: {config}\nstate: {settings.state_path}",
                    title="contactsync demo",
                )
            )
            engine = open_engine(settings, env)
            try:
                backfill = engine.run("backfill")
                console.print(render.summary_table(backfill.summary, "1. backfill"))
                render.print_errors(console, backfill.errors)
                mutated = _mutate(server)
                console.print(
                    f"2. users edit {sum(len(v) for v in mutated.values())} records: "
                    + ", ".join(f"{s} {len(ids)}" for s, ids in mutated.items())
                )
                planned = engine.run("plan")
                console.print("3. plan: what the next sync will do (writes nothing)")
                console.print(render.plan_table(planned.actions, limit=15))
                sync = engine.run("sync")
                console.print(render.summary_table(sync.summary, "4. incremental sync"))
                render.print_errors(console, sync.errors)
                quiet = engine.run("sync")
                writes = sum(
                    c.created + c.updated + c.deleted for c in quiet.summary.systems.values()
                )
                console.print(f"5. next sync: {writes} writes (no ping-pong)")
                score = pair_score(ground_truth(server), crosswalk(engine.state))
            finally:
                engine.close()
    console.print(
        Panel.fit(
            f"matcher against ground truth: precision {score.precision:.3f}, "
            f"recall {score.recall:.3f}, F1 {score.f1:.3f} "
            f"({score.true_pairs} true pairs, {score.found_pairs} linked)\n"
            f"demo finished in {time.monotonic() - started:.1f} s",
            title="summary",
        )
    )
    statuses = {backfill.summary.status, sync.summary.status, quiet.summary.status}
    return 0 if statuses == {"ok"} else 1


def _mutate(server: SandboxServer) -> dict[str, list[str]]:
    mutated: dict[str, list[str]] = {}
    with httpx.Client(timeout=30) as client:
        for system, count in MUTATE.items():
            answer = client.post(
                f"{server.admin_urls[system]}/_sandbox/mutate", json={"count": count, "seed": 7}
            )
            answer.raise_for_status()
            mutated[system] = [str(i) for i in answer.json()["mutated"]]
    return mutated
