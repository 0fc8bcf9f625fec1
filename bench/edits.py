"""Benchmark: random user edits over the five systems, syncs between; edits checked and lost.

Run from the repository root::

    .venv/bin/python bench/edits.py                      # 10 rounds of 100 edits, 100 people
    .venv/bin/python bench/edits.py --rounds 20 --edits 150 --people 300 --seed 7
    .venv/bin/python bench/edits.py --no-crashes --no-edits-while-writing  # between syncs

The longer form of ``tests/reliability/test_random_edits.py`` (see
``tests/reliability/edit_rounds.py`` for how edits are made, dated and checked, and
``tests/reliability/sync_edits.py`` for the edits made while a sync writes): a
sandbox in this process, a backfill, then rounds of edits; each round a sync killed
at a seeded fault point (a subprocess, SIGKILL), 5 edits right after the kill, then
syncs until one writes nothing while users edit the systems being written. Printed:
per round the edits and the writes of each sync; at the end the field keys checked
(a person's field whose newest edit every system must hold), the edits lost (held
otherwise somewhere) outside and inside the check-to-write window (an edit landing
between the check of a record and the write to it: see README, Reliability), the
edits made while writing, the syncs killed, ties (two timestamped edits in the same
instant: either value counts) and persons left out because a vendor refused a
unique value for them (two people given the same new address).
Exit status 1 when an edit was lost outside the window, or a round did not settle.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from contactsync.wiring import open_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contactsync.config.settings import load_settings
from contactsync_sandbox.common import SandboxOptions
from tests.reliability.edit_rounds import EditRounds
from tests.reliability.helpers import sandbox
from tests.reliability.sync_edits import EditsWhileWriting

EDITS_AFTER_A_CRASH = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--edits", type=int, default=100, help="edits per round")
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--explain", action="store_true", help="list a lost person's records")
    parser.add_argument("--no-crashes", action="store_true", help="no killed sync per round")
    parser.add_argument(
        "--no-edits-while-writing", action="store_true", help="edits between syncs only"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    settled = True
    with (
        tempfile.TemporaryDirectory() as folder,
        sandbox(Path(folder), SandboxOptions(people=args.people, seed=args.seed)) as box,
    ):
        engine = open_engine(load_settings(box.config, env=box.credentials), box.credentials)
        rounds: EditRounds | None = None
        try:
            if engine.run("backfill").summary.status != "ok":
                print("backfill failed")
                return 1
            rounds = EditRounds(box, engine, random.Random(args.seed))
            listings = None
            if not args.no_edits_while_writing:
                rounds.during = EditsWhileWriting(rounds, args.seed)
                rounds.during.install()
                listings = rounds.during.watch_listings().__enter__()
            rounds.settle(passes=6)
            for number in range(1, args.rounds + 1):
                changed = rounds.edit_round(args.edits)
                if not args.no_crashes:
                    rounds.crash_pass(rounds.crash_spec())
                    rounds.edits_after_a_crash(EDITS_AFTER_A_CRASH)
                writes = rounds.settle(passes=6)
                settled = settled and writes[-1] == 0
                print(f"round {number}: {changed} edits changed a record; writes per sync {writes}")
            outcome = rounds.check()
            while_writing = len(rounds.during.edit_events) if rounds.during else 0
            print(
                f"edits made {len(rounds.edits)} (field changes), keys checked {outcome.checked}, "
                f"lost {len(outcome.lost)}, lost in the check-to-write window "
                f"{len(outcome.window)}, edits made while writing {while_writing}, "
                f"syncs killed {outcome.crashes}, ties {outcome.ties}, "
                f"persons left out (unique value refused) {outcome.refused}; "
                f"{time.monotonic() - started:.0f} s"
            )
            if listings is not None:
                listings.close()
            for line in outcome.lost[:20]:
                print("  lost:", line[:300])
                if "--explain" in sys.argv:
                    person, key = line.split()[0], line.split()[1].rstrip(":")
                    state = rounds.engine.state
                    times = state.field_times_of_person(person)
                    for record in state.records_for_person(person):
                        when = times.get((record.system, record.external_id), {}).get(key)
                        print("     ", record.system, record.external_id, record.seen_at, when)
                    golden = state.get_person(person)
                    if golden is not None:
                        print("      golden provenance:", golden.provenance.get(key))
                    for status in ("failed", "skipped", "pending"):
                        for entry in rounds.engine.state.list_actions(status):
                            if rounds.engine.state.resolve_person(entry.action.person_id) == person:
                                error = (entry.last_error or "")[:160]
                                print("      action", status, entry.action.system, error)
        finally:
            (rounds.engine if rounds is not None else engine).close()
    return 0 if settled and not outcome.lost else 1


if __name__ == "__main__":
    raise SystemExit(main())
