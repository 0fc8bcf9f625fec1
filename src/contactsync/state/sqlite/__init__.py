"""The SQLite state backend: one file (WAL mode, 0600), migrated by sqlite-utils.

:class:`~.store.StateStore` is composed of one part per table group (records,
persons, outbox, runs, review, duplicates, value problems) over one connection
(:mod:`.database`); it satisfies the engine's ports and passes
``tests/state_contract.py``.
"""
