"""Benchmark: a lost state file rebuilt from the person ids stamped in the systems.

Run from the repository root::

    .venv/bin/python bench/rebuild.py                    # 1,000 people
    .venv/bin/python bench/rebuild.py --people 300 --seed 7

The longer form of ``tests/test_rebuild.py``: a sandbox in this process, a backfill
and a sync (which reads back the backfill's own writes), then the state file is
deleted and one sync runs on a new state. Printed: the records in the systems, the
records created by that sync, the stamps it changed, its writes (and their share of
the records), and the crosswalk agreement (records linked to the same person as
before the state was lost), for stamped records and for all.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from contactsync.wiring import open_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contactsync.config.settings import load_settings
from contactsync.model.contact import ActionKind
from contactsync_sandbox.common import SandboxOptions
from contactsync_sandbox.server import SandboxServer
from contactsync_sandbox.write_config import read_env_file, write_sandbox_config
from tests.test_rebuild import crosswalk, delete_state, record_ids, stamps
from tests.test_sync_e2e import Sandbox, writes_between


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    started = time.monotonic()
    options = SandboxOptions(people=args.people, seed=args.seed, rate_limits="off")
    with tempfile.TemporaryDirectory() as folder, SandboxServer(options, port_base=0) as server:
        config = Path(folder) / "rebuild.toml"
        env = read_env_file(
            write_sandbox_config(config, server.urls, options, simulators=server.simulators)
        )
        box = Sandbox(server, load_settings(config, env=env), env)
        engine = open_engine(box.settings, env)
        try:
            if engine.run("backfill").summary.status != "ok":
                print("backfill failed")
                return 1
            engine.run("sync")
            links_before, stamps_before = crosswalk(engine), stamps(engine)
        finally:
            engine.close()
        records_before = record_ids(box)
        delete_state(box.settings.state_path)
        stats_before = box.stats()
        engine = open_engine(box.settings, env)
        try:
            outcome = engine.run("sync")
            links_after, stamps_after = crosswalk(engine), stamps(engine)
            done = [e.action for e in engine.state.list_actions("done")]
        finally:
            engine.close()
        records_after = record_ids(box)
        writes = sum(writes_between(stats_before, box.stats()).values())
    records = sum(len(ids) for ids in records_before.values())
    created = sum(len(records_after[s] - ids) for s, ids in records_before.items())
    creates = sum(1 for a in done if a.kind is ActionKind.CREATE)
    changed = sum(1 for k, v in stamps_before.items() if stamps_after.get(k) != v)
    stamped_same = sum(1 for k in stamps_before if links_after.get(k) == links_before[k])
    all_same = sum(1 for k, p in links_before.items() if links_after.get(k) == p)
    print(f"people {args.people}, seed {args.seed}, sync status {outcome.summary.status}")
    print(f"records            {records}")
    print(f"created            {created} (create actions {creates})")
    print(f"stamps changed     {changed} of {len(stamps_before)}")
    print(f"writes             {writes} ({writes / records:.1%} of records)")
    print(f"new persons        {outcome.summary.persons.new}")
    print(
        f"crosswalk agrees   stamped {stamped_same / len(stamps_before):.1%} "
        f"({stamped_same}/{len(stamps_before)}), all {all_same / len(links_before):.1%} "
        f"({all_same}/{len(links_before)})"
    )
    print(f"elapsed            {time.monotonic() - started:.0f} s")
    return 0 if created == 0 and changed == 0 and writes <= records // 100 else 1


if __name__ == "__main__":
    raise SystemExit(main())
