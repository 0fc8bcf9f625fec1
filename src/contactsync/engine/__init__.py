"""The engine: one run end to end (stage, link, golden record, plan, outbox, load).

It depends on the state only through :mod:`.ports` (import contracts in
pyproject.toml); :func:`contactsync.wiring.open_engine` hands it a backend.
The run's entry point is :class:`contactsync.engine.sync.Engine`.
"""
